"""EventPropCompiler(ttfs_loss="exponential"): Wunderlich & Pehle's (2021) cross-entropy on
first-spike times with the exponential regulariser. The default ("mlgenn") is mlGeNN's
loss and is covered by the parity tests; here the new loss is checked against finite
differences of its own value, and against the mlGeNN loss where the two coincide."""
from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.errors import ModelError
from app.model.neurons import LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import CallbackList
from app.training.compilers import EventPropCompiler, eventprop
from app.training.data import preprocess_spikes, yin_yang_splits
from app.training.losses import FirstSpikeCrossentropy
from app.training.optimisers import Adam

DT = 0.01


@pytest.fixture(scope="module")
def data():
    ds = yin_yang_splits(seed=3, num_train=16, num_validation=1, num_test=1, dt=DT, bias=True)
    return ds.train_spikes, np.asarray(ds.train_labels), ds.example_timesteps


def _net(w: np.ndarray) -> Network:
    """5 inputs straight onto 3 first-spike LIF outputs: spike times are smooth in w."""
    net = Network(eventprop.default_params)
    with net:
        inp = Population(SpikeInput(max_spikes=200), 5, name="in")
        out = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0,
                                            readout="first_spike_time"), 3, name="out")
        Connection(inp, out, Dense(w), Exponential(5.0), name="in_out")
    return net


def _compiler(T: int, n: int, mode: str, alpha: float, tau0: float) -> EventPropCompiler:
    return EventPropCompiler(T, "sparse_categorical_crossentropy", Adam(0.0, epsilon=1e6),
                             batch_size=n, dt=DT, softmax_temperature=tau0, ttfs_alpha=alpha,
                             ttfs_loss=mode, ttfs_tau1=6.4)


def _grad(data, w, mode, alpha=0.2, tau0=0.5) -> np.ndarray:
    x, y, T = data
    with _compiler(T, len(x), mode, alpha, tau0).compile(_net(w)) as cn:
        cn._train_batch({"in": x}, {"out": y}, np.arange(len(x)), CallbackList([]),
                        list(range(len(x))))
        return cn.trainables[0].gradient().reshape(w.shape)


def _loss(data, w, loss: FirstSpikeCrossentropy) -> float:
    x, y, T = data
    net = _net(w)
    out = net.get_population("out")
    with _compiler(T, len(x), "exponential", loss.alpha, loss.tau0).compile(net) as cn:
        pred, _ = cn.predict({"in": x}, out, callbacks=[])
    t_first = np.asarray(pred[out])
    assert (t_first > -T * DT).all(), "every output must spike for a smooth loss"
    return loss.value(y, t_first)


def test_exponential_ttfs_gradient_is_the_papers_loss_gradient(data):
    """Central differences of -log softmax(-t/tau0)_y + alpha*(exp(t_y/tau1) - 1) agree
    with the EventProp gradient (direction and size); mlGeNN's loss, a different
    function (temperature-1 softmax, alpha/(1.01 T - t) regulariser), does not."""
    T = data[2]
    w = np.random.default_rng(0).normal(4.0, 1.5, (5, 3)).astype(np.float32)
    loss = FirstSpikeCrossentropy(0.5, 0.2, 6.4, T * DT)
    eps = 0.02
    fd = np.zeros_like(w, dtype=np.float64)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            d = np.zeros_like(w)
            d[i, j] = eps
            fd[i, j] = (_loss(data, w + d, loss) - _loss(data, w - d, loss)) / (2 * eps)
    g_exp = _grad(data, w, "exponential")
    g_ml = _grad(data, w, "mlgenn")

    def rel(g: np.ndarray) -> float:
        return float(np.linalg.norm(fd - g) / np.linalg.norm(fd))

    cos = float((fd * g_exp).sum() / np.linalg.norm(fd) / np.linalg.norm(g_exp))
    assert cos > 0.99
    assert rel(g_exp) < 0.12  # spike times move in steps of dt: a few % stays
    assert rel(g_ml) > 1.5 * rel(g_exp)


def test_exponential_equals_mlgenn_where_the_losses_coincide(data):
    """Without regulariser and at temperature 1 both are plain cross-entropy on -t."""
    w = np.random.default_rng(1).normal(4.0, 1.5, (5, 3)).astype(np.float32)
    g_exp = _grad(data, w, "exponential", alpha=0.0, tau0=1.0)
    g_ml = _grad(data, w, "mlgenn", alpha=0.0, tau0=1.0)
    np.testing.assert_allclose(g_exp, g_ml, rtol=1e-6, atol=1e-9)
    assert np.abs(g_exp).max() > 0


def test_loss_value_and_softmax():
    loss = FirstSpikeCrossentropy(0.5, 0.003, 6.4, 30.0)
    silent = -np.finfo(np.float32).max
    pred = np.array([[-2.0, -3.0, silent], [silent, silent, silent]], np.float32)
    sm = loss.softmax(pred)
    np.testing.assert_allclose(sm[0], [1 / (1 + np.exp(-2.0)), np.exp(-2.0) / (1 + np.exp(-2.0)),
                                       0.0], rtol=1e-6)
    np.testing.assert_allclose(sm[1], [1 / 3] * 3, rtol=1e-6)
    expected0 = -np.log(sm[0, 0]) + 0.003 * (np.exp(2.0 / 6.4) - 1)
    assert loss.value(np.array([0]), pred[:1]) == pytest.approx(expected0, rel=1e-6)
    # a silent label neuron counts as firing at the trial end (30 ms)
    expected1 = -np.log(1.0) + 0.003 * (np.exp(30.0 / 6.4) - 1)
    assert loss.value(np.array([1]), pred[1:]) == pytest.approx(expected1, rel=1e-6)
    late = np.array([[-2.0, silent, silent]], np.float32)
    s_end = np.exp(-30 / 0.5) / (np.exp(-2 / 0.5) + np.exp(-30 / 0.5))
    np.testing.assert_allclose(loss.label_softmax(late, np.array([1]))[0],
                               [1 - s_end, s_end, 0.0], rtol=1e-5)
    expected2 = -np.log(s_end) + 0.003 * (np.exp(30.0 / 6.4) - 1)
    assert loss.value(np.array([1]), late) == pytest.approx(expected2, rel=1e-5)


def test_silent_label_neuron_gets_the_losss_slope_at_the_trial_end(data):
    """The phantom spike of a silent label neuron: lambda_V at the start of the backward
    pass is ((1 - S_y)/tau0 + alpha/tau1*exp(T/tau1))/B, S_y with the label at T."""
    x, y, T = data
    w = np.random.default_rng(0).normal(4.0, 1.5, (5, 3)).astype(np.float32)
    w[:, 0] = -1.0  # output 0 never fires
    comp = _compiler(T, len(x), "exponential", 0.2, 0.5)
    net = _net(w)
    with comp.compile(net) as cn:
        cn.record_lambdas = ["out"]
        cn._train_batch({"in": x}, {"out": y}, np.arange(len(x)), CallbackList([]),
                        list(range(len(x))))
        lam = cn.last_lambdas
        t_first = cn.sim.readout("out")[:len(x)]
    loss = FirstSpikeCrossentropy(0.5, 0.2, 6.4, T * DT)
    s = loss.label_softmax(t_first, y)
    silent = np.where(y == 0)[0]
    assert len(silent) > 0 and np.all(t_first[silent, 0] < -T * DT)
    for b in silent:
        expected = ((1 - s[b, 0]) / 0.5 + 0.2 / 6.4 * np.exp(T * DT / 6.4)) / len(x)
        assert lam[b, 0, 0] == pytest.approx(expected, rel=1e-5)
    assert np.all(lam[y != 0, 0, 0] == 0.0)


def test_reset_in_syn_between_batches_makes_trials_independent(data):
    """mlGeNN's EventProp lets the synaptic input of a trial's last steps reach the next
    trial; with reset_in_syn_between_batches each trial starts from rest, so the same
    batch gives the same first-spike times whatever ran before."""
    x, y, T = data
    # every example also gets a spike of input 0 in the second-to-last step, whose
    # synaptic input is still there when the trial ends
    end = np.float32((T - 2) * DT)
    x = [preprocess_spikes(np.append(s.spike_times, end),
                           np.append(np.repeat(np.arange(5), np.diff(s.end_spikes, prepend=0)),
                                     0), 5) for s in x]
    w = np.random.default_rng(2).normal(4.0, 1.5, (5, 3)).astype(np.float32)
    results = {}
    for reset in (False, True):
        comp = EventPropCompiler(T, "sparse_categorical_crossentropy", Adam(0.0, epsilon=1e6),
                                 batch_size=len(x), dt=DT, reset_in_syn_between_batches=reset)
        net = _net(w)
        out = net.get_population("out")
        with comp.compile(net) as cn:
            first, _ = cn.predict({"in": x}, out, callbacks=[])
            again, _ = cn.predict({"in": x}, out, callbacks=[])
        results[reset] = (first[out], again[out])
    assert not np.array_equal(*results[False])  # the leftover input moved some spikes
    np.testing.assert_array_equal(*results[True])
    np.testing.assert_array_equal(results[True][0], results[False][0])  # first trial: same


def test_bad_ttfs_loss_is_named():
    with pytest.raises(ModelError, match="ttfs_loss"):
        EventPropCompiler(10, "sparse_categorical_crossentropy", ttfs_loss="paper")
    with pytest.raises(ModelError, match="ttfs_tau1"):
        EventPropCompiler(10, "sparse_categorical_crossentropy", ttfs_tau1=0.0)


@pytest.mark.parametrize("lockstep", [True, False])
def test_fused_trial_gives_the_unfused_gradient_with_a_silent_label(data, lockstep):
    """The fused training trial (lockstep or per-slot kernel) computes the exponential
    loss's softmax and the silent label's phantom slope as the separate backward pass."""
    x, y, T = data
    w = np.random.default_rng(0).normal(4.0, 1.5, (5, 3)).astype(np.float32)
    w[:, 0] = -1.0  # output 0 never fires: its examples have a silent label neuron
    grads = []
    for record in (False, True):
        with _compiler(T, len(x), "exponential", 0.2, 0.5).compile(_net(w)) as cn:
            cn.sim.lockstep = lockstep
            if record:  # recording the adjoints takes the separate backward pass
                cn.record_lambdas = ["out"]
            assert cn._fusable(CallbackList([])) is not record
            cn._train_batch({"in": x}, {"out": y}, np.arange(len(x)), CallbackList([]),
                            list(range(len(x))))
            grads.append(cn.trainables[0].gradient())
    assert np.any(y == 0) and np.abs(grads[1]).max() > 0
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)
