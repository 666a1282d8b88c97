"""Reading, writing and saving a compiled network's weights, delays and structure.

A mixin of :class:`~app.training.compiled.network.CompiledNetwork`: it uses the
network's ``layout`` (the engine's flat arrays) and ``network`` (the model).
"""

from __future__ import annotations

import numpy as np

from app.model import Connection
from app.model.errors import bad_arg

from ..serialisers import Serialiser, get_serialiser


class WeightAccess:
    """mlGeNN's weight API on the engine's arrays: ``get_weights``/``set_weights``,
    ``get_delays``, ``save`` and ``save_connectivity``."""

    def _present(self, name: str) -> np.ndarray | None:
        """Which synapse slots of a Deep R connection hold a synapse (None otherwise)."""
        deep_r = getattr(self, "deep_r", None)
        return None if deep_r is None else deep_r.active_mask(name)


    def _conn(self, conn: Connection | str) -> Connection:
        name = conn if isinstance(conn, str) else conn.name
        if name not in self.layout.conn_index:
            raise KeyError(f"no connection named {name!r} in this network")
        return self.layout.connections[self.layout.conn_index[name]]

    def get_weights(self, conn: Connection | str) -> np.ndarray:
        """Current weights: [pre, post] for Dense, per synapse otherwise (for a Deep R
        connection: its present synapses, ordered by pre then post)."""
        name = self._conn(conn).name
        present = self._present(name)
        if present is not None:
            return self.layout.weights[self.layout.conn_slice(name)][present].copy()
        return self.layout.get_weights(name)

    def set_weights(self, conn: Connection | str, weights: np.ndarray) -> None:
        """Overwrite a connection's weights (same shape as get_weights)."""
        c = self._conn(conn)
        kernel = self.layout.kernels.get(c.name)
        if kernel is not None:
            w = np.asarray(weights, np.float32).reshape(-1)
            if w.shape[0] != kernel.shape[0]:
                raise bad_arg(f"set_weights('{c.name}')", "weights", np.shape(weights),
                              f"the kernel of shape {self.layout.tables[c.name].kernel_shape}"
                              " is required")
            kernel[:] = w
            self.layout.sync_kernels([c.name])
            return
        sl = self.layout.conn_slice(c.name)
        present = self._present(c.name)
        w = np.asarray(weights, np.float32).reshape(-1)
        need = sl.stop - sl.start if present is None else int(present.sum())
        if w.shape[0] != need:
            raise bad_arg(f"set_weights('{c.name}')", "weights", np.shape(weights),
                          f"{need} values are required")
        if present is None:
            self.layout.weights[sl] = w
        else:
            self.layout.weights[sl][present] = w
        if hasattr(self.sim, "refresh_weights"):  # a device backend's copy, e-prop's
            self.sim.refresh_weights()

    def get_delays(self, conn: Connection | str) -> np.ndarray:
        """Current per-synapse delays in steps."""
        c = self._conn(conn)
        d = self.layout.delays[self.layout.conn_slice(c.name)].copy()
        if c.connectivity.is_dense_layout:
            return d.reshape(c.source.num_neurons, c.target.num_neurons)
        return d

    def save(self, keys: tuple = (), serialiser: str | Serialiser = "numpy") -> None:
        """Serialise every connection's weights and delays (and trained biases)."""
        ser = get_serialiser(serialiser)
        for c in self.layout.connections:
            ser.serialise(tuple(keys) + (c.name, "g"), self.get_weights(c))
            if self.layout.tables[c.name].delay.any() or c.max_delay_steps is not None:
                ser.serialise(tuple(keys) + (c.name, "d"), self.get_delays(c))
        for p in self.outputs:
            if hasattr(p.neuron, "bias"):
                ser.serialise(tuple(keys) + (p.name, "Bias"),
                              self.layout.bias[self.layout.pop_slice(p.name)].copy())

    def save_connectivity(self, keys: tuple = (), serialiser: str | Serialiser = "numpy") -> None:
        """Serialise the synapse structure (pre/post indices per synapse) and the weights."""
        ser = get_serialiser(serialiser)
        for c in self.layout.connections:
            table = self.layout.tables[c.name]
            present = self._present(c.name)
            if present is not None:
                flat = np.flatnonzero(present)
                pre = (flat // c.target.num_neurons).astype(np.int32)
                post = (flat % c.target.num_neurons).astype(np.int32)
            else:
                pre = np.repeat(np.arange(c.source.num_neurons, dtype=np.int32),
                                np.diff(table.row_ptr).astype(np.int64))
                post = table.post.astype(np.int32)
            ser.serialise(tuple(keys) + (c.name, "pre_ind"), pre)
            ser.serialise(tuple(keys) + (c.name, "post_ind"), post)
        self.save(keys, ser)
