"""Networks, populations and connections (mlGeNN's public shape).

Objects created inside ``with network:`` join that network and pick up its
``default_params``; ``SequentialNetwork`` chains ``InputLayer``/``Layer``.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

from .connectivity import Connectivity
from .errors import ModelError, bad_arg
from .neurons import Neuron
from .params import pop_defaults, push_defaults
from .synapses import Synapse, get_synapse

_NETWORK_STACK: list[Network] = []
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _current_network(owner: str) -> Network:
    if not _NETWORK_STACK:
        raise ModelError(f"{owner} must be created inside 'with network:' "
                         "(a Network or SequentialNetwork context)")
    return _NETWORK_STACK[-1]


def _shape(owner: str, shape: Any) -> tuple[int, ...] | None:
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if (not isinstance(shape, (tuple, list)) or not shape
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                       for s in shape)):
        raise bad_arg(owner, "shape", shape, "a positive integer or tuple of positive integers")
    return tuple(int(s) for s in shape)


class Population:
    """A group of identical neurons.

    ``shape`` may be left out (None) when an incoming connection's connectivity
    determines it (Conv2D, pooling, OneToOne, Dense with a weight array).
    """

    def __init__(self, neuron: Neuron, shape: Any = None, record_spikes: bool = False,
                 name: str | None = None) -> None:
        net = _current_network("Population")
        if not isinstance(neuron, Neuron):
            raise bad_arg("Population", "neuron", neuron,
                          "a neuron object such as LeakyIntegrateFire() is required")
        self.neuron = neuron
        self.shape = _shape("Population", shape)
        self.record_spikes = bool(record_spikes)
        self.name = net._unique_name(name, "Pop", "Population")
        self.incoming_connections: list[Connection] = []
        self.outgoing_connections: list[Connection] = []
        net.populations.append(self)

    @property
    def num_neurons(self) -> int:
        """Total number of neurons (product of shape)."""
        if self.shape is None:
            raise ModelError(f"population '{self.name}' has no shape: give shape=... or "
                             "connect it with a connectivity that infers it (Conv2D, "
                             "pooling, OneToOne, or Dense with a weight array)")
        return int(np.prod(self.shape))

    def __repr__(self) -> str:
        return f"Population({self.name!r}, {self.neuron!r}, shape={self.shape})"


class Connection:
    """Synapses from ``source`` to ``target`` population."""

    def __init__(self, source: Population, target: Population, connectivity: Connectivity,
                 synapse: str | Synapse = "delta", name: str | None = None,
                 max_delay_steps: int | None = None) -> None:
        net = _current_network("Connection")
        for arg, pop in (("source", source), ("target", target)):
            if not isinstance(pop, Population):
                raise bad_arg("Connection", arg, pop, "a Population of this network is required")
            if pop not in net.populations:
                raise bad_arg("Connection", arg, pop.name, "the population belongs to "
                              "another network")
        if target.neuron.is_input:
            raise bad_arg("Connection", "target", target.name,
                          "an input population cannot receive connections")
        if not isinstance(connectivity, Connectivity):
            raise bad_arg("Connection", "connectivity", connectivity,
                          "allowed: Dense(...), FixedProbability(...), OneToOne(...), "
                          "Conv2D(...), Conv2DTranspose(...), AvgPool2D(...), "
                          "AvgPoolConv2D(...), AvgPoolDense2D(...)")
        connectivity.connect(source, target)
        self.source = source
        self.target = target
        self.connectivity = connectivity
        self.synapse = get_synapse(synapse)
        if max_delay_steps is not None and (not isinstance(max_delay_steps, (int, np.integer))
                                            or max_delay_steps < 0):
            raise bad_arg("Connection", "max_delay_steps", max_delay_steps,
                          "a non-negative integer or None")
        self.max_delay_steps = None if max_delay_steps is None else int(max_delay_steps)
        self.name = net._unique_name(name, f"Conn_{source.name}_{target.name}", "Connection")
        source.outgoing_connections.append(self)
        target.incoming_connections.append(self)
        net.connections.append(self)

    def __repr__(self) -> str:
        return (f"Connection({self.name!r}, {self.source.name}->{self.target.name}, "
                f"{self.connectivity!r}, {self.synapse!r})")


class Network:
    """A set of populations and connections; use as ``with network: ...``."""

    def __init__(self, default_params: dict | None = None) -> None:
        if default_params is None:
            default_params = {}
        if not isinstance(default_params, dict):
            raise bad_arg("Network", "default_params", default_params,
                          "a dict {model class: {argument: value}} is required")
        self.default_params = default_params
        self.populations: list[Population] = []
        self.connections: list[Connection] = []
        self._counter = itertools.count()

    def _unique_name(self, name: str | None, prefix: str, owner: str) -> str:
        taken = {p.name for p in self.populations} | {c.name for c in self.connections}
        if name is None:
            while True:
                name = f"{prefix}{next(self._counter)}" if prefix == "Pop" else prefix
                if name not in taken:
                    return name
                prefix = f"{prefix}_" if prefix != "Pop" else prefix
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise bad_arg(owner, "name", name, "letters, digits and '_', not starting "
                          "with a digit")
        if name in taken:
            raise bad_arg(owner, "name", name, "names must be unique within a network")
        return name

    def __enter__(self) -> Network:
        _NETWORK_STACK.append(self)
        push_defaults(self.default_params)
        return self

    def __exit__(self, *exc: object) -> None:
        pop_defaults()
        _NETWORK_STACK.pop()

    def get_population(self, name: str) -> Population:
        """The population called ``name``."""
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"no population named {name!r}")

    def get_connection(self, name: str) -> Connection:
        """The connection called ``name``."""
        for c in self.connections:
            if c.name == name:
                return c
        raise KeyError(f"no connection named {name!r}")

    def load(self, keys: tuple = (), serialiser: Any = "numpy") -> None:
        """Set every connection's weights (and delays) from a serialised checkpoint."""
        from app.training.serialisers import get_serialiser

        ser = get_serialiser(serialiser)
        data = ser.deserialise_all(keys)
        for conn in self.connections:
            if conn.name in data:
                entry = data[conn.name]
                if "weight" in entry:
                    conn.connectivity.weight = np.asarray(entry["weight"], dtype=np.float32)
                if "delay" in entry:
                    conn.connectivity.delay = np.asarray(entry["delay"], dtype=np.float32)
        for pop in self.populations:
            entry = data.get(pop.name)
            if entry and "bias" in entry and hasattr(pop.neuron, "bias"):
                pop.neuron.bias = np.asarray(entry["bias"], dtype=np.float32)


class SequentialNetwork(Network):
    """A chain of layers; each ``Layer`` connects from the previous one."""

    def __init__(self, default_params: dict | None = None) -> None:
        super().__init__(default_params)
        self.layers: list[Population] = []


class InputLayer(Population):
    """The first layer of a SequentialNetwork."""

    def __init__(self, neuron: Neuron, shape: Any, record_spikes: bool = False,
                 name: str | None = None) -> None:
        net = _current_network("InputLayer")
        if not isinstance(net, SequentialNetwork):
            raise ModelError("InputLayer must be created inside 'with SequentialNetwork():'")
        if net.layers:
            raise ModelError("InputLayer: a SequentialNetwork has exactly one input layer, "
                             "created first")
        super().__init__(neuron, shape, record_spikes, name)
        net.layers.append(self)


class Layer(Population):
    """A population connected from the previous layer of a SequentialNetwork."""

    def __init__(self, connectivity: Connectivity, neuron: Neuron, shape: Any = None,
                 synapse: str | Synapse = "delta", record_spikes: bool = False,
                 name: str | None = None) -> None:
        net = _current_network("Layer")
        if not isinstance(net, SequentialNetwork):
            raise ModelError("Layer must be created inside 'with SequentialNetwork():'")
        if not net.layers:
            raise ModelError("Layer: create the InputLayer first")
        prev = net.layers[-1]
        super().__init__(neuron, shape, record_spikes, name)
        try:
            self.connection = Connection(prev, self, connectivity, synapse)
        except Exception:
            net.populations.remove(self)
            raise
        if self.shape is None:
            # the connectivity could not infer it (Dense with an initializer): keep the
            # previous layer's shape, as this library always has
            self.shape = prev.shape
        net.layers.append(self)
