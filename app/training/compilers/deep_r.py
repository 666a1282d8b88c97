"""Deep R rewiring (Bellec et al. 2018) of sparse connections, as mlGeNN does it.

mlGeNN's ``deep_r_conns`` keeps the number of synapses of a connection fixed
while training moves them around:

* at the start of epoch 0 every synapse is labelled excitatory or inhibitory by
  the sign of its weight; every absent synapse gets a random label;
* each batch, before the optimiser step, L1 regularisation ``deep_r_l1_strength``
  is added to the gradient of every synapse, pushing its weight towards zero
  (mlGeNN adds it in every batch slot before summing the gradient over the
  batch, so the step sees ``batch_size * l1_strength``);
* after the step, every synapse whose weight sign no longer matches its label
  is removed ("dormant"); as many new synapses are then created at random
  absent positions: each goes to a uniformly drawn row (presynaptic neuron)
  that still has room below GeNN's row capacity (a full row is a failed
  rewiring and another row is drawn), then to a uniformly drawn free column.
  A new synapse starts with weight 0 and fresh state (optimiser moments and,
  in e-prop, eligibility traces).
* ``deep_r_record_rewirings={conn: key}`` puts ``(rewirings, failed rewirings)``
  of every batch into the training callback data under ``key``.

Our engine keeps the arrays of a compiled network fixed, so a Deep R
connection is compiled with room for every pre x post pair; absent synapses
hold weight 0, get no gradient and no optimiser step, which is what removing
them does in GeNN. The random draws are ours (seeded with ``rng_seed``), not
GeNN's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.model import Connection, Population
from app.model.connectivity import Dense, FixedProbability, SynapseTable
from app.model.conv import KERNEL_CONNECTIVITY
from app.model.errors import bad_arg

from ..engine.layout import Layout


def underlying_connection(item: Any, owner: str, arg: str) -> Connection:
    """The Connection a ``deep_r_conns`` entry means (a Layer means its incoming one)."""
    conn = getattr(item, "connection", item) if isinstance(item, Population) else item
    if not isinstance(conn, Connection):
        raise bad_arg(owner, arg, item, "Connections or Layers of the network")
    return conn


def binomial_inverse_cdf(cdf: float, n: int, p: float) -> int:
    """Smallest k with P(Binomial(n, p) <= k) >= cdf."""
    if p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    total = 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    for k in range(n + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                          + k * log_p + (n - k) * log_q)
        if total >= cdf:
            return k
    return n


def row_capacity(conn: Connection, table: SynapseTable) -> int:
    """Synapses a row may hold: GeNN's row stride (for FixedProbability the 0.9999
    quantile of the largest of n_pre binomial row lengths), at least the longest
    row there is."""
    n_pre, n_post = conn.source.num_neurons, conn.target.num_neurons
    longest = int(np.diff(table.row_ptr).max()) if n_pre else 0
    if isinstance(conn.connectivity, FixedProbability):
        stride = binomial_inverse_cdf(0.9999 ** (1.0 / max(n_pre, 1)), n_post,
                                      conn.connectivity.p)
    elif isinstance(conn.connectivity, Dense):
        stride = n_post
    else:
        stride = longest
    return max(stride, longest)


@dataclass
class _Conn:
    """Deep R state of one connection (all arrays over the n_pre x n_post positions)."""

    name: str
    n_pre: int
    n_post: int
    capacity: int
    active: np.ndarray  # bool
    inhibitory: np.ndarray  # bool
    record_key: Any = None
    history: list = field(default_factory=list)
    last: tuple[int, int] = (0, 0)


class DeepR:
    """Deep R for some connections of one compiled network (see the module docstring)."""

    def __init__(self, conns: Iterable[Any], l1_strength: float,
                 record: Mapping[Any, Any] | None, rng_seed: int, owner: str) -> None:
        self.owner = owner
        self.conns = [underlying_connection(c, owner, "deep_r_conns") for c in conns]
        if isinstance(l1_strength, bool) or not isinstance(l1_strength, (int, float)) \
                or not np.isfinite(l1_strength) or l1_strength < 0:
            raise bad_arg(owner, "deep_r_l1_strength", l1_strength, "a number >= 0")
        self.l1_strength = float(l1_strength)
        self.record = {}
        for k, v in (record or {}).items():
            conn = underlying_connection(k, owner, "deep_r_record_rewirings")
            if conn not in self.conns:
                raise bad_arg(owner, "deep_r_record_rewirings", conn.name,
                              "only connections listed in deep_r_conns rewire")
            self.record[conn.name] = v
        self.rng = np.random.default_rng([int(rng_seed), 0xDEE9])
        self.state: dict[str, _Conn] = {}
        self.initialised = False

    def __bool__(self) -> bool:
        return bool(self.conns)

    def problems(self) -> list[tuple[str, str]]:
        """(connection, message) for connections Deep R cannot rewire."""
        out = []
        for c in self.conns:
            if c.max_delay_steps is not None:
                out.append((c.name, "Deep R cannot rewire a connection with learnt delays"))
            if isinstance(c.connectivity, KERNEL_CONNECTIVITY):
                out.append((c.name, f"Deep R rewires single synapses; the weights of "
                                    f"{type(c.connectivity).__name__} are a shared kernel "
                                    "or fixed"))
            elif isinstance(c.connectivity, Dense):
                out.append((c.name, "Deep R rewires sparse connectivity only (as GeNN, which "
                                    "attaches it to SPARSE synapse groups; mlGeNN builds "
                                    "Dense as DENSE): use FixedProbability"))
        return out

    # ----- compile ----------------------------------------------------------------------
    def expand(self, layout: Layout) -> Layout:
        """A layout in which every Deep R connection has a slot for each pre x post
        pair (absent ones with weight 0), so synapses can move without new arrays."""
        names = {c.name for c in self.conns}
        for n in names:
            if n not in layout.conn_index:
                raise bad_arg(self.owner, "deep_r_conns", n, "a connection of this network")
        tables = dict(layout.tables)
        rps, posts, ws, ds = [], [], [], []
        conn_i = layout.conn_i.copy()
        w_off = rp_off = 0
        for c, conn in enumerate(layout.connections):
            table = layout.tables[conn.name]
            if conn.name in names:
                n_pre, n_post = conn.source.num_neurons, conn.target.num_neurons
                pre = np.repeat(np.arange(n_pre), np.diff(table.row_ptr))
                flat = pre * n_post + table.post.astype(np.int64)
                active = np.zeros(n_pre * n_post, bool)
                active[flat] = True
                weight = np.zeros(n_pre * n_post, np.float32)
                weight[flat] = table.weight
                delay = np.zeros(n_pre * n_post, np.float32)
                delay[flat] = table.delay
                self.state[conn.name] = _Conn(
                    conn.name, n_pre, n_post, row_capacity(conn, table), active,
                    np.zeros(n_pre * n_post, bool), self.record.get(conn.name))
                table = SynapseTable(np.arange(n_pre + 1, dtype=np.int64) * n_post,
                                     np.tile(np.arange(n_post, dtype=np.int32), n_pre),
                                     weight, delay)
                tables[conn.name] = table
            conn_i[c, 3] = w_off
            conn_i[c, 4] = rp_off
            rps.append(table.row_ptr)
            posts.append(table.post)
            ws.append(table.weight)
            ds.append(table.delay)
            w_off += table.num_synapses
            rp_off += table.row_ptr.shape[0]

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return replace(layout, conn_i=conn_i, row_ptr=cat(rps, np.int64),
                       syn_post=cat(posts, np.int32), weights=cat(ws, np.float32),
                       delays=cat(ds, np.float32), tables=tables)

    def callbacks(self) -> list:
        """Base training callbacks: labelling at epoch 0 and the rewiring records."""
        out: list = [_DeepRInit(self)]
        out += [RewiringRecord(self, s.name, s.record_key) for s in self.state.values()
                if s.record_key is not None]
        return out

    # ----- training ---------------------------------------------------------------------
    def _weights(self, cn: Any, name: str) -> Any:
        for t in cn.trainables:
            if t.name == name and t.kind == "weight":
                return t
        raise KeyError(f"connection '{name}' has no trained weights")

    def initialise(self, cn: Any) -> None:
        """Label synapses by weight sign, absent positions at random (epoch 0)."""
        for s in self.state.values():
            w = self._weights(cn, s.name).param
            s.inhibitory[:] = self.rng.random(s.inhibitory.shape[0]) < 0.5
            s.inhibitory[s.active] = w[s.active] < 0.0
        self.initialised = True

    def before_step(self, cn: Any) -> None:
        """Absent synapses get no gradient; present ones get L1 towards zero."""
        if not self.initialised:
            self.initialise(cn)
        c = np.float32(self.l1_strength * cn.batch_size)
        for s in self.state.values():
            g = self._weights(cn, s.name).total
            g[~s.active] = 0.0
            if c:
                g[s.active & ~s.inhibitory] += c
                g[s.active & s.inhibitory] -= c

    def after_step(self, cn: Any) -> None:
        """Remove synapses whose sign flipped and recreate as many at random."""
        t0 = time.perf_counter()
        for s in self.state.values():
            t = self._weights(cn, s.name)
            w = t.param
            dormant = s.active & ((w < 0.0) != s.inhibitory)
            s.active[dormant] = False
            new = self._rewire(s, int(dormant.sum()))
            changed = np.flatnonzero(dormant | new)
            w[changed] = 0.0
            for arr in t.state.values():
                if isinstance(arr, np.ndarray) and arr.shape == w.shape:
                    arr[changed] = 0
            if changed.size and hasattr(cn.sim, "zero_synapse_state"):
                start = cn.layout.conn_slice(s.name).start
                cn.sim.zero_synapse_state(start + np.flatnonzero(new))
            w[~s.active] = 0.0
        cn.sim.profiler.add("deep_r", t0)

    def _rewire(self, s: _Conn, dormant: int) -> np.ndarray:
        """GeNN's DeepR2: place ``dormant`` new synapses; returns the new-synapse mask."""
        new = np.zeros_like(s.active)
        lengths = s.active.reshape(s.n_pre, s.n_post).sum(axis=1)
        room = s.capacity - lengths
        failed = 0
        activations = np.zeros(s.n_pre, np.int64)
        if dormant and room.sum() < dormant:
            raise RuntimeError(f"Deep R on '{s.name}': no room left for {dormant} synapses")
        remaining = dormant
        while remaining:
            rows = self.rng.integers(0, s.n_pre, remaining)
            for i in rows:
                if activations[i] < room[i]:
                    activations[i] += 1
                    remaining -= 1
                else:
                    failed += 1
        for i in np.flatnonzero(activations):
            row = s.active[i * s.n_post:(i + 1) * s.n_post]
            free = np.flatnonzero(~row)
            cols = self.rng.choice(free, int(activations[i]), replace=False)
            row[cols] = True
            new[i * s.n_post + cols] = True
        s.last = (dormant, failed)
        return new

    # ----- what the compiled network reports -------------------------------------------
    def active_mask(self, name: str) -> np.ndarray | None:
        """Present synapses of a Deep R connection (row-major pre x post), else None."""
        s = self.state.get(name)
        return None if s is None else s.active

    # ----- checkpoints ------------------------------------------------------------------
    def checkpoint_arrays(self, cn: Any) -> dict[tuple[str, str], np.ndarray]:
        """``(object, variable) -> array``: what a resumed run needs besides the weights
        ``save`` writes and the optimiser moments: which synapses are present, their
        labels, every slot's weight (``save`` keeps only the present ones, which land
        in the connection's original positions when reloaded) and the random
        generator of the rewiring draws. mlGeNN's checkpoints keep none of this."""
        out: dict[tuple[str, str], np.ndarray] = {
            ("deep_r", "rng"): _rng_words(self.rng),
            ("deep_r", "initialised"): np.array(self.initialised)}
        for s in self.state.values():
            out[(f"deep_r.{s.name}", "active")] = s.active
            out[(f"deep_r.{s.name}", "inhibitory")] = s.inhibitory
            out[(f"deep_r.{s.name}", "weight")] = self._weights(cn, s.name).param
        return out

    def restore(self, data: Mapping[str, Mapping[str, np.ndarray]], cn: Any) -> None:
        """Put back what :meth:`checkpoint_arrays` saved (``data`` as a serialiser's
        ``deserialise_all`` returns it); the weights go into the compiled network."""
        def get(obj: str, var: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
            arr = data.get(obj, {}).get(var)
            if arr is None:
                raise KeyError(f"the checkpoint has no Deep R '{var}' of '{obj}': it was not "
                               "saved by a network rewiring these connections")
            if shape is not None and arr.shape != shape:
                raise ValueError(f"Deep R '{var}' of '{obj}' in the checkpoint has shape "
                                 f"{arr.shape}; the compiled network needs {shape}")
            return arr

        for s in self.state.values():
            n = (s.n_pre * s.n_post,)
            s.active[:] = get(f"deep_r.{s.name}", "active", n)
            s.inhibitory[:] = get(f"deep_r.{s.name}", "inhibitory", n)
            self._weights(cn, s.name).param[:] = get(f"deep_r.{s.name}", "weight", n)
        self.rng.bit_generator.state = _rng_state(get("deep_r", "rng", (6,)))
        self.initialised = bool(get("deep_r", "initialised"))


_LOW = (1 << 64) - 1


def _rng_words(rng: np.random.Generator) -> np.ndarray:
    """A PCG64 generator's state as six uint64 words (a checkpoint holds arrays only)."""
    st = rng.bit_generator.state
    return np.array([st["state"]["state"] & _LOW, st["state"]["state"] >> 64,
                     st["state"]["inc"] & _LOW, st["state"]["inc"] >> 64,
                     st["has_uint32"], st["uinteger"]], np.uint64)


def _rng_state(words: np.ndarray) -> dict[str, Any]:
    """The inverse of :func:`_rng_words`."""
    w = [int(v) for v in words]
    return {"bit_generator": "PCG64", "state": {"state": w[0] | (w[1] << 64),
                                                "inc": w[2] | (w[3] << 64)},
            "has_uint32": w[4], "uinteger": w[5]}


class _DeepRInit:
    """mlGeNN's DeepRInit: label synapses at the start of epoch 0."""

    def __init__(self, deep_r: DeepR) -> None:
        self._deep_r = deep_r
        self._cn: Any = None

    def set_params(self, compiled_network: Any = None, **kwargs: Any) -> None:
        self._cn = compiled_network

    def on_epoch_begin(self, epoch: int) -> None:
        if epoch == 0:
            self._deep_r.initialise(self._cn)


class RewiringRecord:
    """Appends ``(rewirings, failed rewirings)`` of every batch under ``key``."""

    def __init__(self, deep_r: DeepR, conn_name: str, key: Any) -> None:
        self._deep_r = deep_r
        self._conn = conn_name
        self.key = key
        self._data: list = []

    def set_params(self, data: dict, **kwargs: Any) -> None:
        data[self.key] = []
        self._data = data[self.key]

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        self._data.append(self._deep_r.state[self._conn].last)

    def get_data(self) -> tuple[Any, list]:
        return self.key, self._data


__all__ = ["DeepR", "RewiringRecord", "binomial_inverse_cdf", "row_capacity",
           "underlying_connection"]
