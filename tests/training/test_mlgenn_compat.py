"""mlGeNN script compatibility: late input spikes, GeNN keywords and timers,
``connection_populations``, ``optimisers``, accuracy on regression targets and
Deep R. Claims about mlGeNN's behaviour are checked against the real mlGeNN
wheels (a GeNN CPU build in a subprocess); those tests skip only when ml_genn is
not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from app.model import Connection, InputLayer, Layer, Network, Population, SequentialNetwork
from app.model.connectivity import Dense, FixedProbability
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import Callback, SpikeRecorder
from app.training.compilers import EventPropCompiler, InferenceCompiler, eventprop
from app.training.compilers.deep_r import binomial_inverse_cdf
from app.training.compilers.eprop import EPropCompiler
from app.training.compilers.eprop import default_params as eprop_params
from app.training.data import preprocess_spikes
from app.training.data.validation import LateSpikeWarning, _count_dropped
from app.training.engine.staging import stage_examples
from app.training.genn_compat import IgnoredGeNNArgumentWarning
from app.training.metrics import RegressionAccuracyWarning, SparseCategoricalAccuracy
from app.training.optimisers import Adam

# ----- the real mlGeNN, run once in a subprocess (GeNN generates code in its cwd) ------
REAL_MLGENN = """
import json
import numpy as np
from ml_genn import Connection, InputLayer, Layer, Network, Population, SequentialNetwork
from ml_genn.callbacks import SpikeRecorder
from ml_genn.compilers import EPropCompiler, EventPropCompiler
from ml_genn.compilers.eprop_compiler import default_params as eprop_params
from ml_genn.compilers.event_prop_compiler import default_params
from ml_genn.connectivity import Dense, FixedProbability
from ml_genn.initializers import Normal
from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from ml_genn.optimisers import Adam
from ml_genn.synapses import Exponential
from ml_genn.utils.data import preprocess_spikes

out = {}
# late spikes, kernel timers with profiling off
net = SequentialNetwork(default_params)
with net:
    inp = InputLayer(SpikeInput(max_spikes=100), 4, record_spikes=True)
    Layer(Dense(Normal(mean=0.5, sd=0.1)), LeakyIntegrateFire(tau_refrac=None), 5,
          Exponential(5.0))
    o = Layer(Dense(Normal(mean=0.5, sd=0.1)), LeakyIntegrate(readout="avg_var"), 2,
              Exponential(5.0))
x = [preprocess_spikes(np.array(t), np.array(i), 4) for t, i in LATE]
comp = EventPropCompiler(example_timesteps=10, losses="sparse_categorical_crossentropy")
cn = comp.compile(net, name="late")
with cn:
    _, cb = cn.train({inp: x}, {o: np.array([0, 1])}, num_epochs=1, shuffle=False,
                     callbacks=[SpikeRecorder(inp, key="in")])
    out["late"] = [[t.tolist(), i.tolist()] for t, i in zip(*cb["in"], strict=True)]
    g = cn.genn_model
    out["timers_off"] = [g.neuron_update_time, g.presynaptic_update_time,
                         g.get_custom_update_time("GradientLearn")]
    try:
        g.get_custom_update_time("NoSuchGroup")
        out["unknown"] = "no error"
    except RuntimeError as exc:
        out["unknown"] = "RuntimeError"

# Deep R: L1 of 1.0 makes Adam's first step move every weight by alpha towards 0
net = Network(eprop_params)
with net:
    i = Population(SpikeInput(max_spikes=100), 20)
    h = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0), 30)
    r = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 2)
    c = Connection(i, h, FixedProbability(0.3, Normal(sd=0.001)))
    Connection(h, r, Dense(Normal(sd=0.3)))
rng = np.random.default_rng(0)
x = [preprocess_spikes(rng.uniform(0, 18, 40), rng.integers(0, 20, 40), 20)]
comp = EPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.001), deep_r_conns=[c],
                     deep_r_l1_strength=1.0, deep_r_record_rewirings={c: "rw"})
cn = comp.compile(net, name="deepr")
with cn:
    v = cn.connection_populations[c].vars["g"]
    v.pull_from_device()
    w0 = v.values.copy()
    _, cb = cn.train({i: x}, {r: np.array([1])}, num_epochs=1, shuffle=False, callbacks=[])
    v.pull_from_device()
    w1 = v.values.copy()
    out["deep_r"] = {"synapses": [len(w0), len(w1)], "small": int(np.sum(np.abs(w0) < 1e-3)),
                     "record": [[int(a), int(b)] for a, b in cb["rw"]],
                     "zeros_after": int(np.sum(w1 == 0.0))}
print("RESULT" + json.dumps(out))
"""

LATE = [([8.0, 9.0, 9.5, 12.0, 0.5], [0, 1, 2, 3, 3]), ([1.0, 2.0], [0, 1])]


@pytest.fixture(scope="module")
def real_mlgenn(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("ml_genn")
    pytest.importorskip("pygenn")
    work = tmp_path_factory.mktemp("genn")
    script = work / "probe.py"
    script.write_text(f"LATE = {LATE!r}\n" + textwrap.dedent(REAL_MLGENN), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=work, capture_output=True,
                          text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(line[len("RESULT"):])


def _eventprop_net(n_in: int = 4) -> tuple:
    net = SequentialNetwork(eventprop.default_params)
    with net:
        inp = InputLayer(SpikeInput(max_spikes=100), n_in, record_spikes=True)
        Layer(Dense(Normal(mean=0.5, sd=0.1)), LeakyIntegrateFire(tau_refrac=None), 5,
              Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.5, sd=0.1)), LeakyIntegrate(readout="avg_var"), 2,
                    Exponential(5.0))
    return net, inp, out


# ----- (a) late spikes --------------------------------------------------------------------
def test_late_spikes_are_dropped_like_mlgenn_with_one_warning(real_mlgenn: dict) -> None:
    net, inp, out = _eventprop_net()
    x = [preprocess_spikes(np.array(t), np.array(i), 4) for t, i in LATE]
    comp = EventPropCompiler(10, "sparse_categorical_crossentropy")
    with comp.compile(net) as cn:
        with pytest.warns(LateSpikeWarning) as record:
            _, cb = cn.train({inp: x}, {out: np.array([0, 1])}, num_epochs=1,
                             shuffle=False, callbacks=[SpikeRecorder(inp, key="in")])
    ours = [[t.tolist(), i.tolist()] for t, i in zip(*cb["in"], strict=True)]
    assert ours == real_mlgenn["late"]  # 9.5 ms and 12 ms never fire, in both
    late = [w for w in record if w.category is LateSpikeWarning]
    assert len(late) == 1
    assert "2 input spike(s) in 1 example(s) (examples 0; latest 12 ms)" in str(late[0].message)
    assert "at least 13" in str(late[0].message)


def test_dropping_late_spikes_trains_like_removing_them() -> None:
    rng = np.random.default_rng(3)
    clean, late = [], []
    for _ in range(8):
        t, i = rng.uniform(0, 18, 12), rng.integers(0, 10, 12)
        clean.append(preprocess_spikes(t, i, 10))
        extra = rng.uniform(19.01, 40, 3)
        late.append(preprocess_spikes(np.concatenate([t, extra]),
                                      np.concatenate([i, rng.integers(0, 10, 3)]), 10))
    y = rng.integers(0, 2, 8)
    weights = []
    for data in (clean, late):
        net, inp, out = _eventprop_net(10)
        with EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01),
                               batch_size=4).compile(net) as cn:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LateSpikeWarning)
                cn.train({inp: data}, {out: y}, num_epochs=2, callbacks=[])
            weights.append([cn.get_weights(c) for c in net.connections])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_late_spike_count_matches_the_engine_including_queued_spikes() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        T, dt = int(rng.integers(3, 30)), float(rng.choice([1.0, 0.1, 0.5]))
        m = int(rng.integers(1, 40))
        times = rng.uniform(0, T * dt * 1.2, m).astype(np.float32)
        ps = preprocess_spikes(times, rng.integers(0, 5, m), 5)
        end, st = np.asarray(ps.end_spikes), np.asarray(ps.spike_times, np.float32)
        off, _, _ = stage_examples(end.astype(np.int64), st, np.zeros(1, np.int64),
                                   np.zeros(1, np.int64), 5, np.float32(dt), T, 1)
        assert m - int(off[1] - off[0]) == _count_dropped(end, st, T, dt)


# ----- (b) GeNN timers, (c) GeNN keywords ---------------------------------------------------
def test_genn_timers_come_from_our_engine(real_mlgenn: dict) -> None:
    net, inp, out = _eventprop_net()
    x = [preprocess_spikes(np.array([1.0, 2.0]), np.array([0, 1]), 4)] * 8
    y = np.array([0, 1] * 4)
    for profiling in (False, True):
        comp = EventPropCompiler(10, "sparse_categorical_crossentropy", batch_size=4,
                                 kernel_profiling=profiling)
        with comp.compile(net) as cn:
            cn.train({inp: x}, {out: y}, num_epochs=1, callbacks=[])
            g = cn.genn_model
            times = [g.neuron_update_time, g.presynaptic_update_time,
                     g.get_custom_update_time("GradientLearn"),
                     g.get_custom_update_time("Reset")]
            assert g.synapse_dynamics_time == 0.0
            assert g.get_custom_update_time("Softmax2") == 0.0
            with pytest.raises(RuntimeError, match="NoSuchGroup"):
                g.get_custom_update_time("NoSuchGroup")
        if profiling:
            assert all(t > 0 for t in times), times
            assert times[0] == cn.get_kernel_times()["forward"]
            assert times[1] == cn.get_kernel_times()["backward"]
        else:  # as GeNN without timing_enabled
            assert times == [0.0] * 4 == real_mlgenn["timers_off"] + [0.0]
    assert real_mlgenn["unknown"] == "RuntimeError"


def test_genn_keywords_are_ignored_with_one_warning_naming_them() -> None:
    with pytest.warns(IgnoredGeNNArgumentWarning) as rec:
        comp = EventPropCompiler(10, "sparse_categorical_crossentropy",
                                 selectGPUByDeviceID=True, deviceSelectMethod=2)
    assert len(rec) == 1
    assert "'selectGPUByDeviceID'" in str(rec[0].message)
    assert "'deviceSelectMethod'" in str(rec[0].message)
    assert comp.ignored_kwargs == {"selectGPUByDeviceID": True, "deviceSelectMethod": 2}
    with pytest.raises(ValueError, match="argument of EPropCompiler"):
        EventPropCompiler(10, "sparse_categorical_crossentropy", c_reg=1.0)
    with pytest.warns(IgnoredGeNNArgumentWarning, match="device_select_method"):
        InferenceCompiler(10, device_select_method=2)
    with pytest.raises(ValueError, match="training"):
        InferenceCompiler(10, losses="sparse_categorical_crossentropy")


# ----- (g) connection_populations, optimisers ----------------------------------------------
def test_connection_population_views_are_the_trained_weights() -> None:
    net = Network(eprop_params)
    with net:
        i = Population(SpikeInput(), 4, name="i")
        h = Population(LeakyIntegrateFire(v_thresh=0.6, tau_refrac=5.0), 3, name="h")
        r = Population(LeakyIntegrate(readout="sum_var"), 2, name="r")
        c = Connection(i, h, Dense(Normal(sd=0.5)), name="ih")
        Connection(h, r, Dense(Normal(sd=0.5)), name="hr")
    x = [preprocess_spikes(np.array([1.0, 3.0, 5.0]), np.array([0, 1, 2]), 4)]
    with EPropCompiler(10, "sparse_categorical_crossentropy").compile(net) as cn:
        pops = cn.connection_populations
        assert set(pops) == set(net.connections) and pops[c] is not None
        v = pops[c].vars["g"]
        v.pull_from_device()
        assert v.view.shape == (12,)
        np.testing.assert_array_equal(v.view.reshape(4, 3), cn.get_weights(c))
        v.view.reshape(4, 3)[:, 1] += 5.0  # as shd_delay_shift_blend.py nudges silent neurons
        v.push_to_device()
        np.testing.assert_array_equal(cn.get_weights(c)[:, 1], v.view.reshape(4, 3)[:, 1])
        _, cb = cn.train({i: x}, {r: np.array([0])}, num_epochs=1, shuffle=False,
                         callbacks=[SpikeRecorder(h, key="h", record_counts=True)])
        assert cb["h"][0][1] > 0  # the pushed weights drive neuron 1


def test_optimisers_let_a_callback_change_alpha() -> None:
    class Freeze(Callback):  # like shd_delay_shift_blend.py's EaseInSchedule
        def set_params(self, compiled_network: object, **kwargs: object) -> None:
            self.opts = [o for o, _ in compiled_network.optimisers]

        def on_batch_begin(self, batch: int) -> None:
            for o in self.opts:
                o.alpha = 0.0

    net, inp, out = _eventprop_net()
    x = [preprocess_spikes(np.array([1.0, 2.0]), np.array([0, 1]), 4)] * 4
    comp = EventPropCompiler(10, "sparse_categorical_crossentropy", Adam(0.1), batch_size=2)
    with comp.compile(net) as cn:
        (opt, trained), = cn.optimisers
        assert opt is comp.optimiser and {t.name for t in trained} == {
            c.name for c in net.connections}
        before = [cn.get_weights(c) for c in net.connections]
        cn.train({inp: x}, {out: np.array([0, 1, 0, 1])}, num_epochs=1, callbacks=[Freeze()])
        for c, w in zip(net.connections, before, strict=True):
            np.testing.assert_array_equal(cn.get_weights(c), w)
        assert opt.alpha == 0.0


# ----- (e) accuracy on per-timestep regression targets --------------------------------------
def test_accuracy_on_regression_targets_counts_as_mlgenn() -> None:
    ml = pytest.importorskip("ml_genn.metrics")
    rng = np.random.default_rng(0)
    y_true = np.round(rng.uniform(0, 3, (1, 50, 3)))  # some targets equal a class index
    y_pred = rng.normal(size=(1, 3))
    theirs = ml.SparseCategoricalAccuracy()
    theirs.update(y_true, y_pred, None)
    ours = SparseCategoricalAccuracy()
    with pytest.warns(RegressionAccuracyWarning):
        ours.update(y_true, np.repeat(y_pred[:, None], 50, axis=1), None)  # per-step history
    assert (ours.correct, ours.total) == (theirs.correct, theirs.total)
    assert ours.correct > 0
    ours.reset()
    with pytest.warns(RegressionAccuracyWarning):  # mlGeNN crashes on a batch of 2
        ours.update(np.zeros((2, 50, 3)), np.zeros((2, 50, 3)), None)
    assert ours.total == 2


def test_eventprop_per_timestep_regression_trains_with_the_default_metric() -> None:
    net = Network(eventprop.default_params)
    with net:
        i = Population(SpikeInput(), 4)
        h = Population(LeakyIntegrateFire(tau_refrac=None), 8)
        r = Population(LeakyIntegrate(readout="var"), 2)
        Connection(i, h, Dense(Normal(mean=0.5, sd=0.3)), Exponential(5.0))
        Connection(h, r, Dense(Normal(sd=0.3)), Exponential(5.0))
    x = [preprocess_spikes(np.array([1.0, 3.0]), np.array([0, 2]), 4)] * 2
    y = [np.sin(np.linspace(0, 3, 20))[:, None] * np.ones((1, 2))] * 2
    with EventPropCompiler(20, "mean_square_error").compile(net) as cn:
        with pytest.warns(RegressionAccuracyWarning):
            metrics, _ = cn.train({i: x}, {r: y}, num_epochs=1, callbacks=[])
    assert metrics[r].total == 2


# ----- (f) Deep R ---------------------------------------------------------------------------
def _deep_r_net() -> tuple:
    net = Network(eprop_params)
    with net:
        i = Population(SpikeInput(max_spikes=100), 20)
        h = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0), 30)
        r = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 2)
        c = Connection(i, h, FixedProbability(0.3, Normal(sd=0.001)))
        Connection(h, r, Dense(Normal(sd=0.3)))
    rng = np.random.default_rng(0)
    x = [preprocess_spikes(rng.uniform(0, 18, 40), rng.integers(0, 20, 40), 20)]
    return net, i, r, c, x


def test_deep_r_rewires_by_mlgenns_rule(real_mlgenn: dict) -> None:
    # with L1 1.0, Adam's first step moves every weight by alpha=1e-3 towards zero, so in
    # both implementations exactly the synapses with |w| < 1e-3 flip sign and are moved
    theirs = real_mlgenn["deep_r"]
    assert theirs["record"] == [[theirs["small"], 0]]
    assert theirs["zeros_after"] == theirs["small"]
    assert theirs["synapses"][0] == theirs["synapses"][1]
    net, i, r, c, x = _deep_r_net()
    comp = EPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.001), deep_r_conns=[c],
                         deep_r_l1_strength=1.0, deep_r_record_rewirings={c: "rw"})
    with comp.compile(net) as cn:
        w0 = cn.get_weights(c)
        _, cb = cn.train({i: x}, {r: np.array([1])}, num_epochs=1, shuffle=False,
                         callbacks=[])
        w1 = cn.get_weights(c)
        small = int(np.sum(np.abs(w0) < 1e-3))
        assert 0 < small < len(w0)
        assert cb["rw"] == [(small, 0)]
        assert len(w1) == len(w0) and int(np.sum(w1 == 0.0)) == small
        # survivors moved by alpha towards zero; absent slots hold weight 0
        sl = cn.layout.conn_slice(c.name)
        present = cn.deep_r.active_mask(c.name)
        assert not np.any(cn.layout.weights[sl][~present])
        t = next(t for t in cn.trainables if t.name == c.name)
        new = present & (cn.layout.weights[sl] == 0.0)
        assert not np.any(t.state["m"][new]) and not np.any(t.state["v"][new])


def test_deep_r_keeps_rows_within_genns_capacity_and_saves_present_synapses(
        tmp_path: Path) -> None:
    from app.training.serialisers import Numpy

    net, i, r, c, x = _deep_r_net()
    comp = EPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), deep_r_conns=[c],
                         deep_r_l1_strength=0.5, deep_r_record_rewirings={c: "rw"})
    with comp.compile(net) as cn:
        n0 = len(cn.get_weights(c))
        _, cb = cn.train({i: x * 4}, {r: np.array([1, 0, 1, 0])}, num_epochs=3,
                         shuffle=False, callbacks=[])
        assert len(cb["rw"]) == 4 * 3 and sum(a for a, _ in cb["rw"]) > 0
        present = cn.deep_r.active_mask(c.name).reshape(20, 30)
        assert present.sum() == n0 and present.sum(axis=1).max() <= cn.deep_r.state[
            c.name].capacity
        cn.save_connectivity(("end",), Numpy(tmp_path))
    saved = np.load(tmp_path / "end-Conn_Pop0_Pop1-pre_ind.npy")
    assert len(saved) == n0
    # GeNN's FixedProbability row stride: binomial quantile 0.9999 ** (1 / n_pre)
    assert binomial_inverse_cdf(0.9999 ** (1 / 20), 30, 0.3) == \
        cn.deep_r.state[c.name].capacity
    assert binomial_inverse_cdf(0.5, 10, 0.5) == 5


def test_deep_r_rewires_an_eventprop_connection_too() -> None:
    net = Network(eventprop.default_params)
    with net:
        i = Population(SpikeInput(), 20)
        h = Population(LeakyIntegrateFire(tau_refrac=None), 30)
        r = Population(LeakyIntegrate(readout="avg_var"), 2)
        c = Connection(i, h, FixedProbability(0.3, Normal(mean=0.0, sd=0.002)),
                       Exponential(5.0))
        Connection(h, r, Dense(Normal(sd=0.3)), Exponential(5.0))
    rng = np.random.default_rng(0)
    x = [preprocess_spikes(rng.uniform(0, 18, 40), rng.integers(0, 20, 40), 20)] * 4
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.001),
                             batch_size=2, deep_r_conns=[c], deep_r_l1_strength=1.0,
                             deep_r_record_rewirings={c: "rw"})
    with comp.compile(net) as cn:
        w0 = cn.get_weights(c)
        _, cb = cn.train({i: x}, {r: np.array([0, 1, 0, 1])}, num_epochs=1, shuffle=False,
                         callbacks=[])
        # first step: every weight moves by alpha towards zero, so |w| < alpha flip
        assert cb["rw"][0] == (int(np.sum(np.abs(w0) < 1e-3)), 0)
        assert len(cb["rw"]) == 2 and len(cn.get_weights(c)) == len(w0)
