"""The layer-wise EventProp trial (SpikeInput -> LIF -> LI) gives the per-slot kernel's
numbers.

The hidden layer runs the same float operations in the same order as the per-slot
kernel, so its voltages, spike counts and the spikes carried into the next trial
must be bit-identical; the output layer's input is a product summed in another
order, so its voltages, readouts, losses and all gradients may differ by rounding
only.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from trial_compare import from_same_state, record_fused_calls

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.compilers import EventPropCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import preprocess_spikes
from app.training.engine import layerwise_kernels as LW
from app.training.optimisers import Adam

T, N_IN, N_HID, N_OUT = 30, 40, 48, 5


def _build(readout: str = "avg_var", batch: int = 24, recurrent: bool = False,
           lif_out: bool = False, max_spikes: int = T, reg: bool = False,
           reset_in_syn: bool = False):
    """A small SpikeInput -> LIF -> LI EventProp network (or a variant the layer-wise
    kernel must refuse), entered, with its input and output populations."""
    net = Network(default_params)
    with net:
        i = Population(SpikeInput(), N_IN)
        h = Population(LeakyIntegrateFire(tau_mem=20.0), N_HID)
        Connection(i, h, Dense(Normal(0.9, 0.4)), Exponential(5.0))
        if recurrent:
            Connection(h, h, Dense(Normal(0.0, 0.1)), Exponential(5.0))
        if lif_out:
            o = Population(LeakyIntegrateFire(tau_mem=20.0, readout="first_spike_time"),
                           N_OUT)
        else:
            o = Population(LeakyIntegrate(tau_mem=20.0, readout=readout), N_OUT)
        Connection(h, o, Dense(Normal(0.0, 0.3)), Exponential(5.0))
    extra = {"reg_lambda_upper": 1e-4, "reg_lambda_lower": 1e-4, "reg_nu_upper": 2} \
        if reg else {}
    comp = EventPropCompiler(T, "sparse_categorical_crossentropy", Adam(0.003),
                             batch_size=batch, dt=1.0, max_spikes=max_spikes,
                             reset_in_syn_between_batches=reset_in_syn, **extra)
    cn = comp.compile(net)
    cn.__enter__()
    return cn, i, o


def _examples(n: int, seed: int) -> tuple[list, np.ndarray]:
    """n examples of 10-60 input spikes at random steps before the last (staging drops
    a spike at the last step, as mlGeNN does); random labels."""
    rng = np.random.default_rng(seed)
    xs = []
    for _ in range(n):
        k = rng.integers(10, 60)
        ids = rng.integers(0, N_IN, k)
        times = rng.integers(0, T - 1, k).astype(np.float32)
        xs.append(preprocess_spikes(times, ids, N_IN))
    return xs, rng.integers(0, N_OUT, n)


STATE = ("V", "X", "spk", "spk_cnt", "R", "R2", "nspk")


def _trials(cn, i, x: list, y: np.ndarray, layerwise: bool, n_trials: int) -> list[dict]:
    """n_trials fused training trials (no optimiser step) from the current state; the
    state, summed gradient and losses after each."""
    sim = cn.sim
    sim.layerwise = layerwise
    sim.lockstep = False
    B = len(y)
    out = []
    for _ in range(n_trials):
        cn._begin_trial()
        cn._inputs_staged(sim.set_inputs_indexed({i.name: x}, np.arange(B)))
        assert sim._use_layerwise(cn.bk_i, cn.conn_dtrain) == layerwise
        sim.train_trial(B, cn.zero_step, cn.bk_i, cn.bk_f, cn.conn_train, cn.conn_dtrain,
                        y.astype(np.int64), cn.drive)
        snap = {k: getattr(sim, k)[:B].copy() for k in STATE}
        views, _ = sim.gradient_views()
        snap["grad"] = [v.sum(axis=0) for v in views]
        snap["xent"] = cn.drive.xent[:B].copy()
        snap["ovf"] = sim.ev_ovf[:B].copy()
        out.append(snap)
    return out


def _compare(cn, i, o, batch: int, seed: int = 0, n_trials: int = 3) -> None:
    x, y = _examples(batch, seed)
    ref, got = from_same_state(cn.sim, STATE,
                               lambda second: _trials(cn, i, x, y, second, n_trials))
    lay = cn.layout
    hid = slice(N_IN, N_IN + N_HID)
    out = lay.pop_slice(o.name)
    n_hid_spikes = ref[-1]["nspk"][:, hid].sum()
    assert 2 * batch < n_hid_spikes < 0.5 * batch * T * N_HID  # busy but not saturated
    assert ref[-1]["spk_cnt"][:, 1].sum() > 0  # hidden spikes carried into the next trial
    for r, g in zip(ref, got, strict=True):
        for k in ("nspk", "spk_cnt"):
            np.testing.assert_array_equal(g[k], r[k], err_msg=k)
        np.testing.assert_array_equal(g["V"][:, hid], r["V"][:, hid])
        for b in range(batch):
            for p in range(2):  # carried spike lists of the input and hidden layers
                s0, c = lay.pop_i[p, 0], r["spk_cnt"][b, p]
                np.testing.assert_array_equal(g["spk"][b, s0:s0 + c], r["spk"][b, s0:s0 + c])
        np.testing.assert_array_equal(g["ovf"], -1)
        for k in ("V", "R"):
            np.testing.assert_allclose(g[k][:, out], r[k][:, out], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g["X"], r["X"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g["xent"], r["xent"], rtol=1e-5, atol=1e-6)
        for gg, rg in zip(g["grad"], r["grad"], strict=True):
            scale = np.abs(rg).max()
            assert scale > 0
            np.testing.assert_allclose(gg, rg, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("readout", ["avg_var", "sum_var", "max_var", "avg_var_exp_weight"])
def test_layerwise_matches_per_slot_kernel(readout: str) -> None:
    # 24 slots on 2 threads; three trials in a row carry V, X and last-step spikes
    cn, i, o = _build(readout)
    _compare(cn, i, o, 24)


def test_layerwise_with_synaptic_input_reset_and_odd_batch() -> None:
    cn, i, o = _build("avg_var", batch=13, reset_in_syn=True)
    _compare(cn, i, o, 13, seed=4)


def test_layerwise_training_matches_per_slot_training() -> None:
    # whole batches through train(): the optimiser sees the same gradients
    weights = {}
    for layerwise in (False, True):
        cn, i, o = _build("avg_var", batch=16)
        cn.sim.layerwise = layerwise
        x, y = _examples(48, 9)
        cn.train({i: x}, {o: y}, num_epochs=2, callbacks=[], shuffle=False)
        used = any(cn.sim._layerwise_ok.values())
        assert used == layerwise
        weights[layerwise] = cn.layout.weights.copy()
    np.testing.assert_allclose(weights[True], weights[False], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("variant", ["recurrent", "lif_out", "short_buffer", "reg"])
def test_layerwise_only_for_what_it_implements(variant: str) -> None:
    cn, i, o = _build(recurrent=variant == "recurrent", lif_out=variant == "lif_out",
                      max_spikes=T - 1 if variant == "short_buffer" else T,
                      reg=variant == "reg")
    lay, sim = cn.layout, cn.sim
    cn._inputs_staged(60)  # sizes the spike buffers (ev_cap_per_pop)
    assert sim.ev_cap_per_pop[1] > 0
    assert not LW.layerwise_ok(lay.pop_i, lay.grp_i, lay.conn_i, sim.conn_dense,
                               lay.max_delay, cn.conn_dtrain, cn.bk_i, sim.ev_cap_per_pop, T)
    cn2, _, _ = _build()
    cn2._inputs_staged(60)
    assert LW.layerwise_ok(cn2.layout.pop_i, cn2.layout.grp_i, cn2.layout.conn_i,
                           cn2.sim.conn_dense, cn2.layout.max_delay, cn2.conn_dtrain,
                           cn2.bk_i, cn2.sim.ev_cap_per_pop, T)


def _pass_runs(fuse: bool, epochs: int = 3, nan_weight: bool = False, call_s: float = 0.1,
               callbacks: tuple | None = ()):
    """Train a layer-wise network for ``epochs`` shuffled passes (a short last batch)
    with the passes fused (in engine calls of ``call_s`` seconds) or batch by batch;
    what the run leaves behind. ``callbacks=None`` trains with the default ones."""
    cn, i, o = _build("avg_var", batch=16)
    cn.fuse_passes = fuse
    cn.FUSED_CALL_S = call_s
    calls = record_fused_calls(cn.sim)
    x, y = _examples(150, 21)
    if nan_weight:
        w = cn.layout.weights
        w[5] = np.nan
    kw = {} if callbacks is None else {"callbacks": list(callbacks)}
    metrics, _ = cn.train({i: x}, {o: y}, num_epochs=epochs, **kw)
    return cn, metrics[o], calls


@pytest.mark.parametrize("call_s", [0.1, 0.0, 1000.0])
def test_fused_passes_train_exactly_like_batch_by_batch(call_s: float):
    # 150 examples: 9 batches of 16 and one of 6 per pass. Each pass's first call
    # trains 4 batches; then 0 s: one per call, 0.1 s: as many as fit in 0.1 s (the
    # first call may include compiling), 1000 s: four times the last call, here the
    # remaining 6
    ref, ref_m, ref_calls = _pass_runs(False)
    got, got_m, got_calls = _pass_runs(True, call_s=call_s)
    assert ref_calls == []
    done = [c[0] for c in got_calls]
    if call_s == 0:
        assert done == [4, 1, 1, 1, 1, 1, 1] * 3
    if call_s == 1000:
        assert done == [4, 6] * 3
    assert sum(done) == 30
    assert all(c[1:] == (0, -1) for c in got_calls)
    np.testing.assert_array_equal(got.layout.weights, ref.layout.weights)
    for tg, tr in zip(got.trainables, ref.trainables, strict=True):
        np.testing.assert_array_equal(tg.state["m"], tr.state["m"])
        np.testing.assert_array_equal(tg.state["v"], tr.state["v"])
        assert not tg.grad.any()
    for k in ("V", "X", "spk_cnt", "R", "nspk"):
        np.testing.assert_array_equal(getattr(got.sim, k), getattr(ref.sim, k), err_msg=k)
    assert (got_m.correct, got_m.total) == (ref_m.correct, ref_m.total)
    assert got.epoch_loss == ref.epoch_loss and got.last_loss == ref.last_loss
    assert got.sim.counters.trials == ref.sim.counters.trials == 3 * 150


def test_fused_pass_stops_on_a_bad_weight_like_batch_by_batch():
    from app.training.compiled import TrainingError

    errors = []
    for fuse in (False, True):
        with pytest.raises(TrainingError) as e:
            _pass_runs(fuse, nan_weight=True)
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    assert "NaN/inf before training step 0" in errors[1]


def test_callbacks_keep_the_batch_by_batch_loop():
    cn, i, o = _build("avg_var", batch=16)
    calls = []
    cn.sim.train_epoch = lambda *a, **k: calls.append(1)
    x, y = _examples(32, 2)
    seen = []

    class Count:
        def on_batch_end(self, batch, metrics):
            seen.append(batch)

    cn.train({i: x}, {o: y}, num_epochs=1, callbacks=[Count()])
    assert calls == [] and seen == [0, 1]


class _SeenPerBatch:
    """Batch hooks that read only the batch number, the metrics and the last loss."""

    metrics_only = True

    def __init__(self) -> None:
        self.seen: list = []
        self._cn = None

    def set_params(self, compiled_network=None, **kwargs) -> None:
        self._cn = compiled_network

    def on_batch_begin(self, batch: int) -> None:
        self.seen.append(("begin", batch))

    def on_batch_end(self, batch: int, metrics) -> None:
        (m,) = metrics.values()
        self.seen.append(("end", batch, m.correct, m.total, self._cn.last_loss))


def test_metrics_only_callbacks_see_every_batch_of_a_fused_pass():
    ref_cb, got_cb = _SeenPerBatch(), _SeenPerBatch()
    ref, ref_m, ref_calls = _pass_runs(False, callbacks=(ref_cb,))
    got, got_m, got_calls = _pass_runs(True, call_s=0.0, callbacks=(got_cb,))
    assert ref_calls == [] and [c[0] for c in got_calls] == [4, 1, 1, 1, 1, 1, 1] * 3
    # the same hooks in the same order, each batch's metrics and loss as batch by batch
    assert len(got_cb.seen) == 2 * 30
    assert got_cb.seen == ref_cb.seen
    np.testing.assert_array_equal(got.layout.weights, ref.layout.weights)
    assert (got_m.correct, got_m.total) == (ref_m.correct, ref_m.total)


def test_the_default_progress_bar_runs_fused_and_shows_the_last_metrics(capsys):
    ref, ref_m, _ = _pass_runs(True, epochs=2)
    got, got_m, got_calls = _pass_runs(True, epochs=2, callbacks=None)
    assert got_calls and all(c is not None for c in got_calls)
    np.testing.assert_array_equal(got.layout.weights, ref.layout.weights)
    # tqdm writes to stderr; each epoch's bar ends at its 10 batches and the accuracy
    bars = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines()
            if line.startswith("Epoch 1")]
    assert bars and "10/10" in bars[-1]
    assert f"{got_m.result:.4f}" in bars[-1]


def test_which_callbacks_let_batches_run_together():
    from app.training.callbacks import (
        BatchProgressBar,
        CallbackList,
        Checkpoint,
        OptimiserParamSchedule,
        SpikeRecorder,
    )

    cn, i, o = _build("avg_var", batch=16)

    class PerBatch:
        def on_batch_end(self, batch, metrics):
            pass

    def may(*cbs) -> bool:
        return CallbackList(list(cbs), compiled_network=cn, num_batches=1,
                            num_epochs=1).batches_may_run_together()

    assert may() and may(BatchProgressBar(), Checkpoint())
    assert may(OptimiserParamSchedule("alpha", lambda e, a: a))
    assert not may(PerBatch()) and not may(BatchProgressBar(), PerBatch())
    assert not may(SpikeRecorder(o, key="s"))


class _LiveEvery4th(_SeenPerBatch):
    """Needs batches 2, 6, ... of each pass live (records the output's spikes then);
    only the metrics of the others (``batches_until_live``)."""

    metrics_only = False
    fused_call_s = 0.0  # one batch per engine call after the first, so limits show

    def __init__(self, out_name: str) -> None:
        super().__init__()
        self.pop = types.SimpleNamespace(name=out_name)  # what on_recording is for
        self.live: list = []
        self.recorded: list = []
        self.asked: list = []

    def batches_until_live(self, batch: int) -> int:
        self.asked.append(batch)
        return (2 - batch) % 4

    def on_batch_begin(self, batch: int) -> None:
        super().on_batch_begin(batch)
        self.live.append((batch, not self._cn.replaying_batches))

    def recording_request(self):
        b, is_live = self.live[-1] if self.live else (-1, False)
        return [], [self.pop.name] if is_live and b % 4 == 2 else []

    def on_recording(self, rec, example_ids, start, dt) -> None:
        self.recorded.append((self.live[-1][0], len(example_ids)))


def test_callbacks_may_ask_for_some_batches_live_in_a_fused_pass():
    out_name = _build("avg_var", batch=16)[2].name
    ref_cb, got_cb = _LiveEvery4th(out_name), _LiveEvery4th(out_name)
    ref, ref_m, ref_calls = _pass_runs(False, callbacks=(ref_cb,))
    got, got_m, got_calls = _pass_runs(True, callbacks=(got_cb,))
    assert ref_calls == [] and ref_cb.asked == []
    # per pass of 10 batches: batches 2 and 6 live, the others in engine calls that
    # stop before them: the first call of a pass 2 (of 4), then one each (the
    # callback's 0 s cap)
    assert [c[0] for c in got_calls] == [2, 1, 1, 1, 1, 1, 1] * 3
    assert [b for b, is_live in got_cb.live if is_live] == [2, 6] * 3
    assert [b for b, _ in got_cb.live] == list(range(10)) * 3
    assert got_cb.recorded == ref_cb.recorded == [(2, 16), (6, 16)] * 3
    # the same hooks, metrics and losses as batch by batch, and the same training
    assert got_cb.seen == ref_cb.seen and len(got_cb.seen) == 2 * 30
    np.testing.assert_array_equal(got.layout.weights, ref.layout.weights)
    for tg, tr in zip(got.trainables, ref.trainables, strict=True):
        np.testing.assert_array_equal(tg.state["m"], tr.state["m"])
    assert (got_m.correct, got_m.total) == (ref_m.correct, ref_m.total)
    assert got.epoch_loss == ref.epoch_loss


def test_which_callbacks_may_ask_for_live_batches():
    from app.training.callbacks import CallbackList

    class Live:
        fused_call_s = 0.02

        def __init__(self, n):
            self.n = n

        def batches_until_live(self, batch):
            return self.n

        def on_batch_end(self, batch, metrics):
            pass

    def cbl(*cbs):
        return CallbackList(list(cbs), num_batches=1, num_epochs=1)

    assert cbl(Live(3)).batches_may_run_together()
    assert cbl(Live(3), Live(None), Live(5)).batches_until_live(0) == 3
    assert cbl(Live(None)).batches_until_live(0) is None
    assert cbl(Live(-2), Live(4)).batches_until_live(0) == 0
    assert cbl().batches_until_live(0) is None and cbl().fused_call_s() is None
    assert cbl(Live(1), _SeenPerBatch()).fused_call_s() == 0.02
