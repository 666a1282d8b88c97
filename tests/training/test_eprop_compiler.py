"""EPropCompiler: arguments, compile-time checks, train loop integration, memory."""

from __future__ import annotations

import numpy as np
import pytest
from test_eprop_parity import build_network, load_case, sample_spikes

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    PoissonInput,
    SpikeInput,
)
from app.model.synapses import Exponential
from app.training.callbacks import SpikeRecorder, VarRecorder
from app.training.compilers import CompileError, Problem
from app.training.compilers.eprop import EPropCompiler, default_params
from app.training.data import preprocess_spikes
from app.training.genn_compat import IgnoredGeNNArgumentWarning
from app.training.optimisers import Adam


def small_net(hidden=None, synapse="delta", out_readout="sum_var", recurrent=True,
              connect_out=True) -> tuple[Network, Population, Population, Population]:
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), 4, name="inp")
        hid = Population(hidden or LeakyIntegrateFire(v_thresh=0.6, tau_refrac=5.0), 8,
                         name="hid")
        out = Population(LeakyIntegrate(readout=out_readout), 2, name="out")
        Connection(inp, hid, Dense(Normal(0.0, 1.0)), synapse=synapse, name="in_hid")
        if recurrent:
            Connection(hid, hid, Dense(Normal(0.0, 0.1)), name="hid_hid")
        if connect_out:
            Connection(hid, out, Dense(Normal(0.0, 0.3)), name="hid_out")
        else:
            Connection(inp, out, Dense(Normal(0.0, 0.3)), name="in_out")
    return net, inp, hid, out


def random_spikes(n_examples: int, n_in: int, T: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_examples):
        fire = rng.random((T, n_in)) < 0.1
        steps, ids = np.nonzero(fire)
        out.append(preprocess_spikes(steps.astype(np.float32), ids, n_in))
    return out


def test_default_params_match_spec() -> None:
    assert default_params[LeakyIntegrateFire] == {"relative_reset": True,
                                                  "integrate_during_refrac": True,
                                                  "scale_i": False}
    assert default_params[AdaptiveLeakyIntegrateFire] == {"relative_reset": True,
                                                          "integrate_during_refrac": True}
    assert default_params[LeakyIntegrate] == {"scale_i": False}


def test_valid_network_has_no_problems() -> None:
    net, *_ = small_net()
    assert EPropCompiler(20, "sparse_categorical_crossentropy").check(net) == []


def test_bad_arguments_are_rejected_with_their_name() -> None:
    with pytest.raises(ValueError, match="example_timesteps"):
        EPropCompiler(0, "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="tau_reg"):
        EPropCompiler(10, "sparse_categorical_crossentropy", tau_reg=-1.0)
    with pytest.raises(ValueError, match="c_reg"):
        EPropCompiler(10, "sparse_categorical_crossentropy", c_reg=-0.1)


def test_eventprop_only_arguments_are_refused_by_name_and_genn_ones_ignored() -> None:
    net, *_ = small_net()
    with pytest.warns(IgnoredGeNNArgumentWarning) as record:
        c = EPropCompiler(20, "sparse_categorical_crossentropy", max_spikes=100,
                          reg_lambda_upper=1e-9, device_select_method=2, batchsize=4)
    # one warning naming every ignored keyword (mlGeNN hands them to GeNN), with a hint
    assert len(record) == 1
    text = str(record[0].message)
    assert "'device_select_method'" in text and "did you mean 'batch_size'" in text
    assert c.ignored_kwargs == {"device_select_method": 2, "batchsize": 4}
    probs = c.check(net)
    fields = {p.field: p for p in probs}
    assert set(fields) == {"max_spikes", "reg_lambda_upper"}
    assert "EventPropCompiler argument" in fields["max_spikes"].message
    assert "reg_lambda_upper" in fields["reg_lambda_upper"].message
    assert all(p.kind == "compiler" for p in probs)
    with pytest.raises(CompileError, match="max_spikes"):
        c.compile(net)


def _problem(probs: list[Problem], target: str, field: str) -> Problem:
    hits = [p for p in probs if p.target == target and p.field == field]
    assert hits, f"no problem for {target}.{field} in {probs}"
    return hits[0]


def test_exponential_synapse_is_a_problem_on_the_connection() -> None:
    net, *_ = small_net(synapse=Exponential(5.0))
    p = _problem(EPropCompiler(20, "sparse_categorical_crossentropy").check(net),
                 "in_hid", "synapse")
    assert p.kind == "connection" and "Delta" in p.message


def test_hidden_population_must_reach_an_output() -> None:
    net, *_ = small_net(connect_out=False)
    p = _problem(EPropCompiler(20, "sparse_categorical_crossentropy").check(net),
                 "hid", "connections")
    assert p.kind == "population" and "output" in p.message


def test_lif_hidden_needs_tau_refrac() -> None:
    net, *_ = small_net(hidden=LeakyIntegrateFire(v_thresh=0.6))
    p = _problem(EPropCompiler(20, "sparse_categorical_crossentropy").check(net),
                 "hid", "tau_refrac")
    assert "tau_refrac" in p.message


def test_hidden_populations_must_share_tau_mem_and_tau_adapt() -> None:
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), 4, name="inp")
        h1 = Population(AdaptiveLeakyIntegrateFire(tau_mem=20.0, tau_refrac=5.0,
                                                   tau_adapt=200.0), 4, name="h1")
        h2 = Population(AdaptiveLeakyIntegrateFire(tau_mem=20.0, tau_refrac=5.0,
                                                   tau_adapt=200.0), 4, name="h2")
        h3 = Population(AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_refrac=5.0,
                                                   tau_adapt=100.0), 4, name="h3")
        out = Population(LeakyIntegrate(readout="sum_var"), 2, name="out")
        for h in (h1, h2, h3):
            Connection(inp, h, Dense(0.1))
            Connection(h, out, Dense(0.1))
    probs = EPropCompiler(20, "sparse_categorical_crossentropy").check(net)
    p = _problem(probs, "h3", "tau_mem")
    assert "20 ms" in p.message and "10 ms" in p.message
    _problem(probs, "h3", "tau_adapt")
    assert not [q for q in probs if q.target in ("h1", "h2")]


def test_unsupported_models_and_delays_are_problems() -> None:
    net = Network(default_params)
    with net:
        inp = Population(PoissonInput(), 4, name="inp")
        hid = Population(LeakyIntegrate(), 4, name="hid")
        out = Population(LeakyIntegrateFire(readout="spike_count"), 2, name="out")
        Connection(inp, hid, Dense(0.1, delay=2), name="c_delay")
        Connection(hid, out, Dense(0.1), name="hid_out")
    probs = EPropCompiler(20, "sparse_categorical_crossentropy").check(net)
    assert "SpikeInput" in _problem(probs, "inp", "neuron").message
    assert "LeakyIntegrateFire" in _problem(probs, "hid", "neuron").message
    assert "LeakyIntegrate" in _problem(probs, "out", "neuron").message
    _problem(probs, "c_delay", "delay")


def test_mse_with_unsupported_readout_and_unknown_loss() -> None:
    net, *_ = small_net(out_readout="max_var")
    probs = EPropCompiler(20, "mean_square_error").check(net)
    assert "max_var" in _problem(probs, "out", "readout").message
    probs = EPropCompiler(20, "no_such_loss").check(net)
    assert any(p.field == "losses" for p in probs)


def _fixture_train(case: str):
    d = load_case(case)
    net, _ = build_network(d)
    inp, out = net.get_population("in"), net.get_population("out")
    sce = "sce" in case
    xs = [sample_spikes(d, k) for k in range(2)]
    y = d["labels"][:2].astype(np.int64) if sce else d["targets"][:2]
    comp = EPropCompiler(60, "sparse_categorical_crossentropy" if sce else "mean_square_error",
                         optimiser=Adam(1e6, epsilon=1e6))
    return d, net, inp, out, xs, y, comp


@pytest.mark.parametrize("case", ["sce", "alif_mse"])
def test_train_loop_reproduces_mlgenn_weights_after_two_batches(case: str) -> None:
    """cn.train with batch 1, shuffle=False: Adam every batch from step 0, bias trained."""
    d, net, inp, out, xs, y, comp = _fixture_train(case)
    rec_v = VarRecorder(out, "V", key="v")
    rec_s = SpikeRecorder(net.get_population("hid"), key="spikes")
    metric = "sparse_categorical_accuracy" if "sce" in case else "mean_square_error"
    with comp.compile(net) as cn:
        _, cb = cn.train({inp: xs}, {out: y}, num_epochs=1, shuffle=False, metrics=metric,
                         callbacks=[rec_v, rec_s])
        for c in ("in_hid", "hid_hid", "hid_out"):
            ref = d[f"main_W_{c}_after"]
            assert np.max(np.abs(cn.get_weights(c) - ref)) < 1e-5 * np.max(np.abs(ref)), c
        bias = cn.layout.bias[cn.layout.pop_slice("out")]
        ref = d["main_out_Bias_after"]
        assert np.max(np.abs(bias - ref)) < 1e-5 * max(1.0, float(np.max(np.abs(ref))))
    # recorders saw the training trials
    assert np.max(np.abs(cb["v"][0] - d["main_out_V"][0])) < 1e-6
    times, ids = cb["spikes"]
    sel = d["main_hid_spike_batch"] == 1
    assert sorted(zip(times[1].tolist(), ids[1].tolist(), strict=True)) == sorted(
        zip(d["main_hid_spike_times"][sel].tolist(), d["main_hid_spike_ids"][sel].tolist(),
            strict=True))
    # leaving the context writes the trained weights and bias back into the model
    w = net.get_connection("hid_out").connectivity.weight
    assert np.max(np.abs(w - d["main_W_hid_out_after"])) < 1e-5 * np.max(
        np.abs(d["main_W_hid_out_after"]))
    assert np.allclose(out.neuron.bias, bias)


def test_batch_gradient_is_the_sum_of_per_slot_gradients() -> None:
    """Batch 2 (fresh state) == sample 0 alone + sample 1 alone; a partial batch pads nothing."""
    d = load_case("alif_sce")
    grads = []
    for xs, ys, bs in (([0, 1], [0, 1], 2), ([0], [0], 1), ([1], [1], 1), ([1], [1], 3)):
        net, _ = build_network(d)
        comp = EPropCompiler(60, "sparse_categorical_crossentropy", batch_size=bs)
        with comp.compile(net) as cn:
            inputs = {"in": [sample_spikes(d, k) for k in xs]}
            labels = {"out": d["labels"][ys].astype(np.int64)}
            cn._train_batch(inputs, labels, np.arange(len(xs)), _no_callbacks(cn),
                            list(range(len(xs))))
            grads.append(np.concatenate([t.grad.copy() for t in cn.trainables]))
    both, g0, g1, g1_padded = grads
    assert np.max(np.abs(both - (g0 + g1))) <= 1e-5 * np.max(np.abs(both))
    assert np.array_equal(g1, g1_padded)
    assert np.max(np.abs(g0)) > 0 and np.max(np.abs(g1)) > 0


def _no_callbacks(cn):
    from app.training.callbacks import CallbackList
    return CallbackList([], compiled_network=cn, num_batches=1, num_epochs=1)


def test_evaluate_and_predict_do_not_learn() -> None:
    net, inp, _hid, out = small_net()
    xs = random_spikes(4, 4, 30)
    y = np.array([0, 1, 0, 1])
    with EPropCompiler(30, "sparse_categorical_crossentropy", batch_size=2).compile(net) as cn:
        w0 = cn.layout.weights.copy()
        mets, _ = cn.evaluate({inp: xs}, {out: y}, callbacks=[])
        pred = cn.predict({inp: xs}, out, callbacks=[])[0][out]
        assert np.array_equal(cn.layout.weights, w0)
        assert all(not t.grad.any() for t in cn.trainables)
        assert not cn.sim.DG.any() and not cn.sim.DB.any()
        assert pred.shape == (4, 2)
        # SCE readout is the sum over the trial of the (lagged) softmax: rows sum to ~T-1
        assert np.allclose(pred.sum(axis=1), 29.0, atol=1e-3) or np.allclose(
            pred.sum(axis=1), 30.0, atol=1e-3)
        assert 0.0 <= mets[out].result <= 1.0
        cn.train({inp: xs}, {out: y}, num_epochs=1, callbacks=[])
        assert not np.array_equal(cn.layout.weights, w0)


def test_state_memory_does_not_depend_on_example_timesteps() -> None:
    """Every array of the e-prop state is sized by batch x neurons or synapses, never T;
    the gradient's block buffers by a block of steps that does not grow with T."""
    sizes = []
    for T in (100, 5000, 50000):
        net, *_ = small_net(hidden=AdaptiveLeakyIntegrateFire(v_thresh=0.6, tau_refrac=5.0))
        cn = EPropCompiler(T, "sparse_categorical_crossentropy", batch_size=4).compile(net)
        sizes.append(sum(v.nbytes for v in vars(cn.sim).values()
                         if isinstance(v, np.ndarray)))
        assert cn.sim.block <= 1024
    # only the block length may differ (it is spread evenly over the trial)
    assert max(sizes) <= 1.05 * min(sizes), sizes
    # MSE keeps only the current batch's targets (B x T x n_out): the data itself
    net, inp, _h, out = small_net(out_readout="var")
    with EPropCompiler(50, "mean_square_error").compile(net) as cn:
        cn.train({inp: random_spikes(1, 4, 50)}, {out: np.zeros((1, 50, 2), np.float32)},
                 num_epochs=2, callbacks=[], metrics="mean_square_error")
        assert cn.sim.targets.shape == (1, 50, 2)
        assert cn.last_squared_error["out"].shape == (1,)


def test_pattern_task_mse_decreases() -> None:
    """A short pattern-recognition run: e-prop lowers the per-step MSE quickly."""
    from app.training.data import pattern_recognition_task

    spikes, targets = pattern_recognition_task(seed=1, trial_steps=200, freq=(10.0, 15.0),
                                               in_active_interval=40, in_active_isi=5)
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), 20, name="inp")
        hid = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0),
                         64, name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="var"), 3, name="out")
        Connection(inp, hid, Dense(Normal(0.0, 1.0 / np.sqrt(20))))
        Connection(hid, hid, Dense(Normal(0.0, 1.0 / np.sqrt(64))))
        Connection(hid, out, Dense(Normal(0.0, 1.0 / np.sqrt(64))))
    comp = EPropCompiler(200, "mean_square_error", optimiser=Adam(0.003), rng_seed=3)
    with comp.compile(net) as cn:
        errs = []
        for epoch in range(40):
            cn.train({inp: spikes}, {out: targets}, num_epochs=1, start_epoch=epoch,
                     callbacks=[], metrics="mean_square_error")
            errs.append(float(cn.last_squared_error["out"][0]))
    assert errs[-1] < 0.5 * errs[0], errs


@pytest.mark.parametrize("bs", [1, 3])
def test_batch_and_neuron_parallel_modes_agree(bs: int) -> None:
    """Both kernel schedules compute the same trial (gradients up to summation order)."""
    from app.training.engine import eprop_kernels as EK
    from app.training.engine.eprop_sim import EPropSimulator
    from app.training.engine.layout import build_layout

    results = []
    for mode in ("batch", "neurons"):
        net, *_ = small_net(hidden=AdaptiveLeakyIntegrateFire(v_thresh=0.3, tau_refrac=5.0))
        lay = build_layout(net, 1.0, np.random.default_rng(5))
        sim = EPropSimulator(lay, bs, 1.0, 40, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM},
                             20.0, 2000.0, 500.0, 0.001, 10.0, True, parallel=mode)
        assert sim.by_batch == (mode == "batch")
        for trial in range(2):
            sim.reset_readouts()
            sim.set_inputs({"inp": random_spikes(bs, 4, 40, seed=trial)}, bs)
            sim.set_labels({"out": np.arange(bs) % 2}, bs)
            rec = sim.run_trial(bs, True, [("hid", "V")], ["hid"])
        g, db = sim.take_gradients()
        results.append((g, db, rec.values, sim.readout("out")))
    (g1, db1, v1, r1), (g2, db2, v2, r2) = results
    assert np.array_equal(v1, v2) and np.array_equal(r1, r2)
    assert np.abs(g1).max() > 0
    assert np.max(np.abs(g1 - g2)) <= 1e-5 * np.abs(g1).max()
    assert np.max(np.abs(db1 - db2)) <= 1e-5 * np.abs(db1).max()


def test_zero_delay_arrays_are_accepted_but_nonzero_delays_are_not() -> None:
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), 3, name="inp")
        hid = Population(LeakyIntegrateFire(tau_refrac=5.0), 2, name="hid")
        out = Population(LeakyIntegrate(readout="sum_var"), 2, name="out")
        Connection(inp, hid, Dense(0.1, delay=np.zeros((3, 2))), name="zero")
        Connection(hid, out, Dense(0.1, delay=np.ones((2, 2))), name="one")
    probs = EPropCompiler(10, "sparse_categorical_crossentropy").check(net)
    assert [(p.target, p.field) for p in probs] == [("one", "delay")]
