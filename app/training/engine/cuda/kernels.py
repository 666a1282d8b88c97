"""CUDA kernels of the engine (numba-cuda): forward step, EventProp adjoint step, Adam.

Designed for a GPU's parallelism, not a port of the CPU loops:

- spikes live in bitmaps, one uint32 word per 32 neurons, one row per
  (batch slot, step) (``raster``). A step's spikes are set with an atomic OR
  (order-free), so no compaction pass or spike list is needed;
- the forward step is one thread per (batch slot, neuron): the thread gathers
  its own synaptic input by walking the set bits of the presynaptic bitmap words
  in neuron order (Dense: the row of each spiking neuron; sparse: the target's
  column, CSC). Adding in the same order as the CPU engine keeps the sums
  bit-identical, and the writes race-free, without atomics;
- the adjoint step is two kernels: one thread per (slot, postsynaptic neuron
  of a trained connection) adds the gradient rows of the presynaptic spikes
  replayed this step (coalesced along the row), and one thread per (slot,
  neuron) runs the adjoint ODE and the jump of its own replayed spike (its
  weighted sum over its outgoing row). The adjoints are double-buffered by step
  parity, so both kernels read the previous step's values while writing the
  next;
- gradients accumulate per batch slot (no atomics), are summed over slots in
  slot order by ``reduce_grad``, and Adam runs on the device.

Products that feed an addition go through ``_mul``, which on a GPU is
``__fmul_rn``: NVVM would otherwise contract ``a * b + c`` into a fused
multiply-add, whose single rounding differs from the CPU engine's two (and a
voltage one ulp off can move a spike).
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda

from ..kernels import (
    BF_A,
    BF_ALPHA,
    BF_BETA,
    BF_DELTA,
    BF_DENOM,
    BF_FST_SCALE,
    BF_LTS,
    BF_PHANTOM,
    BF_REG_LO,
    BF_REG_UP,
    BF_TEMP,
    BF_TTFS_ALPHA,
    BF_VTH,
    BI_LOSS,
    BI_NU,
    BI_READOUT,
    BI_REG,
    BI_ROLE,
    BK_HIDDEN,
    BK_NONE,
    BK_OUT_LI,
    BK_OUT_LIF,
    LOSS_RMSE,
    LOSS_SCE,
    LOSS_SCE_STEP,
    LOSS_TTFS_SCE,
    REC_A,
    REC_REFRAC,
    REC_V,
)
from ..layout import (
    ALIF,
    F_ALPHA,
    F_BETA_A,
    F_IMV_SCALE,
    F_ISCALE,
    F_RHO,
    F_TREFRAC,
    F_VRESET,
    F_VTH,
    LI,
    P_END,
    P_EVENTS,
    P_HAS_REFRAC,
    P_IDR,
    P_READOUT,
    P_REL_RESET,
    P_START,
    P_TYPE,
    RO_AVG,
    RO_AVG_EXP,
    RO_COUNT,
    RO_FIRST,
    RO_MAX,
    RO_SUM,
    RO_VAR,
)

FLT_MAX = np.float32(np.finfo(np.float32).max)
NO_OVERFLOW = np.int32(2**31 - 1)
#: Threads per block: a GPU wants several warps per block; the simulator runs every
#: thread of a block as a Python thread, so it gets small blocks.
TPB = 32 if config.ENABLE_CUDASIM else 128

if config.ENABLE_CUDASIM:
    @cuda.jit(device=True)
    def _mul(a, b):
        """a * b, never fused with a following addition."""
        return a * b
else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    @cuda.jit(device=True)
    def _mul(a, b):
        """a * b rounded on its own (``__fmul_rn``), never fused with an addition."""
        return libdevice.fmul_rn(a, b)


def blocks(n: int) -> int:
    """Blocks of TPB threads covering n threads."""
    return max(1, (n + TPB - 1) // TPB)


@cuda.jit
def fill(a, val):
    """Set every element of the 1-D array ``a`` to ``val``."""
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i] = val


@cuda.jit
def copy_last_step(raster, carry, step):
    """Keep the bitmap of ``step`` (the trial's last) for the next trial's first step."""
    i = cuda.grid(1)
    W = carry.shape[1]
    if i < carry.shape[0] * W:
        b = i // W
        carry[b, i - b * W] = raster[b, step, i - b * W]


@cuda.jit
def stage_inputs(ev_s, ev_n, in_ptr, in_hi, in_pops, pop_i, pw0, raster, nspk, tape,
                 tape_on, most):
    """Set the bits of a batch's staged input events (one thread per slot x input x
    event), in the spike raster and, for EventProp, the replay tape."""
    i = cuda.grid(1)
    B = in_ptr.shape[0]
    Q = in_pops.shape[0]
    if i >= B * Q * most:
        return
    b = i // (Q * most)
    r = i - b * Q * most
    q = r // most
    k = r - q * most
    p = in_pops[q]
    e = in_ptr[b, p] + k
    if e >= in_hi[b, p]:
        return
    s = ev_s[e]
    n = ev_n[e]
    bit = np.uint32(1) << np.uint32(n % 32)
    w = pw0[p] + n // 32
    cuda.atomic.or_(raster, (b, s, w), bit)
    if tape_on != 0 and pop_i[p, P_EVENTS] != 0:
        cuda.atomic.or_(tape, (b, s, w), bit)
    cuda.atomic.add(nspk, (b, pop_i[p, P_START] + n), 1)


@cuda.jit(device=True)
def _readout(ro, R, R2, b, gi, v, t, inv_T, lts):
    """Readout update of one neuron of one slot (the CPU engine's ``_readout``)."""
    if ro == RO_VAR:
        R[b, gi] = v
    elif ro == RO_SUM:
        R[b, gi] += v
    elif ro == RO_AVG:
        R[b, gi] += _mul(inv_T, v)
    elif ro == RO_AVG_EXP:
        e = np.float32(math.exp(-_mul(t, lts)))
        R[b, gi] += _mul(_mul(e, inv_T), v)
    elif ro == RO_MAX:
        if v > R[b, gi]:
            R[b, gi] = v
            R2[b, gi] = t


@cuda.jit(device=True)
def _bit(raster, carry, b, step, w):
    """Word w of slot b's spike bitmap of ``step`` (``carry`` holds step -1)."""
    if step > 0:
        return raster[b, step - 1, w]
    return carry[b, w]


@cuda.jit(device=True)
def add_connection_input(x, c, b, step, j, pop_i, conn_i, conn_dense, row_ptr, weights,
                         csc_ptr, csc_pre, csc_syn, cco, pw0, raster, carry):
    """``x`` plus the weights to neuron j of connection c from slot b's spikes of the
    previous step, added in presynaptic id order (the CPU engine's delivery order)."""
    pre = conn_i[c, 0]
    w0 = pw0[pre]
    woff = conn_i[c, 3]
    rpo = conn_i[c, 4]
    if conn_dense[c] != 0:
        nw = (pop_i[pre, P_END] - pop_i[pre, P_START] + 31) // 32
        for w in range(nw):
            bits = _bit(raster, carry, b, step, w0 + w)
            while bits != 0:
                i = w * 32 + cuda.ffs(bits) - 1
                bits &= bits - np.uint32(1)
                x += weights[woff + row_ptr[rpo + i] + j]
    else:
        col = cco[c] + j
        for s in range(csc_ptr[col], csc_ptr[col + 1]):
            i = csc_pre[s]
            word = _bit(raster, carry, b, step, w0 + i // 32)
            if (word >> np.uint32(i % 32)) & np.uint32(1):
                x += weights[woff + csc_syn[s]]
    return x


@cuda.jit
def forward_step(step, dt, zero_step, reset, rstep, inv_T, lts,
                 upd_gid, pop_of, pop_i, pop_f, bias, v_init, a_init,
                 grp_ptr, grp_list, grp_i, grp_f, gconn_ptr, gconn_list, conn_i, conn_dense,
                 row_ptr, weights, csc_ptr, csc_pre, csc_syn, cco, pw0,
                 V, A, RF, X, R, R2, nspk, raster, carry,
                 tape, tape_on, tape_row, xmv, cap, ev_ovf,
                 rec_ptr, rec_k, rec_code, rec, out_hist, out_hist_pop):
    """One step of every (batch slot, non-input neuron): gather the last step's spikes,
    synapse models, neuron update, readout, threshold and reset (the order of the CPU
    engine's ``_forward_slots``). ``rstep`` is the row of ``rec`` this step writes."""
    tid = cuda.grid(1)
    M = upd_gid.shape[0]
    if tid >= V.shape[0] * M:
        return
    b = tid // M
    gi = upd_gid[tid - b * M]
    p = pop_of[gi]
    s0 = pop_i[p, P_START]
    j = gi - s0
    zero = np.float32(0.0)
    ro = pop_i[p, P_READOUT]
    if step == 0:
        if reset & 1:
            V[b, gi] = v_init[gi]
            A[b, gi] = a_init[gi]
            RF[b, gi] = zero
        if reset & 2:
            R[b, gi] = -FLT_MAX if ro == RO_FIRST else zero
            R2[b, gi] = zero
    t = np.float32(step) * dt
    # 1-2. this neuron's synaptic input: last step's spikes, then the synapse models
    isyn = zero
    for q in range(grp_ptr[p], grp_ptr[p + 1]):
        g = grp_list[q]
        xi = grp_i[g, 2] + j
        x = X[b, xi]
        if step == zero_step:
            x = zero
        for r in range(gconn_ptr[g], gconn_ptr[g + 1]):
            x = add_connection_input(x, gconn_list[r], b, step, j, pop_i, conn_i, conn_dense,
                                     row_ptr, weights, csc_ptr, csc_pre, csc_syn, cco, pw0,
                                     raster, carry)
        if grp_i[g, 1] == 0:
            isyn += x
            x = zero
        else:
            isyn += _mul(x, grp_f[g, 1])
            x = x * grp_f[g, 0]
        X[b, xi] = x
    # 3. the neuron
    ptype = pop_i[p, P_TYPE]
    alpha = pop_f[p, F_ALPHA]
    isc = pop_f[p, F_ISCALE]
    v = V[b, gi]
    if ptype == LI:
        v = _mul(alpha, v) + _mul(isc, isyn) + bias[gi]
        V[b, gi] = v
        if ro >= 0:
            _readout(ro, R, R2, b, gi, v, t, inv_T, lts)
    else:
        vth = pop_f[p, F_VTH]
        has_rf = pop_i[p, P_HAS_REFRAC] != 0
        integrate = True
        if has_rf:
            rf = RF[b, gi]
            if pop_i[p, P_IDR] != 0:
                if rf > zero:
                    RF[b, gi] = rf - dt
            elif rf > zero:
                RF[b, gi] = rf - dt
                integrate = False
        if integrate:
            v = _mul(alpha, v) + _mul(isc, isyn)
        thr = vth
        if ptype == ALIF:
            a = A[b, gi] * pop_f[p, F_RHO]
            A[b, gi] = a
            thr = vth + _mul(pop_f[p, F_BETA_A], a)
        if ro >= 0:
            _readout(ro, R, R2, b, gi, v, t, inv_T, lts)
        if v >= thr and (not has_rf or RF[b, gi] <= zero):
            k = nspk[b, gi]
            w = pw0[p] + j // 32
            bit = np.uint32(1) << np.uint32(j % 32)
            if tape_on != 0 and pop_i[p, P_EVENTS] != 0:
                if k < cap:
                    cuda.atomic.or_(tape, (b, step, w), bit)
                    xmv[b, tape_row[gi], k] = _mul(isyn, pop_f[p, F_IMV_SCALE]) - v
                else:
                    cuda.atomic.min(ev_ovf, b, np.int32(gi))
            nspk[b, gi] = k + 1
            if ro == RO_FIRST:
                if R2[b, gi] == zero:
                    R[b, gi] = -t
                    R2[b, gi] = np.float32(1.0)
            elif ro == RO_COUNT:
                R[b, gi] += np.float32(1.0)
            cuda.atomic.or_(raster, (b, step, w), bit)
            if pop_i[p, P_REL_RESET] != 0:
                v -= vth - pop_f[p, F_VRESET]
            else:
                v = pop_f[p, F_VRESET]
            if ptype == ALIF:
                A[b, gi] += np.float32(1.0)
            if has_rf:
                RF[b, gi] = pop_f[p, F_TREFRAC]
        V[b, gi] = v
    # recordings
    for r in range(rec_ptr[gi], rec_ptr[gi + 1]):
        code = rec_code[r]
        if code == REC_V:
            val = V[b, gi]
        elif code == REC_A:
            val = A[b, gi]
        elif code == REC_REFRAC:
            val = RF[b, gi]
        else:
            val = R[b, gi]
        rec[b, rstep, rec_k[r]] = val
    if p == out_hist_pop:
        out_hist[b, step, j] = V[b, gi]


@cuda.jit
def drive_slots(out_p, pop_i, bk_i, R, R2, labels, dt, t_ms, drive_val, drive_step,
                tfirst, tsum, ttrue, xent):
    """Loss terms of every slot from its readouts, one thread per slot (the CPU
    engine's ``_drive_slot``)."""
    b = cuda.grid(1)
    if b >= labels.shape[0]:
        return
    o0 = pop_i[out_p, P_START]
    no = pop_i[out_p, P_END] - o0
    mx = R[b, o0]
    for k in range(1, no):
        if R[b, o0 + k] > mx:
            mx = R[b, o0 + k]
    tot = np.float32(0.0)
    for k in range(no):
        e = np.float32(math.exp(R[b, o0 + k] - mx))
        drive_val[b, 0, k] = e
        tot += e
    for k in range(no):
        drive_val[b, 0, k] = drive_val[b, 0, k] / tot
    xent[b] = -np.float32(math.log(max(drive_val[b, 0, labels[b]], np.float32(1e-30))))
    if bk_i[out_p, BI_READOUT] == RO_MAX:
        for k in range(no):
            drive_step[b, k] = np.int64(round(R2[b, o0 + k] / dt))
    else:
        for k in range(no):
            drive_step[b, k] = -1
    loss = bk_i[out_p, BI_LOSS]
    if loss == LOSS_TTFS_SCE or loss == LOSS_RMSE:
        s = np.float32(0.0)
        for k in range(no):
            r = R[b, o0 + k]
            tfirst[b, k] = r
            if r >= -t_ms:
                s += r
        tsum[b] = s
        r = R[b, o0 + labels[b]]
        ttrue[b] = r if r >= -t_ms else np.float32(0.0)


@cuda.jit
def backward_init(bwd_gid, pop_of, pop_i, nspk, cap, kcur, LV, LI_):
    """Zero the adjoints and count each neuron's taped spikes (its replay cursor)."""
    tid = cuda.grid(1)
    M = bwd_gid.shape[0]
    if tid >= nspk.shape[0] * M:
        return
    b = tid // M
    gi = bwd_gid[tid - b * M]
    LV[0, b, gi] = np.float32(0.0)
    LI_[0, b, gi] = np.float32(0.0)
    kcur[b, gi] = min(nspk[b, gi], cap) if pop_i[pop_of[gi], P_EVENTS] != 0 else 0


@cuda.jit
def backward_synapses(m, cur, gcol_conn, gcol_j, pop_i, conn_i, conn_f, conn_dense, row_ptr,
                      csc_ptr, csc_pre, csc_syn, cco, pw0, tape, LI_, grad):
    """Gradient rows of the spikes replayed at step m: one thread per (slot, target
    neuron of a trained connection), adding -LambdaI * tau_syn for every replayed
    presynaptic spike to its own column (coalesced along Dense rows)."""
    tid = cuda.grid(1)
    M = gcol_conn.shape[0]
    if tid >= grad.shape[0] * M:
        return
    b = tid // M
    col = tid - b * M
    c = gcol_conn[col]
    j = gcol_j[col]
    pre = conn_i[c, 0]
    post0 = pop_i[conn_i[c, 1], P_START]
    g = _mul(LI_[cur, b, post0 + j], conn_f[c, 0])
    woff = conn_i[c, 3]
    rpo = conn_i[c, 4]
    w0 = pw0[pre]
    if conn_dense[c] != 0:
        nw = (pop_i[pre, P_END] - pop_i[pre, P_START] + 31) // 32
        for w in range(nw):
            bits = tape[b, m, w0 + w]
            while bits != 0:
                i = w * 32 + cuda.ffs(bits) - 1
                bits &= bits - np.uint32(1)
                grad[b, woff + row_ptr[rpo + i] + j] -= g
    else:
        cc = cco[c] + j
        for s in range(csc_ptr[cc], csc_ptr[cc + 1]):
            i = csc_pre[s]
            if (tape[b, m, w0 + i // 32] >> np.uint32(i % 32)) & np.uint32(1):
                grad[b, woff + csc_syn[s]] -= g


@cuda.jit
def backward_neurons(it, m, T, dt, cur, bwd_gid, pop_of, pop_i, bk_i, bk_f, out_ptr, out_list,
                     conn_i, conn_dense, row_ptr, syn_post, weights, pw0, tape, tape_row,
                     xmv, kcur, labels, drive_val, drive_step, tfirst, tsum, ttrue,
                     spike_count_batch, LV, LI_, brec_slot, brec):
    """Adjoint step of every (slot, neuron with a backward role): the jump term of its
    own spike replayed at step m (its outgoing weights times the targets' adjoint
    difference, from the previous step's buffer ``cur``), the adjoint ODE, the
    transition, written to buffer ``1 - cur`` (the CPU engine's ``_backward_slots``)."""
    tid = cuda.grid(1)
    M = bwd_gid.shape[0]
    if tid >= labels.shape[0] * M:
        return
    b = tid // M
    gi = bwd_gid[tid - b * M]
    p = pop_of[gi]
    s0 = pop_i[p, P_START]
    k = gi - s0
    zero = np.float32(0.0)
    one = np.float32(1.0)
    nxt = 1 - cur
    lv = LV[cur, b, gi]
    li = LI_[cur, b, gi]
    role = bk_i[p, BI_ROLE]
    rep = False
    xm = one
    if pop_i[p, P_EVENTS] != 0:
        if (tape[b, m, pw0[p] + k // 32] >> np.uint32(k % 32)) & np.uint32(1):
            kc = kcur[b, gi] - 1
            kcur[b, gi] = kc
            if m < T - 1:
                rep = True
                xm = xmv[b, tape_row[gi], kc]
    rev = zero
    if rep and role == BK_HIDDEN:
        for q in range(out_ptr[p], out_ptr[p + 1]):
            c = out_list[q]
            post = conn_i[c, 1]
            if bk_i[post, BI_ROLE] == BK_NONE:
                continue
            post0 = pop_i[post, P_START]
            woff = conn_i[c, 3]
            rpo = conn_i[c, 4]
            r0 = row_ptr[rpo + k]
            if conn_dense[c] != 0:
                for jj in range(pop_i[post, P_END] - post0):
                    rev += _mul(weights[woff + r0 + jj],
                                LV[cur, b, post0 + jj] - LI_[cur, b, post0 + jj])
            else:
                for s in range(r0, row_ptr[rpo + k + 1]):
                    pg = post0 + syn_post[woff + s]
                    rev += _mul(weights[woff + s], LV[cur, b, pg] - LI_[cur, b, pg])
    a_ = bk_f[p, BF_A]
    alpha = bk_f[p, BF_ALPHA]
    beta = bk_f[p, BF_BETA]
    y = labels[b]
    if role == BK_HIDDEN:
        li = _mul(_mul(a_, lv), beta - alpha) + _mul(li, beta)
        lv = lv * alpha
    elif role == BK_OUT_LI:
        loss = bk_i[p, BI_LOSS]
        denom = bk_f[p, BF_DENOM]
        td = 0 if drive_val.shape[1] == 1 else m
        drive = zero
        if loss == LOSS_SCE or loss == LOSS_SCE_STEP:
            sm = drive_val[b, td, k]
            gv = one - sm if k == y else -sm
            if bk_i[p, BI_READOUT] == RO_MAX:
                if drive_step[b, k] == m:
                    drive = gv / denom
            elif bk_i[p, BI_READOUT] == RO_AVG_EXP:
                tt = np.float32(it) * dt
                e = np.float32(math.exp(-(one - _mul(tt, bk_f[p, BF_LTS]))))
                drive = _mul(gv, e) / denom
            else:
                drive = gv / denom
        else:
            drive = drive_val[b, td, k] / denom
        li = drive + _mul(li - drive, beta) + _mul(_mul(a_, lv - drive), alpha - beta)
        lv = drive + _mul(lv - drive, alpha)
    else:
        li = _mul(_mul(a_, lv), alpha - beta) + _mul(li, beta)
        lv = lv * alpha
        if it == 0 and bk_i[p, BI_LOSS] == LOSS_TTFS_SCE and k == y:
            if tfirst[b, y] < -(np.float32(T) * dt):
                lv += bk_f[p, BF_PHANTOM]
    if rep:
        recip = one / xm
        if role == BK_HIDDEN:
            lv += _mul(recip, _mul(bk_f[p, BF_VTH], lv) + rev)
            if bk_i[p, BI_REG] != 0:
                cnt = spike_count_batch[gi]
                nu = bk_i[p, BI_NU]
                if cnt > nu:
                    lv -= _mul(bk_f[p, BF_REG_UP], np.float32(cnt - nu))
                else:
                    lv -= _mul(bk_f[p, BF_REG_LO], np.float32(cnt - nu))
        elif role == BK_OUT_LIF:
            first = abs(_mul(np.float32(m), dt) + tfirst[b, k]) < _mul(np.float32(1e-3), dt)
            if bk_i[p, BI_LOSS] == LOSS_TTFS_SCE:
                lv += _mul(recip, _mul(bk_f[p, BF_VTH], lv))
                if first:
                    sm = drive_val[b, 0, k]
                    temp = bk_f[p, BF_TEMP]
                    if k == y:
                        fst = bk_f[p, BF_FST_SCALE] + tfirst[b, k]
                        lv += _mul(recip, ((one - sm) / temp)
                                   + (bk_f[p, BF_TTFS_ALPHA] / _mul(fst, fst))) \
                            / bk_f[p, BF_DENOM]
                    else:
                        lv -= _mul(recip, sm) / _mul(temp, bk_f[p, BF_DENOM])
            elif first:
                nout = np.float32(pop_i[p, P_END] - s0)
                delta = bk_f[p, BF_DELTA]
                if k == y:
                    lv += _mul(tsum[b] - _mul(nout, ttrue[b]) + _mul(nout - one, delta),
                               recip)
                else:
                    lv += _mul((-tfirst[b, k] + ttrue[b]) - delta, recip)
    LV[nxt, b, gi] = lv
    LI_[nxt, b, gi] = li
    slot = brec_slot[gi]
    if slot >= 0:
        brec[b, it, 2 * slot] = lv
        brec[b, it, 2 * slot + 1] = li


@cuda.jit
def reduce_grad(grad, gsum, n_slots):
    """gsum[s] += the per-slot gradients of synapse s, added in slot order; zeroes them."""
    s = cuda.grid(1)
    if s >= gsum.shape[0]:
        return
    g = np.float32(0.0)
    for b in range(n_slots):
        g += grad[b, s]
        grad[b, s] = np.float32(0.0)
    gsum[s] += g


@cuda.jit
def check_finite(param, grad, flags):
    """flags[0] += non-finite parameters, flags[1] += non-finite gradients."""
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    zero = np.float32(0.0)
    if param[i] * zero != zero:
        cuda.atomic.add(flags, 0, 1)
    if grad[i] * zero != zero:
        cuda.atomic.add(flags, 1, 1)


@cuda.jit
def adam_step(param, grad, m, v, b1, c1, b2, c2, alpha, s1, s2, eps, flags):
    """Adam on one array with the same float32 operations, in the same order, as the
    CPU step (``optim.adam_update``); zeroes the gradient; flags[2] counts results
    that became non-finite."""
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    zero = np.float32(0.0)
    g = grad[i]
    grad[i] = zero
    mi = _mul(m[i], b1)
    mi = mi + _mul(c1, g)
    vi = _mul(v[i], b2)
    vi = vi + _mul(_mul(c2, g), g)
    m[i] = mi
    v[i] = vi
    p = param[i] - _mul(_mul(alpha, mi), s1) / (np.float32(math.sqrt(_mul(vi, s2))) + eps)
    param[i] = p
    if p * zero != zero:
        cuda.atomic.add(flags, 2, 1)
