"""The GeNN objects mlGeNN scripts reach through to, answered by our engine.

mlGeNN hands unknown compiler keywords to GeNN, exposes the GeNN model as
``compiled_net.genn_model`` (kernel timers) and GeNN's synapse groups as
``compiled_net.connection_populations`` (``vars["g"]`` with
``pull_from_device`` / ``view`` / ``push_to_device``). Scripts that use these
run here unchanged: GeNN-only keywords are accepted and reported once as
ignored, the timers are our engine's own, and the variable views are numpy
views onto the weights the engine trains.

``DeviceSelect``/``BlockSizeSelect`` (``pygenn.cuda_backend``) and the GeNN 4
names ``DeviceSelect_MANUAL`` etc. (``pygenn.genn_wrapper.CUDABackend``) are
here so that the README's import rename covers scripts that import them.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator, Mapping
from enum import IntEnum
from typing import Any

import numpy as np

from app.model.errors import bad_arg


class DeviceSelect(IntEnum):
    """GeNN's CUDA device choice (``pygenn.cuda_backend.DeviceSelect``); ignored here."""

    OPTIMAL = 0
    MOST_MEMORY = 1
    MANUAL = 2


class BlockSizeSelect(IntEnum):
    """GeNN's CUDA block size choice (``pygenn.cuda_backend.BlockSizeSelect``); ignored here."""

    OCCUPANCY = 0
    MANUAL = 1


# GeNN 4's flat names (``pygenn.genn_wrapper.CUDABackend``).
DeviceSelect_OPTIMAL = DeviceSelect.OPTIMAL
DeviceSelect_MOST_MEMORY = DeviceSelect.MOST_MEMORY
DeviceSelect_MANUAL = DeviceSelect.MANUAL
BlockSizeSelect_OCCUPANCY = BlockSizeSelect.OCCUPANCY
BlockSizeSelect_MANUAL = BlockSizeSelect.MANUAL


class IgnoredGeNNArgumentWarning(UserWarning):
    """A compiler keyword that mlGeNN would pass on to GeNN was given and is ignored."""


def accept_genn_kwargs(owner: str, kwargs: Mapping[str, Any], own: Mapping[str, str],
                       elsewhere: Mapping[str, str]) -> dict[str, Any]:
    """Keywords a compiler does not know, accepted as mlGeNN accepts them (it passes
    them to GeNN as backend preferences such as ``device_select_method``).

    ``elsewhere`` maps the arguments of the other compilers to the one that has
    them; those raise (they mean the wrong compiler was picked). The rest are
    reported in ONE warning naming them (with the closest argument of ``own``
    when one looks like a typo) and returned.
    """
    ignored = {}
    for key, value in kwargs.items():
        if key in elsewhere:
            raise bad_arg(owner, key, value, f"this is an argument of {elsewhere[key]}, "
                                             f"not of {owner}; remove it or use {elsewhere[key]}")
        ignored[key] = value
    if ignored:
        hints = []
        for key in ignored:
            close = difflib.get_close_matches(key, list(own), n=1, cutoff=0.8)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        warnings.warn(
            f"{owner}: ignoring {', '.join(hints)}: mlGeNN passes unknown keywords on to "
            "GeNN as backend preferences (CUDA device and block-size selection and the "
            "like); Spike Studio's engine has no such settings",
            IgnoredGeNNArgumentWarning, stacklevel=3)
    return ignored


# ----- kernel timers ----------------------------------------------------------------------
#: Which of our engine's timers (``Profiler`` names) answer each GeNN timer.
NEURON_UPDATE = ("forward", "eprop_forward", "eprop_train")
PRESYNAPTIC_UPDATE = ("backward",)
#: GeNN custom-update groups mlGeNN creates, and the timers of ours doing that job.
#: Groups whose work happens inside our fused kernels report 0.0.
CUSTOM_UPDATES: dict[str, tuple[str, ...]] = {
    "Reset": ("reset",),
    "GradientBatchReduce": ("gradient_reduce",),
    "GradientLearn": ("optimiser",),
    "ZeroGradient": (),
    "BatchSoftmax1": ("loss",),
    "BatchSoftmax2": (),
    "BatchSoftmax3": (),
    "Softmax1": (),
    "Softmax2": (),
    "Softmax3": (),
    "TTFSReduce": (),
    "SpikeCountReduce": (),
    "ZeroOutPost": (),
    "DeepRInit": (),
    "DeepRL1": (),
    "DeepR1": (),
    "DeepR2": ("deep_r",),
}


class GeNNModelTimers:
    """``compiled_net.genn_model``: GeNN's kernel timers from our engine's own.

    Seconds spent (zero unless the compiler had ``kernel_profiling=True``, as in GeNN):

    * ``neuron_update_time``: the forward simulation kernel. Our engine updates the
      neurons and delivers their spikes in one fused loop, so this also holds what
      GeNN counts as presynaptic update in the forward pass (and, for e-prop, the
      eligibility traces GeNN updates as synapse dynamics).
    * ``presynaptic_update_time``: EventProp's backward kernel (the adjoint pass, which
      replays the spikes backwards through the synapses and accumulates the gradients);
      0 for e-prop and inference.
    * ``synapse_dynamics_time``: 0.0 (fused into the forward kernel, see above).
    * ``get_custom_update_time(name)``: ``"Reset"`` state reset between batches,
      ``"GradientBatchReduce"`` summing gradients over ranks, ``"GradientLearn"`` the
      optimiser step, ``"BatchSoftmax1"`` the loss on the readouts (softmax, first-spike
      times; ``"BatchSoftmax2/3"`` 0.0), ``"DeepR2"`` all of Deep R's rewiring;
      other groups mlGeNN creates (per-timestep ``"Softmax1..3"``, ``"TTFSReduce"``,
      ...) run inside our kernels and report 0.0. An unknown name raises, as in GeNN.
    """

    def __init__(self, compiled: Any) -> None:
        self._cn = compiled

    def _seconds(self, names: tuple[str, ...]) -> float:
        seconds = self._cn.sim.profiler.seconds
        return float(sum(seconds.get(n, 0.0) for n in names))

    @property
    def neuron_update_time(self) -> float:
        """Seconds in the forward simulation kernel (neurons and spike delivery, fused)."""
        return self._seconds(NEURON_UPDATE)

    @property
    def presynaptic_update_time(self) -> float:
        """Seconds in EventProp's backward (adjoint) kernel."""
        return self._seconds(PRESYNAPTIC_UPDATE)

    @property
    def postsynaptic_update_time(self) -> float:
        """Always 0.0: our engine has no postsynaptic learning phase."""
        return 0.0

    @property
    def synapse_dynamics_time(self) -> float:
        """Always 0.0: per-synapse dynamics run inside the forward kernel."""
        return 0.0

    @property
    def init_time(self) -> float:
        """Always 0.0: weights are initialised in numpy when the network compiles."""
        return 0.0

    def get_custom_update_time(self, name: str) -> float:
        """Seconds our engine spent on the job of GeNN custom-update group ``name``."""
        if name not in CUSTOM_UPDATES:
            raise RuntimeError(f"no custom update group {name!r}; groups mlGeNN creates: "
                               f"{', '.join(CUSTOM_UPDATES)}")
        return self._seconds(CUSTOM_UPDATES[name])

    @property
    def batch_size(self) -> int:
        """Examples each rank simulates per batch (GeNN's batch size)."""
        return int(self._cn.rank_batch_size)

    @property
    def dt(self) -> float:
        """Timestep in ms."""
        return float(self._cn.dt)


# ----- connection variables ---------------------------------------------------------------
class SynapseVariable:
    """One per-synapse variable of a connection: ``view`` is a numpy view onto the
    engine's array (Dense connections: row-major [pre, post] flattened, as GeNN
    stores them; others: one entry per synapse in CSR order)."""

    def __init__(self, compiled: Any, conn_name: str, array: np.ndarray) -> None:
        self._cn = compiled
        self._conn = conn_name
        self._array = array

    @property
    def view(self) -> np.ndarray:
        """The values, writable in place (call ``push_to_device`` after writing)."""
        return self._array[self._cn.layout.conn_slice(self._conn)]

    @property
    def values(self) -> np.ndarray:
        """A copy of the values."""
        return self.view.copy()

    @values.setter
    def values(self, new: Any) -> None:
        self.view[...] = np.asarray(new, dtype=self.view.dtype).reshape(self.view.shape)

    def pull_from_device(self) -> None:
        """Nothing to copy: the engine's arrays live in host memory."""

    def push_to_device(self) -> None:
        """Make the engine use values written into ``view``."""
        if hasattr(self._cn.sim, "refresh_weights"):
            self._cn.sim.refresh_weights()


class ConnectionPopulation:
    """``compiled_net.connection_populations[conn]``: a connection's variables
    (``vars["g"]`` weights, ``vars["d"]`` delays in timesteps)."""

    def __init__(self, compiled: Any, conn: Any) -> None:
        self.name = conn.name
        lay = compiled.layout
        self.vars = {"g": SynapseVariable(compiled, conn.name, lay.weights),
                     "d": SynapseVariable(compiled, conn.name, lay.delays)}


class ConnectionPopulations(Mapping):
    """``{Connection: ConnectionPopulation}`` for every connection of a compiled network
    (Connection objects and their names are both accepted as keys)."""

    def __init__(self, compiled: Any) -> None:
        self._cn = compiled
        self._by_name = {c.name: (c, ConnectionPopulation(compiled, c))
                         for c in compiled.layout.connections}

    def __getitem__(self, key: Any) -> ConnectionPopulation:
        conn = getattr(key, "connection", key)  # a Layer stands for its incoming connection
        name = conn if isinstance(conn, str) else getattr(conn, "name", None)
        if name not in self._by_name:
            raise KeyError(f"no connection {name!r} in this compiled network")
        return self._by_name[name][1]

    def __iter__(self) -> Iterator[Any]:
        return (c for c, _ in self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


__all__ = [
    "BlockSizeSelect", "BlockSizeSelect_MANUAL", "BlockSizeSelect_OCCUPANCY",
    "ConnectionPopulation", "ConnectionPopulations", "CUSTOM_UPDATES", "DeviceSelect",
    "DeviceSelect_MANUAL", "DeviceSelect_MOST_MEMORY", "DeviceSelect_OPTIMAL",
    "GeNNModelTimers", "IgnoredGeNNArgumentWarning", "SynapseVariable", "accept_genn_kwargs",
]
