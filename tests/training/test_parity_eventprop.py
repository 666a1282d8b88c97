"""Parity with mlGeNN: forward passes and EventProp gradients against the reference fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import CallbackList, SpikeRecorder, VarRecorder
from app.training.compilers import EventPropCompiler, InferenceCompiler, eventprop
from app.training.data import preprocess_spikes
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam


def _inputs(d: dict, n_in: int) -> list:
    out = []
    for k in np.unique(d["input_spike_sample"]):
        s = d["input_spike_sample"] == k
        out.append(preprocess_spikes(d["input_spike_times"][s], d["input_spike_ids"][s], n_in))
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def _sce_network(d: dict, hidden_v_thresh: float = 1.0) -> tuple:
    net = Network(eventprop.default_params)
    with net:
        inp = Population(SpikeInput(max_spikes=100), 5, name="in")
        hid = Population(LeakyIntegrateFire(v_thresh=hidden_v_thresh, tau_mem=20.0), 20,
                         name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), 3, name="out")
        Connection(inp, hid, Dense(d["W_in_hid"]), Exponential(5.0), name="in_hid")
        Connection(hid, out, Dense(d["W_hid_out"]), Exponential(5.0), name="hid_out")
    return net, inp, hid, out


def test_forward_eventprop_inference_matches_mlgenn(load_fixture):
    d, cfg = load_fixture("forward_eventprop")
    assert cfg["compiler_args"]["reset_in_syn_between_batches"] is True
    net, inp, hid, out = _sce_network(d)
    x = _inputs(d, 5)
    comp = InferenceCompiler(evaluate_timesteps=60, reset_in_syn_between_batches=True)
    recs = [VarRecorder(hid, "V", key="hv"), VarRecorder(out, "V", key="ov"),
            SpikeRecorder(hid, key="hs")]
    with comp.compile(net) as cn:
        _, data = cn.evaluate({inp: x}, {out: d["labels"].astype(np.int64)}, callbacks=recs)
        pred = cn.predict({inp: x}, out, callbacks=[])[0][out]
    np.testing.assert_array_equal(np.stack(data["hv"]), d["hid_V"])
    np.testing.assert_array_equal(np.stack(data["ov"]), d["out_V"])
    np.testing.assert_array_equal(pred, d["readout"])
    for k in range(3):
        s = d["hid_spike_sample"] == k
        ours = sorted(zip(data["hs"][0][k].tolist(), data["hs"][1][k].tolist(), strict=True))
        ref = sorted(zip(d["hid_spike_times"][s].tolist(), d["hid_spike_ids"][s].tolist(),
                         strict=True))
        assert ours == ref


@pytest.mark.parametrize("suffix", ["", "_carry"])
def test_forward_eprop_inference_matches_mlgenn(load_fixture, suffix):
    d, cfg = load_fixture("forward_eprop")
    net = Network()
    with net:
        inp = Population(SpikeInput(), 5, name="in")
        hid = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0), 20,
                         name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 3, name="out")
        Connection(inp, hid, Dense(d["W_in_hid"]), name="in_hid")
        Connection(hid, hid, Dense(d["W_hid_hid"]), name="hid_hid")
        Connection(hid, out, Dense(d["W_hid_out"]), name="hid_out")
    comp = InferenceCompiler(evaluate_timesteps=60, reset_vars_between_batches=(suffix == ""))
    recs = [VarRecorder(hid, "V", key="hv"), VarRecorder(hid, "RefracTime", key="rf"),
            VarRecorder(out, "V", key="ov")]
    with comp.compile(net) as cn:
        _, data = cn.evaluate({inp: _inputs(d, 5)}, {out: d["labels"].astype(np.int64)},
                              callbacks=recs)
    # Summation order of the fused input buffer may differ by an ulp.
    np.testing.assert_allclose(np.stack(data["hv"]), d["hid_V" + suffix], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.stack(data["rf"]), d["hid_RefracTime" + suffix])
    np.testing.assert_allclose(np.stack(data["ov"]), d["out_V" + suffix], rtol=0, atol=1e-5)


def _grads(cn, x: list, labels: np.ndarray, n: int) -> list[list[np.ndarray]]:
    """Per-batch gradients at fixed weights (Adam alpha=0), one example per batch."""
    out = []
    with cn:
        for b in range(n):
            cn._train_batch({cn.inputs[0].name: x}, {cn.outputs[0].name: labels},
                            np.array([b]), CallbackList([]), [b])
            out.append([t.gradient() for t in cn.trainables])
            cn.optimise(b)
    return out


def test_eventprop_sce_gradients_and_adjoints_match_mlgenn(load_fixture):
    d, cfg = load_fixture("grad_eventprop_sce")
    net, inp, hid, out = _sce_network(d)
    comp = EventPropCompiler(60, "sparse_categorical_crossentropy", Adam(0.0, epsilon=1e6),
                             max_spikes=500)
    cn = comp.compile(net)
    cn.record_lambdas = ["hid", "out"]
    x = _inputs(d, 5)
    labels = d["labels"].astype(np.int64)
    with cn:
        cn._train_batch({"in": x}, {"out": labels}, np.array([0]), CallbackList([]), [0])
        lam = cn.last_lambdas[0]
    # lambdas of sample 0 are recorded by mlGeNN during batch 1 of the s3 run
    np.testing.assert_allclose(lam[:, 0:40:2], d["s3_hid_LambdaV"][1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(lam[:, 1:40:2], d["s3_hid_LambdaI"][1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(lam[:, 40::2], d["s3_out_LambdaV"][1], rtol=1e-5, atol=1e-9)
    grads = _grads(comp.compile(_sce_network(d)[0]), x, labels, 2)
    for b in range(2):
        g_ih, g_ho = grads[b]
        assert _rel(g_ih.reshape(5, 20), d["s3a0_grad_in_hid_pre_opt"][b + 1]) < 1e-3
        assert _rel(g_ho.reshape(20, 3), d["s3a0_grad_hid_out_pre_opt"][b + 1]) < 1e-3
    assert _rel(grads[0][0].reshape(5, 20), d["grad_in_hid_sample0"]) < 1e-3
    assert _rel(grads[0][1].reshape(20, 3), d["grad_hid_out_sample0"]) < 1e-3


def test_eventprop_ttfs_rmse_gradients_match_mlgenn(load_fixture):
    d, cfg = load_fixture("grad_eventprop_ttfs")
    net = Network(eventprop.default_params)
    with net:
        inp = Population(SpikeInput(), 4, name="in")
        hid = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 30, name="hid")
        out = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0,
                                            readout="first_spike_time"), 3, name="out")
        Connection(inp, hid, Dense(d["W_in_hid"]), Exponential(5.0), name="in_hid")
        Connection(hid, out, Dense(d["W_hid_out"]), Exponential(5.0), name="hid_out")
    comp = EventPropCompiler(300, RelativeMeanSquareError(1.0), Adam(0.0, epsilon=1e6),
                             max_spikes=500, dt=0.1, softmax_temperature=0.5, ttfs_alpha=0.1)
    grads = _grads(comp.compile(net), _inputs(d, 4), d["labels"].astype(np.int64), 4)
    for b in range(4):  # includes sample 38, where only one output spikes (|g| up to 83)
        g_ih, g_ho = grads[b]
        assert _rel(g_ih.reshape(4, 30), d["a0_grad_in_hid_pre_opt"][b + 1]) < 1e-3
        assert _rel(g_ho.reshape(30, 3), d["a0_grad_hid_out_pre_opt"][b + 1]) < 1e-3


def test_eventprop_training_forward_matches_mlgenn_voltages(load_fixture):
    """Training forward pass: inSyn zeroed at the start of the last step (ZeroOutPost)."""
    d, _ = load_fixture("grad_eventprop_sce")
    net, inp, hid, out = _sce_network(d)
    comp = EventPropCompiler(60, "sparse_categorical_crossentropy", Adam(0.0, epsilon=1e6))
    recs = [VarRecorder(hid, "V", key="hv"), VarRecorder(out, "V", key="ov")]
    with comp.compile(net) as cn:
        _, data = cn.train({inp: _inputs(d, 5)[:2]}, {out: d["labels"][:2].astype(np.int64)},
                           num_epochs=1, shuffle=False, callbacks=recs)
    np.testing.assert_allclose(np.stack(data["hv"]), d["main_hid_V"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.stack(data["ov"]), d["main_out_V"], rtol=0, atol=1e-6)
