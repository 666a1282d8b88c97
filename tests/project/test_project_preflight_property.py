"""Property test: "ready" means it trains.

Hypothesis builds projects the way a user might (palette operations, any
compiler, dataset or none, odd trial lengths, batch sizes, time constants,
thresholds, stale trained weights).  Every project :func:`preflight` calls
ready trains one batch in the worker without an error; every one it refuses
has each refusal name a field of the document.
"""
from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.project.document import Project, new_compiler
from app.project.palette import add_population, choose_builtin_dataset, connect
from app.project.validate import is_ready, preflight
from app.worker.process import Control, _run
from app.worker.protocol import WorkerSpec

FIELD_RE = re.compile(
    r"^(populations\[\d+\](\.(size|model|readout|params\.\w+))?"
    r"|connections\[\d+\](\.(weight|synapse|connectivity)\.\w+|\.\w+)?"
    r"|compiler(\.(type|loss|optimiser\.\w+|delay_optimiser\.\w+|params\.\w+))?"
    r"|dataset\.(source|name|path|test_path|input|output|params\.\w+)"
    r"|weights\.\w+|training\.\w+)$")


def usually(common: Any, *rare: Any) -> st.SearchStrategy:
    """``common`` about four times in five, else one of ``rare``."""
    n = len(rare)
    return st.integers(0, 5 * n - 1).map(lambda k: common if k < 4 * n else rare[k - 4 * n])


@st.composite
def projects(draw: st.DrawFn) -> Project:
    """A small project built with the editor's document operations, then perturbed."""
    p = Project()
    p.compiler = new_compiler(draw(st.sampled_from(["EventPropCompiler", "EPropCompiler"])))
    if draw(usually(False, True)):
        p.compiler = new_compiler("InferenceCompiler")
    inp = add_population(p, draw(usually("SpikeInput", "PoissonInput")))
    hid = add_population(p, draw(usually("LeakyIntegrateFire", "AdaptiveLeakyIntegrateFire")))
    out = add_population(p, draw(usually("LeakyIntegrate", "LeakyIntegrateFire")))
    if out.model == "LeakyIntegrateFire":
        out.readout = "first_spike_time"
    else:
        out.readout = draw(usually(out.readout, "avg_var_exp_weight", "max_var", "var"))
    hid.size = draw(st.integers(1, 24))
    connect(p, inp.id, hid.id)
    if draw(st.booleans()):
        connect(p, hid.id, hid.id)
    connect(p, hid.id, out.id)
    dataset = draw(st.sampled_from(["yin_yang", "digits_latency", "pattern", "none"]))
    if dataset != "none":
        choose_builtin_dataset(p, dataset)
    if dataset == "pattern" and p.compiler.loss is not None:
        p.compiler.loss = {"type": "mean_square_error"}
        out.readout = "var"
    odd = usually(False, True)  # each perturbation one time in five
    if p.compiler.loss is not None and draw(odd):
        p.compiler.loss = {"type": draw(st.sampled_from(
            ["sparse_categorical_crossentropy", "mean_square_error"]))}
    comp = p.compiler.params
    arg = p.compiler.info.timesteps_arg
    if draw(odd):
        comp[arg] = draw(st.sampled_from([20, 100, 10**9]))
    if draw(odd):
        comp["dt"] = draw(st.sampled_from([0.1, 1.0]))
    comp["batch_size"] = draw(st.sampled_from([4, 8, 16])) if not draw(odd) else 10**6
    if "max_spikes" in comp and draw(odd):
        comp["max_spikes"] = 10**7
    if draw(odd):
        hid.params["tau_mem"] = draw(st.sampled_from([5.0, 1e300, 1e308]))
    if "v_thresh" in hid.params and draw(odd):
        hid.params["v_thresh"] = draw(st.sampled_from([0.6, -1.0]))
    syn = p.connections[0].synapse
    if syn["type"] == "Exponential" and draw(odd):
        syn["tau"] = draw(st.sampled_from([2.0, 1e300]))
    if draw(odd):
        conn = p.connections[0]
        n_pre = inp.size + draw(st.sampled_from([0, 3]))
        p.weights[conn.id] = np.full((n_pre, hid.size), 0.5, np.float32)
    p.training.max_examples = 16
    return p


def train_one_batch(project: Project) -> list[dict[str, Any]]:
    """Run the worker in this process until the end of its first batch."""
    import json

    messages: list[dict[str, Any]] = []
    stop = threading.Event()
    stop.set()  # checked at the end of every batch: one batch, then "stopped"
    spec = WorkerSpec(project_json=json.dumps(project.to_dict()),
                      weights=dict(project.weights), sample_every=1)
    _run(spec, messages.append, Control(stop, None, messages.append))
    return messages


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects())
def test_ready_projects_train_and_refusals_name_fields(project: Project) -> None:
    issues = preflight(project)
    if is_ready(issues):
        msgs = train_one_batch(project)
        errors = [m for m in msgs if m["kind"] == "error"]
        assert not errors, (errors[0]["message"], project.to_dict())
        assert any(m["kind"] == "batch_metrics" for m in msgs)
        assert msgs[-1]["kind"] == "stopped"
    else:
        for issue in issues:
            assert issue.message and issue.field, issue
            assert FIELD_RE.match(issue.field), issue.field


def _palette_yin_yang() -> Project:
    p = Project()
    i = add_population(p, "SpikeInput")
    h = add_population(p, "LeakyIntegrateFire")
    o = add_population(p, "LeakyIntegrate")
    connect(p, i.id, h.id)
    connect(p, h.id, o.id)
    choose_builtin_dataset(p, "yin_yang")
    p.training.max_examples = 16
    return p


def _refused(p: Project, field: str) -> str:
    errors = [i for i in preflight(p) if i.severity == "error"]
    assert [i.field for i in errors] == [field], errors
    msgs = train_one_batch(p)  # the worker refuses it too, before allocating anything
    assert msgs[-1]["kind"] == "error" and msgs[-1]["error_type"] == "NotReadyError"
    assert msgs[-1]["where"]["field"] == field
    return errors[0].message


def test_the_issues_cases_are_refused_with_the_field_and_fix() -> None:
    p = _palette_yin_yang()
    assert is_ready(preflight(p))
    p.compiler.params["example_timesteps"] = 100  # 100 x 0.1 ms < Yin-Yang's 30 ms
    assert "at least 300" in _refused(p, "compiler.params.example_timesteps")
    p = _palette_yin_yang()
    p.compiler.params["example_timesteps"] = 10**9
    _refused(p, "compiler.params.example_timesteps")
    p = _palette_yin_yang()
    p.populations[1].params["tau_mem"] = 1e308
    assert "at most" in _refused(p, "populations[1].params.tau_mem")
    p = _palette_yin_yang()
    p.connections[0].synapse["tau"] = 1e300
    _refused(p, "connections[0].synapse.tau")
    p = _palette_yin_yang()
    p.populations[1].params["v_thresh"] = -1.0
    assert "above v_reset" in _refused(p, "populations[1].params.v_thresh")
    p = _palette_yin_yang()
    p.dataset.source = "none"
    assert "Dataset tab" in _refused(p, "dataset.source")
    p = _palette_yin_yang()
    p.weights[p.connections[0].id] = np.zeros((10, 100), np.float32)  # before the resize
    assert "(4, 100)" in _refused(p, f"weights.{p.connections[0].id}")


def test_memory_estimate_refuses_before_allocating() -> None:
    from app.project.validate import memory_checks

    p = _palette_yin_yang()
    assert memory_checks(p, free_bytes=64 * 2**30) == []
    p.compiler.params["batch_size"] = 10**6
    p.populations[1].size = 100_000
    (issue,) = memory_checks(p, free_bytes=64 * 2**30)
    assert issue.field == "compiler.params.batch_size"
    assert "GiB are free" in issue.message and "lower batch_size" in issue.message
    p = _palette_yin_yang()
    assert memory_checks(p, free_bytes=100 * 2**20)  # 100 MiB cannot hold the interpreter
