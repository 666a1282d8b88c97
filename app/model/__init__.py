"""What a network is: populations, connections and their models (no Qt, no numba).

The public shape follows mlGeNN so scripts move over by renaming imports.
"""

from . import connectivity, initializers, neurons, readouts, synapses
from .errors import ModelError
from .network import Connection, InputLayer, Layer, Network, Population, SequentialNetwork

__all__ = ["Network", "SequentialNetwork", "Population", "InputLayer", "Layer", "Connection",
           "ModelError", "neurons", "synapses", "connectivity", "initializers", "readouts"]
