"""Flatten a model.Network into the arrays the CPU kernels run on.

Every population gets a range of global neuron ids; every connection becomes
CSR rows of synapses in one flat weight array; synapses with the same kind of
input model into one population share an input buffer (as GeNN merges them),
so the summation order matches mlGeNN's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import SynapseTable, build_synapses
from app.model.initializers import materialise
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    IntegrateFire,
    IntegrateFireInput,
    LeakyIntegrate,
    LeakyIntegrateFire,
    PoissonInput,
    SpikeInput,
)
from app.model.readouts import (
    AvgVar,
    AvgVarExpWeight,
    FirstSpikeTime,
    MaxVar,
    SpikeCount,
    SumVar,
    Var,
)
from app.model.synapses import Exponential

# Population type codes (column P_TYPE of pop_i).
SPIKE_INPUT, POISSON_INPUT, LIF, ALIF, LI = 0, 1, 2, 3, 4
# Readout codes.
RO_NONE, RO_VAR, RO_SUM, RO_AVG, RO_AVG_EXP, RO_MAX, RO_COUNT, RO_FIRST = range(-1, 7)
READOUT_CODES = {Var: RO_VAR, SumVar: RO_SUM, AvgVar: RO_AVG, AvgVarExpWeight: RO_AVG_EXP,
                 MaxVar: RO_MAX, SpikeCount: RO_COUNT, FirstSpikeTime: RO_FIRST}

# Integer columns of pop_i.
P_START, P_END, P_TYPE, P_REL_RESET, P_IDR, P_HAS_REFRAC, P_READOUT, P_EVENTS = range(8)
N_PI = 8
# Float columns of pop_f.
(F_ALPHA, F_ISCALE, F_VTH, F_VRESET, F_TREFRAC, F_RHO, F_BETA_A, F_IMV_SCALE,
 F_TAU_MEM, F_TAU_SYN) = range(10)
N_PF = 10


@dataclass
class Layout:
    """All static arrays describing a network for the kernels."""

    populations: list[Population]
    connections: list[Connection]
    pop_index: dict[str, int]
    conn_index: dict[str, int]
    n_neurons: int
    pop_i: np.ndarray  # (P, N_PI) int64
    pop_f: np.ndarray  # (P, N_PF) float32
    bias: np.ndarray  # (N,) float32
    v_init: np.ndarray  # (N,) float32
    a_init: np.ndarray  # (N,) float32
    # synapse groups (merged input buffers)
    grp_i: np.ndarray  # (G, 4) int64: pop, type (0 delta, 1 exp), slot offset, n
    grp_f: np.ndarray  # (G, 2) float32: beta (decay), iscale
    n_slots: int
    # connections
    conn_i: np.ndarray  # (C, 6) int64: pre pop, post pop, group, w_off, rp_off, has_delay
    conn_f: np.ndarray  # (C, 1) float32: tau_syn (for EventProp gradients)
    row_ptr: np.ndarray  # flat (sum n_pre+1) int64, relative to w_off
    syn_post: np.ndarray  # (S,) int32 local post index
    weights: np.ndarray  # (S,) float32
    delays: np.ndarray  # (S,) float32 (steps, may be fractional for learnt delays)
    max_delay: int
    tables: dict[str, SynapseTable] = field(default_factory=dict)
    # tied convolution kernels: connection -> flat kernel (the trained values; the
    # connection's slice of ``weights`` is kept equal to kernel[table.kernel_index])
    kernels: dict[str, np.ndarray] = field(default_factory=dict)

    def sync_kernels(self, names: list[str] | None = None) -> None:
        """Copy tied kernels into the per-synapse weights (after they changed)."""
        for name in (self.kernels if names is None else names):
            self.weights[self.conn_slice(name)] = self.kernels[name][
                self.tables[name].kernel_index]

    def kernel_grad(self, name: str, synapse_grad: np.ndarray) -> np.ndarray:
        """Sum per-synapse gradients of a tied connection onto its kernel entries."""
        table = self.tables[name]
        return np.bincount(table.kernel_index, weights=synapse_grad,
                           minlength=self.kernels[name].shape[0]).astype(np.float32)

    def conn_slice(self, name: str) -> slice:
        """Slice of the flat weight array holding connection ``name``."""
        c = self.conn_index[name]
        start = int(self.conn_i[c, 3])
        return slice(start, start + self.tables[name].num_synapses)

    def pop_slice(self, name: str) -> slice:
        """Global neuron-id range of population ``name``."""
        p = self.pop_index[name]
        return slice(int(self.pop_i[p, P_START]), int(self.pop_i[p, P_END]))

    def get_weights(self, name: str) -> np.ndarray:
        """Weights of a connection: dense [pre, post] for Dense, the kernel for tied
        convolutions, per synapse otherwise."""
        if name in self.kernels:
            return self.kernels[name].reshape(self.tables[name].kernel_shape).copy()
        w = self.weights[self.conn_slice(name)]
        conn = self.connections[self.conn_index[name]]
        if conn.connectivity.is_dense_layout:
            return w.reshape(conn.source.num_neurons, conn.target.num_neurons).copy()
        return w.copy()


def _tau_syn(pop: Population) -> float:
    taus = {c.synapse.tau for c in pop.incoming_connections if isinstance(c.synapse, Exponential)}
    return float(next(iter(taus))) if len(taus) == 1 else 0.0


def build_layout(network: Network, dt: float, rng: np.random.Generator,
                 event_pops: set[str] | None = None, tie_kernels: bool = True) -> Layout:
    """Instantiate weights/delays/initial values and flatten the network.

    ``tie_kernels``: convolution weights stay one shared kernel per connection
    (``Layout.kernels``); False gives independent per-synapse weights.
    """
    pops = list(network.populations)
    conns = list(network.connections)
    pop_index = {p.name: i for i, p in enumerate(pops)}
    P = len(pops)
    pop_i = np.zeros((P, N_PI), dtype=np.int64)
    pop_f = np.zeros((P, N_PF), dtype=np.float32)
    n = 0
    for i, p in enumerate(pops):
        pop_i[i, P_START] = n
        n += p.num_neurons
        pop_i[i, P_END] = n
    bias = np.zeros(n, dtype=np.float32)
    v_init = np.zeros(n, dtype=np.float32)
    a_init = np.zeros(n, dtype=np.float32)
    for i, p in enumerate(pops):
        nrn = p.neuron
        s, e = pop_i[i, P_START], pop_i[i, P_END]
        shape = (p.num_neurons,)
        pop_i[i, P_READOUT] = READOUT_CODES.get(type(nrn.readout), RO_NONE)
        pop_i[i, P_EVENTS] = 1 if (event_pops is not None and p.name in event_pops) else 0
        if isinstance(nrn, SpikeInput):
            pop_i[i, P_TYPE] = SPIKE_INPUT
            continue
        if isinstance(nrn, IntegrateFireInput):
            # spikes are computed from the input values before each trial
            # (training.encoding) and replayed like a SpikeInput's
            pop_i[i, P_TYPE] = SPIKE_INPUT
            v_init[s:e] = materialise(nrn.v, rng, shape, p.name, "v")
            continue
        if isinstance(nrn, IntegrateFire):
            # V = 1*V + 1*I is exactly GeNN's V += Isyn; absolute reset, no refractory time
            pop_i[i, P_TYPE] = LIF
            pop_f[i, F_ALPHA] = 1.0
            pop_f[i, F_ISCALE] = 1.0
            pop_f[i, F_VTH] = nrn.v_thresh
            pop_f[i, F_VRESET] = nrn.v_reset
            v_init[s:e] = materialise(nrn.v, rng, shape, p.name, "v")
            continue
        if isinstance(nrn, PoissonInput):
            pop_i[i, P_TYPE] = POISSON_INPUT
            continue
        alpha = np.exp(-dt / nrn.tau_mem)
        pop_f[i, F_ALPHA] = alpha
        pop_f[i, F_TAU_MEM] = nrn.tau_mem
        pop_f[i, F_ISCALE] = np.float32(1.0) - np.float32(alpha) if nrn.scale_i else 1.0
        v_init[s:e] = materialise(nrn.v, rng, shape, p.name, "v")
        tau_syn = _tau_syn(p)
        pop_f[i, F_TAU_SYN] = tau_syn
        if tau_syn > 0:
            beta = np.exp(-dt / tau_syn)
            pop_f[i, F_IMV_SCALE] = dt / (tau_syn * (1.0 - beta))
        if isinstance(nrn, LeakyIntegrate):
            pop_i[i, P_TYPE] = LI
            bias[s:e] = materialise(nrn.bias, rng, shape, p.name, "bias")
            continue
        pop_i[i, P_TYPE] = ALIF if isinstance(nrn, AdaptiveLeakyIntegrateFire) else LIF
        pop_f[i, F_VTH] = nrn.v_thresh
        pop_f[i, F_VRESET] = nrn.v_reset
        pop_i[i, P_REL_RESET] = int(nrn.relative_reset)
        pop_i[i, P_IDR] = int(nrn.integrate_during_refrac)
        pop_i[i, P_HAS_REFRAC] = int(nrn.tau_refrac is not None)
        pop_f[i, F_TREFRAC] = nrn.tau_refrac if nrn.tau_refrac is not None else 0.0
        if isinstance(nrn, AdaptiveLeakyIntegrateFire):
            pop_f[i, F_RHO] = np.exp(-dt / nrn.tau_adapt)
            pop_f[i, F_BETA_A] = nrn.beta
            a_init[s:e] = materialise(nrn.a, rng, shape, p.name, "a")
        assert isinstance(nrn, LeakyIntegrateFire | AdaptiveLeakyIntegrateFire)

    # Synapse groups: one per (target, synapse model) pair, in first-use order.
    groups: dict[tuple, int] = {}
    grp_rows: list[tuple[int, int, int, int]] = []
    grp_fs: list[tuple[float, float]] = []
    slot = 0
    conn_i = np.zeros((len(conns), 6), dtype=np.int64)
    conn_f = np.zeros((len(conns), 1), dtype=np.float32)
    tables: dict[str, SynapseTable] = {}
    kernels: dict[str, np.ndarray] = {}
    rps, posts, ws, ds = [], [], [], []
    w_off = rp_off = 0
    max_delay = 0
    for c, conn in enumerate(conns):
        post_p = pop_index[conn.target.name]
        syn = conn.synapse
        key = (post_p, type(syn).__name__, getattr(syn, "tau", None), getattr(syn, "scale_i", None))
        if key not in groups:
            groups[key] = len(grp_rows)
            npost = conn.target.num_neurons
            if isinstance(syn, Exponential):
                beta = np.exp(-dt / syn.tau)
                iscale = (syn.tau / dt) * (1.0 - beta) if syn.scale_i else 1.0
                grp_rows.append((post_p, 1, slot, npost))
                grp_fs.append((beta, iscale))
            else:
                grp_rows.append((post_p, 0, slot, npost))
                grp_fs.append((0.0, 1.0))
            slot += npost
        table = build_synapses(conn.connectivity, conn.source.num_neurons,
                               conn.target.num_neurons, rng, conn.source is conn.target, conn.name,
                               conn.source.shape, conn.target.shape, tie_kernels)
        tables[conn.name] = table
        if table.kernel is not None:
            kernels[conn.name] = table.kernel
        conn_i[c] = (pop_index[conn.source.name], post_p, groups[key], w_off, rp_off,
                     int(np.any(table.delay > 0)))
        conn_f[c, 0] = getattr(syn, "tau", 0.0)
        rps.append(table.row_ptr)
        posts.append(table.post)
        ws.append(table.weight)
        ds.append(table.delay)
        w_off += table.num_synapses
        rp_off += table.row_ptr.shape[0]
        limit = conn.max_delay_steps if conn.max_delay_steps is not None else None
        dmax = int(np.ceil(table.delay.max())) if table.num_synapses else 0
        if limit is not None:
            dmax = max(dmax, limit)
        max_delay = max(max_delay, dmax)

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return Layout(
        populations=pops, connections=conns, pop_index=pop_index,
        conn_index={c.name: i for i, c in enumerate(conns)}, n_neurons=n,
        pop_i=pop_i, pop_f=pop_f, bias=bias, v_init=v_init, a_init=a_init,
        grp_i=np.array(grp_rows, dtype=np.int64).reshape(-1, 4),
        grp_f=np.array(grp_fs, dtype=np.float32).reshape(-1, 2), n_slots=slot,
        conn_i=conn_i, conn_f=conn_f, row_ptr=cat(rps, np.int64), syn_post=cat(posts, np.int32),
        weights=cat(ws, np.float32), delays=cat(ds, np.float32), max_delay=max_delay,
        tables=tables, kernels=kernels)
