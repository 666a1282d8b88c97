"""Synaptic delays in the forward pass and delay learning in EventProp."""

from __future__ import annotations

import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import Dense, OneToOne
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Delta, Exponential
from app.training.callbacks import SpikeRecorder
from app.training.compilers import EventPropCompiler, InferenceCompiler, eventprop
from app.training.data import preprocess_spikes
from app.training.optimisers import Adam


def _spike_times(delay: int) -> list[float]:
    net = Network()
    with net:
        i = Population(SpikeInput(), 1, name="in")
        h = Population(LeakyIntegrateFire(v_thresh=0.5, tau_refrac=None), 1, name="h")
        o = Population(LeakyIntegrate(readout="sum_var"), 1, name="o")
        Connection(i, h, OneToOne(1.0, delay=delay), Delta())
        Connection(h, o, Dense(1.0), Delta())
    rec = SpikeRecorder(h, key="s")
    with InferenceCompiler(20).compile(net) as cn:
        _, data = cn.evaluate({i: [preprocess_spikes(np.array([2.0]), np.array([0]), 1)]},
                              {o: np.array([0])}, callbacks=[rec])
    return data["s"][0][0].tolist()


def test_delay_shifts_arrival_by_whole_steps():
    # input fires at step 2, arrives at step 3 (+delay), hidden spikes that step
    assert _spike_times(0) == [3.0]
    assert _spike_times(4) == [7.0]


def test_delay_learning_moves_delays_within_bounds():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 32)
    x = [preprocess_spikes(np.where(np.arange(10) < 5, 2.0 + 6 * y, 8.0 - 6 * y),
                           np.arange(10), 10) for y in labels]
    net = Network(eventprop.default_params)
    with net:
        i = Population(SpikeInput(), 10, name="in")
        h = Population(LeakyIntegrateFire(tau_mem=20.0), 12, name="h")
        o = Population(LeakyIntegrate(readout="avg_var"), 2, name="o")
        c = Connection(i, h, Dense(Normal(0.6, 0.2), delay=2.0), Exponential(5.0),
                       max_delay_steps=6)
        Connection(h, o, Dense(Normal(0.0, 0.5)), Exponential(5.0))
    comp = EventPropCompiler(30, "sparse_categorical_crossentropy", Adam(0.01), batch_size=8,
                             delay_learn_conns=[c], delay_optimiser=Adam(0.5))
    with comp.compile(net) as cn:
        d0 = cn.get_delays(c).copy()
        cn.train({i: x}, {o: labels.astype(np.int64)}, num_epochs=3, callbacks=[])
        d1 = cn.get_delays(c)
    assert not np.array_equal(d0, d1)
    assert d1.min() >= 0.0 and d1.max() <= 6.0
