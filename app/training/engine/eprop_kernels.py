"""Numba kernel of e-prop training (Bellec et al. 2020, as mlGeNN implements it).

One call runs steps ``[step0, step1)`` of a trial for every batch slot, with
no Python per step. Memory is O(batch x synapses) and does not depend on the
number of timesteps: every trace is updated online.

Each step has two parallel phases that read only the previous step's values
(the double-buffered spikes ``spk``/``zhat`` and the output errors ``E``):

* phase A, parallel over non-output neurons (inputs and hidden), loops over
  the batch: delivers last step's spikes to hidden neuron j (post-major
  synapse list, connection order then presynaptic id, as GeNN sums them),
  updates the eligibility traces of j's incoming synapses and accumulates
  ``DeltaG``; accumulates the output-weight gradient ``zhat_j * E_k`` and the
  feedback ``E_j = sum_k W_jk E_k`` of j's outgoing output synapses; then the
  neuron update (LIF/ALIF with pseudo-derivative ``psi``, firing-rate trace,
  presynaptic trace ``zhat``) or the input spike generation.
* phase B, parallel over the batch: output LeakyIntegrate neurons (input
  current, V, error E, ``DeltaBias``, readout, timestep-end softmax), then the
  new spikes/traces become the previous ones.

The operation order inside a step, and every float32 expression, follows the
fixtures' README ("EPropCompiler" section), so the results match mlGeNN to
float32 rounding.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from .cpu import Profiler, Recording
from .layout import F_ISCALE, LI, P_END, P_START, P_TYPE, SPIKE_INPUT, Layout

# Neuron kinds (kind column of the per-neuron integer parameters).
K_NONE, K_INPUT, K_LIF, K_ALIF, K_OUT = 0, 1, 2, 3, 4
# Per-neuron float parameters (columns of nrn_f).
NF_VTH, NF_VRESET, NF_TREFRAC, NF_BETA, NF_ALPHA, NF_PSI_SCALE, NF_ISCALE = range(7)
N_NF = 7
# Per-neuron integer parameters (columns of nrn_i).
NI_KIND, NI_HAS_RF, NI_REL_RESET, NI_IDR = range(4)
N_NI = 4
# Output populations (columns of opop).
OP_START, OP_END, OP_LOSS, OP_READOUT, OP_COL0 = range(5)
N_OP = 5
LOSS_SCE, LOSS_MSE = 0, 1
# Output readouts (which variable is read is decided by the loss).
RD_VAR, RD_SUM, RD_AVG = 0, 1, 2
# Global scalars (entries of glob).
G_ALPHA, G_RHO, G_AFAV, G_ONE_M_AFAV, G_FTARGET, G_CREG = range(6)
N_G = 6
#: smallest normal float32; traces that decay below it are flushed to zero
FLT_MIN = np.float32(np.finfo(np.float32).tiny)
# Recordable variables (rec_var codes; the first four match the CPU engine's).
R_V, R_A, R_RF, R_READOUT, R_E, R_DBIAS, R_SOFTMAX, R_Z, R_PSI, R_FAVG, R_ZHAT = range(11)
REC_CODES = {"v": R_V, "a": R_A, "refractime": R_RF, "readout": R_READOUT, "e": R_E,
             "deltabias": R_DBIAS, "vsoftmax": R_SOFTMAX, "z": R_Z, "psi": R_PSI,
             "favg": R_FAVG, "zfilter": R_ZHAT}


@njit(cache=True)
def _unit(b, gid, t, dt, learn, glob, nrn_i, nrn_f, in_ptr, in_pre, X, oo_ptr, oo_post,
          oo_w, V, RF, A, PSI, FAVG, E, ZH, ZH_N, SPK_N, EF, EPSA, dg_in, dg_oo,
          in_end, in_times, cursor):
    """One step of non-output neuron ``gid`` in batch slot ``b`` (synapses, then neuron)."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    alpha = glob[G_ALPHA]
    kind = nrn_i[gid, NI_KIND]
    zf = ZH[b, gid]
    if kind == K_INPUT:
        if learn:
            for s in range(oo_ptr[gid], oo_ptr[gid + 1]):
                dg_oo[s] += zf * E[b, oo_post[s]]
        c = cursor[b, gid]
        fire = c < in_end[b, gid] and t >= in_times[c]
        if fire:
            cursor[b, gid] = c + 1
        zf = zf * alpha
        if zf < FLT_MIN:
            zf = zero
        if fire:
            zf += one
            SPK_N[b, gid] = one
        else:
            SPK_N[b, gid] = zero
        ZH_N[b, gid] = zf
        return
    vth = nrn_f[gid, NF_VTH]
    beta_a = nrn_f[gid, NF_BETA]
    is_alif = kind == K_ALIF
    rho = glob[G_RHO]
    s0 = in_ptr[gid]
    s1 = in_ptr[gid + 1]
    # synapse phase with the previous step's values
    psi = PSI[b, gid]
    ej = E[b, gid]
    reg = (FAVG[b, gid] - glob[G_FTARGET]) * glob[G_CREG]
    # input current: last step's spikes, delivered by _end_step
    isyn = X[b, gid]
    X[b, gid] = zero
    if not learn:
        pass
    elif is_alif:
        psi_beta = psi * beta_a
        zh = ZH[b]
        ef_b = EF[b, s0:s1]
        eps_b = EPSA[b, s0:s1]
        pre = in_pre[s0:s1]
        dg = dg_in[s0:s1]
        for s in range(s1 - s0):
            psi_z = psi * zh[pre[s]]
            eps = eps_b[s]
            psi_beta_eps = psi_beta * eps
            e = psi_z - psi_beta_eps
            eps_b[s] = psi_z + ((rho * eps) - psi_beta_eps)
            ef = ef_b[s] * alpha + e
            ef_b[s] = ef
            dg[s] += (ef * ej) + (reg * e)
    else:
        zh = ZH[b]
        ef_b = EF[b, s0:s1]
        pre = in_pre[s0:s1]
        dg = dg_in[s0:s1]
        for s in range(s1 - s0):
            e = zh[pre[s]] * psi
            ef = ef_b[s] * alpha + e
            ef_b[s] = ef
            dg[s] += (ef * ej) + (reg * e)
    # output synapses: gradient and symmetric feedback
    fb = zero
    for s in range(oo_ptr[gid], oo_ptr[gid + 1]):
        eo = E[b, oo_post[s]]
        if learn:
            dg_oo[s] += zf * eo
        fb += oo_w[s] * eo
    # neuron update
    has_rf = nrn_i[gid, NI_HAS_RF] != 0
    v = V[b, gid]
    rf = RF[b, gid]
    integrate = True
    if has_rf and rf > zero:
        rf -= dt
        integrate = nrn_i[gid, NI_IDR] != 0
    if integrate:
        v = alpha * v + nrn_f[gid, NF_ISCALE] * isyn
    thr = vth
    a = zero
    if is_alif:
        a = A[b, gid] * rho
        thr = vth + beta_a * a
    E[b, gid] = fb
    fav = FAVG[b, gid] * glob[G_AFAV]
    if has_rf and rf > zero:
        psi = zero
    else:
        psi = nrn_f[gid, NF_PSI_SCALE] * max(zero, one - abs((v - thr) / vth))
    PSI[b, gid] = psi
    zf = zf * alpha
    if zf < FLT_MIN:
        zf = zero
    if v >= thr and (not has_rf or rf <= zero):
        if nrn_i[gid, NI_REL_RESET] != 0:
            v -= vth - nrn_f[gid, NF_VRESET]
        else:
            v = nrn_f[gid, NF_VRESET]
        if is_alif:
            a += one
        if has_rf:
            rf = nrn_f[gid, NF_TREFRAC]
        fav += glob[G_ONE_M_AFAV]
        zf += one
        SPK_N[b, gid] = one
    else:
        SPK_N[b, gid] = zero
    V[b, gid] = v
    RF[b, gid] = rf
    if is_alif:
        A[b, gid] = a
    FAVG[b, gid] = fav
    ZH_N[b, gid] = zf


@njit(cache=True)
def _outputs(b, step, T, learn, train_bias, nrn_f, bias, X, opop,
             V, E, SM, R, DB, LSUM, labels, targets):
    """One step of every output population in slot ``b``: V, error, readout, softmax."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    inv_t = np.float32(1.0 / T)
    for po in range(opop.shape[0]):
        o0 = opop[po, OP_START]
        o1 = opop[po, OP_END]
        loss = opop[po, OP_LOSS]
        ro = opop[po, OP_READOUT]
        col0 = opop[po, OP_COL0]
        y = labels[b, po]
        for k in range(o0, o1):
            isyn = X[b, k]
            X[b, k] = zero
            v = nrn_f[k, NF_ALPHA] * V[b, k] + nrn_f[k, NF_ISCALE] * isyn + bias[k]
            V[b, k] = v
            if loss == LOSS_SCE:
                out = SM[b, k]
                e = out - (one if k - o0 == y else zero)
            else:
                out = v
                e = v - targets[b, step, col0 + k - o0]
            if ro == RD_SUM:
                R[b, k] += out
            elif ro == RD_AVG:
                R[b, k] += inv_t * out
            else:
                R[b, k] = out
            E[b, k] = e
            LSUM[b, k] += e * e
            if train_bias and learn:
                DB[b, k] += e
        if loss == LOSS_SCE:
            mx = V[b, o0]
            for k in range(o0 + 1, o1):
                if V[b, k] > mx:
                    mx = V[b, k]
            tot = zero
            for k in range(o0, o1):
                tot += np.exp(V[b, k] - mx)
            for k in range(o0, o1):
                SM[b, k] = np.exp(V[b, k] - mx) / tot


@njit(cache=True)
def _end_step(b, r, step, work, ZH, SPK, ZH_N, SPK_N, X, dl_ptr, dl_pre, dl_post, dl_w,
              V, A, RF, R, E, DB, SM, PSI, FAVG,
              rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt):
    """New spikes/traces become the previous ones and are delivered for the next step
    (rows in connection order, then presynaptic id: GeNN's summation order); record."""
    zero = np.float32(0.0)
    for u in range(work.shape[0]):
        gid = work[u]
        ZH[b, gid] = ZH_N[b, gid]
        SPK[b, gid] = SPK_N[b, gid]
    for row in range(dl_pre.shape[0]):
        if SPK[b, dl_pre[row]] != zero:
            for s in range(dl_ptr[row], dl_ptr[row + 1]):
                X[b, dl_post[s]] += dl_w[s]
    for k in range(rec_gid.shape[0]):
        _record(rec, b, r, k, rec_var[k], rec_gid[k], V, A, RF, R, E, DB, SM, SPK, PSI,
                FAVG, ZH)
    for u in range(work.shape[0]):
        gid = work[u]
        if srec_mask[gid] != 0 and SPK[b, gid] != zero:
            c = srec_cnt[b]
            if c < srec_step.shape[1]:
                srec_step[b, c] = step
                srec_id[b, c] = gid
                srec_cnt[b] = c + 1


@njit(cache=True)
def redeliver(SPK, X, dl_ptr, dl_pre, dl_post, dl_w):
    """Recompute the pending input of the last step's spikes (after a weight change)."""
    zero = np.float32(0.0)
    for b in range(X.shape[0]):
        for n in range(X.shape[1]):
            X[b, n] = zero
        for row in range(dl_pre.shape[0]):
            if SPK[b, dl_pre[row]] != zero:
                for s in range(dl_ptr[row], dl_ptr[row + 1]):
                    X[b, dl_post[s]] += dl_w[s]


@njit(cache=True, parallel=True)
def eprop_steps(step0, step1, time_step0, T, dt, train_bias, by_batch,
                glob, nrn_i, nrn_f, bias, work,
                in_ptr, in_pre,
                oo_ptr, oo_post, oo_w,
                dl_ptr, dl_pre, dl_post, dl_w, opop,
                V, RF, A, PSI, FAVG, E, ZH, SPK, ZH_N, SPK_N, X, SM, R, DB,
                EF, EPSA, DG_IN, DG_OO,
                labels, targets, LSUM, learn,
                in_end, in_times, cursor,
                rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt):
    """Run e-prop steps [step0, step1) for every batch slot, updating all state in place.

    Shapes: state ``(B, N)`` float32 indexed by global neuron id; ``EF``/``EPSA``
    ``(B, S_in)`` per incoming hidden synapse (post-major); ``DG_IN``
    ``(C, S_in)`` and ``DG_OO`` ``(C, S_oo)`` hold one gradient row per chunk of
    the batch (C = 1 unless ``by_batch``); ``labels`` ``(B, n_outpops)``;
    ``targets`` ``(B, T, n_out)`` (MSE); ``LSUM`` ``(B, N)`` accumulates the
    squared output errors. With ``learn`` false the traces and gradients are
    left alone (evaluation). ``rec[b, step - step0, k]`` records variable
    ``rec_var[k]`` of neuron ``rec_gid[k]``; spikes of neurons with
    ``srec_mask`` set are appended to ``srec_step``/``srec_id``.

    ``by_batch``: each of the C threads runs whole trials of its own batch
    slots (no synchronisation per step); otherwise every step runs in
    parallel over neurons, then over the batch (for small batches).
    """
    B = V.shape[0]
    U = work.shape[0]
    if by_batch:
        C = DG_IN.shape[0]
        per = (B + C - 1) // C
        for ch in prange(C):
            dg_in = DG_IN[ch]
            dg_oo = DG_OO[ch]
            for b in range(ch * per, min(B, (ch + 1) * per)):
                for step in range(step0, step1):
                    t = np.float32(time_step0 + step) * dt
                    for u in range(U):
                        _unit(b, work[u], t, dt, learn, glob, nrn_i, nrn_f, in_ptr, in_pre,
                              X, oo_ptr, oo_post, oo_w, V, RF, A, PSI, FAVG, E, ZH,
                              ZH_N, SPK_N, EF, EPSA, dg_in, dg_oo, in_end, in_times, cursor)
                    _outputs(b, step, T, learn, train_bias, nrn_f, bias, X,
                             opop, V, E, SM, R, DB, LSUM, labels, targets)
                    _end_step(b, step - step0, step, work, ZH, SPK, ZH_N, SPK_N, X, dl_ptr,
                              dl_pre, dl_post, dl_w, V, A, RF, R, E, DB, SM, PSI, FAVG,
                              rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt)
        return 0
    dg_in = DG_IN[0]
    dg_oo = DG_OO[0]
    for step in range(step0, step1):
        t = np.float32(time_step0 + step) * dt
        for u in prange(U):
            gid = work[u]
            for b in range(B):
                _unit(b, gid, t, dt, learn, glob, nrn_i, nrn_f, in_ptr, in_pre, X,
                      oo_ptr, oo_post, oo_w, V, RF, A, PSI, FAVG, E, ZH, ZH_N, SPK_N,
                      EF, EPSA, dg_in, dg_oo, in_end, in_times, cursor)
        for b in prange(B):
            _outputs(b, step, T, learn, train_bias, nrn_f, bias, X, opop,
                     V, E, SM, R, DB, LSUM, labels, targets)
            _end_step(b, step - step0, step, work, ZH, SPK, ZH_N, SPK_N, X, dl_ptr, dl_pre,
                      dl_post, dl_w, V, A, RF, R, E, DB, SM, PSI, FAVG, rec_gid, rec_var, rec,
                      srec_mask, srec_step, srec_id, srec_cnt)
    return 0


@njit(cache=True)
def _record(rec, b, r, k, code, gid, V, A, RF, R, E, DB, SM, SPK, PSI, FAVG, ZH):
    if code == R_V:
        rec[b, r, k] = V[b, gid]
    elif code == R_A:
        rec[b, r, k] = A[b, gid]
    elif code == R_RF:
        rec[b, r, k] = RF[b, gid]
    elif code == R_READOUT:
        rec[b, r, k] = R[b, gid]
    elif code == R_E:
        rec[b, r, k] = E[b, gid]
    elif code == R_DBIAS:
        rec[b, r, k] = DB[b, gid]
    elif code == R_SOFTMAX:
        rec[b, r, k] = SM[b, gid]
    elif code == R_Z:
        rec[b, r, k] = SPK[b, gid]
    elif code == R_PSI:
        rec[b, r, k] = PSI[b, gid]
    elif code == R_FAVG:
        rec[b, r, k] = FAVG[b, gid]
    else:
        rec[b, r, k] = ZH[b, gid]


def _csr_by(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable order of entries grouped by ``keys`` and the (n+1,) pointer array."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return order, ptr


class EPropSimulator:
    """State arrays of e-prop training for ``batch_size`` parallel trials, and the kernel calls.

    ``out_losses`` maps each output population to LOSS_SCE or LOSS_MSE;
    ``out_readouts`` to RD_VAR, RD_SUM or RD_AVG. Every other non-input
    population is hidden (LIF or ALIF). ``tau_mem``/``tau_adapt`` are the
    hidden populations' shared time constants. ``parallel`` picks how threads
    share the work: "batch" (whole trials per thread), "neurons" (every step
    in parallel over neurons) or "auto".
    """

    #: State that carries from one trial into the next (e-prop keeps V, traces and
    #: errors across trials); saved in checkpoints so a resumed run continues exactly.
    CARRIED_STATE = ("V", "RF", "A", "PSI", "FAVG", "E", "ZH", "SPK", "ZH_N", "SPK_N", "X",
                     "SM", "EF", "EPSA")

    name = "cpu-eprop"

    def __init__(self, layout: Layout, batch_size: int, dt: float, example_timesteps: int,
                 out_losses: dict[str, int], out_readouts: dict[str, int], tau_mem: float,
                 tau_adapt: float | None, tau_reg: float, c_reg: float, f_target: float,
                 train_bias: bool, profiling: bool = False, parallel: str = "auto") -> None:
        self.layout = lay = layout
        self.B = B = int(batch_size)
        self.dt = np.float32(dt)
        self.T = int(example_timesteps)
        self.train_bias = bool(train_bias)
        self.profiler = Profiler(profiling)
        N = max(lay.n_neurons, 1)
        f = np.float32
        glob = np.zeros(N_G, np.float32)
        glob[G_ALPHA] = np.exp(-dt / tau_mem)
        glob[G_RHO] = np.exp(-dt / tau_adapt) if tau_adapt is not None else 0.0
        afav = f(np.exp(-dt / tau_reg))
        glob[G_AFAV] = afav
        glob[G_ONE_M_AFAV] = f(1.0) - afav
        glob[G_FTARGET] = (f_target * dt) / 1000.0
        glob[G_CREG] = c_reg
        self.glob = glob
        nrn_i = np.zeros((N, N_NI), np.int64)
        nrn_f = np.zeros((N, N_NF), np.float32)
        opop_rows = []
        col = 0
        work = []
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
        self.nrn_i, self.nrn_f = nrn_i, nrn_f
        self.work = np.asarray(work, np.int64)
        self.opop = np.asarray(opop_rows, np.int64).reshape(-1, N_OP)
        self.out_pops = [pop.name for pop in lay.populations if pop.name in out_losses]
        self.n_out_cols = col
        self.has_alif = bool(np.any(nrn_i[:, NI_KIND] == K_ALIF))
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
        to_out = nrn_i[post, NI_KIND] == K_OUT if post.size else np.zeros(0, bool)
        # incoming synapses of hidden neurons, post-major
        h = ~to_out
        order, self.in_ptr = _csr_by(post[h], N)
        self.in_pre = pre[h][order]
        self.in_widx = wi[h][order]
        # synapses onto outputs: pre-major (gradient, feedback) and post-major (input current)
        o_pre, o_post, o_wi = pre[to_out], post[to_out], wi[to_out]
        order, self.oo_ptr = _csr_by(o_pre, N)
        self.oo_post = o_post[order]
        self.oo_widx = o_wi[order]
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
        self.dl_widx = wi
        self.in_pre = self.in_pre.astype(np.uint32)  # unsigned: no wrap-around check
        self.oo_w = np.zeros(self.oo_widx.shape[0], np.float32)
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
        S_in = max(self.in_widx.shape[0], 1)
        self.EF = np.zeros((B, S_in), np.float32)
        self.EPSA = np.zeros((B, S_in) if self.has_alif else (1, 1), np.float32)
        threads = numba.get_num_threads()
        #: each thread runs whole trials of its own batch slots (no per-step barrier, a
        #: slot's traces stay in cache) unless the batch is too small to keep at least
        #: half the threads busy; then every step runs in parallel over neurons
        if parallel not in ("auto", "batch", "neurons"):
            raise ValueError(f"parallel={parallel!r}: allowed 'auto', 'batch', 'neurons'")
        self.by_batch = 2 * B >= threads if parallel == "auto" else parallel == "batch"
        C = min(B, threads) if self.by_batch else 1
        self.DG_IN = np.zeros((C, S_in), np.float32)
        self.DG_OO = np.zeros((C, max(self.oo_widx.shape[0], 1)), np.float32)
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
        self.oo_w[:] = w[self.oo_widx]
        self.dl_w[:] = w[self.dl_widx]
        if hasattr(self, "X"):
            # spikes of the last step are delivered in the next step, with the new weights
            redeliver(self.SPK, self.X, self.dl_ptr, self.dl_pre, self.dl_post, self.dl_w)

    def zero_synapse_state(self, widx: np.ndarray) -> None:
        """Start the given flat synapses afresh (eligibility traces zero), as GeNN does
        for a synapse Deep R creates."""
        cols = np.isin(self.in_widx, widx)
        self.EF[:, cols] = 0
        if self.has_alif:
            self.EPSA[:, cols] = 0

    def take_gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(DeltaG per flat synapse, DeltaBias per neuron), summed over the batch; then zeroed."""
        g = np.zeros(self.layout.weights.shape[0], np.float32)
        n_in = self.in_widx.shape[0]
        dg_in, dg_oo = self.DG_IN[0].copy(), self.DG_OO[0].copy()
        for c in range(1, self.DG_IN.shape[0]):
            dg_in += self.DG_IN[c]
            dg_oo += self.DG_OO[c]
        g[self.in_widx] = dg_in[:n_in]
        g[self.oo_widx] = dg_oo[:self.oo_widx.shape[0]]
        db = self.DB.sum(axis=0, dtype=np.float32) if self.B > 1 else self.DB[0].copy()
        self.DG_IN[:] = 0
        self.DG_OO[:] = 0
        self.DB[:] = 0
        return g, db[:self.layout.n_neurons]

    # ----- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Every variable back to its initial value (V and A from the model)."""
        lay = self.layout
        for a in (self.RF, self.PSI, self.FAVG, self.E, self.ZH, self.SPK, self.ZH_N,
                  self.SPK_N, self.X, self.SM, self.DB, self.EF, self.EPSA, self.DG_IN, self.DG_OO):
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
        t0 = time.perf_counter()
        for s0 in range(0, self.T, chunk):
            s1 = min(self.T, s0 + chunk)
            if step_callback is not None:
                step_callback.on_timestep_begin(s0)
            vbuf = (np.zeros((B, s1 - s0, len(gids)), np.float32) if gids
                    else np.zeros((1, 1, 1), np.float32))
            cap = n_srec * (s1 - s0) if n_srec else 1
            sstep = np.zeros((B, cap), np.int32)
            sid = np.zeros((B, cap), np.int32)
            scnt = np.zeros(B, np.int64)
            eprop_steps(
                s0, s1, time0, self.T, self.dt, self.train_bias, self.by_batch,
                self.glob, self.nrn_i, self.nrn_f, lay.bias, self.work,
                self.in_ptr, self.in_pre,
                self.oo_ptr, self.oo_post, self.oo_w,
                self.dl_ptr, self.dl_pre, self.dl_post, self.dl_w, self.opop,
                self.V[:B], self.RF[:B], self.A[:B], self.PSI[:B], self.FAVG[:B], self.E[:B],
                self.ZH[:B], self.SPK[:B], self.ZH_N[:B], self.SPK_N[:B], self.X[:B],
                self.SM[:B],
                self.R[:B], self.DB[:B], self.EF[:B], self.EPSA[:B] if self.has_alif
                else self.EPSA, self.DG_IN, self.DG_OO, self.labels[:B], targets,
                self.LSUM[:B], learn, self.in_end[:B], self.in_times, self.cursor[:B],
                rec_gid, rec_var, vbuf, srec_mask, sstep, sid, scnt)
            if values is not None:
                values[:, s0:s1] = vbuf
            if n_srec:
                for b in range(B):
                    steps_all[b].append(sstep[b, :scnt[b]])
                    ids_all[b].append(sid[b, :scnt[b]])
            if step_callback is not None:
                step_callback.on_timestep_end(s1 - 1)
        self.profiler.add("eprop_train" if learn else "eprop_forward", t0)
        self.trials += 1
        rec.values = values
        if n_srec:
            rec.spike_steps = [np.concatenate(s) for s in steps_all]
            rec.spike_ids = [np.concatenate(s) for s in ids_all]
        return rec


def num_threads() -> int:
    """Threads numba runs the kernel's parallel loops on."""
    return int(numba.get_num_threads())
