"""The worker's checkpoints keep Deep R's rewired structure: a run resumed from a
checkpoint ends where the uninterrupted run ends."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from app.project.document import Project
from app.project.examples import load_example
from app.worker.process import Control, _run
from app.worker.protocol import WorkerSpec


def deep_r_project() -> Project:
    """Yin-Yang with a sparse input layer that Deep R rewires hard enough to move
    synapses in every epoch."""
    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 64
    p.training.num_epochs = 3
    p.training.shuffle = True
    p.compiler.params["batch_size"] = 16
    c = p.connections[0]
    c.connectivity = {"type": "FixedProbability", "p": 0.5, "allow_self_connections": False,
                      "delay": 0}
    c.weight = {"type": "Normal", "mean": 0.3, "sd": 0.78}
    p.compiler.deep_r_conns = [c.id]
    p.compiler.params["deep_r_l1_strength"] = 2.0
    return p


def run(project: Project, run_dir: Path, **spec_args: Any) -> list[dict[str, Any]]:
    run_dir.mkdir(parents=True, exist_ok=True)
    msgs: list[dict[str, Any]] = []
    spec = WorkerSpec(project_json=json.dumps(project.to_dict()),
                      weights=dict(project.weights), run_dir=str(run_dir), run=run_dir.name,
                      **spec_args)
    _run(spec, msgs.append, Control(threading.Event(), None, msgs.append))
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    return msgs


def structure(run_dir: Path, epoch: int) -> np.ndarray:
    return np.load(run_dir / "state" / f"{epoch}-deep_r.input_hidden-active.npy")


def test_resumed_deep_r_run_matches_the_uninterrupted_one(tmp_path: Path) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    run(deep_r_project(), full)
    # the structure moves after the checkpoint the other run resumes from
    assert not np.array_equal(structure(full, 0), structure(full, 2))
    run(deep_r_project(), part, num_epochs=1)
    run(deep_r_project(), part, num_epochs=2, start_epoch=1, resume_from=0)
    np.testing.assert_array_equal(structure(part, 2), structure(full, 2))
    for name in ("input_hidden", "hidden_output"):
        np.testing.assert_array_equal(np.load(part / "weights" / f"final-{name}-g.npy"),
                                      np.load(full / "weights" / f"final-{name}-g.npy"))
