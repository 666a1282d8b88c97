"""The worker streams the whole-trial error for per-timestep targets (the pattern
task), the number the GeNN backend streams for the same run."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from app.project.build import build
from app.project.examples import load_example
from app.worker.process import Control, _run
from app.worker.protocol import WorkerSpec


def test_streamed_mse_and_loss_are_the_whole_trial_error() -> None:
    p = load_example("pattern_eprop")
    p.training.num_epochs = 3
    built = build(p, None)
    x, y = built.train_data()
    errors = []
    with built.compiler.compile(built.network) as cn:
        for epoch in range(3):
            cn.train(x, y, num_epochs=1, start_epoch=epoch, shuffle=False, callbacks=[],
                     metrics="mean_square_error")
            errors.append(float(np.mean(cn.last_squared_error[built.output.name])))
    msgs: list[dict] = []
    spec = WorkerSpec(project_json=json.dumps(p.to_dict()))
    _run(spec, msgs.append, Control(threading.Event(), None, msgs.append))
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    batches = [m for m in msgs if m["kind"] == "batch_metrics"]
    epochs = [m for m in msgs if m["kind"] == "epoch_metrics"]
    assert len(batches) == 3 and len(epochs) == 3
    for b, e, err in zip(batches, epochs, errors, strict=True):
        assert b["mse"] == pytest.approx(err, rel=1e-5)
        assert b["loss"] == pytest.approx(err, rel=1e-5)
        assert e["mse"] == pytest.approx(err, rel=1e-5)
        assert e["loss"] == pytest.approx(err, rel=1e-5)
