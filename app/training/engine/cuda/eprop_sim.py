"""CUDA backend of e-prop training: ``CUDAEPropSimulator``.

The same methods as the CPU engine's ``EPropSimulator`` (what the e-prop
compiled network calls), with the neuron state, weights, the eligibility state
at block boundaries, gradients and Adam moments resident on the device. Per
trial: one ``ep_step`` launch per timestep and, when learning, per gradient
block of K steps one ``ep_filter`` and one ``ep_product`` launch
(``eprop_kernels``). The host gets the readouts after every trial, the
batch's gradient after every training batch (``take_gradients``) and the
weights and moments after every optimiser step, as the EventProp cuda backend.

Input spikes are staged on the host per batch by the CPU engine's
``stage_spike_inputs`` (e-prop's per-neuron cursors carry spikes beyond a trial
into the next when time is not reset) and uploaded as one event list.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba import cuda

from ..cpu import Profiler, Recording, _dense_connections
from ..eprop_kernels import (
    G_ALPHA,
    G_RHO,
    K_ALIF,
    K_INPUT,
    K_LIF,
    K_OUT,
    LOSS_SCE,
    N_OP,
    NF_BETA,
    NI_COL,
    NI_KIND,
    OP_LOSS,
    REC_CODES,
)
from ..eprop_sim import EPropBatchData, global_constants, neuron_tables
from ..layout import P_END, P_START, Layout
from ..staging import stage_spike_inputs
from . import eprop_kernels as EK
from . import kernels as CK
from .sim import _csr, device_adam, sparse_columns
from .support import unsupported_features


class CUDAEPropSimulator(EPropBatchData):
    """State and kernel calls of e-prop training for ``batch_size`` parallel trials on a
    GPU. Arguments as ``EPropSimulator``'s; ``block_steps``: timesteps per gradient
    block (None: the block buffers take about as much memory as the eligibility state,
    16 to 1024 steps)."""

    name = "cuda-eprop"
    #: carried from one trial into the next (pulled to these host mirrors for checkpoints)
    CARRIED_STATE = ("V", "RF", "A", "PSI", "FAVG", "E", "E_CUR", "ZH", "SM", "carry", "EF",
                     "EPSA")

    def __init__(self, layout: Layout, batch_size: int, dt: float, example_timesteps: int,
                 out_losses: dict[str, int], out_readouts: dict[str, int], tau_mem: float,
                 tau_adapt: float | None, tau_reg: float, c_reg: float, f_target: float,
                 train_bias: bool, profiling: bool = False, block_steps: int | None = None
                 ) -> None:
        problems = unsupported_features(layout)
        if problems:
            raise ValueError("backend='cuda' does not support " + "; ".join(problems)
                             + ". Use backend='cpu' for this network.")
        self.layout = lay = layout
        self.B = B = int(batch_size)
        self.dt = np.float32(dt)
        self.T = T = int(example_timesteps)
        self.train_bias = bool(train_bias)
        self.profiler = Profiler(profiling)
        N = max(lay.n_neurons, 1)
        P = lay.pop_i.shape[0]
        C = lay.conn_i.shape[0]
        self.glob = global_constants(dt, tau_mem, tau_adapt, tau_reg, f_target, c_reg)
        # --- per-neuron parameters (the CPU engine's columns) -----------------------------
        nrn_i, nrn_f, opop_rows, work = neuron_tables(lay, out_losses, out_readouts, dt)
        col = sum(o1 - o0 for o0, o1, *_ in opop_rows)  # output columns
        kind = nrn_i[:, NI_KIND]
        hid = np.flatnonzero((kind == K_LIF) | (kind == K_ALIF))
        nrn_i[hid, NI_COL] = np.arange(hid.shape[0])
        self.n_hid = H = int(hid.shape[0])
        self.has_alif = bool(np.any(kind == K_ALIF))
        self.beta_h = nrn_f[hid, NF_BETA].copy()
        self.work = np.asarray(work or [0], np.int64)
        self.U = U = len(work)
        work_pos = np.full(N, -1, np.int64)
        work_pos[self.work[:U]] = np.arange(U)
        self.opop = np.asarray(opop_rows, np.int64).reshape(-1, N_OP)
        self.out_pops = [pop.name for pop in lay.populations if pop.name in out_losses]
        self.n_out_cols = O = col
        out_col = np.full(N, -1, np.int64)
        for o0, o1, _loss, _ro, c0 in self.opop:
            out_col[o0:o1] = np.arange(c0, c0 + o1 - o0)
        self.out_gid = np.flatnonzero(out_col >= 0)[np.argsort(out_col[out_col >= 0])]
        out_po = np.zeros(N, np.int64)
        for po, (o0, o1) in enumerate(self.opop[:, :2]):
            out_po[o0:o1] = po
        self.has_sce = bool(np.any(self.opop[:, OP_LOSS] == LOSS_SCE))
        # --- synapses: each one's entry of the (presynaptic, postsynaptic) gradient matrix
        pres, posts, widx = [], [], []
        for c, conn in enumerate(lay.connections):
            pre_p, post_p = int(lay.conn_i[c, 0]), int(lay.conn_i[c, 1])
            woff, rpo = int(lay.conn_i[c, 3]), int(lay.conn_i[c, 4])
            rp = lay.row_ptr[rpo:rpo + conn.source.num_neurons + 1]
            n_syn = int(rp[-1])
            pres.append(np.repeat(np.arange(conn.source.num_neurons, dtype=np.int64),
                                  np.diff(rp)) + lay.pop_i[pre_p, P_START])
            posts.append(lay.syn_post[woff:woff + n_syn].astype(np.int64)
                         + lay.pop_i[post_p, P_START])
            widx.append(np.arange(woff, woff + n_syn, dtype=np.int64))
        pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        wi = np.concatenate(widx) if widx else np.zeros(0, np.int64)
        to_out = kind[post] == K_OUT if post.size else np.zeros(0, bool)
        self.syn_widx = wi
        self.syn_row = work_pos[pre]
        self.syn_col = np.where(to_out, H + out_col[post], nrn_i[post, NI_COL])
        fbs = to_out & (kind[pre] != K_INPUT) if pre.size else to_out
        self.fb_widx = wi[fbs]
        self.fb_pos = (out_col[post[fbs]], nrn_i[pre[fbs], NI_COL])
        self.fb_w = np.zeros((max(O, 1), max(H, 1)), np.float32)
        # --- gather structure: each population's incoming connections in order ------------
        pop_of = np.zeros(N, np.int64)
        for p in range(P):
            pop_of[lay.pop_i[p, P_START]:lay.pop_i[p, P_END]] = p
        nwords = [(int(lay.pop_i[p, P_END] - lay.pop_i[p, P_START]) + 31) // 32
                  for p in range(P)]
        pw0 = np.zeros(P, np.int64)
        if P > 1:
            pw0[1:] = np.cumsum(nwords)[:-1]
        self.pw0 = pw0
        self.W = W = max(int(sum(nwords)), 1)
        self.gword = pw0[pop_of] + (np.arange(N) - lay.pop_i[pop_of, P_START]) // 32
        self.gbit = (np.arange(N) - lay.pop_i[pop_of, P_START]) % 32
        in_ptr, in_list = _csr([[c for c in range(C) if lay.conn_i[c, 1] == p]
                                for p in range(P)])
        conn_dense = _dense_connections(lay)
        cco, csc_ptr, csc_pre, csc_syn = sparse_columns(lay, conn_dense)
        d = cuda.to_device
        self.d = {
            "glob": d(self.glob), "nrn_i": d(nrn_i), "nrn_f": d(nrn_f), "out_po": d(out_po),
            # the step kernel's threads: the non-output neurons, then the outputs
            "work": d(np.concatenate([self.work[:U], self.out_gid]).astype(np.int64)),
            "pop_of": d(pop_of), "pop_i": d(lay.pop_i), "in_ptr": d(in_ptr),
            "in_list": d(in_list), "conn_i": d(lay.conn_i if C else np.zeros((1, 6), np.int64)),
            "conn_dense": d(conn_dense if C else np.zeros(1, np.int8)),
            "row_ptr": d(lay.row_ptr if lay.row_ptr.size else np.zeros(1, np.int64)),
            "csc_ptr": d(csc_ptr), "csc_pre": d(csc_pre), "csc_syn": d(csc_syn), "cco": d(cco),
            "pw0": d(pw0), "out_gid": d(self.out_gid if O else np.zeros(1, np.int64)),
            "opop": d(self.opop), "beta": d(self.beta_h if H else np.zeros(1, np.float32)),
            "syn_row": d(self.syn_row if wi.size else np.zeros(1, np.int64)),
            "syn_col": d(self.syn_col if wi.size else np.zeros(1, np.int64)),
            "syn_widx": d(wi if wi.size else np.zeros(1, np.int64)),
        }
        S = max(lay.weights.shape[0], 1)
        self.weights_d = d(lay.weights if lay.weights.size else np.zeros(1, np.float32))
        self.bias_d = d(np.resize(lay.bias, N).astype(np.float32))
        self.fb_w_d = d(self.fb_w)
        # --- state (device) and host mirrors ------------------------------------------------
        self.V = np.zeros((B, N), np.float32)
        self.RF = np.zeros((B, N), np.float32)
        self.A = np.zeros((B, N), np.float32)
        self.PSI = np.zeros((B, N), np.float32)
        self.FAVG = np.zeros((B, N), np.float32)
        self.E = np.zeros((2, B, N), np.float32)
        self.ZH = np.zeros((B, N), np.float32)
        self.SM = np.zeros((B, N), np.float32)
        self.carry = np.zeros((B, W), np.uint32)
        self.R = np.zeros((B, N), np.float32)
        self.LSUM = np.zeros((B, N), np.float32)
        Ha = H if self.has_alif else 0
        self.EF = np.zeros((B, U, H), np.float32)
        self.EPSA = np.zeros((B, U, Ha), np.float32)
        #: which buffer of E holds the last step's errors (the other is written next);
        #: an array so checkpoints carry it with E
        self.E_CUR = np.zeros(1, np.int64)
        self.s = {name: cuda.device_array(shape, dtype) for name, shape, dtype in (
            ("V", (B, N), np.float32), ("RF", (B, N), np.float32), ("A", (B, N), np.float32),
            ("PSI", (B, N), np.float32), ("FAVG", (B, N), np.float32),
            ("E", (2, B, N), np.float32), ("ZH", (B, N), np.float32),
            ("SM", (B, N), np.float32), ("R", (B, N), np.float32), ("DB", (B, N), np.float32),
            ("LSUM", (B, N), np.float32), ("raster", (B, T, W), np.uint32),
            ("carry", (B, W), np.uint32), ("EF", (B, max(U, 1), max(H, 1)), np.float32),
            ("EPSA", (B, max(U, 1), max(Ha, 1)), np.float32),
            ("DG", (max(U, 1), max(H + O, 1)), np.float32))}
        # block length: the block buffers take about as much memory as the eligibility state
        per_step = B * 4 * (3 * H + O + U)
        if block_steps is None:
            block_steps = min(1024, max(16, (self.EF.nbytes + self.EPSA.nbytes) // per_step))
        if int(block_steps) < 1:
            raise ValueError(f"block_steps={block_steps}: must be >= 1")
        n_blocks = -(-T // int(block_steps))
        #: steps per gradient block: at most block_steps, spread evenly over the trial
        self.block = -(-T // n_blocks)
        self.s["GB"] = cuda.device_array((B, self.block, max(3 * H + O, 1)), np.float32)
        self.s["Z"] = cuda.device_array((B, self.block, max(U, 1)), np.float32)
        self.s["COEF"] = cuda.device_array((B, 4, max(H, 1)), np.float32)
        self.gbatch_d = cuda.device_array(S, np.float32)
        self.gsum_d = cuda.device_array(S, np.float32)
        self.dbatch_d = cuda.device_array(N, np.float32)
        self.dsum_d = cuda.device_array(N, np.float32)
        self._fill(self.gsum_d, 0)
        self._fill(self.dsum_d, 0)
        self._moments: dict[int, tuple[Any, Any, Any]] = {}
        self._flags = cuda.device_array(3, np.int32)
        self._no_rec = (d(np.zeros(N + 1, np.int64)), d(np.zeros(1, np.int64)),
                        d(np.zeros(1, np.int64)), cuda.device_array((1, 1, 1), np.float32))
        self._dummy3 = cuda.device_array((1, 1, 1), np.float32)
        # inputs: per-neuron spike-time ranges (the CPU simulator's cursors)
        self.in_end = np.zeros((B, N), np.int64)
        self.cursor = np.zeros((B, N), np.int64)
        self.in_times = np.zeros(1, np.float32)
        self.labels = np.zeros((B, max(len(self.out_pops), 1)), np.int64)
        self.targets = np.zeros((1, 1, 1), np.float32)
        self.trials = 0
        self.refresh_weights()
        self.reset_state()

    # ----- helpers -----------------------------------------------------------------------
    @staticmethod
    def _fill(arr: Any, value: Any) -> None:
        flat = arr.reshape(arr.size)
        EK.ep_fill[min(CK.blocks(arr.size), EK.FILL_BLOCKS), CK.TPB](flat,
                                                                     flat.dtype.type(value))

    # ----- weights and gradients ---------------------------------------------------------
    def refresh_weights(self) -> None:
        """Push host weights, biases, the output-error feedback weights and restored
        optimiser moments to the device (after ``set_weights`` or an optimiser step)."""
        lay = self.layout
        w = lay.weights
        self.fb_w[:] = 0
        np.add.at(self.fb_w, self.fb_pos, w[self.fb_widx])
        self.fb_w_d.copy_to_device(self.fb_w)
        if w.size:
            self.weights_d.copy_to_device(w)
        self.bias_d.copy_to_device(np.resize(lay.bias, self.bias_d.shape[0]).astype(np.float32))
        for t, m_d, v_d in self._moments.values():
            m_d.copy_to_device(np.ascontiguousarray(t.state["m"], np.float32).reshape(-1))
            v_d.copy_to_device(np.ascontiguousarray(t.state["v"], np.float32).reshape(-1))

    def zero_synapse_state(self, widx: np.ndarray) -> None:
        """Start the given flat synapses afresh (eligibility state zero)."""
        sel = np.isin(self.syn_widx, widx)
        rows, cols = self.syn_row[sel], self.syn_col[sel]
        hid = cols < self.n_hid
        n = int(hid.sum())
        if n:
            EK.ep_zero_pairs[CK.blocks(self.B * n), CK.TPB](
                self.s["EF"], self.s["EPSA"], cuda.to_device(rows[hid]),
                cuda.to_device(cols[hid]), self.has_alif)

    def take_gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(DeltaG per flat synapse, DeltaBias per neuron) of the batch, summed over slots;
        the device keeps their running sum for ``optimiser_step``."""
        lay = self.layout
        g = np.zeros(lay.weights.shape[0], np.float32)
        n = self.syn_widx.shape[0]
        if n:
            self._fill(self.gbatch_d, 0)
            EK.ep_take[CK.blocks(n), CK.TPB](self.s["DG"], self.d["syn_row"],
                                             self.d["syn_col"], self.d["syn_widx"],
                                             self.gbatch_d, self.gsum_d)
            self.gbatch_d[:g.shape[0]].copy_to_host(g)
            self._fill(self.s["DG"], 0)
        N = self.dsum_d.shape[0]
        EK.ep_sum_slots[CK.blocks(N), CK.TPB](self.s["DB"], self.dbatch_d, self.dsum_d, self.B)
        db = self.dbatch_d.copy_to_host()
        return g, db[:lay.n_neurons]

    def optimiser_step(self, t: Any, step: int) -> int:
        """Adam on trainable ``t`` (weights or output biases) on the device, from the
        device's gradient sum; mirrors values and moments to the host and zeroes the
        host gradient. Returns an ``optim`` status like the CPU step."""
        from ...optimisers import Adam
        from .. import optim

        if not isinstance(t.optimiser, Adam):
            raise ValueError(f"backend='cuda' trains with Adam only, not {t.optimiser!r} "
                             f"('{t.name}'); use backend='cpu'")
        if t.kind == "weight":
            sl = self.layout.conn_slice(t.name)
            param, grad = self.weights_d[sl.start:sl.stop], self.gsum_d[sl.start:sl.stop]
        else:
            sl = self.layout.pop_slice(t.name)
            param, grad = self.bias_d[sl.start:sl.stop], self.dsum_d[sl.start:sl.stop]
        key = id(t)
        if key not in self._moments:
            self._moments[key] = (
                t, cuda.to_device(np.ascontiguousarray(t.state["m"], np.float32).reshape(-1)),
                cuda.to_device(np.ascontiguousarray(t.state["v"], np.float32).reshape(-1)))
        _, m_d, v_d = self._moments[key]
        status = device_adam(t.optimiser, param, grad, m_d, v_d, step, self._flags)
        if status in (optim.BAD_PARAM, optim.BAD_GRAD):
            return status
        param.copy_to_host(t.param)
        m_d.copy_to_host(t.state["m"].reshape(-1))
        v_d.copy_to_host(t.state["v"].reshape(-1))
        t.grad[...] = 0
        return status

    # ----- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Every variable back to its initial value (V and A from the model)."""
        lay = self.layout
        for name in ("RF", "PSI", "FAVG", "E", "ZH", "SM", "carry", "DB", "EF", "EPSA", "DG"):
            self._fill(self.s[name], 0)
        n = lay.n_neurons
        self.V[:] = 0
        self.A[:] = 0
        self.V[:, :n] = lay.v_init
        self.A[:, :n] = lay.a_init
        self.s["V"].copy_to_device(self.V)
        self.s["A"].copy_to_device(self.A)
        self.E_CUR[0] = 0
        self.trials = 0
        self.reset_readouts()

    def reset_readouts(self) -> None:
        """Zero the readouts and per-trial squared errors (start of every batch)."""
        self.R[:] = 0
        self.LSUM[:] = 0
        self._fill(self.s["R"], 0)
        self._fill(self.s["LSUM"], 0)

    def pull_carried(self) -> None:
        """Copy the state carried across trials to the host mirrors (checkpoints)."""
        for name in self.CARRIED_STATE:
            arr = getattr(self, name)
            if arr.size and name in self.s:
                self.s[name].copy_to_host(arr)

    def push_carried(self) -> None:
        """Copy host mirrors of the carried state (a restored checkpoint) to the device."""
        for name in self.CARRIED_STATE:
            arr = getattr(self, name)
            if arr.size and name in self.s:
                self.s[name].copy_to_device(arr)

    # ----- running -----------------------------------------------------------------------
    def _recording(self, B: int, record_vars: list[tuple[str, str]] | None,
                   rec: Recording) -> tuple[Any, Any, Any, Any]:
        lay = self.layout
        per_gid: list[list[tuple[int, int]]] = [[] for _ in range(max(lay.n_neurons, 1))]
        k = 0
        for key in record_vars or []:
            pop, var = key
            code = REC_CODES.get(var.lower())
            if code is None:
                raise ValueError(f"cannot record variable '{var}' of population '{pop}'; "
                                 f"recordable: {', '.join(REC_CODES)}")
            sl = lay.pop_slice(pop)
            for gi in range(sl.start, sl.stop):
                per_gid[gi].append((k, code))
                k += 1
            rec.var_keys.append(key)
            rec.var_slices[key] = slice(k - (sl.stop - sl.start), k)
        if not k:
            return self._no_rec
        ptr = np.zeros(len(per_gid) + 1, np.int64)
        ptr[1:] = np.cumsum([len(x) for x in per_gid])
        flat = [e for x in per_gid for e in x]
        values = cuda.device_array((B, self.T, k), np.float32)
        self._fill(values, 0)
        return (cuda.to_device(ptr), cuda.to_device(np.asarray([e[0] for e in flat])),
                cuda.to_device(np.asarray([e[1] for e in flat], np.int64)), values)

    def _stage(self, B: int, time0: int) -> None:
        """Clear the trial's spike bitmaps and set the bits of its input events."""
        ev_off, ev_step, ev_gid = stage_spike_inputs(self.cursor[:B], self.in_end[:B],
                                                     self.in_times, self.dt, self.T, time0)
        self._fill(self.s["raster"], 0)
        n = int(ev_off[-1])
        if n:
            ev_b = np.repeat(np.arange(B, dtype=np.int64), np.diff(ev_off))
            g = ev_gid[:n].astype(np.int64)
            EK.ep_stage[CK.blocks(n), CK.TPB](
                cuda.to_device(ev_b), cuda.to_device(ev_step[:n].astype(np.int64)),
                cuda.to_device(self.gword[g]), cuda.to_device(self.gbit[g]),
                self.s["raster"][:B])
        for b in range(B):
            np.add.at(self.cursor[b], ev_gid[ev_off[b]:ev_off[b + 1]], 1)

    def _gradient_block(self, K: int, B: int) -> None:
        """Filter and product kernels of one block of K recorded steps."""
        s = self.s
        H, O = self.n_hid, self.n_out_cols
        a32 = np.float32(self.glob[G_ALPHA])
        aK = np.float32(np.float64(a32) ** K)
        if H:
            EK.ep_filter[CK.blocks(B * H), CK.TPB](
                K, np.float64(a32), np.float64(self.glob[G_RHO]), self.d["beta"], H,
                self.has_alif, s["GB"][:B], s["COEF"][:B])
        if self.U and H + O:
            grid = ((H + O + EK.TS - 1) // EK.TS, (self.U + EK.TS - 1) // EK.TS)
            EK.ep_product[grid, (EK.TS, EK.TS)](
                K, aK, H, O, self.has_alif, s["Z"][:B], s["GB"][:B], s["COEF"][:B],
                s["EF"][:B], s["EPSA"][:B], s["DG"])

    def run_trial(self, n_active: int, learn: bool = True,
                  record_vars: list[tuple[str, str]] | None = None,
                  record_spikes: list[str] | None = None,
                  step_callback: Any = None, reset_time: bool = True) -> Recording:
        """Simulate one trial of T steps for the first ``n_active`` batch slots."""
        B = n_active
        d, s = self.d, self.s
        rec = Recording()
        recs = self._recording(B, record_vars, rec)
        time0 = 0 if reset_time else self.trials * self.T
        t0 = time.perf_counter()
        self._stage(B, time0)
        targets = self.targets if self.targets.shape[0] == 1 else self.targets[:B]
        targets_d = cuda.to_device(targets)
        labels_d = cuda.to_device(self.labels[:B])
        n_thr = B * (self.U + self.n_out_cols)
        n_sm = B * self.opop.shape[0]
        grad_s = 0.0
        block0 = 0
        for step in range(self.T):
            if learn and step % self.block == 0:
                block0 = step
            if step_callback is not None:
                step_callback.on_timestep_begin(step)
            EK.ep_step[CK.blocks(n_thr), CK.TPB](
                step, step - block0, self.T, self.dt, learn, self.train_bias, int(self.E_CUR[0]),
                d["glob"], d["nrn_i"], d["nrn_f"], self.bias_d, d["work"], self.U,
                d["out_po"], d["pop_of"], d["pop_i"], d["in_ptr"], d["in_list"], d["conn_i"],
                d["conn_dense"], d["row_ptr"], self.weights_d, d["csc_ptr"], d["csc_pre"],
                d["csc_syn"], d["cco"], d["pw0"], self.fb_w_d, d["out_gid"], d["opop"],
                self.n_hid, s["V"][:B], s["RF"][:B], s["A"][:B], s["PSI"][:B],
                s["FAVG"][:B], s["E"][:, :B], s["ZH"][:B], s["SM"][:B], s["R"][:B],
                s["DB"][:B], s["LSUM"][:B], s["raster"][:B], s["carry"][:B], labels_d,
                targets_d, s["Z"][:B], s["GB"][:B], step, recs[0], recs[1], recs[2],
                recs[3])
            if self.has_sce:
                EK.ep_softmax[CK.blocks(n_sm), CK.TPB](d["opop"], s["V"][:B], s["SM"][:B], step,
                                                       recs[0], recs[1], recs[2], recs[3])
            self.E_CUR[0] = 1 - self.E_CUR[0]
            if learn and ((step + 1) % self.block == 0 or step + 1 == self.T):
                tg = time.perf_counter()
                self._gradient_block(step + 1 - block0, B)
                grad_s += time.perf_counter() - tg
            if step_callback is not None:
                cuda.synchronize()
                step_callback.on_timestep_end(step)
        CK.copy_last_step[CK.blocks(B * self.W), CK.TPB](s["raster"][:B], s["carry"][:B],
                                                         self.T - 1)
        s["R"].copy_to_host(self.R)
        s["LSUM"].copy_to_host(self.LSUM)
        if record_vars:
            rec.values = recs[3].copy_to_host()
        if record_spikes:
            self._spikes_to_recording(B, record_spikes, rec)
        if self.profiler.enabled:
            cuda.synchronize()
            total = time.perf_counter() - t0
            self.profiler.seconds["eprop_train" if learn else "eprop_forward"] += total - grad_s
            if learn:
                self.profiler.seconds["eprop_gradient"] += grad_s
        self.trials += 1
        return rec

    def _spikes_to_recording(self, B: int, pops: list[str], rec: Recording) -> None:
        """Spike times and ids of ``pops`` from the trial's bitmaps, sorted by (step, id)."""
        lay = self.layout
        raster = self.s["raster"][:B].copy_to_host()
        bits = np.unpackbits(raster.view(np.uint8), axis=-1, bitorder="little")
        steps_l, ids_l = [], []
        for b in range(B):
            ss, ii = [], []
            for name in pops:
                p = lay.pop_index[name]
                s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
                w0 = int(self.pw0[p]) * 32
                st, nn = np.nonzero(bits[b, :, w0:w0 + s1 - s0])
                ss.append(st)
                ii.append(nn + s0)
            st = np.concatenate(ss).astype(np.int32)
            gid = np.concatenate(ii).astype(np.int32)
            order = np.lexsort((gid, st))
            steps_l.append(st[order])
            ids_l.append(gid[order])
        rec.spike_pops = list(pops)
        rec.spike_steps, rec.spike_ids = steps_l, ids_l


__all__ = ["CUDAEPropSimulator"]
