"""Model API: mlGeNN-shaped objects, default_params and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import (
    Connection,
    InputLayer,
    Layer,
    ModelError,
    Network,
    Population,
    SequentialNetwork,
)
from app.model.connectivity import Dense, FixedProbability, OneToOne, build_synapses
from app.model.initializers import Normal, Uniform
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, PoissonInput, SpikeInput
from app.model.readouts import FirstSpikeTime
from app.model.synapses import Delta, Exponential
from app.training.compilers import eventprop


def test_default_params_fill_unspecified_arguments_only():
    net = Network(eventprop.default_params)
    with net:
        a = LeakyIntegrateFire(relative_reset=True)
        b = Exponential(tau=3.0)
    outside = LeakyIntegrateFire()
    assert a.relative_reset is True and a.scale_i is True and a.integrate_during_refrac is False
    assert b.scale_i is True and b.tau == 3.0
    assert outside.scale_i is False and outside.relative_reset is True


def test_sequential_network_connects_layers_and_names_are_unique():
    net = SequentialNetwork()
    with net:
        i = InputLayer(SpikeInput(), (2, 3))
        h = Layer(Dense(Normal()), LeakyIntegrateFire(), 5, "exponential")
        o = Layer(Dense(0.5), LeakyIntegrate(readout="sum_var"))
    assert i.num_neurons == 6 and o.shape == (5,)
    assert [c.source for c in net.connections] == [i, h]
    assert isinstance(h.connection.synapse, Exponential)
    assert len({p.name for p in net.populations}) == 3


@pytest.mark.parametrize("make, arg", [
    (lambda: LeakyIntegrateFire(tau_mem=0), "tau_mem"),
    (lambda: LeakyIntegrateFire(readout="softmax"), "readout"),
    (lambda: Exponential(tau=-1.0), "tau"),
    (lambda: FixedProbability(1.5, 1.0), "'p'"),
    (lambda: Dense("heavy"), "weight"),
    (lambda: SpikeInput(max_spikes=0), "max_spikes"),
    (lambda: Uniform(2.0, 1.0), "max"),
])
def test_invalid_arguments_name_object_and_argument(make, arg):
    with pytest.raises(ModelError, match=arg):
        make()


def test_population_outside_network_and_bad_connection_targets():
    with pytest.raises(ModelError, match="inside 'with network:'"):
        Population(LeakyIntegrateFire(), 3)
    net = Network()
    with net:
        i = Population(SpikeInput(), 3, name="in")
        h = Population(LeakyIntegrateFire(), 3, name="hid")
        with pytest.raises(ModelError, match="input population cannot receive"):
            Connection(h, i, Dense(1.0))
        with pytest.raises(ModelError, match="unique"):
            Population(LeakyIntegrateFire(), 3, name="hid")
        with pytest.raises(ModelError, match="synapse"):
            Connection(i, h, Dense(1.0), "alpha")
        c = Connection(i, h, OneToOne(2.0), Delta())
    assert c.name and c.source is i


def test_build_synapses_layouts():
    rng = np.random.default_rng(0)
    dense = build_synapses(Dense(np.arange(6, dtype=np.float32).reshape(2, 3)), 2, 3, rng,
                           False, "d")
    assert dense.row_ptr.tolist() == [0, 3, 6] and dense.weight.tolist() == [0, 1, 2, 3, 4, 5]
    fp = build_synapses(FixedProbability(0.5, Normal(1.0, 0.0)), 50, 50, rng, True, "f")
    assert 900 < fp.num_synapses < 1600 and np.all(fp.weight == 1.0)
    rows = np.repeat(np.arange(50), np.diff(fp.row_ptr))
    assert not np.any(rows == fp.post)  # no self connections by default
    with pytest.raises(ModelError, match="sizes must be equal"):
        build_synapses(OneToOne(1.0), 2, 3, rng, False, "o")


def test_readout_names_and_poisson_input():
    n = LeakyIntegrateFire(readout="first_spike_time")
    assert isinstance(n.readout, FirstSpikeTime)
    p = PoissonInput(input_frames=2, input_frame_timesteps=5)
    assert p.is_input and p.input_frames == 2
