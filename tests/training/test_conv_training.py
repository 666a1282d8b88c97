"""Training networks with convolution/pooling and running integrate-and-fire inputs,
without mlGeNN (test_conv_mlgenn_parity.py compares against the real thing)."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, InputLayer, Layer, Network, Population, SequentialNetwork
from app.model.connectivity import AvgPool2D, AvgPoolConv2D, Conv2D, Dense
from app.model.initializers import Normal
from app.model.neurons import (
    IntegrateFire,
    IntegrateFireInput,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.model.synapses import Exponential
from app.training.callbacks import CallbackList
from app.training.compilers import EPropCompiler, EventPropCompiler, InferenceCompiler
from app.training.compilers.base import CompileError
from app.training.compilers.eprop import default_params as eprop_params
from app.training.compilers.eventprop import default_params
from app.training.data import preprocess_spikes
from app.training.encoding import IntegrateFireEncoder
from app.training.optimisers import Adam
from app.training.serialisers import Numpy

KERNEL = np.random.default_rng(0).normal(2.0, 1.5, (3, 3, 2, 3)).astype(np.float32)
W_OUT = np.random.default_rng(1).normal(0.2, 0.5, (4 * 4 * 3, 3)).astype(np.float32)


def _inputs(n: int = 4, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [preprocess_spikes(rng.uniform(0, 12, 60), rng.integers(0, 32, 60), 32)
            for _ in range(n)]


def _conv_net(conv: object) -> tuple:
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), (4, 4, 2), name="inp")
        hid = Population(LeakyIntegrateFire(tau_refrac=None), None, name="hid")
        out = Population(LeakyIntegrate(readout="avg_var"), 3, name="out")
        Connection(inp, hid, conv, Exponential(5.0), name="conv")
        Connection(hid, out, Dense(W_OUT), Exponential(5.0), name="dense")
    return net, inp, hid, out


def test_eventprop_kernel_gradient_is_the_sum_over_the_synapses_sharing_it():
    """The conv network and the same network with the convolution spelt out as a dense
    matrix (zeros where there is no synapse) have identical forward passes; summing the
    dense gradient over each kernel entry's synapses gives the kernel gradient."""
    conn = Conv2D(KERNEL, 3, 3, conv_padding="same", flatten=True)
    net, *_ = _conv_net(conn)
    comp = EventPropCompiler(30, "sparse_categorical_crossentropy", Adam(0.0), batch_size=4)
    cn = comp.compile(net)
    table = cn.layout.tables["conv"]
    pre = np.repeat(np.arange(32), np.diff(table.row_ptr))
    dense_w = np.zeros((32, 48), np.float32)
    dense_w[pre, table.post] = table.weight
    dense_net, *_ = _conv_net(Dense(dense_w))
    dn = comp.compile(dense_net)
    x, y = _inputs(), np.array([0, 1, 2, 1])
    grads = []
    for c in (cn, dn):
        with c:
            c._train_batch({"inp": x}, {"out": y}, np.arange(4), CallbackList([]), [0, 1, 2, 3])
            grads.append({t.name: t.gradient() for t in c.trainables})
    np.testing.assert_allclose(cn.sim.V, dn.sim.V, rtol=0, atol=1e-6)
    g_dense = grads[1]["conv"].reshape(32, 48)[pre, table.post]
    expect = np.bincount(table.kernel_index, g_dense, minlength=KERNEL.size)
    assert np.abs(expect).max() > 0
    np.testing.assert_allclose(grads[0]["conv"], expect, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(grads[0]["dense"], grads[1]["dense"], rtol=1e-4, atol=1e-8)


def test_eventprop_keeps_the_kernel_shared_and_writes_it_back(tmp_path):
    net, inp, hid, out = _conv_net(AvgPoolConv2D(KERNEL, 3, 1, 3, conv_padding="same",
                                                 flatten=True))
    comp = EventPropCompiler(30, "sparse_categorical_crossentropy", Adam(0.01), batch_size=2)
    cn = comp.compile(net)
    before = cn.get_weights("conv")
    assert before.shape == KERNEL.shape
    with cn:
        cn.train({inp: _inputs()}, {out: np.array([0, 1, 2, 1])}, num_epochs=2, callbacks=[])
        after = cn.get_weights("conv")
        t = cn.layout.tables["conv"]
        np.testing.assert_array_equal(cn.layout.weights[cn.layout.conn_slice("conv")],
                                      cn.layout.kernels["conv"][t.kernel_index])
        cn.save(("ckpt",), Numpy(str(tmp_path)))
    assert np.abs(after - before).max() > 1e-3
    # AvgPoolConv2D's synapses use kernel / pool area: the user's weight gets it back
    np.testing.assert_allclose(net.get_connection("conv").connectivity.weight, after,
                               rtol=1e-6)
    net2, *_ = _conv_net(AvgPoolConv2D(KERNEL, 3, 1, 3, conv_padding="same", flatten=True))
    net2.load(("ckpt",), Numpy(str(tmp_path)))
    np.testing.assert_array_equal(comp.compile(net2).get_weights("conv"), after)


def test_pooling_weights_stay_fixed_with_eventprop():
    net = SequentialNetwork(default_params)
    with net:
        inp = InputLayer(SpikeInput(), (4, 4, 2))
        Layer(Conv2D(KERNEL, 3, 3, conv_padding="same"), LeakyIntegrateFire(tau_refrac=None),
              synapse=Exponential(5.0))
        pool = Layer(AvgPool2D(2, flatten=True), LeakyIntegrateFire(v_thresh=0.1,
                                                                     tau_refrac=None),
                     synapse=Exponential(5.0))
        out = Layer(Dense(Normal(sd=0.5)), LeakyIntegrate(readout="avg_var"), 3,
                    Exponential(5.0))
    comp = EventPropCompiler(30, "sparse_categorical_crossentropy", Adam(0.01), batch_size=2)
    with comp.compile(net) as cn:
        assert {t.name for t in cn.trainables} == {c.name for c in net.connections} - \
            {pool.connection.name}
        cn.train({inp: _inputs()}, {out: np.array([0, 1, 2, 1])}, num_epochs=1, callbacks=[])
        np.testing.assert_array_equal(cn.get_weights(pool.connection), np.float32(0.25))


def test_eprop_trains_every_convolution_synapse_on_its_own():
    """mlGeNN's e-prop builds Conv2D as GeNN SPARSE connectivity: per-synapse weights."""
    net = SequentialNetwork(eprop_params)
    with net:
        inp = InputLayer(SpikeInput(), (4, 4, 2))
        Layer(Conv2D(KERNEL / 4, 3, 3, conv_padding="same", flatten=True),
              LeakyIntegrateFire(tau_refrac=5.0))
        out = Layer(Dense(Normal(sd=0.3)), LeakyIntegrate(readout="sum_var"), 3)
    comp = EPropCompiler(30, "sparse_categorical_crossentropy", Adam(0.01), batch_size=2)
    with comp.compile(net) as cn:
        conv = net.connections[0]
        w0 = cn.get_weights(conv)
        table = cn.layout.tables[conv.name]
        assert w0.shape == (table.num_synapses,) and not cn.layout.kernels
        np.testing.assert_array_equal(w0, (KERNEL / 4).reshape(-1)[table.kernel_index])
        cn.train({inp: _inputs()}, {out: np.array([0, 1, 2, 1])}, num_epochs=2, callbacks=[])
        w1 = cn.get_weights(conv)
    shared = [w1[table.kernel_index == k] for k in range(KERNEL.size)]
    assert max(np.ptp(s) for s in shared) > 1e-4  # no longer one value per kernel entry
    np.testing.assert_array_equal(conv.connectivity.weight, KERNEL / 4)  # not written back


def test_eventprop_refuses_kernel_delays_and_integrate_fire_hidden_neurons():
    net, *_ = _conv_net(Conv2D(KERNEL, 3, 3, conv_padding="same", flatten=True, delay=2))
    comp = EventPropCompiler(30, "sparse_categorical_crossentropy")
    with pytest.raises(CompileError, match="shared kernel, which cannot have delays"):
        comp.compile(net)
    net = SequentialNetwork(default_params)
    with net:
        InputLayer(SpikeInput(), 4)
        Layer(Dense(1.0), IntegrateFire(), 5, Exponential(5.0))
        Layer(Dense(1.0), LeakyIntegrate(readout="avg_var"), 2, Exponential(5.0))
    with pytest.raises(CompileError, match="IntegrateFire is for converted-network inference"):
        comp.compile(net)


def test_integrate_fire_encoder_steps_frames_and_resets():
    net = Network()
    with net:
        p = Population(IntegrateFireInput(v_thresh=1.0, v_reset=-0.5, input_frames=2,
                                          input_frame_timesteps=3), 2, name="p")
    enc = IntegrateFireEncoder(p, np.zeros(2, np.float32), 1)
    # neuron 0: 0.4 per step for 3 steps, then 0.7; neuron 1: 1.0 then 0
    spikes = enc.encode(np.array([[[0.4, 1.0], [0.7, 0.0]]], np.float32), 6, 1.0,
                        keep_history=True)[0]
    v0 = enc.history[0, :, 0]
    np.testing.assert_allclose(v0, [0.4, 0.8, -0.5, 0.2, 0.9, -0.5], atol=1e-6)
    # neuron 1: 1.0 -> spike (-0.5), 0.5, 1.5 -> spike, then no input
    assert spikes.end_spikes.tolist() == [2, 4]
    np.testing.assert_array_equal(spikes.spike_times, [2, 5, 0, 2])
    with pytest.raises(Exception, match="2 frames x 2 values"):
        enc.values(np.zeros((1, 3), np.float32))


def test_integrate_fire_network_counts_spikes_like_the_hand_computation():
    """IntegrateFireInput -> Dense -> IntegrateFire with spike_count, simple_mnist-style:
    input neuron i fires every ceil(1/x_i) steps; with identity weights and threshold 1
    the output copies it one step later."""
    net = SequentialNetwork()
    with net:
        inp = InputLayer(IntegrateFireInput(v_thresh=1.0), 3)
        out = Layer(Dense(np.eye(3, dtype=np.float32)),
                    IntegrateFire(v_thresh=1.0, readout="spike_count"))
    assert out.shape == (3,)
    x = np.array([[0.5, 0.25, 0.0], [1.0, 0.2, 0.1]], np.float32)
    with InferenceCompiler(evaluate_timesteps=20, batch_size=2).compile(net) as cn:
        counts = cn.predict({inp: x}, out)[0][out]
        metrics, _ = cn.evaluate({inp: x}, {out: np.array([0, 0])}, callbacks=[])
    # spikes at steps 1,3,..,19 (10) -> output at 2,..,18 (9); 0.25: steps 3,7,11,15,19
    # (5) -> 4; steps 0..19 (20) -> 19; 0.2: 4,9,14,19 -> 3; 0.1: 9,19 -> 1
    np.testing.assert_array_equal(counts, [[9, 4, 0], [19, 3, 1]])
    assert metrics[out].result == 1.0
