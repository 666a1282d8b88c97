"""The train/evaluate loop, callbacks, checkpoints and error reporting."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, InputLayer, Layer, Network, Population, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.model.synapses import Delta, Exponential
from app.training.callbacks import Checkpoint, ConnVarRecorder, OptimiserParamSchedule
from app.training.compiled import TrainingError
from app.training.compilers import CompileError, EventPropCompiler, InferenceCompiler, eventprop
from app.training.data import DatasetError, preprocess_spikes
from app.training.data.validation import LateSpikeWarning
from app.training.optimisers import Adam
from app.training.serialisers import Numpy


def _two_class_data(n: int, seed: int = 0) -> tuple[list, np.ndarray]:
    """Class 0: neurons 0-4 fire early; class 1: neurons 5-9 fire early."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    spikes = []
    for y in labels:
        early = np.arange(5) + 5 * y
        late = np.arange(5) + 5 * (1 - y)
        times = np.concatenate([rng.uniform(1, 4, 5), rng.uniform(12, 16, 5)])
        spikes.append(preprocess_spikes(times, np.concatenate([early, late]), 10))
    return spikes, labels.astype(np.int64)


def _net(seed_w: float = 0.0) -> tuple:
    net = SequentialNetwork(eventprop.default_params)
    with net:
        inp = InputLayer(SpikeInput(), 10)
        hid = Layer(Dense(Normal(mean=0.8, sd=0.4)), LeakyIntegrateFire(tau_mem=20.0), 16,
                    Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.0, sd=0.5)), LeakyIntegrate(readout="avg_var"), 2,
                    Exponential(5.0))
    return net, inp, hid, out


def test_eventprop_learns_a_two_class_task():
    x, y = _two_class_data(128)
    net, inp, hid, out = _net()
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=16)
    with comp.compile(net) as cn:
        before, _ = cn.evaluate({inp: x}, {out: y}, callbacks=[])
        acc0 = before[out].result
        metrics, _ = cn.train({inp: x}, {out: y}, num_epochs=15, callbacks=[])
        after, _ = cn.evaluate({inp: x}, {out: y}, callbacks=[])
    assert after[out].result >= 0.9 > acc0 or after[out].result > acc0 + 0.2
    assert metrics[out].result > 0.8


def test_partial_last_batch_uses_no_stale_examples():
    """Slots 2-3 of a partial batch held different examples before; they must not count."""
    from app.training.callbacks import CallbackList

    x, y = _two_class_data(10)
    grads = []
    for first in ([0, 1, 2, 3], [0, 1, 6, 7]):
        net, inp, hid, out = _net()
        comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.0), batch_size=4)
        with comp.compile(net) as cn:
            cn._train_batch({inp.name: x}, {out.name: y}, np.array(first), CallbackList([]), [])
            cn.optimise(0)
            cn._train_batch({inp.name: x}, {out.name: y}, np.arange(8, 10), CallbackList([]), [])
            grads.append([t.gradient() for t in cn.trainables])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.any(a != 0)


def test_adam_matches_hand_computation():
    w = np.array([1.0, -2.0], np.float32)
    opt = Adam(0.1, 0.9, 0.999, 1e-8)
    state = opt.new_state(w.shape)
    g = np.array([0.5, -0.25], np.float32)
    opt.step(w, g, state, 0)
    opt.step(w, g, state, 1)
    m = 0.1 * g
    v = 0.001 * g * g
    w1 = np.array([1.0, -2.0]) - 0.1 * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-8)
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    w2 = w1 - 0.1 * (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(w, w2, rtol=1e-5)


@pytest.mark.parametrize("n", [300, 8192, 20000])
def test_fused_adam_update_is_the_numpy_step(n):
    """The numba update (one block on the calling thread, or several in parallel)
    does step()'s float32 operations: bit-identical results; a NaN gradient is
    refused with the parameters and moments unchanged."""
    from app.training.engine import optim

    rng = np.random.default_rng(n)
    opt = Adam(0.01, 0.9, 0.99, 1e-7)
    w_ref = rng.normal(size=n).astype(np.float32)
    w = w_ref.copy()
    st_ref, st = opt.new_state((n,)), opt.new_state((n,))
    for k in range(3):
        parts = rng.normal(size=(2, n)).astype(np.float32)
        opt.step(w_ref, parts[0] + parts[1], st_ref, k)
        assert opt.update(w, parts.copy(), st, k) == optim.OK
        np.testing.assert_array_equal(w, w_ref)
        np.testing.assert_array_equal(st["m"], st_ref["m"])
        np.testing.assert_array_equal(st["v"], st_ref["v"])
    parts = rng.normal(size=(2, n)).astype(np.float32)
    parts[1, n // 2] = np.nan
    assert opt.update(w, parts, st, 3) == optim.BAD_GRAD
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(st["v"], st_ref["v"])


def test_adam_update_many_is_one_update_per_trainable():
    """Several trainables in one call: the same numbers as one update each; a bad
    parameter (before a bad gradient, whichever trainable comes first) or gradient
    is reported with its trainable's index and changes no trainable at all."""
    from app.training.engine import optim

    rng = np.random.default_rng(3)
    opt = Adam(0.01, 0.9, 0.99, 1e-7)
    sizes = (300, 20000, 9000)  # more than one block in all (else the per-item path)
    ws = [rng.normal(size=n).astype(np.float32) for n in sizes]
    refs = [w.copy() for w in ws]
    sts = [opt.new_state((n,)) for n in sizes]
    st_refs = [opt.new_state((n,)) for n in sizes]
    for k in range(3):
        parts = [rng.normal(size=(2, n)).astype(np.float32) for n in sizes]
        for w, p, st in zip(refs, parts, st_refs, strict=True):
            assert opt.update(w, p.copy(), st, k) == optim.OK
        assert opt.update_many(list(zip(ws, parts, sts, strict=True)), k) == (optim.OK, -1)
        for w, r, st, sr in zip(ws, refs, sts, st_refs, strict=True):
            np.testing.assert_array_equal(w, r)
            np.testing.assert_array_equal(st["m"], sr["m"])
        assert all(not p.any() for p in parts)  # partial sums zeroed for the next batch
    before = [w.copy() for w in ws]
    parts = [rng.normal(size=(2, n)).astype(np.float32) for n in sizes]
    parts[2][1, 7] = np.nan
    assert opt.update_many(list(zip(ws, parts, sts, strict=True)), 3) == (optim.BAD_GRAD, 2)
    ws[1][5] = np.inf
    assert opt.update_many(list(zip(ws, parts, sts, strict=True)), 3) == (optim.BAD_PARAM, 1)
    ws[1][5] = before[1][5]
    for w, b in zip(ws, before, strict=True):
        np.testing.assert_array_equal(w, b)


def test_training_steps_all_trainables_in_one_call(monkeypatch):
    calls = []
    orig = Adam.update_many

    def spy(self, items, k):
        res = orig(self, items, k)
        calls.append((len(items), res))
        return res

    monkeypatch.setattr(Adam, "update_many", spy)
    x, y = _two_class_data(16)
    net = SequentialNetwork(eventprop.default_params)
    with net:  # 10 x 900 + 900 x 2 weights: more than one block (optim.blocks)
        inp = InputLayer(SpikeInput(), 10)
        hid = Layer(Dense(Normal(mean=0.8, sd=0.4)), LeakyIntegrateFire(tau_mem=20.0), 900,
                    Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.0, sd=0.05)), LeakyIntegrate(readout="avg_var"), 2,
                    Exponential(5.0))
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=8)
    with comp.compile(net) as cn:
        cn.fuse_passes = False  # batch by batch (a fused pass steps inside the engine)
        w0 = cn.get_weights(hid.connection).copy()
        cn.train({inp: x}, {out: y}, num_epochs=1, callbacks=[])
        assert not np.array_equal(cn.get_weights(hid.connection), w0)
    # two batches, both connections stepped in one call each
    from app.training.engine import optim

    assert calls == [(2, (optim.OK, -1))] * 2


def test_checkpoint_schedule_validation_and_load(tmp_path):
    x, y = _two_class_data(40)
    net, inp, hid, out = _net()
    ser = Numpy(tmp_path / "ckpt")
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=8,
                             kernel_profiling=True)
    seen = []
    sched = OptimiserParamSchedule("alpha", lambda e, a: seen.append((e, a)) or 0.01 * 0.5 ** e)
    rec = ConnVarRecorder(hid.connection, "g", key="w")
    with comp.compile(net) as cn:
        result = cn.train({inp: x}, {out: y}, num_epochs=2, callbacks=[Checkpoint(ser), sched, rec],
                          validation_split=0.25)
        final = cn.get_weights(out.connection)
        assert cn.optimiser.alpha == pytest.approx(0.005)
        times = cn.get_kernel_times()
    train_m, val_m, data, _ = result
    assert val_m[out].total == 10 and train_m[out].total == 30
    assert seen[0] == (0, 0.01)
    assert len(data["w"]) == 2 * 4  # one record per batch, 4 batches of 8 in 30 examples
    assert times["forward"] > 0 and times["backward"] > 0
    net2, inp2, hid2, out2 = _net()
    net2.load((1,), ser)
    np.testing.assert_array_equal(net2.connections[1].connectivity.weight, final)


def test_resumed_training_equals_uninterrupted():
    x, y = _two_class_data(24)

    def run(splits: list[int]) -> np.ndarray:
        net, inp, hid, out = _net()
        comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01),
                                 batch_size=8, rng_seed=5)
        with comp.compile(net) as cn:
            start = 0
            for n in splits:
                cn.train({inp: x}, {out: y}, num_epochs=n, start_epoch=start, callbacks=[])
                start += n
            return cn.get_weights(hid.connection)

    np.testing.assert_array_equal(run([3]), run([1, 2]))


def test_bad_inputs_are_named():
    x, y = _two_class_data(8)
    net, inp, hid, out = _net()
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", batch_size=4)
    with comp.compile(net) as cn:
        with pytest.raises(DatasetError, match="label"):
            cn.train({inp: x}, {out: y + 5}, num_epochs=1, callbacks=[])
        late = [preprocess_spikes(np.array([25.0]), np.array([0]), 10)] * 8
        with pytest.warns(LateSpikeWarning, match=r"8 input spike\(s\) in 8 example\(s\)"):
            cn.train({inp: late}, {out: y}, num_epochs=1, callbacks=[])  # dropped, as mlGeNN
        wrong = [preprocess_spikes(np.array([1.0]), np.array([11]), 12)] * 8
        with pytest.raises(DatasetError):
            cn.train({inp: wrong}, {out: y}, num_epochs=1, callbacks=[])
        with pytest.raises(DatasetError, match="different numbers"):
            cn.train({inp: x}, {out: y[:3]}, num_epochs=1, callbacks=[])


def test_nan_weights_stop_training_naming_the_connection():
    x, y = _two_class_data(8)
    net, inp, hid, out = _net()
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", batch_size=4)
    with comp.compile(net) as cn:
        w = cn.get_weights(out.connection)
        w[0, 0] = np.nan
        cn.set_weights(out.connection, w)
        with pytest.raises(TrainingError, match=out.connection.name):
            cn.train({inp: x}, {out: y}, num_epochs=1, callbacks=[])


def test_strict_buffer_checking_names_population():
    x, y = _two_class_data(4)
    net, inp, hid, out = _net()
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", batch_size=4, max_spikes=1,
                             strict_buffer_checking=True)
    with comp.compile(net) as cn:
        cn.set_weights(hid.connection, np.full((10, 16), 5.0, np.float32))
        with pytest.raises(TrainingError, match="max_spikes"):
            cn.train({inp: x}, {out: y}, num_epochs=1, callbacks=[])


def test_eventprop_compile_checks_report_objects():
    net = Network(eventprop.default_params)
    with net:
        i = Population(SpikeInput(), 3, name="inp")
        h = Population(AdaptiveLeakyIntegrateFire(), 4, name="hid")
        o = Population(LeakyIntegrate(readout="avg_var"), 2, name="out")
        Connection(i, h, Dense(1.0), Delta(), name="in_hid")
        Connection(h, o, Dense(1.0), Exponential(5.0), name="hid_out")
    comp = EventPropCompiler(10, "sparse_categorical_crossentropy")
    problems = comp.check(net)
    targets = {(p.kind, p.target) for p in problems}
    assert ("population", "hid") in targets and ("connection", "in_hid") in targets
    with pytest.raises(CompileError, match="Exponential"):
        comp.compile(net)


def test_predict_and_inference_partial_batches():
    x, y = _two_class_data(7)
    net, inp, hid, out = _net()
    # reset inSyn and leave time for activity to end so trials are independent
    with InferenceCompiler(40, batch_size=3, reset_in_syn_between_batches=True).compile(net) as cn:
        pred = cn.predict({inp: x}, out, callbacks=[])[0][out]
        m, _ = cn.evaluate({inp: x}, {out: y}, callbacks=[])
    with InferenceCompiler(40, batch_size=1, reset_in_syn_between_batches=True).compile(net) as cn1:
        pred1 = cn1.predict({inp: x}, out, callbacks=[])[0][out]
    assert pred.shape == (7, 2)
    np.testing.assert_allclose(pred, pred1, rtol=1e-6)
    assert m[out].total == 7


@pytest.mark.parametrize("readout, per_timestep", [
    ("sum_var", False), ("avg_var_exp_weight", False), ("max_var", False), ("avg_var", True)])
def test_every_sce_readout_trains(readout, per_timestep):
    x, y = _two_class_data(96, seed=1)
    net = SequentialNetwork(eventprop.default_params)
    with net:
        inp = InputLayer(SpikeInput(), 10)
        Layer(Dense(Normal(mean=0.8, sd=0.4)), LeakyIntegrateFire(tau_mem=20.0), 16,
              Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.0, sd=0.5)), LeakyIntegrate(readout=readout), 2,
                    Exponential(5.0))
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=16,
                             per_timestep_loss=per_timestep)
    with comp.compile(net) as cn:
        before, _ = cn.evaluate({inp: x}, {out: y}, callbacks=[])
        cn.train({inp: x}, {out: y}, num_epochs=10, callbacks=[])
        loss_late = cn.epoch_loss
        after, _ = cn.evaluate({inp: x}, {out: y}, callbacks=[])
    assert after[out].result >= 0.75 and after[out].result > before[out].result
    assert np.isfinite(loss_late)


def test_mse_var_readout_regression_reduces_error():
    rng = np.random.default_rng(2)
    x = [preprocess_spikes(rng.uniform(0, 15, 20), rng.integers(0, 10, 20), 10)
         for _ in range(16)]
    t = np.linspace(0, 1, 20, dtype=np.float32)
    targets = np.stack([np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)], 1)] * 16)
    net = SequentialNetwork(eventprop.default_params)
    with net:
        inp = InputLayer(SpikeInput(), 10)
        Layer(Dense(Normal(mean=0.8, sd=0.4)), LeakyIntegrateFire(tau_mem=20.0), 32,
              Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.0, sd=0.3)), LeakyIntegrate(readout="var"), 2,
                    Exponential(5.0))
    comp = EventPropCompiler(20, "mean_square_error", Adam(0.02), batch_size=8)
    with comp.compile(net) as cn:
        m0, _ = cn.train({inp: x}, {out: targets}, num_epochs=1, metrics="mean_square_error",
                         callbacks=[])
        first = m0[out].result
        m1, _ = cn.train({inp: x}, {out: targets}, num_epochs=20, start_epoch=1,
                         metrics="mean_square_error", callbacks=[])
    assert m1[out].result < 0.7 * first


def test_manual_augmentation_loop_like_mlgenn(tmp_path):
    """mlGeNN's augmentation example: new data each epoch, train(start_epoch=e, num_epochs=1)."""
    net, inp, hid, out = _net()
    ser = Numpy(tmp_path / "aug")
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=8)
    accs = []
    with comp.compile(net) as cn:
        for e in range(6):
            x, y = _two_class_data(128, seed=100 + e)
            metrics, _ = cn.train({inp: x}, {out: y}, start_epoch=e, num_epochs=1, shuffle=True,
                                  callbacks=[Checkpoint(ser)])
            accs.append(metrics[out].result)
        cn.save_connectivity((5,), ser)
    assert accs[-1] > accs[0] and accs[-1] >= 0.8
    assert sorted(p.name for p in (tmp_path / "aug").glob("5-*-pre_ind.npy"))
    net2, _, _, out2 = _net()
    net2.load((5,), ser)
    np.testing.assert_array_equal(net2.connections[1].connectivity.weight,
                                  net.connections[1].connectivity.weight)


def test_resume_from_checkpoint_in_a_new_compiled_network_is_exact(tmp_path):
    x, y = _two_class_data(24)
    ser = Numpy(tmp_path / "ck")

    def compiled(net):
        return EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01),
                                 batch_size=8, rng_seed=5).compile(net)

    net, inp, hid, out = _net()
    with compiled(net) as cn:
        cn.train({inp: x}, {out: y}, num_epochs=3, callbacks=[])
        straight = cn.get_weights(hid.connection)
    net, inp, hid, out = _net()
    with compiled(net) as cn:
        cn.train({inp: x}, {out: y}, num_epochs=1, callbacks=[Checkpoint(ser)])
    net2, inp2, hid2, out2 = _net()
    net2.load((0,), ser)
    with compiled(net2) as cn2:
        cn2.load_optimiser_state((0,), ser)
        cn2.train({inp2: x}, {out2: y}, num_epochs=2, start_epoch=1, callbacks=[])
        resumed = cn2.get_weights(hid2.connection)
    np.testing.assert_array_equal(resumed, straight)


def test_eprop_resume_from_checkpoint_carries_state_exactly(tmp_path):
    from app.training.compilers import EPropCompiler
    from app.training.compilers import eprop as eprop_module

    x, y = _two_class_data(16)
    ser = Numpy(tmp_path / "ep")

    def build():
        net = Network(eprop_module.default_params)
        with net:
            i = Population(SpikeInput(), 10, name="in")
            h = Population(LeakyIntegrateFire(v_thresh=0.6, tau_refrac=5.0), 12, name="hid")
            o = Population(LeakyIntegrate(readout="sum_var"), 2, name="out")
            Connection(i, h, Dense(Normal(0.3, 0.2)), Delta(), name="in_hid")
            Connection(h, h, Dense(Normal(0.0, 0.1)), Delta(), name="hid_hid")
            Connection(h, o, Dense(Normal(0.0, 0.3)), Delta(), name="hid_out")
        return net, i, o

    def compiled(net):
        return EPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=4,
                             rng_seed=1).compile(net)

    net, i, o = build()
    with compiled(net) as cn:
        cn.train({i: x}, {o: y}, num_epochs=3, shuffle=False, callbacks=[])
        straight = cn.get_weights("hid_hid")
    net, i, o = build()
    with compiled(net) as cn:
        cn.train({i: x}, {o: y}, num_epochs=1, shuffle=False, callbacks=[Checkpoint(ser)])
    net2, i2, o2 = build()
    net2.load((0,), ser)
    with compiled(net2) as cn2:
        cn2.load_optimiser_state((0,), ser)
        cn2.train({i2: x}, {o2: y}, num_epochs=2, start_epoch=1, shuffle=False, callbacks=[])
        resumed = cn2.get_weights("hid_hid")
    np.testing.assert_array_equal(resumed, straight)
