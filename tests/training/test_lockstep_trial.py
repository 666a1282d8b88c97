"""The lockstep EventProp trial gives the per-slot kernel's numbers.

Forward voltages, readouts, spike counts and carried state must be bit-identical
(the same float operations per slot), and so must the input spikes on the event
tape (the lockstep trial keeps LIF spikes in per-step rows of the block, not on
the tape); gradients may differ by rounding only (the lockstep backward sums a
block's terms per slot and step instead of slot by slot).
"""

from __future__ import annotations

import numpy as np
import pytest
from trial_compare import from_same_state, record_fused_calls

from app.model import Connection, Network, Population
from app.model.connectivity import Dense, FixedProbability
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.compilers import EventPropCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import preprocess_spikes
from app.training.engine import lockstep_kernels as LK
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam

T, N_IN, N_OUT = 40, 12, 4
STATE = ("V", "A", "RF", "X", "spk", "spk_cnt", "R", "R2", "nspk", "ev_cnt", "ev_ovf")


def _build(output: str, batch: int, recurrent: bool = False, two_hidden: bool = False,
           dense: bool = True, max_spikes: int = 40):
    """A small EventProp network with the given output kind, entered, and its pops."""
    net = Network(default_params)
    with net:
        i = Population(SpikeInput(), N_IN)
        h = Population(LeakyIntegrateFire(tau_mem=20.0), 24)
        prev = h
        Connection(i, h, Dense(Normal(1.2, 0.6)), Exponential(5.0))
        if recurrent:
            Connection(h, h, Dense(Normal(0.0, 0.1)), Exponential(5.0))
        if two_hidden:
            h2 = Population(LeakyIntegrateFire(tau_mem=15.0), 16)
            conn = Dense(Normal(0.4, 0.2)) if dense else FixedProbability(0.5, Normal(0.4, 0.2))
            Connection(h, h2, conn, Exponential(5.0))
            prev = h2
        if output.startswith("ttfs"):
            o = Population(LeakyIntegrateFire(tau_mem=20.0, readout="first_spike_time"), N_OUT)
            Connection(prev, o, Dense(Normal(0.9, 0.2)), Exponential(5.0))
            loss = RelativeMeanSquareError(1.0) if output == "ttfs_rmse" \
                else "sparse_categorical_crossentropy"
        else:
            o = Population(LeakyIntegrate(tau_mem=20.0, readout=output), N_OUT)
            Connection(prev, o, Dense(Normal(0.0, 0.3)), Exponential(5.0))
            loss = "sparse_categorical_crossentropy"
    comp = EventPropCompiler(T, loss, Adam(0.003), batch_size=batch, dt=1.0,
                             softmax_temperature=0.5, ttfs_alpha=0.1, max_spikes=max_spikes)
    cn = comp.compile(net)
    cn.__enter__()
    return cn, i, o


def _examples(n: int, seed: int) -> tuple[list, np.ndarray]:
    """n examples: each input spikes a few times at random steps; random labels."""
    rng = np.random.default_rng(seed)
    xs = []
    for _ in range(n):
        k = rng.integers(4, 20)
        ids = rng.integers(0, N_IN, k)
        times = rng.integers(0, T, k).astype(np.float32)
        xs.append(preprocess_spikes(times, ids, N_IN))
    return xs, rng.integers(0, N_OUT, n)


def _trials(cn, i, x: list, y: np.ndarray, lockstep: bool, n_trials: int) -> list[dict]:
    """Run n_trials fused training trials (no optimiser step) from the current state;
    return state and gradient after each."""
    sim = cn.sim
    sim.lockstep = lockstep
    sim.layerwise = False  # the per-slot kernel is the reference, not the layer-wise one
    B = len(y)
    out = []
    for _ in range(n_trials):
        cn._begin_trial()
        cn._inputs_staged(sim.set_inputs_indexed({i.name: x}, np.arange(B)))
        assert sim._use_lockstep(B, min(sim.n_chunks, B), cn.bk_i, cn.conn_dtrain) == lockstep
        sim.train_trial(B, cn.zero_step, cn.bk_i, cn.bk_f, cn.conn_train, cn.conn_dtrain,
                        y.astype(np.int64), cn.drive)
        snap = {k: getattr(sim, k)[:B].copy() for k in STATE}
        views, _ = sim.gradient_views()  # per connection, one row per thread chunk
        snap["grad"] = np.concatenate([v.sum(axis=0) for v in views])
        snap["xent"] = cn.drive.xent[:B].copy()
        # the input spikes on the tape: the lockstep tape holds nothing else
        snap["tape"] = []
        for b in range(B):
            e = sim.ev_cnt[b] if not lockstep else sim.nspk[b, :N_IN].sum()
            keep = sim.ev_nid[b, :e] < N_IN
            snap["tape"].append((sim.ev_step[b, :e][keep], sim.ev_nid[b, :e][keep],
                                 sim.ev_xmv[b, :e][keep]))
        out.append(snap)
    return out


def _compare(cn, i, batch: int, seed: int = 0, n_trials: int = 2) -> None:
    x, y = _examples(batch, seed)
    ref, got = from_same_state(cn.sim, STATE,
                               lambda second: _trials(cn, i, x, y, second, n_trials))
    assert ref[-1]["nspk"][:, N_IN:].sum() > 4 * batch  # hidden neurons did spike
    pop_i = cn.layout.pop_i
    for r, g in zip(ref, got, strict=True):
        for k in STATE + ("xent",):
            if k != "spk":
                np.testing.assert_array_equal(g[k], r[k], err_msg=k)
        for b in range(batch):  # spike lists: the first spk_cnt ids of each population
            for p in range(pop_i.shape[0]):
                s0, c = pop_i[p, 0], r["spk_cnt"][b, p]
                np.testing.assert_array_equal(g["spk"][b, s0:s0 + c], r["spk"][b, s0:s0 + c])
        for (s0, n0, x0), (s1, n1, x1) in zip(r["tape"], g["tape"], strict=True):
            np.testing.assert_array_equal(s1, s0)
            np.testing.assert_array_equal(n1, n0)
            np.testing.assert_array_equal(x1, x0)
        scale = np.abs(r["grad"]).max()
        assert scale > 0
        np.testing.assert_allclose(g["grad"], r["grad"], rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("output", ["ttfs_rmse", "ttfs_sce", "avg_var", "sum_var", "max_var",
                                    "avg_var_exp_weight"])
def test_lockstep_matches_per_slot_kernel(output: str) -> None:
    # 40 slots (20 per thread): a full block and one with idle columns
    cn, i, o = _build(output, batch=40)
    _compare(cn, i, 40)


def test_lockstep_recurrent_and_two_hidden_layers() -> None:
    cn, i, o = _build("avg_var", batch=48, recurrent=True, two_hidden=True)
    _compare(cn, i, 48, seed=3, n_trials=3)


def test_lockstep_gradient_rows_added_directly() -> None:
    # no per-slot gradient sums: every replayed row goes straight into the gradient
    cn, i, o = _build("ttfs_rmse", batch=40, recurrent=True)
    cn.sim.lockstep_gsum_max = 0
    _compare(cn, i, 40, seed=5)


def test_lockstep_spike_caps_and_overflow() -> None:
    # 3 spikes per neuron and trial are replayed; later ones are counted, flagged
    # (ev_ovf: the first neuron past its cap, per slot) and not replayed
    cn, i, o = _build("avg_var", batch=40, max_spikes=3)
    _compare(cn, i, 40, seed=7)
    assert (cn.sim.ev_ovf[:40] >= 0).sum() > 10


def test_reported_rmse_is_the_loss_value() -> None:
    # both trial kernels leave each slot's relative mean square error for the report
    cn, i, o = _build("ttfs_rmse", batch=40)
    x, y = _examples(40, 11)
    sl = cn.layout.pop_slice(o.name)
    for lockstep in (False, True):
        _trials(cn, i, x, y, lockstep, 1)
        out = {o.name: cn.sim.R[:40, sl].copy()}
        ref = RelativeMeanSquareError(1.0).value(y, out[o.name])
        assert ref > 0
        assert cn._batch_loss(o.name, y, out) == pytest.approx(ref, rel=1e-6)


def test_lockstep_only_for_what_it_implements() -> None:
    cn, i, o = _build("avg_var", batch=16, two_hidden=True, dense=False)
    lay, sim = cn.layout, cn.sim
    assert not LK.lockstep_ok(lay.pop_i, lay.grp_i, lay.max_delay, sim.conn_dense,
                              cn.conn_dtrain, cn.bk_i)
    B = LK.LOCKSTEP_BLOCK
    cn2, _, _ = _build("avg_var", batch=B)
    sim2 = cn2.sim
    assert LK.lockstep_ok(cn2.layout.pop_i, cn2.layout.grp_i, cn2.layout.max_delay,
                          sim2.conn_dense, cn2.conn_dtrain, cn2.bk_i)
    big = cn2.layout.pop_i.copy()
    big[-1, 1] = LK.LOCKSTEP_MAX_NEURONS + 1  # too many neurons for the block's rows
    assert not LK.lockstep_ok(big, cn2.layout.grp_i, 0, sim2.conn_dense, cn2.conn_dtrain,
                              cn2.bk_i)
    sim2.in_ptr[:B] = 0
    sim2.in_hi[:B] = 0
    assert sim2._use_lockstep(B, 1, cn2.bk_i, cn2.conn_dtrain)
    # fewer slots per thread than a block: the per-slot kernel
    assert not sim2._use_lockstep(B, 2, cn2.bk_i, cn2.conn_dtrain)
    # a batch with many input spikes per slot and step goes to the per-slot kernel
    sim2.in_hi[:B, 0] = int(sim2.LOCKSTEP_MAX_INPUT_EVENTS_PER_STEP * T) + 1
    assert not sim2._use_lockstep(B, 1, cn2.bk_i, cn2.conn_dtrain)
    sim2.lockstep = True
    assert sim2._use_lockstep(B, 1, cn2.bk_i, cn2.conn_dtrain)
    assert sim2._use_lockstep(B, 2, cn2.bk_i, cn2.conn_dtrain)
    # replay rows that would not fit in memory: the per-slot kernel, even when asked
    sim2.LOCKSTEP_MAX_ROW_BYTES = sim2._replay_capacity() * LK.LOCKSTEP_BLOCK * 8 - 1
    assert not sim2._use_lockstep(B, 1, cn2.bk_i, cn2.conn_dtrain)


def _pass_runs(fuse: bool, n: int, output: str = "ttfs_rmse", max_spikes: int = 40,
               strict: bool = False):
    """Two training passes of n examples in batches of 128 (64 slots per thread: lockstep
    trials) fused or batch by batch; the network, its metric and what the engine's
    fused-pass call returned each time."""
    cn, i, o = _build(output, batch=128, max_spikes=max_spikes)
    cn.compiler.strict_buffer_checking = strict
    cn.fuse_passes = fuse
    calls = record_fused_calls(cn.sim)
    x, y = _examples(n, 13)
    metrics, _ = cn.train({i: x}, {o: y}, num_epochs=2, callbacks=[])
    return cn, metrics[o], calls


@pytest.mark.parametrize("output", ["ttfs_rmse", "avg_var"])
def test_fused_lockstep_passes_train_exactly_like_batch_by_batch(output: str) -> None:
    ref, ref_m, ref_calls = _pass_runs(False, 256, output)
    got, got_m, got_calls = _pass_runs(True, 256, output)
    assert ref_calls == [] and len(got_calls) >= 2
    assert sum(c[0] for c in got_calls) == 4 and all(c[1:] == (0, -1) for c in got_calls)
    np.testing.assert_array_equal(got.layout.weights, ref.layout.weights)
    for tg, tr in zip(got.trainables, ref.trainables, strict=True):
        np.testing.assert_array_equal(tg.state["m"], tr.state["m"])
    for k in ("V", "X", "spk_cnt", "R", "nspk", "ev_cnt", "ev_step", "ev_nid"):
        np.testing.assert_array_equal(getattr(got.sim, k), getattr(ref.sim, k), err_msg=k)
    assert (got_m.correct, got_m.total) == (ref_m.correct, ref_m.total)
    assert got.epoch_loss == ref.epoch_loss and got.last_loss == ref.last_loss


def test_a_pass_with_a_batch_for_the_per_slot_kernel_is_not_fused() -> None:
    # 300 examples: the last batch of 44 (22 slots per thread) runs on the per-slot
    # kernel, so the pass runs batch by batch
    cn, m, calls = _pass_runs(True, 300)
    assert calls == [None, None] and m.total == 300


def test_fused_lockstep_pass_stops_at_a_buffer_overflow() -> None:
    from app.training.compiled import TrainingError

    errors = []
    for fuse in (False, True):
        with pytest.raises(TrainingError, match="spike buffer overflow") as e:
            _pass_runs(fuse, 256, "avg_var", max_spikes=2, strict=True)
        errors.append(str(e.value))
    assert errors[0] == errors[1]
