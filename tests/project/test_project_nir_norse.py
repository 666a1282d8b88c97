"""Proof against a peer: the NIR graphs we write run the same in Norse, and a
graph Norse writes runs the same here.

Both sides read the same ``.nir`` file and are fed the same input spikes.  What
differs is how each integrates NIR's ODEs over a step of dt = 1 ms (the NIR unit
of time is the ms, and Norse reads a 0/1 spike per step as a Dirac only at
dt = 1):

- Spike Studio's update is the exact solution sampled every dt (see
  ``app/project/nir_mapping.py``): decay ``exp(-dt/tau)``.
- Norse's ``from_nir`` integrates with forward Euler: decay ``1 - dt/tau``
  (0.8 instead of 0.8187 for tau_syn = 5 ms, 0.95 instead of 0.9512 for
  tau_mem = 20 ms) and input ``dt/tau_syn * w_in * W * S`` into the synaptic
  current, then ``dt/tau_mem * r * I`` into the voltage.
- Norse passes a layer's spikes on in the same step; we deliver them one step
  later, so layer L of ours at step n + L is Norse's at step n.

Check 1 ("exact"): give Norse's cells the time constants and ``r`` with which
its Euler step equals the exact step, computed from the NIR node alone
(``tau_e = dt/(1 - exp(-dt/tau))``, ``r_e = r (a - b)/((tau_mem - tau_syn)
(1 - a)(1 - b))`` with ``a, b`` the exact decays).  Then every spike of every
layer is identical and voltages agree to float32 rounding (< 1e-5).

Check 2 ("Euler"): Norse exactly as ``from_nir`` builds it.  The difference is
Norse's O(dt/tau) integration error; the test measures it and prints a table
(spike counts, first-spike times, the classification from the first output
spike, sub-threshold voltage error) and bounds it.  Euler's first step after
an input spike is 13 % larger here (``dt^2/(tau_mem tau_syn)`` against the
exact ``(a - b)/(tau_mem - tau_syn)``) and its current decays faster, so
Norse's neurons fire about one step earlier per layer and a few % more often;
sub-threshold voltages differ by up to ~0.1 of the threshold in the first
hidden layer.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("nirtorch")
norse = pytest.importorskip("norse.torch")
nir = pytest.importorskip("nir")

from app.project.document import (  # noqa: E402
    DatasetSpec,
    Project,
    new_compiler,
    new_connection,
    new_population,
)
from app.project.nir_export import write_nir  # noqa: E402
from app.project.nir_import import import_nir_file  # noqa: E402
from tests.project.test_project_nir import run_engine  # noqa: E402

DT = 1.0
T = 40


def _trained_project() -> tuple[Project, np.ndarray, np.ndarray]:
    """64-24-10 LIF network trained with EventProp on latency-coded digits
    (first output spike decides), plus test inputs [B, T, 64] and labels."""
    from app.project.build import load_dataset
    from app.project.train import train_project

    p = Project(name="digits for Norse")
    lif = {"relative_reset": False, "integrate_during_refrac": False, "scale_i": True}
    syn = {"type": "Exponential", "tau": 5.0, "scale_i": True}
    for name, model, size, extra in (("input", "SpikeInput", 64, {}),
                                     ("hidden", "LeakyIntegrateFire", 24, lif),
                                     ("output", "LeakyIntegrateFire", 10, lif)):
        p.populations.append(new_population(
            p, model, size, name=name, readout="first_spike_time" if name == "output" else None,
            **extra))
    inp, hid, out = p.populations
    p.connections.append(new_connection(p, inp.id, hid.id, synapse=syn,
                                        weight={"type": "Normal", "mean": 0.5, "sd": 0.25}))
    p.connections.append(new_connection(p, hid.id, out.id, synapse=syn,
                                        weight={"type": "Normal", "mean": 0.5, "sd": 0.3}))
    p.compiler = new_compiler("EventPropCompiler")
    p.compiler.params.update(dt=DT, example_timesteps=30, batch_size=32,
                             softmax_temperature=0.5, ttfs_alpha=0.1)
    p.compiler.optimiser["alpha"] = 0.01
    p.dataset = DatasetSpec(source="builtin", name="digits_latency",
                            params={"example_time": 30.0})
    p.training.max_examples = 1024
    result = train_project(p, num_epochs=8)
    assert result.value > 0.6  # it learned something (chance: 0.1)
    p.weights.update(result.weights)
    ds = load_dataset(p)
    n = 64
    x = np.zeros((n, T, 64), np.float32)
    for k, s in enumerate(ds.test_spikes[:n]):
        starts = np.concatenate([[0], s.end_spikes[:-1]])
        for i, (a, b) in enumerate(zip(starts, s.end_spikes, strict=True)):
            x[k, np.ceil(np.asarray(s.spike_times[a:b]) / DT - 1e-9).astype(int), i] = 1.0
    return p, x, np.asarray(ds.test_labels[:n])


def _exact_in_norse(module, graph) -> None:
    """Give each of Norse's CubaLIF cells the Euler parameters whose step equals the
    exact step of the NIR node (computed from the node's tau_mem, tau_syn, r only)."""
    for key, node in graph.nodes.items():
        if not isinstance(node, nir.CubaLIF):
            continue
        cell = getattr(module, key)
        tm = float(np.mean(node.tau_mem))
        ts = float(np.mean(node.tau_syn))
        a, b = math.exp(-DT / tm), math.exp(-DT / ts)
        syn_p, lif_p = cell.synapse.p, cell.lif.p
        cell.synapse.p = syn_p._replace(tau_mem_inv=torch.full_like(syn_p.tau_mem_inv,
                                                                    (1 - b) / DT))
        cell.lif.p = lif_p._replace(tau_mem_inv=torch.full_like(lif_p.tau_mem_inv,
                                                                (1 - a) / DT))
        cell.r = cell.r * ((a - b) / ((tm - ts) * (1 - a) * (1 - b)))


def _run_norse(graph, spikes: np.ndarray, layers: list[str], exact: bool
               ) -> dict[str, dict[str, np.ndarray]]:
    """Norse's ``from_nir`` module stepped over ``spikes`` [B, T, n_in]."""
    module = norse.from_nir(graph, dt=DT)
    if exact:
        _exact_in_norse(module, graph)
    xs = torch.from_numpy(spikes).permute(1, 0, 2).contiguous()
    state = None
    s: dict[str, list] = {k: [] for k in layers}
    v: dict[str, list] = {k: [] for k in layers}
    with torch.no_grad():
        for t in range(xs.shape[0]):
            _, state = module(xs[t], state)
            for k in layers:
                s[k].append(state.cache[k].numpy().copy())
                v[k].append(state.state[k][0][1].v.numpy().copy())
    return {k: {"spikes": np.stack(s[k], 1), "V": np.stack(v[k], 1)} for k in layers}


def _first(spikes: np.ndarray) -> np.ndarray:
    """First spike step per (example, neuron); a large value when silent."""
    return np.where(spikes.any(1), spikes.argmax(1), 10_000)


def _compare(ours: dict, theirs: dict, layers: list[tuple[str, str]]) -> dict[str, dict]:
    """Align layer L (ours at n + L = Norse at n) and measure the differences."""
    stats = {}
    for depth, (mine, peer) in enumerate(layers, 1):
        so = ours[mine]["spikes"][:, depth:]
        vo = ours[mine]["V"][:, depth:]
        sn = theirs[peer]["spikes"][:, :T - depth]
        vn = theirs[peer]["V"][:, :T - depth]
        fo, fn = _first(so), _first(sn)
        both = (fo < 10_000) & (fn < 10_000)
        quiet = np.arange(so.shape[1])[None, :, None] < np.minimum(fo, fn)[:, None, :]
        stats[mine] = {
            "spikes_ours": int(so.sum()), "spikes_norse": int(sn.sum()),
            "identical": bool(np.array_equal(so, sn)),
            "max_dv": float(np.abs(vo - vn).max()),
            "first_equal": float(np.mean(fo[both] == fn[both])) if both.any() else 1.0,
            "first_within_1": float(np.mean(np.abs(fo[both] - fn[both]) <= 1))
            if both.any() else 1.0,
            "first_shift": float(np.mean(fn[both] - fo[both])) if both.any() else 0.0,
            "silent_mismatch": int(np.sum((fo < 10_000) != (fn < 10_000))),
            "subthreshold_dv": float(np.abs(vo - vn)[quiet].max()) if quiet.any() else 0.0,
        }
    return stats


def _table(title: str, stats: dict[str, dict]) -> str:
    rows = [title]
    for layer, s in stats.items():
        rows.append(f"  {layer:8s} spikes ours {s['spikes_ours']:5d} Norse {s['spikes_norse']:5d}"
                    f" | identical {s['identical']!s:5s} max |dV| {s['max_dv']:.2e}"
                    f" | first spike same step {s['first_equal']:.1%}, within 1 step "
                    f"{s['first_within_1']:.1%}, mean shift {s['first_shift']:+.2f} steps, "
                    f"silent in one only {s['silent_mismatch']}"
                    f" | sub-threshold max |dV| {s['subthreshold_dv']:.3f}")
    return "\n".join(rows)


@pytest.fixture(scope="module")
def trained() -> tuple[Project, np.ndarray, np.ndarray]:
    return _trained_project()


def test_exported_trained_network_runs_the_same_in_norse(trained, tmp_path: Path) -> None:
    project, x, labels = trained
    path, _ = write_nir(project, tmp_path / "digits.nir")
    graph = nir.read(path)
    ours = run_engine(project, x)
    inputs = ours["input"]["spikes"]  # the input spikes our engine emitted
    layers = [("hidden", "hidden"), ("output", "output")]

    exact = _compare(ours, _run_norse(graph, inputs, ["hidden", "output"], True), layers)
    print("\n" + _table("Norse with exact-step parameters vs Spike Studio", exact))
    for s in exact.values():
        assert s["identical"] and s["max_dv"] < 1e-5
    assert exact["output"]["spikes_ours"] > 20 and exact["hidden"]["spikes_ours"] > 200

    euler = _compare(ours, _run_norse(graph, inputs, ["hidden", "output"], False), layers)
    pred_ours = _first(ours["output"]["spikes"]).argmin(1)
    norse_out = _run_norse(graph, inputs, ["output"], False)["output"]["spikes"]
    pred_norse = _first(norse_out).argmin(1)
    agree = float(np.mean(pred_ours == pred_norse))
    print(_table("Norse's from_nir (forward Euler) vs Spike Studio", euler))
    print(f"  classes from the first output spike: ours {np.mean(pred_ours == labels):.1%}, "
          f"Norse {np.mean(pred_norse == labels):.1%} correct, same class {agree:.1%}")
    hid = euler["hidden"]
    # Euler's larger synaptic decay and smaller first input step move spikes by a
    # step at most in most cases, and change sub-threshold voltages by a few % of
    # the threshold (1.0): the O(dt/tau) error of forward Euler at dt/tau_syn = 0.2.
    assert hid["first_within_1"] > 0.8
    assert abs(hid["spikes_norse"] - hid["spikes_ours"]) < 0.2 * hid["spikes_ours"]
    assert hid["subthreshold_dv"] < 0.15
    assert agree > 0.7


def test_graph_written_by_norse_runs_the_same_here(tmp_path: Path) -> None:
    """Norse's ``to_nir`` of Linear -> LIFCell -> Linear -> LIFCell, written to a file,
    imported here and run on random input spikes."""
    torch.manual_seed(0)
    p = norse.LIFParameters(tau_syn_inv=torch.tensor(1 / 5.0), tau_mem_inv=torch.tensor(1 / 20.0),
                            v_th=torch.tensor(1.0))
    model = norse.SequentialState(torch.nn.Linear(16, 12, bias=False), norse.LIFCell(p, dt=DT),
                                  torch.nn.Linear(12, 4, bias=False), norse.LIFCell(p, dt=DT))
    with torch.no_grad():
        model[0].weight.normal_(2.5, 1.5)
        model[2].weight.normal_(3.0, 1.5)
    # Norse writes tau = dt/tau_inv (right for dt = 1) and 0-d parameters, which
    # nir.write stores only without compression.
    graph = norse.to_nir(model, torch.zeros(1, 16), dt=DT)
    path = tmp_path / "norse.nir"
    nir.write(path, graph, compression=None)

    result = import_nir_file(path)
    assert any("dt = 1 ms" in n for n in result.unmapped)
    project = result.project
    assert [p.name for p in project.populations] == ["input", "n_1", "n_3"]
    assert project.population(project.connections[0].target).params["tau_mem"] == 20.0

    rng = np.random.default_rng(3)
    x = (rng.random((32, T, 16)) < 0.08).astype(np.float32)
    ours = run_engine(project, x)
    back = nir.read(path, type_check=False)
    layers = [("n_1", "1"), ("n_3", "3")]
    exact = _compare(ours, _run_norse(back, x, ["1", "3"], True), layers)
    print("\n" + _table("Norse graph: Norse with exact-step parameters vs Spike Studio", exact))
    for s in exact.values():
        assert s["identical"] and s["max_dv"] < 1e-5
    assert exact["n_3"]["spikes_ours"] > 20
    euler = _compare(ours, _run_norse(back, x, ["1", "3"], False), layers)
    print(_table("Norse graph: Norse's from_nir (forward Euler) vs Spike Studio", euler))
    assert euler["n_1"]["first_within_1"] > 0.8
    assert euler["n_1"]["subthreshold_dv"] < 0.15
