"""State and kernel calls of e-prop training: ``EPropSimulator``.

Builds the per-neuron, per-population and per-synapse arrays the forward kernel
(``eprop_kernels``) and the block gradient (``eprop_gradient``) run on, holds
the state carried across trials (V, traces, errors, the eligibility state at
block boundaries), and runs a trial as kernel calls of up to one gradient block
each.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np

from .cpu import Profiler, Recording
from .eprop_gradient import gradient_block, gradient_chunks
from .eprop_kernels import (
    G_AFAV,
    G_ALPHA,
    G_CREG,
    G_FTARGET,
    G_ONE_M_AFAV,
    G_RHO,
    K_ALIF,
    K_INPUT,
    K_LIF,
    K_OUT,
    LOSS_MSE,
    LOSS_SCE,
    N_G,
    N_NF,
    N_NI,
    N_OP,
    NF_ALPHA,
    NF_BETA,
    NF_ISCALE,
    NF_PSI_SCALE,
    NF_TREFRAC,
    NF_VRESET,
    NF_VTH,
    NI_COL,
    NI_HAS_RF,
    NI_IDR,
    NI_KIND,
    NI_REL_RESET,
    OP_COL0,
    OP_LOSS,
    REC_CODES,
    eprop_steps,
    redeliver,
)
from .layout import F_ISCALE, LI, P_END, P_START, P_TYPE, SPIKE_INPUT, Layout
from .staging import stage_spike_inputs


def global_constants(dt: float, tau_mem: float, tau_adapt: float | None, tau_reg: float,
                     f_target: float, c_reg: float) -> np.ndarray:
    """The e-prop kernels' network-wide constants (``G_*`` entries): decay factors for
    dt and the time constants (ms), the firing-rate regulariser's target (Hz) and
    strength."""
    f = np.float32
    glob = np.zeros(N_G, np.float32)
    glob[G_ALPHA] = np.exp(-dt / tau_mem)
    glob[G_RHO] = np.exp(-dt / tau_adapt) if tau_adapt is not None else 0.0
    afav = f(np.exp(-dt / tau_reg))
    glob[G_AFAV] = afav
    glob[G_ONE_M_AFAV] = f(1.0) - afav
    glob[G_FTARGET] = (f_target * dt) / 1000.0
    glob[G_CREG] = c_reg
    return glob


def neuron_tables(lay: Layout, out_losses: dict, out_readouts: dict, dt: float
                  ) -> tuple[np.ndarray, np.ndarray, list, list]:
    """Per-neuron kind flags and parameters of an e-prop network (both simulators read
    the same columns): ``(nrn_i, nrn_f, output rows (s0, s1, loss, readout, column),
    neurons updated per step)``."""
    f = np.float32
    N = max(lay.n_neurons, 1)
    nrn_i = np.zeros((N, N_NI), np.int64)
    nrn_f = np.zeros((N, N_NF), np.float32)
    opop_rows: list = []
    work: list = []
    col = 0
    for p, pop in enumerate(lay.populations):
        s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
        ptype = int(lay.pop_i[p, P_TYPE])
        nrn = pop.neuron
        if ptype == SPIKE_INPUT:
            nrn_i[s0:s1, NI_KIND] = K_INPUT
            work.extend(range(s0, s1))
        elif pop.name in out_losses:
            if ptype != LI:
                raise ValueError(f"e-prop output '{pop.name}' must be LeakyIntegrate")
            nrn_i[s0:s1, NI_KIND] = K_OUT
            nrn_f[s0:s1, NF_ALPHA] = np.exp(-dt / nrn.tau_mem)
            nrn_f[s0:s1, NF_ISCALE] = lay.pop_f[p, F_ISCALE]
            opop_rows.append((s0, s1, out_losses[pop.name], out_readouts[pop.name], col))
            col += s1 - s0
        else:
            alif = hasattr(nrn, "tau_adapt")
            nrn_i[s0:s1, NI_KIND] = K_ALIF if alif else K_LIF
            nrn_i[s0:s1, NI_HAS_RF] = int(nrn.tau_refrac is not None)
            nrn_i[s0:s1, NI_REL_RESET] = int(nrn.relative_reset)
            nrn_i[s0:s1, NI_IDR] = int(nrn.integrate_during_refrac)
            nrn_f[s0:s1, NF_ISCALE] = lay.pop_f[p, F_ISCALE]
            vth = f(nrn.v_thresh)
            nrn_f[s0:s1, NF_VTH] = vth
            nrn_f[s0:s1, NF_VRESET] = nrn.v_reset
            nrn_f[s0:s1, NF_TREFRAC] = nrn.tau_refrac or 0.0
            nrn_f[s0:s1, NF_BETA] = nrn.beta if alif else 0.0
            nrn_f[s0:s1, NF_PSI_SCALE] = (f(1.0) / vth) * f(0.3)
            work.extend(range(s0, s1))
    return nrn_i, nrn_f, opop_rows, work


class EPropBatchData:
    """Host-side batch data shared by the e-prop simulators (CPU and cuda): readouts,
    squared errors, SpikeInput cursors and labels/targets, kept in the same arrays
    (``R``, ``LSUM``, ``cursor``, ``in_end``, ``in_times``, ``labels``, ``targets``)."""

    def readout(self, pop_name: str) -> np.ndarray:
        """Readout values (B, n) of an output population."""
        return self.R[:, self.layout.pop_slice(pop_name)].copy()

    def squared_error(self, pop_name: str) -> np.ndarray:
        """Per batch slot, the sum over the last trial's steps of (V - target)^2 (MSE outputs)."""
        return self.LSUM[:, self.layout.pop_slice(pop_name)].copy()

    # ----- inputs ------------------------------------------------------------------------
    def set_inputs(self, inputs: dict[str, list], n_active: int) -> None:
        """Stage one batch of PreprocessedSpikes per SpikeInput population."""
        lay = self.layout
        self.in_end[:] = 0
        self.cursor[:] = 0
        times = []
        off = 0
        for name, examples in inputs.items():
            p = lay.pop_index[name]
            s0 = int(lay.pop_i[p, P_START])
            n = int(lay.pop_i[p, P_END]) - s0
            for b, ex in enumerate(examples[:n_active]):
                ends = np.asarray(ex.end_spikes, dtype=np.int64)
                st = np.asarray(ex.spike_times, dtype=np.float32)
                self.cursor[b, s0:s0 + n] = np.concatenate(([0], ends[:-1])) + off
                self.in_end[b, s0:s0 + n] = ends + off
                times.append(st)
                off += st.shape[0]
        self.in_times = np.concatenate(times) if times else np.zeros(1, np.float32)
        if self.in_times.shape[0] == 0:
            self.in_times = np.zeros(1, np.float32)

    def set_labels(self, labels: dict[str, np.ndarray], n_active: int) -> None:
        """Class labels (SCE outputs) or per-step targets (n, T, n_out) (MSE outputs)."""
        lay = self.layout
        need_targets = bool(np.any(self.opop[:, OP_LOSS] == LOSS_MSE))
        if need_targets and self.targets.shape != (self.B, self.T, self.n_out_cols):
            self.targets = np.zeros((self.B, self.T, self.n_out_cols), np.float32)
        self.labels[:] = 0
        for po, name in enumerate(self.out_pops):
            if name not in labels:
                continue
            y = np.asarray(labels[name])[:n_active]
            if self.opop[po, OP_LOSS] == LOSS_SCE:
                self.labels[:n_active, po] = y
            else:
                c0 = int(self.opop[po, OP_COL0])
                n = lay.populations[lay.pop_index[name]].num_neurons
                y = y.astype(np.float32)
                if y.ndim == 2:
                    y = y[:, None, :]
                self.targets[:n_active, :, c0:c0 + n] = y


class EPropSimulator(EPropBatchData):
    """State arrays of e-prop training for ``batch_size`` parallel trials, and the kernel calls.

    ``out_losses`` maps each output population to LOSS_SCE or LOSS_MSE;
    ``out_readouts`` to RD_VAR, RD_SUM or RD_AVG. Every other non-input
    population is hidden (LIF or ALIF). ``tau_mem``/``tau_adapt`` are the
    hidden populations' shared time constants. ``parallel`` picks how threads
    share the work: "batch" (whole trials per thread), "neurons" (every step
    in parallel over neurons) or "auto". ``block_steps``: timesteps per gradient
    block (``eprop_gradient``); None picks it so the block buffers take about as
    much memory as the eligibility state. ``gradient``: how a block's products run,
    "sparse" (a row add per spike), "dense" (BLAS GEMMs) or "auto" (by spike rate).
    """

    #: State that carries from one trial into the next (e-prop keeps V, traces and
    #: errors across trials); saved in checkpoints so a resumed run continues exactly.
    CARRIED_STATE = ("V", "RF", "A", "PSI", "FAVG", "E", "ZH", "SPK", "ZH_N", "SPK_N", "X",
                     "SM", "EF", "EPSA")

    name = "cpu-eprop"

    def __init__(self, layout: Layout, batch_size: int, dt: float, example_timesteps: int,
                 out_losses: dict[str, int], out_readouts: dict[str, int], tau_mem: float,
                 tau_adapt: float | None, tau_reg: float, c_reg: float, f_target: float,
                 train_bias: bool, profiling: bool = False, parallel: str = "auto",
                 block_steps: int | None = None, gradient: str = "auto") -> None:
        self.layout = lay = layout
        self.B = B = int(batch_size)
        self.dt = np.float32(dt)
        self.T = int(example_timesteps)
        self.train_bias = bool(train_bias)
        self.profiler = Profiler(profiling)
        N = max(lay.n_neurons, 1)
        self.glob = global_constants(dt, tau_mem, tau_adapt, tau_reg, f_target, c_reg)
        nrn_i, nrn_f, opop_rows, work = neuron_tables(lay, out_losses, out_readouts, dt)
        col = sum(o1 - o0 for o0, o1, *_ in opop_rows)  # output columns
        self.nrn_i, self.nrn_f = nrn_i, nrn_f
        self.work = np.asarray(work, np.int64)
        self.opop = np.asarray(opop_rows, np.int64).reshape(-1, N_OP)
        self.out_pops = [pop.name for pop in lay.populations if pop.name in out_losses]
        self.n_out_cols = col
        kind = nrn_i[:, NI_KIND]
        self.has_alif = bool(np.any(kind == K_ALIF))
        # gradient rows: every non-output neuron, in work order; columns: hidden, then outputs
        hid = np.flatnonzero((kind == K_LIF) | (kind == K_ALIF))
        nrn_i[hid, NI_COL] = np.arange(hid.shape[0])
        self.n_hid = int(hid.shape[0])
        self.beta_h = nrn_f[hid, NF_BETA].copy()
        self.work_pos = work_pos = np.full(N, -1, np.int64)
        work_pos[self.work] = np.arange(self.work.shape[0])
        self.hid_gid = hid
        hp_i, hp_f, hid_pop = [], [], np.zeros(hid.shape[0], np.int64)
        for p in range(len(lay.populations)):
            s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
            if s1 > s0 and nrn_i[s0, NI_KIND] in (K_LIF, K_ALIF):
                c0 = int(nrn_i[s0, NI_COL])
                hid_pop[c0:c0 + s1 - s0] = len(hp_i)
                hp_i.append((s0, s1, c0, work_pos[s0], nrn_i[s0, NI_KIND] == K_ALIF,
                             nrn_i[s0, NI_HAS_RF], nrn_i[s0, NI_REL_RESET], nrn_i[s0, NI_IDR]))
                hp_f.append([nrn_f[s0, k] for k in (NF_VTH, NF_VRESET, NF_TREFRAC, NF_BETA,
                                                    NF_PSI_SCALE, NF_ISCALE)])
        self.hp_i = np.asarray(hp_i, np.int64).reshape(-1, 8)
        self.hp_f = np.asarray(hp_f, np.float32).reshape(-1, 6)
        self.hid_pop = hid_pop
        self.in_rng = np.asarray(
            [(lay.pop_i[p, P_START], lay.pop_i[p, P_END]) for p in range(len(lay.populations))
             if lay.pop_i[p, P_TYPE] == SPIKE_INPUT], np.int64).reshape(-1, 2)
        out_col = np.full(N, -1, np.int64)
        for o0, o1, _loss, _ro, c0 in self.opop:
            out_col[o0:o1] = np.arange(c0, c0 + o1 - o0)
        # synapses: flat index, global pre and post ids (connection order, then pre, then post)
        pres, posts, widx = [], [], []
        for c, conn in enumerate(lay.connections):
            pre_p, post_p = int(lay.conn_i[c, 0]), int(lay.conn_i[c, 1])
            woff, rpo = int(lay.conn_i[c, 3]), int(lay.conn_i[c, 4])
            n_pre = conn.source.num_neurons
            rp = lay.row_ptr[rpo:rpo + n_pre + 1]
            counts = np.diff(rp)
            n_syn = int(rp[-1])
            pres.append(np.repeat(np.arange(n_pre, dtype=np.int64), counts)
                        + lay.pop_i[pre_p, P_START])
            posts.append(lay.syn_post[woff:woff + n_syn].astype(np.int64)
                         + lay.pop_i[post_p, P_START])
            widx.append(np.arange(woff, woff + n_syn, dtype=np.int64))
        pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        wi = np.concatenate(widx) if widx else np.zeros(0, np.int64)
        to_out = kind[post] == K_OUT if post.size else np.zeros(0, bool)
        # each synapse's gradient is one entry of the dense (pre, post) gradient matrix DG
        self.syn_widx = wi
        self.syn_row = work_pos[pre]
        self.syn_col = np.where(to_out, self.n_hid + out_col[post], nrn_i[post, NI_COL])
        # hidden -> output synapses: the symmetric feedback of the output errors goes
        # through their weights, summed per (output, hidden) pair into fb_w
        fbs = to_out & (nrn_i[pre, NI_KIND] != K_INPUT) if pre.size else to_out
        self.fb_widx = wi[fbs]
        self.fb_pos = (out_col[post[fbs]], nrn_i[pre[fbs], NI_COL])
        self.fb_w = np.zeros((self.n_out_cols, self.n_hid), np.float32)
        self.out_gid = np.flatnonzero(out_col >= 0)[np.argsort(out_col[out_col >= 0])]
        # spike delivery rows: one per (connection, presynaptic neuron), in that order
        row_pre, row_ptr = [], [np.zeros(1, np.int64)]
        for c, conn in enumerate(lay.connections):
            pre_p, rpo = int(lay.conn_i[c, 0]), int(lay.conn_i[c, 4])
            n_pre = conn.source.num_neurons
            rp = lay.row_ptr[rpo:rpo + n_pre + 1]
            row_pre.append(np.arange(n_pre, dtype=np.int64) + lay.pop_i[pre_p, P_START])
            row_ptr.append(np.diff(rp))
        self.dl_pre = np.concatenate(row_pre) if row_pre else np.zeros(0, np.int64)
        self.dl_ptr = np.cumsum(np.concatenate(row_ptr)).astype(np.int64)
        self.dl_post = post
        # rows whose targets are consecutive neurons: their first target, else -1
        n_row = np.diff(self.dl_ptr)
        starts = self.dl_ptr[:-1][n_row > 0]
        first = np.full(n_row.shape[0], -1, np.int64)
        first[n_row > 0] = post[starts]
        step_ok = np.ones(post.shape[0], bool)
        step_ok[1:] = np.diff(post) == 1
        step_ok[starts] = True  # a row's first synapse starts its run
        bad_rows = np.zeros(n_row.shape[0] + 1, np.int64)
        np.add.at(bad_rows, np.searchsorted(self.dl_ptr, np.flatnonzero(~step_ok),
                                            side="right") - 1, 1)
        self.dl_run = np.where((bad_rows[:-1] == 0) & (n_row > 0), first, -1).astype(np.int64)
        self.dl_widx = wi
        self.dl_w = np.zeros(self.dl_widx.shape[0], np.float32)
        self.refresh_weights()
        # state
        shape = (B, N)
        self.V = np.zeros(shape, np.float32)
        self.RF = np.zeros(shape, np.float32)
        self.A = np.zeros(shape, np.float32)
        self.PSI = np.zeros(shape, np.float32)
        self.FAVG = np.zeros(shape, np.float32)
        self.E = np.zeros(shape, np.float32)
        self.ZH = np.zeros(shape, np.float32)
        self.SPK = np.zeros(shape, np.float32)
        self.ZH_N = np.zeros(shape, np.float32)
        self.SPK_N = np.zeros(shape, np.float32)
        self.X = np.zeros(shape, np.float32)
        self.SM = np.zeros(shape, np.float32)
        self.R = np.zeros(shape, np.float32)
        self.DB = np.zeros(shape, np.float32)
        self.LSUM = np.zeros(shape, np.float32)
        threads = numba.get_num_threads()
        #: each thread runs whole trials of its own batch slots (no per-step barrier, a
        #: slot's state stays in cache) unless the batch is too small to keep at least
        #: half the threads busy; then every step runs in parallel over neurons
        if parallel not in ("auto", "batch", "neurons"):
            raise ValueError(f"parallel={parallel!r}: allowed 'auto', 'batch', 'neurons'")
        self.by_batch = 2 * B >= threads if parallel == "auto" else parallel == "batch"
        # eligibility state per (slot, presynaptic, hidden postsynaptic) neuron at block
        # boundaries, the gradient matrix, and the per-block buffers (eprop_gradient)
        U, H, O = self.work.shape[0], self.n_hid, self.n_out_cols
        self.EF = np.zeros((B, U, H), np.float32)
        self.EPSA = np.zeros((B, U, H if self.has_alif else 0), np.float32)
        self.DG = np.zeros((gradient_chunks(B, threads), U, H + O), np.float32)
        per_step = B * (4 * (3 * H + O) + U)
        if block_steps is None:
            block_steps = min(1024, max(16, (self.EF.nbytes + self.EPSA.nbytes) // per_step))
        if int(block_steps) < 1:
            raise ValueError(f"block_steps={block_steps}: must be >= 1")
        n_blocks = -(-self.T // int(block_steps))
        #: steps per gradient block: at most block_steps, spread evenly over the trial
        self.block = -(-self.T // n_blocks)
        self.GB = np.zeros((B, self.block, 3 * H + O), np.float32)
        self.SB = np.zeros((B, self.block, -(-U // 8) * 8), np.uint8)
        self.Z0 = np.zeros((B, U), np.float32)
        self.COEF = np.zeros((B, 4, H), np.float32)
        self.FB = np.zeros((B, H), np.float32)
        if gradient not in ("auto", "sparse", "dense"):
            raise ValueError(f"gradient={gradient!r}: allowed 'auto', 'sparse', 'dense'")
        self.gradient = gradient
        #: scratch of the dense form (allocated on first use) and blocks run per form
        self.dense_scratch: dict[str, np.ndarray] = {}
        self.block_forms = {"sparse": 0, "dense": 0}
        self.in_end = np.zeros(shape, np.int64)
        self.cursor = np.zeros(shape, np.int64)
        self.in_times = np.zeros(1, np.float32)
        self.labels = np.zeros((B, max(len(self.out_pops), 1)), np.int64)
        self.targets = np.zeros((1, 1, 1), np.float32)
        self.trials = 0
        self.reset_state()

    # ----- weights and gradients ---------------------------------------------------------
    def refresh_weights(self) -> None:
        """Copy the layout's flat weights into the kernel's synapse orders (after each update)."""
        w = self.layout.weights
        self.fb_w[:] = 0
        np.add.at(self.fb_w, self.fb_pos, w[self.fb_widx])
        self.dl_w[:] = w[self.dl_widx]
        if hasattr(self, "X"):
            # spikes of the last step are delivered in the next step, with the new weights
            redeliver(self.SPK, self.X, self.dl_ptr, self.dl_pre, self.dl_post, self.dl_w,
                      self.dl_run)

    def zero_synapse_state(self, widx: np.ndarray) -> None:
        """Start the given flat synapses afresh (eligibility traces zero), as GeNN does
        for a synapse Deep R creates. The state is kept per (presynaptic, postsynaptic)
        pair, so another connection's synapse between the same two neurons (if any)
        restarts with it."""
        sel = np.isin(self.syn_widx, widx)
        rows, cols = self.syn_row[sel], self.syn_col[sel]
        hid = cols < self.n_hid  # synapses onto outputs carry no eligibility state
        self.EF[:, rows[hid], cols[hid]] = 0
        if self.has_alif:
            self.EPSA[:, rows[hid], cols[hid]] = 0

    def take_gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(DeltaG per flat synapse, DeltaBias per neuron), summed over the batch; then zeroed."""
        g = np.zeros(self.layout.weights.shape[0], np.float32)
        dg = self.DG.sum(axis=0, dtype=np.float32) if self.DG.shape[0] > 1 else self.DG[0]
        g[self.syn_widx] = dg[self.syn_row, self.syn_col]
        db = self.DB.sum(axis=0, dtype=np.float32) if self.B > 1 else self.DB[0].copy()
        self.DG[:] = 0
        self.DB[:] = 0
        return g, db[:self.layout.n_neurons]

    # ----- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Every variable back to its initial value (V and A from the model)."""
        lay = self.layout
        for a in (self.RF, self.PSI, self.FAVG, self.E, self.ZH, self.SPK, self.ZH_N,
                  self.SPK_N, self.X, self.SM, self.DB, self.EF, self.EPSA, self.DG):
            a[:] = 0
        n = lay.n_neurons
        self.V[:, :n] = lay.v_init
        self.A[:, :n] = lay.a_init
        self.trials = 0
        self.reset_readouts()

    def reset_readouts(self) -> None:
        """Zero the readouts and per-trial squared errors (start of every batch)."""
        self.R[:] = 0
        self.LSUM[:] = 0

    # ----- running -----------------------------------------------------------------------
    def run_trial(self, n_active: int, learn: bool = True,
                  record_vars: list[tuple[str, str]] | None = None,
                  record_spikes: list[str] | None = None,
                  step_callback: Any = None, reset_time: bool = True) -> Recording:
        """Simulate one trial of T steps for the first ``n_active`` batch slots."""
        lay = self.layout
        B = n_active
        rec = Recording()
        gids, codes = [], []
        for key in record_vars or []:
            pop, var = key
            code = REC_CODES.get(var.lower())
            if code is None:
                raise ValueError(f"cannot record variable '{var}' of population '{pop}'; "
                                 f"recordable: {', '.join(REC_CODES)}")
            sl = lay.pop_slice(pop)
            start = len(gids)
            gids.extend(range(sl.start, sl.stop))
            codes.extend([code] * (sl.stop - sl.start))
            rec.var_keys.append(key)
            rec.var_slices[key] = slice(start, len(gids))
        rec_gid = np.asarray(gids, np.int64)
        rec_var = np.asarray(codes, np.int64)
        srec_mask = np.zeros(max(lay.n_neurons, 1), np.int8)
        n_srec = 0
        for name in record_spikes or []:
            sl = lay.pop_slice(name)
            srec_mask[sl] = 1
            n_srec += sl.stop - sl.start
            rec.spike_pops.append(name)
        chunk = self.T if step_callback is None else 1
        if n_srec and step_callback is None:
            chunk = max(1, min(self.T, (1 << 24) // max(1, n_srec * B)))
        values = np.zeros((B, self.T, len(gids)), np.float32) if gids else None
        steps_all: list[list[np.ndarray]] = [[] for _ in range(B)]
        ids_all: list[list[np.ndarray]] = [[] for _ in range(B)]
        time0 = 0 if reset_time else self.trials * self.T
        targets = self.targets if self.targets.shape[0] == 1 else self.targets[:B]
        threads = num_threads()
        # the batch's input spikes as events per slot, sorted by step; every staged event
        # fires in this trial, so the per-neuron cursors move past them afterwards
        ev_off, ev_step, ev_gid = stage_spike_inputs(self.cursor[:B], self.in_end[:B],
                                                     self.in_times, self.dt, self.T, time0)
        ev_ptr = ev_off[:-1].copy()
        # kernel calls end at callback/recording chunks and, when learning, at gradient blocks
        cuts = set(range(0, self.T, chunk))
        if learn:
            cuts.update(range(0, self.T, self.block))
        cuts_sorted = sorted(cuts) + [self.T]
        t0 = time.perf_counter()
        grad_s = 0.0
        block0 = 0
        for s0, s1 in zip(cuts_sorted[:-1], cuts_sorted[1:], strict=True):
            if learn and s0 % self.block == 0:
                block0 = s0
                np.take(self.ZH[:B], self.work, axis=1, out=self.Z0[:B])
            if step_callback is not None:
                step_callback.on_timestep_begin(s0)
            vbuf = (np.zeros((B, s1 - s0, len(gids)), np.float32) if gids
                    else np.zeros((1, 1, 1), np.float32))
            cap = n_srec * (s1 - s0)
            sstep = np.zeros((B, cap), np.int32)
            sid = np.zeros((B, cap), np.int32)
            scnt = np.zeros(B, np.int64)
            eprop_steps(
                s0, s1, s0 - block0, self.T, self.dt, self.train_bias, self.by_batch, threads,
                self.glob, self.nrn_f, lay.bias, self.work, self.hp_i, self.hp_f,
                self.hid_gid, self.hid_pop, self.in_rng, self.work_pos, ev_step, ev_gid,
                ev_ptr, ev_off[1:], self.fb_w, self.out_gid, self.dl_ptr, self.dl_pre,
                self.dl_post, self.dl_w, self.dl_run, self.opop,
                self.V[:B], self.RF[:B], self.A[:B], self.PSI[:B], self.FAVG[:B], self.E[:B],
                self.FB[:B], self.ZH[:B], self.SPK[:B], self.ZH_N[:B], self.SPK_N[:B],
                self.X[:B], self.SM[:B], self.R[:B], self.DB[:B], self.n_hid, self.GB[:B],
                self.SB[:B], self.labels[:B], targets, self.LSUM[:B], learn,
                rec_gid, rec_var, vbuf, srec_mask, sstep, sid, scnt)
            if learn and (s1 % self.block == 0 or s1 == self.T):
                tg = time.perf_counter()
                form = gradient_block(
                    s1 - block0, self.glob[G_ALPHA], self.glob[G_RHO], self.beta_h,
                    self.n_out_cols, self.has_alif, threads, self.GB[:B], self.SB[:B],
                    self.Z0[:B], self.COEF[:B], self.EF[:B], self.EPSA[:B], self.DG,
                    self.gradient, self.dense_scratch)
                self.block_forms[form] += 1
                grad_s += time.perf_counter() - tg
            if values is not None:
                values[:, s0:s1] = vbuf
            if n_srec:
                for b in range(B):
                    steps_all[b].append(sstep[b, :scnt[b]])
                    ids_all[b].append(sid[b, :scnt[b]])
            if step_callback is not None:
                step_callback.on_timestep_end(s1 - 1)
        for b in range(B):
            np.add.at(self.cursor[b], ev_gid[ev_off[b]:ev_off[b + 1]], 1)
        if self.profiler.enabled:
            total = time.perf_counter() - t0
            self.profiler.seconds["eprop_train" if learn else "eprop_forward"] += total - grad_s
            if learn:
                self.profiler.seconds["eprop_gradient"] += grad_s
        self.trials += 1
        rec.values = values
        if n_srec:
            rec.spike_steps = [np.concatenate(s) for s in steps_all]
            rec.spike_ids = [np.concatenate(s) for s in ids_all]
        return rec


def num_threads() -> int:
    """Threads numba runs the kernel's parallel loops on."""
    return int(numba.get_num_threads())
