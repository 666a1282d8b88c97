"""The worker before and around its first batch: calibration on request, a message
naming a population that never fires, and no voltage recording past its budget.
(Preflight refusals are in tests/project/test_project_preflight_property.py.)"""
from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

from app.project.document import Project
from app.project.examples import load_example
from app.project.palette import (
    add_population,
    choose_builtin_dataset,
    connect,
    set_connection_weight,
)
from app.worker.process import Control, StreamCallback, _run
from app.worker.protocol import WorkerSpec

DEAD = {"type": "Normal", "mean": 0.0, "sd": 0.01}


def run_in_process(project: Project, **spec_args: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    spec = WorkerSpec(project_json=json.dumps(project.to_dict()),
                      weights=dict(project.weights), **spec_args)
    _run(spec, messages.append, Control(threading.Event(), None, messages.append))
    return messages


def kinds(msgs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in msgs if m["kind"] == kind]


def dead_yin_yang() -> Project:
    p = Project()
    i = add_population(p, "SpikeInput")
    h = add_population(p, "LeakyIntegrateFire")
    o = add_population(p, "LeakyIntegrate")
    c = connect(p, i.id, h.id)
    connect(p, h.id, o.id)
    choose_builtin_dataset(p, "yin_yang")
    set_connection_weight(p, c.id, DEAD)  # hidden neurons never reach threshold
    p.training.max_examples = 64
    p.training.num_epochs = 2
    return p


def test_a_population_without_spikes_for_an_epoch_is_named() -> None:
    msgs = run_in_process(dead_yin_yang())
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    (dead,) = kinds(msgs, "dead_populations")  # once, not every epoch
    assert dead["populations"] == ["hidden"] and dead["epoch"] == 0
    assert "'hidden' fired no spike in epoch 0" in dead["message"]
    assert "Calibrate" in dead["message"]


def test_eprop_dead_population_is_named_too() -> None:
    p = load_example("pattern_eprop")
    p.populations[1].size = 16
    for c in p.connections[:2]:
        set_connection_weight(p, c.id, DEAD)
    p.training.num_epochs = 1
    msgs = run_in_process(p)
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    assert [m["populations"] for m in kinds(msgs, "dead_populations")] == [["hidden"]]


def test_calibrate_before_training_wakes_the_population() -> None:
    msgs = run_in_process(dead_yin_yang(), calibrate=True)
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    (cal,) = kinds(msgs, "calibrated")
    assert cal["ok"] and "in range" in cal["message"]
    order = [m["kind"] for m in msgs]
    assert order.index("calibrated") < order.index("batch_metrics")
    assert kinds(msgs, "calibration_progress")
    assert not kinds(msgs, "dead_populations")
    weight = cal["result"]["weights"]
    assert list(weight) == ["c1"] and weight["c1"]["sd"] > DEAD["sd"]


def test_calibrate_mode_only_calibrates() -> None:
    msgs = run_in_process(dead_yin_yang(), mode="calibrate")
    assert [m["kind"] for m in msgs if m["kind"] != "calibration_progress"] == \
        ["calibrated", "finished"]


def test_no_voltage_recording_past_the_budget() -> None:
    """Trials so long that even the output's voltage would not fit: nothing recorded
    (the worker used to allocate B x T x n for it whatever the size)."""
    p = load_example("yin_yang_eventprop")
    from app.project.build import build

    built = build(p, with_data=False)
    layout = SimpleNamespace(pop_slice=lambda name: slice(0, 1))
    for steps, expect in ((3000, "hidden"), (200_000, "output"), (10**9, None)):
        cn = SimpleNamespace(batch_size=32, example_timesteps=steps, layout=layout)
        stream = StreamCallback(WorkerSpec(project_json="{}"), lambda m: None, None,
                                built.network, {"batch": [], "epoch": []}, "accuracy")
        stream.set_params(compiled_network=cn, num_batches=1, num_epochs=1)
        got = stream._vpop.name if stream._vpop is not None else None
        assert got == expect, steps
