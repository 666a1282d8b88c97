"""NIR export and import: the mapping is the exact sampled solution of NIR's
equations (checked against their closed-form solutions with our engine), every
bundled example and a project using every feature survive export + import,
what NIR cannot express is listed, foreign graphs and bad files are handled."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from app.cli import main  # noqa: E402
from app.project import nir_mapping as nm  # noqa: E402
from app.project.document import (  # noqa: E402
    DatasetSpec,
    Project,
    new_compiler,
    new_connection,
    new_population,
)
from app.project.errors import ProjectError  # noqa: E402
from app.project.examples import examples, load_example  # noqa: E402
from app.project.io import load_project, save_project  # noqa: E402
from app.project.nir_export import project_to_nir, write_nir  # noqa: E402
from app.project.nir_import import import_nir_file, import_nir_graph  # noqa: E402


# ---------------------------------------------------------------------------
# running our engine on given input spikes
# ---------------------------------------------------------------------------
def run_engine(project: Project, inputs: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Simulate ``project`` (its weights) on ``inputs`` [B, T, n_in] (0/1 per step of
    the only input population) with the Inference compiler, every example from rest.
    Returns per population name {"spikes": [B, T, n] 0/1, "V": [B, T, n]}."""
    from app.project.build import build
    from app.training.callbacks import SpikeRecorder, VarRecorder
    from app.training.data import preprocess_spikes

    q = project.copy()
    dt = float(q.compiler.params["dt"])
    b, t, n_in = inputs.shape
    q.compiler = new_compiler("InferenceCompiler")
    q.compiler.params.update(dt=dt, evaluate_timesteps=t, batch_size=b,
                             reset_in_syn_between_batches=True)
    q.dataset = DatasetSpec()
    built = build(q, with_data=False)
    inp = next(p for p in q.populations if p.is_input)
    outs = [p for p in q.populations if p.readout is not None]
    x = []
    for k in range(b):
        steps, ids = np.nonzero(inputs[k])
        x.append(preprocess_spikes(steps * dt, ids, n_in))
    recs = []
    for p in q.populations:
        pop = built.populations[p.id]
        if p.model != "LeakyIntegrate":
            recs.append(SpikeRecorder(pop, key=("s", p.name)))
        if not p.is_input:
            recs.append(VarRecorder(pop, "V", key=("V", p.name)))
    with built.compiler.compile(built.network) as cn:
        _, data = cn.evaluate({built.populations[inp.id]: x},
                              {built.populations[o.id]: np.zeros(b, np.int64) for o in outs},
                              callbacks=recs)
    result: dict[str, dict[str, np.ndarray]] = {}
    for p in q.populations:
        r: dict[str, np.ndarray] = {}
        if ("s", p.name) in data:
            s = np.zeros((b, t, p.size), np.float32)
            for k, (times, ids) in enumerate(zip(*data[("s", p.name)], strict=True)):
                s[k, np.rint(np.asarray(times) / dt).astype(int), ids] = 1.0
            r["spikes"] = s
        if ("V", p.name) in data:
            r["V"] = np.stack(data[("V", p.name)])
        result[p.name] = r
    return result


def one_spike(n_in: int, steps: int, at: int, neuron: int = 0) -> np.ndarray:
    x = np.zeros((1, steps, n_in), np.float32)
    x[0, at, neuron] = 1.0
    return x


# ---------------------------------------------------------------------------
# closed-form solutions of NIR's ODEs for one Dirac input of weight w at t0
# ---------------------------------------------------------------------------
def nir_voltage(node, w: np.ndarray, t0: float, times: np.ndarray) -> np.ndarray:
    """v(t) of a NIR neuron node (arrays per neuron) for a Dirac input ``w`` at ``t0``
    (left limits at the sample times; no threshold), starting from v = 0."""
    kind = type(node).__name__
    dt_ = (times - t0)[:, None]
    on = dt_ > 0
    if kind in ("CubaLIF", "CubaLI"):
        tm, ts = np.asarray(node.tau_mem, float), np.asarray(node.tau_syn, float)
        gain = np.asarray(node.r, float) * np.asarray(node.w_in, float) * w
        same = np.isclose(tm, ts)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = gain / (tm - ts) * (np.exp(-dt_ / tm) - np.exp(-dt_ / ts))
            equal = gain / tm ** 2 * dt_ * np.exp(-dt_ / tm)
        v = np.where(same, equal, diff) * on
    else:
        tm = np.asarray(node.tau, float)
        v = np.asarray(node.r, float) * w / tm * np.exp(-dt_ / tm) * on
    leak = np.asarray(getattr(node, "v_leak", 0.0), float)
    return v + leak * (1.0 - np.exp(-times[:, None] / tm))


def _feature_project() -> Project:
    """Every neuron model, connectivity and synapse kind, delays, mixed synapses
    into one population, tau_mem == tau_syn, dt = 0.5 ms, trained and initial weights."""
    p = Project(name="features", description="every feature")
    rates = new_population(p, "PoissonInput", 6, name="rates")
    p.populations.append(rates)
    spikes = new_population(p, "SpikeInput", 5, name="spikes", position=(0.0, 200.0))
    p.populations.append(spikes)
    alif = new_population(p, "AdaptiveLeakyIntegrateFire", 6, name="alif", tau_adapt=900.0,
                          tau_refrac=2.0, v_thresh=0.61, position=(300.0, 0.0))
    alif.record_spikes = True
    p.populations.append(alif)
    mixed = new_population(p, "LeakyIntegrateFire", 5, name="mixed", tau_mem=7.5, v=0.1,
                           scale_i=True, position=(300.0, 200.0))
    p.populations.append(mixed)
    out = new_population(p, "LeakyIntegrate", 6, readout="max_var", bias=0.5,
                         position=(600.0, 0.0))
    p.populations.append(out)
    c1 = new_connection(p, rates.id, alif.id, connectivity="FixedProbability", p=0.25,
                        allow_self_connections=True, delay=3,
                        weight={"type": "Uniform", "min": -0.5, "max": 0.5})
    c1.max_delay_steps = 20
    p.connections.append(c1)
    for src, tgt, kw in (
            (alif, alif, {"connectivity": "FixedProbability",
                          "weight": {"type": "Constant", "value": 0.1}}),
            (alif, out, {"connectivity": "OneToOne",
                         "synapse": {"type": "Exponential", "tau": 7.5}}),
            (spikes, mixed, {"synapse": {"type": "Exponential", "tau": 7.5, "scale_i": True}}),
            (mixed, mixed, {"delay": 2}),
            (mixed, out, {"synapse": {"type": "Exponential", "tau": 3.0}})):
        p.connections.append(new_connection(p, src.id, tgt.id, **kw))
    p.compiler = new_compiler("EventPropCompiler")
    p.compiler.params["dt"] = 0.5
    p.compiler.delay_optimiser = {"type": "Adam", "alpha": 0.1, "beta1": 0.9, "beta2": 0.999,
                                  "epsilon": 1e-8}
    p.compiler.delay_learn_conns = [c1.id]
    p.compiler.loss = {"type": "mean_square_error"}
    rng = np.random.default_rng(1)
    p.weights[p.connections[2].id] = rng.normal(size=6).astype(np.float32)
    p.weights[p.connections[3].id] = rng.normal(size=(5, 5)).astype(np.float32)
    return p


# ---------------------------------------------------------------------------
# the mapping is exact between spikes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dt", [1.0, 0.25])
@pytest.mark.parametrize("neuron_scale_i,syn_scale_i", [(True, True), (False, False),
                                                        (False, True)])
def test_exported_parameters_reproduce_our_voltages_exactly(dt, neuron_scale_i,
                                                            syn_scale_i) -> None:
    """Our engine's V at every step equals the closed-form solution of the NIR
    node written for it (CubaLIF, LIF, CubaLI with bias and tau_mem == tau_syn)."""
    p = Project(name="exact")
    inp = new_population(p, "SpikeInput", 1, name="inp")
    p.populations.append(inp)
    kw = {"v_thresh": 1e6, "scale_i": neuron_scale_i}
    cuba = new_population(p, "LeakyIntegrateFire", 2, name="cuba", tau_mem=20.0, **kw)
    p.populations.append(cuba)
    lif = new_population(p, "LeakyIntegrateFire", 2, name="lif", tau_mem=10.0, **kw)
    p.populations.append(lif)
    li = new_population(p, "LeakyIntegrate", 2, name="li", tau_mem=5.0, bias=0.01,
                        scale_i=neuron_scale_i, readout="var")
    p.populations.append(li)
    w = np.array([[0.7, -0.3]], np.float32)
    for tgt, syn in ((cuba, {"type": "Exponential", "tau": 5.0, "scale_i": syn_scale_i}),
                     (lif, {"type": "Delta"}),
                     (li, {"type": "Exponential", "tau": 5.0, "scale_i": syn_scale_i})):
        c = new_connection(p, inp.id, tgt.id, synapse=syn)
        p.connections.append(c)
        p.weights[c.id] = w
    p.compiler.params["dt"] = dt
    graph = project_to_nir(p).graph
    assert [type(graph.nodes[k]).__name__ for k in ("cuba", "lif", "li")] == \
        ["CubaLIF", "LIF", "CubaLI"]
    steps, at = int(40 / dt), 3
    sim = run_engine(p, one_spike(1, steps, at))
    times = (np.arange(steps) + 1) * dt  # V of step n is v((n + 1) dt)
    t0 = (at + 1) * dt  # a spike emitted in step `at` is a Dirac at the step's end
    for name in ("cuba", "lif", "li"):
        want = nir_voltage(graph.nodes[name], w[0], t0, times)
        got = sim[name]["V"][0]
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6 * np.abs(want).max())
        assert np.abs(want).max() > 0.01


def test_foreign_graph_imports_with_exact_dynamics() -> None:
    """A hand-written graph without our metadata: per-neuron r and w_in fold into the
    weights, v_leak of an LI becomes a bias, tau_mem == tau_syn, dt from nothing (1 ms);
    the imported project's V equals the closed-form NIR solution."""
    ones = np.ones(2, np.float32)
    graph = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([1])}),
        "w1": nir.Linear(weight=np.array([[0.5], [-0.25]], np.float32)),
        "cuba": nir.CubaLIF(tau_syn=5 * ones, tau_mem=20 * ones, r=np.array([3.0, 6.0]),
                            v_leak=0 * ones, v_threshold=1e6 * ones, v_reset=0 * ones,
                            w_in=np.array([1.0, 0.5])),
        "w2": nir.Linear(weight=np.array([[0.5], [-0.25]], np.float32)),
        "li": nir.CubaLI(tau_syn=8 * ones, tau_mem=8 * ones, r=2 * ones, v_leak=0.2 * ones,
                         w_in=ones),
        "w3": nir.Linear(weight=np.array([[0.5], [-0.25]], np.float32)),
        "lif": nir.LIF(tau=10 * ones, r=4 * ones, v_leak=0 * ones, v_threshold=1e6 * ones,
                       v_reset=0 * ones),
        "out": nir.Output(output_type={"output": np.array([2])}),
    }, edges=[("in", "w1"), ("w1", "cuba"), ("in", "w2"), ("w2", "li"), ("in", "w3"),
              ("w3", "lif"), ("li", "out")])
    result = import_nir_graph(graph)
    assert any("dt = 1 ms" in n for n in result.unmapped)
    assert any("'avg_var' chosen" in n for n in result.unmapped)
    project = result.project
    assert project.compiler.type == "InferenceCompiler"
    names = {p.name: p for p in project.populations}
    assert names["li"].readout == "avg_var" and names["li"].model == "LeakyIntegrate"
    assert names["cuba"].params["relative_reset"] is False
    sim = run_engine(project, one_spike(1, 40, 2))
    times = np.arange(40) + 1.0
    for name in ("cuba", "li", "lif"):
        w = np.asarray(graph.nodes[{"cuba": "w1", "li": "w2", "lif": "w3"}[name]].weight)[:, 0]
        want = nir_voltage(graph.nodes[name], w, 3.0, times)
        np.testing.assert_allclose(sim[name]["V"][0], want, rtol=2e-5,
                                   atol=2e-6 * np.abs(want).max())


def test_leak_free_if_and_i_nodes_integrate_exactly() -> None:
    """IF (behind an LI synaptic filter) and I with an Affine bias: dv/dt = R I."""
    one = np.ones(1, np.float32)
    graph = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([1])}),
        "w1": nir.Linear(weight=np.array([[0.5]], np.float32)),
        "syn": nir.LI(tau=5 * one, r=3 * one, v_leak=0 * one),
        "if_": nir.IF(r=2 * one, v_threshold=1e6 * one, v_reset=0 * one),
        "w2": nir.Affine(weight=np.array([[0.5]], np.float32), bias=np.array([0.01], np.float32)),
        "i": nir.I(r=2 * one),
        "out": nir.Output(output_type={"output": np.array([1])}),
    }, edges=[("in", "w1"), ("w1", "syn"), ("syn", "if_"), ("in", "w2"), ("w2", "i"),
              ("i", "out")])
    result = import_nir_graph(graph)
    assert sum("has no leak" in n for n in result.unmapped) == 2
    sim = run_engine(result.project, one_spike(1, 60, 2))
    t = np.arange(60) + 1.0
    t0 = 3.0
    after = np.clip(t - t0, 0, None)
    # filter u = r_s w / tau_s exp(-(t - t0)/tau_s); IF: v = R * integral of u
    np.testing.assert_allclose(sim["if_"]["V"][0, :, 0],
                               2 * 3 * 0.5 * (1 - np.exp(-after / 5)), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(sim["i"]["V"][0, :, 0], 2 * 0.01 * t + 2 * 0.5 * (t > t0),
                               rtol=2e-5, atol=1e-6)


def test_spike_time_is_the_end_of_the_step_of_the_crossing() -> None:
    """The discretisation difference: a crossing between two samples is reported at
    the later sample; the exact crossing time lies within the step before it."""
    p = Project(name="crossing")
    inp = new_population(p, "SpikeInput", 1, name="inp")
    p.populations.append(inp)
    lif = new_population(p, "LeakyIntegrateFire", 1, name="lif", v_thresh=0.5, scale_i=True,
                         readout="spike_count")
    p.populations.append(lif)
    c = new_connection(p, inp.id, lif.id, synapse={"type": "Exponential", "tau": 5.0,
                                                   "scale_i": True})
    p.connections.append(c)
    p.weights[c.id] = np.array([[30.0]], np.float32)
    dt = 1.0
    node = project_to_nir(p).graph.nodes["lif"]
    sim = run_engine(p, one_spike(1, 30, 0))
    step = int(np.argmax(sim["lif"]["spikes"][0, :, 0]))
    fine = np.linspace(dt, 30.0, 30_000)
    v = nir_voltage(node, np.array([30.0]), dt, fine)[:, 0]
    t_cross = fine[np.argmax(v >= 0.5)]
    assert step * dt < t_cross <= (step + 1) * dt


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", [ex.key for ex in examples()])
def test_every_example_round_trips(key: str, tmp_path: Path) -> None:
    """Export + import gives the same document (initial weights are recognised and
    not stored) and, with trained weights, the same weights bit for bit."""
    project = load_example(key)
    out = tmp_path / f"{key}.nir"
    _, notes = write_nir(project, out)
    assert any("not part of NIR" in n for n in notes)
    result = import_nir_file(out)
    assert result.unmapped == []
    assert result.project.to_dict() == project.to_dict()
    assert result.project.weights == {}
    rng = np.random.default_rng(0)
    for c in project.connections:
        n_pre = project.population(c.source).size
        n_post = project.population(c.target).size
        project.weights[c.id] = rng.normal(size=(n_pre, n_post)).astype(np.float32)
    _, notes = write_nir(project, out)
    if project.compiler.type == "EPropCompiler":
        assert any("output bias e-prop trains" in n for n in notes)
    again = import_nir_file(out)
    assert again.unmapped == []
    assert again.project.same_as(project)


def test_every_feature_round_trips_and_what_nir_lacks_is_listed(tmp_path: Path) -> None:
    project = _feature_project()
    out, notes = write_nir(project, tmp_path / "f.nir")
    text = "\n".join(notes)
    for expected in ("rates: Poisson rate coding", "alif: spike-frequency adaptation",
                     "alif: refractory period tau_refrac=2 ms", "alif: subtractive reset",
                     "mixed: initial state (v=0.1)", "readout 'max_var'",
                     "rates_alif: EventProp learns this connection's delays",
                     "rates_alif: no trained weights"):
        assert expected in text, expected
    graph = nir.read(out)
    kinds = {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert kinds["mixed"] == "LIF" and kinds["spikes_mixed_synapse"] == "LI"
    assert kinds["rates_alif_delay"] == "Delay"
    np.testing.assert_allclose(graph.nodes["rates_alif_delay"].delay, 3 * 0.5)
    result = import_nir_file(out)
    assert result.unmapped == []
    assert result.project.same_as(project)


def test_nir_values_win_over_metadata_when_edited(tmp_path: Path) -> None:
    """A graph changed by another tool imports as changed."""
    project = load_example("yin_yang_eventprop")
    graph = project_to_nir(project).graph
    node = graph.nodes["hidden"]
    node.v_threshold = np.full_like(node.v_threshold, 1.5)
    node.r = node.r * 3.0
    graph.nodes["input_hidden"].weight = graph.nodes["input_hidden"].weight * 0.5
    out = tmp_path / "edited.nir"
    nir.write(out, graph)
    p = import_nir_file(out).project
    hidden = next(x for x in p.populations if x.name == "hidden")
    assert hidden.params["v_thresh"] == 1.5
    c = p.connections[0]
    original = project_to_nir(project).graph.nodes["input_hidden"].weight.T
    np.testing.assert_allclose(p.weights[c.id], 1.5 * original, rtol=1e-6)  # 0.5 * 3


# ---------------------------------------------------------------------------
# foreign graphs, unsupported nodes, errors
# ---------------------------------------------------------------------------
def test_unsupported_nodes_are_listed_and_nested_graphs_flattened() -> None:
    ones = np.ones(3, np.float32)
    sub = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([3])}),
        "lif": nir.LIF(tau=10 * ones, r=10 * ones, v_leak=ones, v_threshold=2 * ones,
                       v_reset=0 * ones),
        "rec": nir.Linear(weight=np.eye(3, dtype=np.float32)),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }, edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1, 2])}),
        "flat": nir.Flatten(input_type={"input": np.array([1, 2])}, start_dim=0),
        "aff": nir.Affine(weight=np.ones((3, 2), np.float32), bias=0.1 * ones),
        "0": sub,
        "thr": nir.Threshold(threshold=ones),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }, edges=[("input", "flat"), ("flat", "aff"), ("aff", "0"), ("0", "thr"),
              ("thr", "output")], type_check=False)
    result = import_nir_graph(graph)
    text = "\n".join(result.unmapped)
    assert "thr: NIR Threshold node has no Spike Studio equivalent" in text
    assert "v_leak=2 imported by measuring voltages from the leak level" in text
    p = result.project
    lif = next(x for x in p.populations if x.name == "n_0_lif")
    assert lif.params["v_thresh"] == pytest.approx(0.0, abs=1e-6)
    assert lif.params["v_reset"] == pytest.approx(-2.0)
    assert {(p.population(c.source).name, p.population(c.target).name): c.connectivity["type"]
            for c in p.connections} == {("input", "n_0_lif"): "Dense",
                                        ("n_0_lif", "n_0_lif"): "Dense"}
    assert "output: Output fed by thr" in text


def test_missing_nir_package_gives_a_clear_message(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(ProjectError, match=r"pip install 'spike-studio\[nir\]'"):
        project_to_nir(load_example("yin_yang_eventprop"))


def test_bad_files_raise_project_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ProjectError, match="not a readable NIR graph"):
        import_nir_file(bad)
    with pytest.raises(ProjectError, match="does not exist"):
        import_nir_file(tmp_path / "missing.nir")
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.array([[np.nan]], np.float32)),
                                   nir.LIF(tau=np.ones(1), r=np.ones(1), v_leak=np.zeros(1),
                                           v_threshold=np.ones(1)))
    with pytest.raises(ProjectError, match="'linear': weights contain NaN"):
        import_nir_graph(graph)


def test_metadata_is_json_text_and_mapping_helpers_invert() -> None:
    graph = project_to_nir(load_example("shd_eprop")).graph
    meta = json.loads(graph.metadata["spike_studio"])
    assert meta["dt"] == 1.0 and meta["compiler"]["type"] == "EPropCompiler"
    assert nm.bias_from_leak(nm.leak_from_bias(0.3, 20.0, 0.5), 20.0, 0.5) == \
        pytest.approx(0.3)
    # tau_mem -> tau_syn limit is continuous
    assert nm.exponential_r(5.0, 5.0, 1.0, True, True) == pytest.approx(
        nm.exponential_r(5.0, 5.0 + 1e-6, 1.0, True, True), rel=1e-5)
    assert 1.0 - 1.0 / nm.euler_tau(20.0, 1.0) == pytest.approx(math.exp(-1.0 / 20.0))


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
def test_cli_export_and_import(tmp_path: Path, capsys) -> None:
    src = tmp_path / "p.ssproj"
    project = _feature_project()
    save_project(project, src)
    out = tmp_path / "net.nir"
    assert main(["export", str(src), "--to", "nir", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "alif: spike-frequency adaptation" in printed
    back = tmp_path / "back.ssproj"
    assert main(["import", str(out), "-o", str(back)]) == 0
    assert load_project(back).same_as(project)
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"junk")
    assert main(["import", str(bad), "-o", str(back)]) == 2
    assert "not a readable NIR graph" in capsys.readouterr().err
