"""CPU backend: owns the state arrays of one compiled network and drives the kernels.

Compilers decide WHAT runs (which populations record events, which losses
drive the backward pass); this class decides HOW (array layout, chunking,
threads). A GPU backend would implement the same methods.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from . import eventprop_kernels as EK
from . import kernels as K
from . import layerwise_kernels as LW
from . import lockstep_kernels as LK
from .layout import (
    P_END,
    P_START,
    P_TYPE,
    POISSON_INPUT,
    RO_FIRST,
    SPIKE_INPUT,
    Layout,
)
from .lockstep_forward import LOCKSTEP_BLOCK
from .passes import STALE_CACHE
from .staging import InputStager
from .threads import threads_for


@dataclass
class Recording:
    """What one trial recorded: per-step variables and spikes, per batch slot."""

    var_keys: list[tuple[str, str]] = field(default_factory=list)
    var_slices: dict[tuple[str, str], slice] = field(default_factory=dict)
    values: np.ndarray | None = None  # (B, T, K)
    spike_pops: list[str] = field(default_factory=list)
    spike_steps: np.ndarray | None = None  # (B, cap)
    spike_ids: np.ndarray | None = None
    spike_counts: np.ndarray | None = None


@dataclass
class Counters:
    """Work done by the kernels since the last ``reset``: the basis of events/s figures.

    ``syn_events_fwd`` counts synapses touched by forward spike delivery (spikes x
    fan-out), ``syn_events_bwd`` those touched replaying recorded spikes in the
    EventProp backward pass, ``neuron_updates`` neuron-steps of non-input neurons
    (forward; the backward pass updates as many adjoints). ``trial_s`` is time in
    fused training trials (forward and backward in one kernel call).
    """

    trials: int = 0
    neuron_updates: int = 0
    syn_events_fwd: int = 0
    syn_events_bwd: int = 0
    forward_s: float = 0.0
    backward_s: float = 0.0
    trial_s: float = 0.0

    def reset(self) -> None:
        """Zero every counter."""
        self.trials = self.neuron_updates = self.syn_events_fwd = self.syn_events_bwd = 0
        self.forward_s = self.backward_s = self.trial_s = 0.0

    @property
    def kernel_s(self) -> float:
        """Seconds in all kernels."""
        return self.forward_s + self.backward_s + self.trial_s

    def rates(self) -> dict[str, float]:
        """Achieved rates: synaptic events and neuron updates per kernel-second (wall
        clock; process CPU time is not sampled here: it costs ~0.5 ms a call). The
        forward/backward split is only known for unfused batches (0 otherwise)."""
        f, b = self.forward_s, self.backward_s
        tot = max(self.kernel_s, 1e-12)
        bwd_done = b > 0 or self.trial_s > 0
        return {"syn_events_per_s_fwd": self.syn_events_fwd / f if f > 0 and not self.trial_s
                else 0.0,
                "syn_events_per_s_bwd": self.syn_events_bwd / b if b > 0 and not self.trial_s
                else 0.0,
                "syn_events_per_s": (self.syn_events_fwd + self.syn_events_bwd) / tot,
                "neuron_updates_per_s_fwd": self.neuron_updates / f if f > 0
                and not self.trial_s else 0.0,
                "neuron_updates_per_s": (self.neuron_updates * (2 if bwd_done else 1)) / tot}


def _dense_connections(layout: Layout) -> np.ndarray:
    """1 for each connection whose every row holds posts 0..n_post-1 in order (Dense)."""
    out = np.zeros(layout.conn_i.shape[0], np.int8)
    for c, conn in enumerate(layout.connections):
        woff, rpo = int(layout.conn_i[c, 3]), int(layout.conn_i[c, 4])
        n_pre, n_post = conn.source.num_neurons, conn.target.num_neurons
        rp = layout.row_ptr[rpo:rpo + n_pre + 1]
        if rp.shape[0] != n_pre + 1 or not np.all(np.diff(rp) == n_post):
            continue
        post = layout.syn_post[woff + int(rp[0]):woff + int(rp[-1])]
        if np.array_equal(post, np.tile(np.arange(n_post, dtype=post.dtype), n_pre)):
            out[c] = 1
    return out


def _fanout(layout: Layout) -> np.ndarray:
    """Outgoing synapses per global neuron id (int64)."""
    out = np.zeros(max(layout.n_neurons, 1), np.int64)
    for c, conn in enumerate(layout.connections):
        pre = int(layout.conn_i[c, 0])
        rpo = int(layout.conn_i[c, 4])
        n_pre = conn.source.num_neurons
        s0 = int(layout.pop_i[pre, P_START])
        out[s0:s0 + n_pre] += np.diff(layout.row_ptr[rpo:rpo + n_pre + 1])
    return out


class Profiler:
    """Accumulates seconds per kernel when kernel_profiling is on."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, name: str, start: float) -> None:
        if self.enabled:
            self.seconds[name] += time.perf_counter() - start


class CPUSimulator:
    """State and kernel calls for ``batch_size`` parallel trials of one network."""

    name = "cpu"
    #: State that carries from one trial into the next (saved in checkpoints so a
    #: resumed run continues exactly).
    CARRIED_STATE = ("V", "A", "RF", "X", "ring", "spk", "spk_cnt")

    def __init__(self, layout: Layout, batch_size: int, dt: float, example_timesteps: int,
                 profiling: bool = False) -> None:
        self.layout = layout
        self.B = int(batch_size)
        self.dt = np.float32(dt)
        self.T = int(example_timesteps)
        self.profiler = Profiler(profiling)
        n = max(layout.n_neurons, 1)
        P = layout.pop_i.shape[0]
        B = self.B
        self.V = np.zeros((B, n), np.float32)
        self.A = np.zeros((B, n), np.float32)
        self.RF = np.zeros((B, n), np.float32)
        self.R = np.zeros((B, n), np.float32)
        self.R2 = np.zeros((B, n), np.float32)
        self.X = np.zeros((B, max(layout.n_slots, 1)), np.float32)
        self.ring = np.zeros((B, layout.max_delay + 1 if layout.max_delay > 0 else 1,
                              max(layout.n_slots, 1)), np.float32)
        self.spk = np.zeros((B, n), np.int32)
        self.spk_cnt = np.zeros((B, P), np.int32)
        self.nspk = np.zeros((B, n), np.int32)
        self.n_chunks = max(1, min(B, numba.get_num_threads()))
        # staged SpikeInput events (see staging.py): slot b of input population p
        # reads stager.ev_s/ev_n[in_ptr[b, p]:in_hi[b, p]]
        self.stager = InputStager(self.dt, self.T, self.n_chunks)
        self.in_ptr = np.zeros((B, P), np.int64)
        self.in_hi = np.zeros((B, P), np.int64)
        self.rates = np.zeros((1, 1, 1), np.float32)
        self.frame_steps = 1
        self.conn_dense = _dense_connections(layout)
        self.fanout = _fanout(layout)
        self.n_updated = int(sum(int(layout.pop_i[p, P_END] - layout.pop_i[p, P_START])
                                 for p in range(P)
                                 if layout.pop_i[p, P_TYPE] not in (SPIKE_INPUT, POISSON_INPUT)))
        self.counters = Counters()
        # EventProp event buffers (allocated by enable_events)
        self.ev_cap_per_pop = np.zeros(P, np.int64)
        self.ev_step = np.zeros((B, 1), np.int32)
        self.ev_nid = np.zeros((B, 1), np.int32)
        self.ev_xmv = np.zeros((B, 1), np.float32)
        self.ev_cnt = np.zeros(B, np.int64)
        self.ev_ovf = np.full(B, -1, np.int64)
        self.out_hist = np.zeros((1, 1, 1), np.float32)
        self.out_hist_pop = -1
        self.grad_parts = np.zeros(1, np.float32)
        self.dgrad_parts = np.zeros(1, np.float32)
        self.gpos = np.zeros(1, np.int64)
        self.nsyn = np.zeros(1, np.int64)
        # resets the next trial's kernel does itself (bit 1 neurons, bit 2 readouts)
        self._reset = 0
        self._v_init = np.zeros(n, np.float32)
        self._a_init = np.zeros(n, np.float32)
        self._v_init[:layout.n_neurons] = layout.v_init
        self._a_init[:layout.n_neurons] = layout.a_init
        self._work = np.zeros(self.n_chunks, np.int64)
        #: fused training trials advance slots in lockstep blocks where the network
        #: allows it and spikes are sparse (``lockstep_kernels``); False forces the
        #: per-slot kernel, True the lockstep one wherever it applies
        self.lockstep: bool | None = None
        self._lockstep_ok: dict[tuple[int, int], bool] = {}
        #: fused training trials of SpikeInput -> LIF -> LI networks run layer by layer
        #: (``layerwise_kernels``); False forces the other kernels
        self.layerwise = True
        self._layerwise_ok: dict[tuple, bool] = {}
        self._ls_rows = (np.zeros((0, 0), np.int32), np.zeros((0, 2, 0, 1), np.float32))
        self._ls_rcap: tuple[tuple | None, int] = (None, 0)
        #: per-slot gradient sums of the lockstep trial: their largest buffer per
        #: connection, in floats (tests set 0 to check the direct path)
        self.lockstep_gsum_max = LK.GSUM_MAX_FLOATS
        #: the trial kernels leave each slot's relative mean square error in the drive's
        #: ``xent`` (the reported loss needs no numpy pass over the readouts)
        self.slot_rmse = True
        self._no_counts = np.zeros(n, np.int64)
        self._no_rec = np.zeros((1, 1, 1), np.float32)
        self._no_srec = (np.zeros((B, 1), np.int32), np.zeros((B, 1), np.int32),
                         np.zeros(B, np.int64))
        self.reset_state()

    def gradient_buffers(self, delays: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Allocate the per-connection (weight, delay) gradient accumulators and return
        their views (see ``gradient_views``)."""
        lay = self.layout
        k = self.n_chunks
        C = lay.conn_i.shape[0]
        self.gpos = np.zeros(max(C, 1), np.int64)
        self.nsyn = np.zeros(max(C, 1), np.int64)
        for c, conn in enumerate(lay.connections):
            sl = lay.conn_slice(conn.name)
            self.gpos[c] = k * sl.start
            self.nsyn[c] = sl.stop - sl.start
        S = max(lay.weights.shape[0], 1)
        self.grad_parts = np.zeros(k * S, np.float32)
        self.dgrad_parts = np.zeros(k * S if delays else 1, np.float32)
        return self.gradient_views()

    def gradient_views(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per connection, its (weight, delay) gradient accumulator: a contiguous
        (n_chunks, synapses) array. ``backward`` adds each batch's per-thread partial
        sums to the rows; the optimiser step sums and zeroes them. Delay views are
        empty when delays are not learnt."""
        k = self.n_chunks
        C = self.layout.conn_i.shape[0]
        views = [self.grad_parts[self.gpos[c]:self.gpos[c] + k * self.nsyn[c]].reshape(
            k, self.nsyn[c]) for c in range(C)]
        dviews = [self.dgrad_parts[self.gpos[c]:self.gpos[c] + k * self.nsyn[c]].reshape(
            k, self.nsyn[c]) for c in range(C)] if self.dgrad_parts.shape[0] > 1 else []
        return views, dviews

    # ----- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Set every state variable to its initial value (start of training/evaluation)."""
        self.V[:] = self.layout.v_init if self.layout.n_neurons else 0
        self.A[:] = self.layout.a_init if self.layout.n_neurons else 0
        self.RF[:] = 0
        self.X[:] = 0
        self.ring[:] = 0
        self.spk_cnt[:] = 0
        self.reset_readouts()

    def reset_neurons(self) -> None:
        """Reset V, adaptation and refractory time (between trials)."""
        self.V[:] = self.layout.v_init if self.layout.n_neurons else 0
        self.A[:] = self.layout.a_init if self.layout.n_neurons else 0
        self.RF[:] = 0

    def begin_trial(self, reset_neurons: bool, reset_in_syn: bool) -> None:
        """Resets at the start of the next trial: readouts always, neurons (V,
        adaptation, refractory time) and synaptic input as asked. The forward kernel
        does the per-slot resets itself at step 0 (no separate passes over the state)."""
        self._reset = (1 if reset_neurons else 0) | 2
        if reset_in_syn:
            self.reset_in_syn()

    def reset_in_syn(self) -> None:
        """Zero synaptic input and delayed spikes in flight."""
        self.X[:] = 0
        self.ring[:] = 0

    def reset_readouts(self) -> None:
        """Zero readout accumulators (first-spike readouts start at -FLT_MAX)."""
        self.R[:] = 0
        self.R2[:] = 0
        for p in range(self.layout.pop_i.shape[0]):
            s, e = self.layout.pop_i[p, P_START], self.layout.pop_i[p, P_END]
            if self.layout.pop_i[p, 6] == RO_FIRST:
                self.R[:, s:e] = -K.FLT_MAX

    def readout(self, pop_name: str) -> np.ndarray:
        """Readout values (B, n) of an output population."""
        return self.R[:, self.layout.pop_slice(pop_name)].copy()

    def readout_aux(self, pop_name: str) -> np.ndarray:
        """Second readout variable (time of the maximum for max_var)."""
        return self.R2[:, self.layout.pop_slice(pop_name)].copy()

    # ----- inputs ------------------------------------------------------------------------
    def set_inputs(self, inputs: dict[str, list], n_active: int) -> int:
        """Stage one batch: ``inputs`` maps each input population to its first
        ``n_active`` examples (PreprocessedSpikes, or rate arrays for PoissonInput).
        Returns the largest number of SpikeInput events of one example."""
        return self.set_inputs_indexed(inputs, np.arange(n_active, dtype=np.int64),
                                       cache=False)

    def set_inputs_indexed(self, inputs: dict[str, Any], idx: np.ndarray,
                           cache: bool = True) -> int:
        """Stage examples ``idx`` of each input population's example list as one batch.

        SpikeInput lists are staged once and cached (``InputStager``), so a list
        passed every epoch costs one copy of its events per batch. Returns the
        largest number of SpikeInput events of one example of the batch.
        """
        lay = self.layout
        idx = np.asarray(idx, dtype=np.int64)
        B = len(idx)
        self.in_ptr[:] = 0
        self.in_hi[:] = 0
        spike_inputs = []
        rates = None
        for name, examples in inputs.items():
            p = lay.pop_index[name]
            s0 = int(lay.pop_i[p, P_START])
            n = int(lay.pop_i[p, P_END]) - s0
            if lay.pop_i[p, P_TYPE] == SPIKE_INPUT:
                if B:
                    spike_inputs.append((p, name, examples, n))
            elif lay.pop_i[p, P_TYPE] == POISSON_INPUT:
                if isinstance(examples, np.ndarray) and examples.dtype != object:
                    frames = np.asarray(examples[idx], dtype=np.float32)
                else:
                    frames = np.asarray([examples[i] for i in idx], dtype=np.float32)
                frames = frames.reshape(frames.shape[0], -1, n)
                if rates is None:
                    rates = np.zeros((self.B, frames.shape[1], max(lay.n_neurons, 1)),
                                     np.float32)
                rates[:frames.shape[0], :, s0:s0 + n] = frames
                nrn = lay.populations[p].neuron
                self.frame_steps = int(nrn.input_frame_timesteps)
        most = self.stager.fill(spike_inputs, idx, self.in_ptr, self.in_hi, cache) \
            if spike_inputs else 0
        self.rates = rates if rates is not None else np.zeros((1, 1, 1), np.float32)
        return most

    # ----- EventProp support -------------------------------------------------------------
    def enable_events(self, caps: dict[str, int], input_spikes: int) -> None:
        """Allocate event tapes: ``caps`` per-neuron spike limits of the recorded populations."""
        lay = self.layout
        total = 0
        for name, cap in caps.items():
            p = lay.pop_index[name]
            n = int(lay.pop_i[p, P_END] - lay.pop_i[p, P_START])
            self.ev_cap_per_pop[p] = cap
            if lay.pop_i[p, P_TYPE] in (SPIKE_INPUT, POISSON_INPUT):
                total += input_spikes
            else:
                total += cap * n
        self.ev_step = np.zeros((self.B, max(total, 1)), np.int32)
        self.ev_nid = np.zeros((self.B, max(total, 1)), np.int32)
        self.ev_xmv = np.zeros((self.B, max(total, 1)), np.float32)

    def enable_output_history(self, pop_name: str) -> None:
        """Keep V of an output population for every step (per-timestep losses)."""
        p = self.layout.pop_index[pop_name]
        n = int(self.layout.pop_i[p, P_END] - self.layout.pop_i[p, P_START])
        self.out_hist = np.zeros((self.B, self.T, n), np.float32)
        self.out_hist_pop = p

    # ----- running -----------------------------------------------------------------------
    def run_trial(self, n_active: int, zero_step: int = -1,
                  record_vars: list[tuple[str, str]] | None = None,
                  record_spikes: list[str] | None = None,
                  step_callback: object | None = None) -> Recording:
        """Simulate one trial of T steps for the first ``n_active`` batch slots."""
        lay = self.layout
        B = n_active
        rec = Recording()
        gids, vcodes = [], []
        codes = {"v": K.REC_V, "a": K.REC_A, "refractime": K.REC_REFRAC, "readout": K.REC_READOUT}
        for key in record_vars or []:
            pop, var = key
            sl = lay.pop_slice(pop)
            code = codes.get(var.lower())
            if code is None:
                raise ValueError(f"cannot record variable '{var}' of population '{pop}'; "
                                 f"recordable: {', '.join(codes)}")
            start = len(gids)
            gids.extend(range(sl.start, sl.stop))
            vcodes.extend([code] * (sl.stop - sl.start))
            rec.var_keys.append(key)
            rec.var_slices[key] = slice(start, len(gids))
        rec_gid = np.asarray(gids, np.int64)
        rec_var = np.asarray(vcodes, np.int32)
        P = lay.pop_i.shape[0]
        srec_mask = np.zeros(P, np.int8)
        n_srec = 0
        for name in record_spikes or []:
            p = lay.pop_index[name]
            srec_mask[p] = 1
            n_srec += int(lay.pop_i[p, P_END] - lay.pop_i[p, P_START])
            rec.spike_pops.append(name)
        chunk = self.T if step_callback is None else 1
        if n_srec and step_callback is None:
            chunk = max(1, min(self.T, (1 << 24) // max(1, n_srec * B)))
        values = np.zeros((B, self.T, len(gids)), np.float32) if gids else None
        steps_all: list[list[np.ndarray]] = [[] for _ in range(B)]
        ids_all: list[list[np.ndarray]] = [[] for _ in range(B)]
        reset, self._reset = self._reset, 0
        self._work[:] = 0
        t0 = time.perf_counter()
        for s0 in range(0, self.T, chunk):
            s1 = min(self.T, s0 + chunk)
            if step_callback is not None:
                step_callback.on_timestep_begin(s0)
            if gids:
                vbuf = np.zeros((B, s1 - s0, len(gids)), np.float32)
            else:
                vbuf = self._no_rec
            if n_srec:
                cap = n_srec * (s1 - s0)
                sstep = np.zeros((B, cap), np.int32)
                sid = np.zeros((B, cap), np.int32)
                scnt = np.zeros(B, np.int64)
            else:
                sstep, sid, scnt = self._no_srec
            with threads_for(min(self.n_chunks, B), "forward", B * (s1 - s0)):
                K.forward_chunk(
                    s0, s1, self.T, self.dt, zero_step, min(self.n_chunks, B), reset,
                    lay.pop_i, lay.pop_f, lay.bias, self._v_init, self._a_init, lay.grp_i,
                    lay.grp_f, lay.conn_i, self.conn_dense, lay.row_ptr,
                    lay.syn_post, lay.weights, lay.delays,
                    self.V[:B], self.A[:B], self.RF[:B], self.X[:B], self.ring[:B], self.spk[:B],
                    self.spk_cnt[:B], self.R[:B], self.R2[:B],
                    self.in_ptr[:B], self.in_hi[:B], self.stager.ev_s, self.stager.ev_n,
                    self.rates if self.rates.shape[0] == 1 else self.rates[:B], self.frame_steps,
                    rec_gid, rec_var, vbuf, srec_mask, sstep, sid, scnt,
                    self.ev_cap_per_pop, self.ev_step[:B], self.ev_nid[:B], self.ev_xmv[:B],
                    self.ev_cnt[:B], self.nspk[:B], self.ev_ovf[:B],
                    self.out_hist if self.out_hist_pop < 0 else self.out_hist[:B],
                    self.out_hist_pop, self._work)
            if values is not None:
                values[:, s0:s1] = vbuf
            if n_srec:
                for b in range(B):
                    steps_all[b].append(sstep[b, :scnt[b]])
                    ids_all[b].append(sid[b, :scnt[b]])
            if step_callback is not None:
                step_callback.on_timestep_end(s1 - 1)
        self.profiler.add("forward", t0)
        cnt = self.counters
        cnt.forward_s += time.perf_counter() - t0
        cnt.trials += B
        cnt.neuron_updates += B * self.T * self.n_updated
        cnt.syn_events_fwd += int(self._work.sum())
        rec.values = values
        if n_srec:
            rec.spike_steps = [np.concatenate(s) for s in steps_all]
            rec.spike_ids = [np.concatenate(s) for s in ids_all]
        return rec

    def backward(self, n_active: int, bk_i: np.ndarray, bk_f: np.ndarray,
                 conn_train: np.ndarray, conn_dtrain: np.ndarray, labels: np.ndarray,
                 drive: EventPropDrive, spike_count_batch: np.ndarray,
                 record_lambdas: list[str] | None = None) -> np.ndarray | None:
        """EventProp backward pass: adds the batch's weight (and delay) gradients to
        ``grad_parts`` (``dgrad_parts``), one row per thread chunk; returns the lambda
        recording, if any was asked for."""
        lay = self.layout
        B = n_active
        nch = min(self.n_chunks, B)
        if self.grad_parts.shape[0] != self.n_chunks * max(lay.weights.shape[0], 1):
            self.gradient_buffers(bool(conn_dtrain.any()))
        gids = []
        for name in record_lambdas or []:
            sl = lay.pop_slice(name)
            gids.extend(range(sl.start, sl.stop))
        brec_gid = np.asarray(gids, np.int64)
        brec = np.zeros((B, self.T, 2 * len(gids)) if gids else (1, 1, 1), np.float32)
        self._work[:] = 0
        d = drive
        t0 = time.perf_counter()
        with threads_for(nch, "backward", B):
            EK.backward_trial(self.T, self.dt, nch, lay.pop_i, bk_i, bk_f, lay.conn_i, lay.conn_f,
                              conn_train, conn_dtrain, self.conn_dense, lay.row_ptr, lay.syn_post,
                              lay.weights, lay.delays, lay.max_delay,
                              self.ev_step[:B], self.ev_nid[:B], self.ev_xmv[:B], self.ev_cnt[:B],
                              labels, d.mode, d.out_p, self.R[:B], self.R2[:B], d.t_ms,
                              d.val[:B], d.step[:B], d.tfirst[:B], d.tsum[:B], d.ttrue[:B],
                              d.xent[:B], spike_count_batch, self.grad_parts,
                              self.dgrad_parts, self.gpos, self.nsyn, brec_gid, brec,
                              self._work)
        self.profiler.add("backward", t0)
        self.counters.backward_s += time.perf_counter() - t0
        self.counters.syn_events_bwd += int(self._work.sum())
        return brec if gids else None

    def train_trial(self, n_active: int, zero_step: int, bk_i: np.ndarray, bk_f: np.ndarray,
                    conn_train: np.ndarray, conn_dtrain: np.ndarray, labels: np.ndarray,
                    drive: EventPropDrive) -> None:
        """One EventProp training trial (forward, loss terms from the readouts, backward)
        of the first ``n_active`` slots in one kernel call; inputs must be staged and
        ``begin_trial`` called. For per-trial losses without recordings, spike
        regularisation or lambda recording (see ``backward`` otherwise)."""
        lay = self.layout
        B = n_active
        reset, self._reset = self._reset, 0
        work_b = np.zeros(self.n_chunks, np.int64)
        self._work[:] = 0
        d = drive
        nch = min(self.n_chunks, B)
        if self._use_layerwise(bk_i, conn_dtrain):
            t0 = time.perf_counter()
            with threads_for(nch, "train_trial_layerwise", B):
                LW.train_trial_layerwise(
                    self.T, self.dt, zero_step, nch, reset, lay.pop_i, lay.pop_f, lay.bias,
                    self._v_init, lay.grp_i, lay.grp_f, lay.conn_i, lay.conn_f, lay.row_ptr,
                    lay.weights, self.V[:B], self.X[:B], self.spk[:B], self.spk_cnt[:B],
                    self.R[:B], self.R2[:B], self.in_ptr[:B], self.in_hi[:B],
                    self.stager.ev_s, self.stager.ev_n, self.nspk[:B], self.ev_cnt[:B],
                    self.ev_ovf[:B], bk_i, bk_f, conn_train, labels, d.out_p, d.t_ms,
                    d.val[:B], d.step[:B], d.tfirst[:B], d.tsum[:B], d.ttrue[:B], d.xent[:B],
                    self.grad_parts, self.gpos, self.nsyn, self._work, work_b)
            self._count_trial(B, t0, work_b)
            return
        if self._use_lockstep(B, nch, bk_i, conn_dtrain):
            t0 = time.perf_counter()
            with threads_for(nch, "train_trial_lockstep", B):
                LK.train_trial_lockstep(
                    self.T, self.dt, zero_step, nch, reset, lay.pop_i, lay.pop_f, lay.bias,
                    self._v_init, self._a_init, lay.grp_i, lay.grp_f, lay.conn_i, lay.conn_f,
                    lay.row_ptr, lay.weights, self.V[:B], self.A[:B], self.RF[:B], self.X[:B],
                    self.spk[:B], self.spk_cnt[:B], self.R[:B], self.R2[:B],
                    self.in_ptr[:B], self.in_hi[:B], self.stager.ev_s, self.stager.ev_n,
                    self.ev_cap_per_pop, self.ev_step[:B], self.ev_nid[:B], self.ev_xmv[:B],
                    self.ev_cnt[:B], self.nspk[:B], self.ev_ovf[:B],
                    bk_i, bk_f, conn_train, labels, d.out_p, d.t_ms,
                    d.val[:B], d.step[:B], d.tfirst[:B], d.tsum[:B], d.ttrue[:B], d.xent[:B],
                    self.grad_parts, self.gpos, self.nsyn, self._work, work_b,
                    *self._replay_rows(nch), self.lockstep_gsum_max)
            if self._work[:nch].min() < 0:
                raise RuntimeError(self.STALE_LOCKSTEP_CACHE)
            self._count_trial(B, t0, work_b)
            return
        t0 = time.perf_counter()
        with threads_for(nch, "train_trial", B):
            EK.train_trial(
                self.T, self.dt, zero_step, min(self.n_chunks, B), reset,
                lay.pop_i, lay.pop_f, lay.bias, self._v_init, self._a_init, lay.grp_i, lay.grp_f,
                lay.conn_i, lay.conn_f, self.conn_dense, lay.row_ptr, lay.syn_post, lay.weights,
                lay.delays, lay.max_delay,
                self.V[:B], self.A[:B], self.RF[:B], self.X[:B], self.ring[:B], self.spk[:B],
                self.spk_cnt[:B], self.R[:B], self.R2[:B],
                self.in_ptr[:B], self.in_hi[:B], self.stager.ev_s, self.stager.ev_n,
                self.rates if self.rates.shape[0] == 1 else self.rates[:B], self.frame_steps,
                self.ev_cap_per_pop, self.ev_step[:B], self.ev_nid[:B], self.ev_xmv[:B],
                self.ev_cnt[:B], self.nspk[:B], self.ev_ovf[:B],
                bk_i, bk_f, conn_train, conn_dtrain, labels, d.out_p, d.t_ms,
                d.val[:B], d.step[:B], d.tfirst[:B], d.tsum[:B], d.ttrue[:B], d.xent[:B],
                self._no_counts,
                self.grad_parts, self.dgrad_parts, self.gpos, self.nsyn, self._work, work_b)
        self._count_trial(B, t0, work_b)

    def fused_pass_possible(self, B: int, bk_i: np.ndarray, conn_dtrain: np.ndarray) -> bool:
        """Whether ``train_epoch`` may take a pass with batches of at most B examples:
        the network runs layer by layer, or its batches of B as lockstep trials (before
        their input spikes are counted). Spike buffers not sized yet count as fitting."""
        if not self.ev_cap_per_pop.any():
            return True
        return self._use_layerwise(bk_i, conn_dtrain) or self._use_lockstep(
            B, min(self.n_chunks, B), bk_i, conn_dtrain, 0)

    def train_epoch(self, name: str, examples: Any, idx: np.ndarray, lens: np.ndarray,
                    labels: np.ndarray, zero_step: int, reset_in_syn: bool, strict: bool,
                    bk_i: np.ndarray, bk_f: np.ndarray, conn_train: np.ndarray,
                    conn_dtrain: np.ndarray, drive: EventPropDrive, adam_args: tuple,
                    R_out: np.ndarray, xent_out: np.ndarray,
                    inputs_staged: Callable[[int], None]) -> tuple[int, int, int] | None:
        """Training batches ``idx`` (rows of example indices into ``examples``, the
        SpikeInput population ``name``'s list; ``lens`` used per row) in one kernel
        call, each a fused trial and an Adam step of every trainable
        (``layerwise_kernels.train_epoch_layerwise``, or
        ``lockstep_kernels.train_epoch_lockstep`` where every batch would run as a
        lockstep trial; ``adam_args`` from ``Adam.many_args``; ``strict``: stop at a
        spike buffer overflow; ``inputs_staged`` is called with the most input events
        of one example first, as after staging a batch). None where neither applies
        (the caller then runs the batches one by one); else (batches done, the status
        of the one that stopped: the optimiser's or ``passes.OVERFLOW``, its
        trainable), (len(idx), OK, -1) when all ran."""
        lay = self.layout
        if lay.pop_index.get(name) != 0 or lay.pop_i[0, P_TYPE] != SPIKE_INPUT:
            return None
        n = int(lay.pop_i[0, P_END] - lay.pop_i[0, P_START])
        st = self.stager.staged(name, examples, n, idx[0, :lens[0]])
        if st.source is not examples:
            return None
        if not self.ev_cap_per_pop.any():
            inputs_staged(1)  # spike buffer sizes (both checks read them) before any batch
        # the network and batch size first, then each batch's input events; nothing
        # reallocated where it declines (a tape grown here would slow the next calls)
        if not self.fused_pass_possible(int(lens.max()), bk_i, conn_dtrain):
            return None
        layerwise = self._use_layerwise(bk_i, conn_dtrain)
        counts = np.where(np.arange(idx.shape[1]) < lens[:, None],
                          st.off[idx + 1] - st.off[idx], 0)
        events = counts.sum(axis=1)
        if not layerwise and not all(
                self._use_lockstep(int(nb), min(self.n_chunks, int(nb)), bk_i, conn_dtrain,
                                   int(e)) for nb, e in zip(lens, events, strict=True)):
            return None
        inputs_staged(int(counts.max()))
        most = int(events.max())
        if most > self.stager.ev_s.shape[0]:
            self.stager.ev_s = np.zeros(most, np.int32)
            self.stager.ev_n = np.zeros(most, np.int32)
        work_b = np.zeros(self.n_chunks, np.int64)
        self._work[:] = 0
        d = drive
        state = (self.V, self.X, self.spk, self.spk_cnt, self.R, self.R2, self.in_ptr,
                 self.in_hi, self.stager.ev_s, self.stager.ev_n)
        loss = (d.out_p, d.t_ms, d.val, d.step, d.tfirst, d.tsum, d.ttrue, d.xent,
                self.grad_parts, self.gpos, self.nsyn, self._work, work_b)
        t0 = time.perf_counter()
        with threads_for(self.n_chunks, "train_epoch", int(lens.sum())):
            if layerwise:
                done, status, which = LW.train_epoch_layerwise(
                    idx, lens, labels, st.off, st.steps, st.nids, reset_in_syn, self.T,
                    self.dt, zero_step, self.n_chunks, lay.pop_i, lay.pop_f, lay.bias,
                    self._v_init, lay.grp_i, lay.grp_f, lay.conn_i, lay.conn_f, lay.row_ptr,
                    lay.weights, *state, self.nspk, self.ev_cnt, self.ev_ovf, bk_i, bk_f,
                    conn_train, *loss, *adam_args, R_out, xent_out)
            else:
                V, X, spk, spk_cnt, R, R2, in_ptr, in_hi, ev_s, ev_n = state
                done, status, which = LK.train_epoch_lockstep(
                    idx, lens, labels, st.off, st.steps, st.nids, reset_in_syn, strict,
                    self.T, self.dt, zero_step, self.n_chunks, lay.pop_i, lay.pop_f, lay.bias,
                    self._v_init, self._a_init, lay.grp_i, lay.grp_f, lay.conn_i, lay.conn_f,
                    lay.row_ptr, lay.weights, V, self.A, self.RF, X, spk, spk_cnt, R, R2,
                    in_ptr, in_hi, ev_s, ev_n, self.ev_cap_per_pop, self.ev_step, self.ev_nid,
                    self.ev_xmv, self.ev_cnt, self.nspk, self.ev_ovf, bk_i, bk_f, conn_train,
                    *loss, *self._replay_rows(self.n_chunks), self.lockstep_gsum_max,
                    *adam_args, R_out, xent_out)
                if status == STALE_CACHE:
                    raise RuntimeError(self.STALE_LOCKSTEP_CACHE)
        trials = int(lens[:done + (1 if done < len(lens) else 0)].sum())
        self._count_trial(trials, t0, work_b)
        return int(done), int(status), int(which)

    STALE_LOCKSTEP_CACHE = ("the lockstep kernels in numba's cache were compiled with "
                            "different block sizes: delete app/training/engine/"
                            "__pycache__/lockstep_*.nb* and run again")

    #: The lockstep kernel handles LIF spikes as vectors over a block's slots, but
    #: input spikes one slot at a time. The batch's input events per slot and step
    #: (known before the trial, so the choice is the same for the same batch, e.g.
    #: after resuming from a checkpoint) tell the two kernels apart: above this the
    #: per-slot kernel is faster (latency MNIST-5k, ~7.9), below it the lockstep one
    #: (Yin-Yang, ~0.13 at dt 1 ms, ~0.013 at dt 0.1 ms).
    LOCKSTEP_MAX_INPUT_EVENTS_PER_STEP = 1.0
    #: The lockstep trial's replay rows (one per step and LIF neuron at most, each
    #: 2 x LOCKSTEP_BLOCK floats per thread) must fit in this many bytes; larger
    #: networks x trial lengths run on the per-slot kernel's tapes.
    LOCKSTEP_MAX_ROW_BYTES = 1 << 29

    def _use_lockstep(self, B: int, nch: int, bk_i: np.ndarray, conn_dtrain: np.ndarray,
                      events: int | None = None) -> bool:
        """Whether a fused trial of B slots on nch threads runs in lockstep blocks: the
        network is one the lockstep kernel implements and (unless ``lockstep`` is
        True) each thread fills at least one block of ``LOCKSTEP_BLOCK`` slots (a
        block's idle columns cost as much as busy ones: Yin-Yang dt 1 ms at 32 slots
        per thread ran at 0.6-0.8x the per-slot kernel, at 64 at 1.1-1.2x) and the
        batch's input spikes are sparse (``events`` of them; default: the staged
        batch's)."""
        if self.lockstep is False or self._replay_capacity() * nch * LOCKSTEP_BLOCK * 8 \
                > self.LOCKSTEP_MAX_ROW_BYTES:
            return False
        if self.lockstep is None:
            if B // nch < LOCKSTEP_BLOCK:
                return False
            if events is None:
                events = int((self.in_hi[:B] - self.in_ptr[:B]).sum())
            if events > self.LOCKSTEP_MAX_INPUT_EVENTS_PER_STEP * B * self.T:
                return False
        key = (id(bk_i), id(conn_dtrain))
        ok = self._lockstep_ok.get(key)
        if ok is None:
            lay = self.layout
            ok = LK.lockstep_ok(lay.pop_i, lay.grp_i, lay.max_delay, self.conn_dense,
                                conn_dtrain, bk_i)
            self._lockstep_ok = {key: ok}
        return ok

    def _use_layerwise(self, bk_i: np.ndarray, conn_dtrain: np.ndarray) -> bool:
        """Whether a fused trial runs layer by layer: allowed (``layerwise``) and a
        network the layer-wise kernel implements (``layerwise_kernels.layerwise_ok``)."""
        if not self.layerwise:
            return False
        key = (id(bk_i), id(conn_dtrain), self.T, self.ev_cap_per_pop.tobytes())
        ok = self._layerwise_ok.get(key)
        if ok is None:
            lay = self.layout
            ok = LW.layerwise_ok(lay.pop_i, lay.grp_i, lay.conn_i, self.conn_dense,
                                 lay.max_delay, conn_dtrain, bk_i, self.ev_cap_per_pop, self.T)
            self._layerwise_ok = {key: ok}
        return ok

    def _replay_capacity(self) -> int:
        """Replay rows one lockstep block may need (``lockstep_kernels.replay_rows``)."""
        key = (self.T, self.ev_cap_per_pop.tobytes())
        if self._ls_rcap[0] != key:
            self._ls_rcap = (key, int(LK.replay_rows(self.layout.pop_i, self.ev_cap_per_pop,
                                                     self.T)))
        return self._ls_rcap[1]

    def _replay_rows(self, nch: int) -> tuple[np.ndarray, np.ndarray]:
        """Each thread's replay rows for the lockstep trial, kept between trials."""
        rcap = self._replay_capacity()
        rids, rows = self._ls_rows
        if rids.shape != (nch, rcap):
            rids = np.zeros((nch, rcap), np.int32)
            rows = np.zeros((nch, 2, rcap, LOCKSTEP_BLOCK), np.float32)
            self._ls_rows = (rids, rows)
        return rids, rows

    def _count_trial(self, B: int, t0: float, work_b: np.ndarray) -> None:
        """Counters and profile of a fused trial that started at ``t0``."""
        elapsed = time.perf_counter() - t0
        self.profiler.add("train_trial", t0)
        cnt = self.counters
        cnt.trial_s += elapsed
        cnt.trials += B
        cnt.neuron_updates += B * self.T * self.n_updated
        cnt.syn_events_fwd += int(self._work.sum())
        cnt.syn_events_bwd += int(work_b.sum())


@dataclass
class EventPropDrive:
    """Per-slot loss terms driving EventProp's backward pass (see eventprop_kernels)."""

    mode: int  # EK.DRIVE_GIVEN or EK.DRIVE_FROM_READOUT
    out_p: int  # output population index
    t_ms: np.float32  # trial length T * dt
    val: np.ndarray  # (B, Td, n_out) float32
    step: np.ndarray  # (B, n_out) int64
    tfirst: np.ndarray  # (B, n_out) float32
    tsum: np.ndarray  # (B,) float32
    ttrue: np.ndarray  # (B,) float32
    xent: np.ndarray  # (B,) float32: -log softmax[label] of each slot

    @classmethod
    def allocate(cls, mode: int, out_p: int, t_ms: float, B: int, td: int,
                 n_out: int) -> EventPropDrive:
        """Zeroed arrays for B slots."""
        return cls(mode, out_p, np.float32(t_ms), np.zeros((B, td, n_out), np.float32),
                   np.full((B, n_out), -1, np.int64), np.zeros((B, n_out), np.float32),
                   np.zeros(B, np.float32), np.zeros(B, np.float32), np.zeros(B, np.float32))
