"""Same numbers as GeNN: one small network, one epoch at batch size 1, the same
initial weights and data, trained on our engine and on the real mlGeNN 2.3.1 /
GeNN 5.4.0 (CPU backend); the weights afterwards must agree.

Both sides implement the same float32 discretisation (the forward pass is
bit-identical, tests/training/test_parity_*.py), so the weights after an epoch
can differ only by float32 rounding: the order in which a fused input buffer is
summed (1 ulp of a voltage) and Adam's arithmetic (ours in NumPy float32,
GeNN's in generated C++ float32).  Measured: at most 7.2e-7 for e-prop (weights
up to ~3 in size, where one float32 ulp is 2.4e-7) and 1.2e-7 for EventProp,
while the weights moved by 0.03-0.08.  The test allows ``2e-6`` (4 ulp of a
weight of size 4) plus ``1e-5 * alpha`` per update for Adam's rounding to add
up: 2.8e-6 in all.  A wrong gradient, a skipped or doubled update or a spike
in another step moves weights by the order of ``alpha`` = 0.01, over 3000 times
more.

EventProp: mlGeNN applies each batch's gradient one batch late, never applies
the last batch's gradient, and counts Adam steps from 1 (SPEC's deliberate
deviations; tests/fixtures/README.md).  The EventProp test arranges things so
none of this changes the result:
- Adam with beta1 = beta2 = 0 makes the update ``alpha * g / (|g| + eps)``,
  the same at every step index;
- GeNN gets the examples interleaved with empty ones (no input spikes, so no
  spikes anywhere and an exactly zero gradient).  Example k's gradient is then
  computed by GeNN during the following empty trial and applied at its end, the
  empty trial's zero gradient is applied (a no-op) at the end of example k+1's
  trial, and the last, dropped gradient is an empty trial's zero.  So GeNN applies
  exactly example 0's, 1's, ... gradients, each computed with the weights that
  already include all earlier updates -- what our engine does without the empty trials;
- no neuron spikes in a trial's last step (asserted), so no spike crosses from
  one trial into the next (where GeNN's next trial is an empty one and ours is not).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ml_genn")
pytest.importorskip("pygenn")

N_IN, N_HID, N_OUT, T = 5, 20, 3, 60
N_EXAMPLES = 8


def _inputs(seed: int, n: int) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Spike times (ms, in the first 35 ms of 60) and ids of ``n`` examples, and labels."""
    rng = np.random.default_rng(seed)
    times, ids = [], []
    for _ in range(n):
        k = int(rng.integers(8, 16))
        t = np.round(rng.uniform(0.0, 35.0, k)).astype(np.float32)
        i = rng.integers(0, N_IN, k)
        order = np.lexsort((i, t))
        times.append(t[order])
        ids.append(i[order])
    return times, ids, rng.integers(0, N_OUT, n)


def _ours(spikes_lib: Any, times: list, ids: list) -> list:
    return [spikes_lib.preprocess_spikes(t, i, N_IN) for t, i in zip(times, ids, strict=True)]


def _genn_weights(cn: Any, conn: Any) -> np.ndarray:
    from app.worker.genn_backend import genn_weights

    w = genn_weights(cn, conn)
    assert w is not None
    return w


def _train_ours(kind: str, weights: dict[str, np.ndarray], times: list, ids: list,
                labels: np.ndarray, optimiser: dict[str, float]) -> dict[str, np.ndarray]:
    from app.model import Connection, Network, Population
    from app.model.connectivity import Dense
    from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from app.model.synapses import Delta, Exponential
    from app.training import data
    from app.training.compilers import EPropCompiler, EventPropCompiler
    from app.training.optimisers import Adam

    if kind == "eprop":
        from app.training.compilers.eprop import default_params
    else:
        from app.training.compilers.eventprop import default_params
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(max_spikes=100), N_IN, name="inp")
        if kind == "eprop":
            hid = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0),
                             N_HID, name="hid")
            out = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), N_OUT, name="out")
            conns = {"c0_in_hid": (inp, hid), "c1_hid_hid": (hid, hid), "c2_hid_out": (hid, out)}
            made = {k: Connection(a, b, Dense(weights[k].copy()), Delta(), name=k)
                    for k, (a, b) in conns.items()}
            compiler: Any = EPropCompiler(example_timesteps=T,
                                          losses="sparse_categorical_crossentropy",
                                          optimiser=Adam(**optimiser), batch_size=1)
        else:
            hid = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None),
                             N_HID, name="hid")
            out = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), N_OUT, name="out")
            conns = {"c0_in_hid": (inp, hid), "c2_hid_out": (hid, out)}
            made = {k: Connection(a, b, Dense(weights[k].copy()), Exponential(5.0), name=k)
                    for k, (a, b) in conns.items()}
            compiler = EventPropCompiler(example_timesteps=T,
                                         losses="sparse_categorical_crossentropy",
                                         optimiser=Adam(**optimiser), batch_size=1,
                                         max_spikes=500)
    with compiler.compile(net) as cn:
        cn.train({inp: _ours(data, times, ids)}, {out: labels}, num_epochs=1, shuffle=False,
                 callbacks=[])
        result = {k: np.asarray(cn.get_weights(c), np.float32) for k, c in made.items()}
        if kind == "eprop":
            sl = cn.layout.pop_slice("out")
            result["out_bias"] = np.array(cn.layout.bias[sl], np.float32)
    return result


def _train_genn(kind: str, weights: dict[str, np.ndarray], times: list, ids: list,
                labels: np.ndarray, optimiser: dict[str, float], folder: Path
                ) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    from ml_genn import Connection, Network, Population
    from ml_genn.callbacks import SpikeRecorder
    from ml_genn.compilers import EPropCompiler, EventPropCompiler
    from ml_genn.connectivity import Dense
    from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from ml_genn.optimisers import Adam
    from ml_genn.synapses import Delta, Exponential
    from ml_genn.utils.data import preprocess_spikes

    from app.worker.genn_backend import CPU_KIND, compile_in

    if kind == "eprop":
        from ml_genn.compilers.eprop_compiler import default_params
    else:
        from ml_genn.compilers.event_prop_compiler import default_params
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(max_spikes=100), N_IN, name="inp")
        if kind == "eprop":
            hid = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0),
                             N_HID, name="hid", record_spikes=True)
            out = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), N_OUT, name="out")
            conns = {"c0_in_hid": (inp, hid), "c1_hid_hid": (hid, hid), "c2_hid_out": (hid, out)}
            made = {k: Connection(a, b, Dense(weights[k].copy()), Delta(), name=k)
                    for k, (a, b) in conns.items()}
            compiler: Any = EPropCompiler(example_timesteps=T,
                                          losses="sparse_categorical_crossentropy",
                                          optimiser=Adam(**optimiser), batch_size=1,
                                          backend=CPU_KIND)
        else:
            hid = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None),
                             N_HID, name="hid", record_spikes=True)
            out = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), N_OUT, name="out")
            conns = {"c0_in_hid": (inp, hid), "c2_hid_out": (hid, out)}
            made = {k: Connection(a, b, Dense(weights[k].copy()), Exponential(5.0), name=k)
                    for k, (a, b) in conns.items()}
            compiler = EventPropCompiler(example_timesteps=T,
                                         losses="sparse_categorical_crossentropy",
                                         optimiser=Adam(**optimiser), batch_size=1,
                                         max_spikes=500, backend=CPU_KIND)
    x = [preprocess_spikes(t, i, N_IN) for t, i in zip(times, ids, strict=True)]
    cn = compile_in(compiler, net, folder)
    with cn:
        _, cb = cn.train({inp: x}, {out: labels}, num_epochs=1, shuffle=False,
                         callbacks=[SpikeRecorder(hid, key="hid")])
        result = {k: _genn_weights(cn, c) for k, c in made.items()}
        if kind == "eprop":
            bias = cn.neuron_populations[out].vars["Bias"]
            bias.pull_from_device()
            result["out_bias"] = np.array(bias.values, np.float32).ravel()
    return result, cb


def _report(name: str, ours: dict, genn: dict, start: dict) -> dict[str, tuple[float, float]]:
    out = {}
    for k in genn:
        diff = float(np.max(np.abs(ours[k] - genn[k])))
        moved = float(np.max(np.abs(genn[k] - start[k]))) if k in start else float("nan")
        out[k] = (diff, moved)
        print(f"{name} {k}: max |ours - GeNN| = {diff:.3g}, max |change| = {moved:.3g}")
    return out


def test_eprop_one_epoch_same_weights_as_genn(tmp_path: Path) -> None:
    rng = np.random.default_rng(4321)
    w = {"c0_in_hid": rng.normal(0.0, 1.0, (N_IN, N_HID)).astype(np.float32),
         "c1_hid_hid": rng.normal(0.0, 0.3, (N_HID, N_HID)).astype(np.float32),
         "c2_hid_out": rng.normal(0.0, 0.3, (N_HID, N_OUT)).astype(np.float32)}
    times, ids, labels = _inputs(7, N_EXAMPLES)
    adam = {"alpha": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    genn, cb = _train_genn("eprop", w, times, ids, labels, adam, tmp_path)
    ours = _train_ours("eprop", w, times, ids, labels, adam)
    spikes = [len(t) for t in cb["hid"][0]]
    assert min(spikes) > 0, spikes  # every example makes the hidden layer spike
    stats = _report("e-prop", ours, genn, {**w, "out_bias": np.zeros(N_OUT, np.float32)})
    for k, (diff, moved) in stats.items():
        assert moved > 2 * adam["alpha"], k  # the updates really moved the weights
        assert diff <= 1e-5 * adam["alpha"] * N_EXAMPLES + 2e-6, (k, diff)


def test_eventprop_one_epoch_same_weights_as_genn(tmp_path: Path) -> None:
    rng = np.random.default_rng(1234)
    w = {"c0_in_hid": rng.normal(0.8, 0.6, (N_IN, N_HID)).astype(np.float32),
         "c2_hid_out": rng.normal(0.2, 0.4, (N_HID, N_OUT)).astype(np.float32)}
    times, ids, labels = _inputs(11, N_EXAMPLES)
    adam = {"alpha": 0.01, "beta1": 0.0, "beta2": 0.0, "epsilon": 1e-4}
    # GeNN: each example followed by an empty one (see the module docstring)
    empty_t, empty_i = np.zeros(0, np.float32), np.zeros(0, np.int64)
    g_times = [a for t in times for a in (t, empty_t)]
    g_ids = [a for i in ids for a in (i, empty_i)]
    g_labels = np.repeat(labels, 2)
    genn, cb = _train_genn("eventprop", w, g_times, g_ids, g_labels, adam, tmp_path)
    ours = _train_ours("eventprop", w, times, ids, labels, adam)
    hid_times = cb["hid"][0]
    assert all(len(t) > 0 for t in hid_times[0::2]), [len(t) for t in hid_times]
    assert all(len(t) == 0 for t in hid_times[1::2])  # the empty trials stay silent
    last_step = (T - 1) * 1.0
    assert all(np.all(np.asarray(t) < last_step) for t in hid_times)
    stats = _report("EventProp", ours, genn, w)
    for k, (diff, moved) in stats.items():
        assert moved > 2 * adam["alpha"], k
        assert diff <= 1e-5 * adam["alpha"] * N_EXAMPLES + 2e-6, (k, diff)
