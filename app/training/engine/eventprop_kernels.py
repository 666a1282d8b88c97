"""Numba kernels of EventProp's backward pass, and the fused training trial.

The adjoint pass runs backwards in time over one slot's recorded spikes
(``_backward_slots``). The loss terms that drive it are computed per slot from
the readouts (``_drive_slot``) for the per-trial losses, so a whole training
trial (forward, drive, backward) runs in one parallel region (``train_trial``)
without returning to Python between the passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kernels import (
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
    BF_TAU1,
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
    LOSS_TTFS_EXP,
    LOSS_TTFS_SCE,
    _forward_slots,
)
from .layout import P_END, P_START, RO_AVG_EXP, RO_MAX

#: ``drive_mode``: the caller filled drive_val (per-step losses), or the kernel
#: computes the drive of each slot from its readouts (per-trial losses).
DRIVE_GIVEN, DRIVE_FROM_READOUT = 0, 1


@njit(cache=True, fastmath={"reassoc"})
def _dot(w, d):
    """sum(w * d), vectorised (the summation order is the vector unit's, not serial)."""
    acc = np.float32(0.0)
    for j in range(w.shape[0]):
        acc += w[j] * d[j]
    return acc


@njit(cache=True, inline="always")
def ttfs_reg(lcode, bk_f, p, tf):
    """The time-to-first-spike regulariser's term in the label neuron's transition
    at its first spike (``tf`` = -t, the first-spike readout): mlGeNN's
    alpha/(1.01T-t)^2 for LOSS_TTFS_SCE, alpha/tau1 exp(t/tau1) (Wunderlich &
    Pehle) for LOSS_TTFS_EXP, else 0."""
    if lcode == LOSS_TTFS_SCE:
        fst = bk_f[p, BF_FST_SCALE] + tf
        return bk_f[p, BF_TTFS_ALPHA] / (fst * fst)
    if lcode == LOSS_TTFS_EXP:
        tau1 = bk_f[p, BF_TAU1]
        return bk_f[p, BF_TTFS_ALPHA] / tau1 * np.exp(-tf / tau1)
    return np.float32(0.0)


@njit(cache=True, inline="always")
def li_drive(loss, readout, val, is_label, at_max, it, dt, lts, denom):
    """The drive of an LI output neuron's adjoint at backward iteration ``it``: for the
    cross-entropy losses the slope (softmax ``val`` minus the one-hot label) spread
    over the trial as its readout weighs the steps (max_var: only the step of the
    maximum, ``at_max``), for the other losses ``val`` itself, over ``denom``."""
    one = np.float32(1.0)
    if loss == LOSS_SCE or loss == LOSS_SCE_STEP:
        g = one - val if is_label else -val
        if readout == RO_MAX:
            return g / denom if at_max else np.float32(0.0)
        if readout == RO_AVG_EXP:
            tt = np.float32(it) * dt
            return (g * np.exp(-(one - tt * lts))) / denom
        return g / denom
    return val / denom


@njit(cache=True, inline="always")
def _replay_step(it, ch, P, C, plo, phi, evn, pop_i, bk_i, conn_i, conn_f, conn_train,
                 conn_dtrain, conn_dense, row_ptr, syn_post, weights, delays, max_delay, Dh,
                 LV, LI_, hLV, hLI, rev, dd, grad, dgrad, gpos, nsyn):
    """EventProp synapse phase of one step: for each connection, the gradient rows of
    its presynaptic spikes and their adjoint jumps ``rev`` (events plo[p]..phi[p]-1
    of each population p). Returns the number of synapses replayed."""
    N = LV.shape[0]
    zero = np.float32(0.0)
    nrep = 0
    for c in range(C):
        p = conn_i[c, 0]
        if plo[p] == phi[p]:
            continue
        post = conn_i[c, 1]
        post0 = pop_i[post, P_START]
        pstart = pop_i[p, P_START]
        woff = conn_i[c, 3]
        rpo = conn_i[c, 4]
        tau_s = conn_f[c, 0]
        fb = bk_i[p, BI_ROLE] == BK_HIDDEN and bk_i[post, BI_ROLE] != BK_NONE
        train = conn_train[c] != 0
        dtrain = conn_dtrain[c] != 0
        gbase = gpos[c] + ch * nsyn[c]
        if conn_i[c, 5] == 0 and conn_dense[c] != 0:
            # dense rows without delays: contiguous rows over the same posts, so the
            # post adjoints (and their difference) are sliced once per step
            npost = pop_i[post, P_END] - post0
            lirow = LI_[post0:post0 + npost]
            lvrow = LV[post0:post0 + npost]
            drow_ = dd[:npost]
            nrep += (phi[p] - plo[p]) * npost
            if fb or dtrain:
                for j in range(npost):
                    drow_[j] = lvrow[j] - lirow[j]
            # the connection's weights and gradient rows as (pre, post) views: a row
            # is one index, not a clamped slice per event
            npre = pop_i[p, P_END] - pstart
            w0 = woff + row_ptr[rpo]
            W2 = weights[w0:w0 + npre * npost].reshape((npre, npost))
            g0 = gbase + row_ptr[rpo]
            G2 = grad[g0:g0 + npre * npost].reshape((npre, npost))
            # li * tau_s once per step, not once per spike (the same products)
            qrow = dd[N:N + npost]
            if train:
                for j in range(npost):
                    qrow[j] = lirow[j] * tau_s
            for e in range(plo[p], phi[p]):
                gi = evn[e]
                r0 = row_ptr[rpo + gi - pstart]
                wrow = W2[gi - pstart]
                if train:
                    grow = G2[gi - pstart]
                    for j in range(npost):
                        grow[j] -= qrow[j]
                if dtrain:
                    xrow = dgrad[gbase + r0:gbase + r0 + npost]
                    for j in range(npost):
                        xrow[j] += wrow[j] * drow_[j]
                if fb:
                    rev[gi] += _dot(wrow, drow_)
            continue
        hasd = conn_i[c, 5] != 0
        for e in range(plo[p], phi[p]):
            gi = evn[e]
            i = gi - pstart
            nrep += row_ptr[rpo + i + 1] - row_ptr[rpo + i]
            for s in range(row_ptr[rpo + i], row_ptr[rpo + i + 1]):
                pg = post0 + syn_post[woff + s]
                if hasd:
                    d = np.int64(np.floor(delays[woff + s] + np.float32(0.5)))
                    if d > max_delay:
                        d = max_delay
                    if d > it - 1:
                        li = zero
                        lv = zero
                    else:
                        h = (it - 1 - d) % Dh
                        li = hLI[h, pg]
                        lv = hLV[h, pg]
                else:
                    li = LI_[pg]
                    lv = LV[pg]
                if train:
                    grad[gbase + s] -= li * tau_s
                if dtrain:
                    dgrad[gbase + s] -= weights[woff + s] * (li - lv)
                if fb:
                    rev[gi] += weights[woff + s] * (lv - li)
    return nrep


@njit(cache=True, _nrt=False)
def _drive_slot(b, out_p, pop_i, bk_i, bk_f, R, R2, labels, dt, t_ms, drive_val, drive_step,
                tfirst, tsum, ttrue, xent):
    """Loss terms of slot b from its readouts (what the numpy code used to compute):
    softmax of the output readout, time steps of max_var maxima, first-spike times
    and their sums for the time-to-first-spike losses; ``xent[b]`` the slot's loss
    for the report: the cross-entropy -log(softmax[label]), or with LOSS_RMSE the
    relative mean square error (``drive_val`` then keeps the readouts). With
    LOSS_TTFS_EXP the softmax is of -t/softmax_temperature, a silent label neuron
    counted as firing at the trial end (``FirstSpikeCrossentropy.label_softmax``)."""
    o0 = pop_i[out_p, P_START]
    no = pop_i[out_p, P_END] - o0
    r = R[b, o0:o0 + no]
    loss = bk_i[out_p, BI_LOSS]
    dv = drive_val[b, 0]
    for k in range(no):
        dv[k] = r[k]
    if loss == LOSS_RMSE:
        # the slot's RelativeMeanSquareError.value, in float64 as there (a silent
        # neuron's -FLT_MAX counts as 0); its drive needs no softmax
        y = labels[b]
        delta = np.float64(bk_f[out_p, BF_DELTA])
        ty = np.float64(r[y]) if r[y] >= -1e30 else 0.0
        acc = 0.0
        for k in range(no):
            if k != y:
                d = (np.float64(r[k]) if r[k] >= -1e30 else 0.0) - ty - delta
                acc += d * d
        xent[b] = acc / 2.0
    else:
        if loss == LOSS_TTFS_EXP:
            if dv[labels[b]] < -t_ms:
                dv[labels[b]] = -t_ms
            inv = np.float32(1.0) / bk_f[out_p, BF_TEMP]
            for k in range(no):
                dv[k] = dv[k] * inv
        mx = dv[0]
        for k in range(1, no):
            if dv[k] > mx:
                mx = dv[k]
        tot = np.float32(0.0)
        for k in range(no):
            e = np.exp(dv[k] - mx)
            dv[k] = e
            tot += e
        for k in range(no):
            dv[k] = dv[k] / tot
        xent[b] = -np.log(max(dv[labels[b]], np.float32(1e-30)))
    if bk_i[out_p, BI_READOUT] == RO_MAX:
        for k in range(no):
            drive_step[b, k] = np.int64(np.rint(R2[b, o0 + k] / dt))
    else:
        for k in range(no):
            drive_step[b, k] = -1
    if loss == LOSS_TTFS_SCE or loss == LOSS_TTFS_EXP or loss == LOSS_RMSE:
        s = np.float32(0.0)
        for k in range(no):
            tfirst[b, k] = r[k]
            if r[k] >= -t_ms:
                s += r[k]
        tsum[b] = s
        y = labels[b]
        ttrue[b] = r[y] if r[y] >= -t_ms else np.float32(0.0)


@njit(cache=True, _nrt=False)
def _backward_slots(b0, b1, ch, T, dt, pop_i, pop_of, bk_i, bk_f, conn_i, conn_f, conn_train,
                    conn_dtrain, conn_dense, row_ptr, syn_post, weights, delays, max_delay,
                    ev_step, ev_nid, ev_xmv, ev_cnt, labels, drive_mode, out_p, R, R2, t_ms,
                    drive_val, drive_step, tfirst, tsum, ttrue, xent, spike_count_batch, grad,
                    dgrad, gpos, nsyn, brec_gid, brec, LV, LI_, hLV, hLI, rev, dd, plo, phi):
    """The adjoint passes of batch slots b0..b1-1, one after the other (see
    ``backward_trial``), each after its loss terms (``_drive_slot``) when
    ``drive_mode`` is DRIVE_FROM_READOUT; the last nine arguments are the calling
    thread's scratch. One call per range of slots (see ``_forward_slots``).
    Returns the synapses replayed."""
    P = pop_i.shape[0]
    N = LV.shape[0]
    C = conn_i.shape[0]
    K = brec_gid.shape[0]
    Dh = max_delay + 1
    zero = np.float32(0.0)
    one = np.float32(1.0)
    nrep = 0
    for b in range(b0, b1):
        if drive_mode == DRIVE_FROM_READOUT:
            _drive_slot(b, out_p, pop_i, bk_i, bk_f, R, R2, labels, dt, t_ms, drive_val,
                        drive_step, tfirst, tsum, ttrue, xent)
        evs = ev_step[b]
        evn = ev_nid[b]
        evx = ev_xmv[b]
        for n in range(N):
            LV[n] = zero
            LI_[n] = zero
            rev[n] = zero
        for h in range(Dh):
            for n in range(N):
                hLV[h, n] = zero
                hLI[h, n] = zero
        e_hi = ev_cnt[b] - 1
        while e_hi >= 0 and evs[e_hi] >= T - 1:
            e_hi -= 1
        y = labels[b]
        for it in range(T):
            m = T - 1 - it
            e_lo = e_hi
            while e_lo >= 0 and evs[e_lo] == m:
                e_lo -= 1
            # synapse phase: replayed spikes of step m (tape entries e_lo+1..e_hi),
            # which the forward pass wrote population by population
            if e_hi > e_lo:
                k = e_lo + 1
                for p in range(P):
                    plo[p] = k
                    while k <= e_hi and pop_of[evn[k]] == p:
                        k += 1
                    phi[p] = k
                nrep += _replay_step(it, ch, P, C, plo, phi, evn, pop_i, bk_i, conn_i, conn_f,
                                     conn_train, conn_dtrain, conn_dense, row_ptr, syn_post,
                                     weights, delays, max_delay, Dh, LV, LI_, hLV, hLI, rev, dd,
                                     grad, dgrad, gpos, nsyn)
            # neuron phase
            for p in range(P):
                role = bk_i[p, BI_ROLE]
                if role == BK_NONE:
                    continue
                s0 = pop_i[p, P_START]
                s1 = pop_i[p, P_END]
                a_ = bk_f[p, BF_A]
                alpha = bk_f[p, BF_ALPHA]
                beta = bk_f[p, BF_BETA]
                if role == BK_HIDDEN:
                    lirow = LI_[s0:s1]
                    lvrow = LV[s0:s1]
                    for j in range(s1 - s0):
                        lirow[j] = a_ * lvrow[j] * (beta - alpha) + lirow[j] * beta
                        lvrow[j] *= alpha
                elif role == BK_OUT_LI:
                    loss = bk_i[p, BI_LOSS]
                    denom = bk_f[p, BF_DENOM]
                    td = 0 if drive_val.shape[1] == 1 else m
                    for gi in range(s0, s1):
                        k = gi - s0
                        drive = li_drive(loss, bk_i[p, BI_READOUT], drive_val[b, td, k],
                                         k == y, drive_step[b, k] == m, it, dt,
                                         bk_f[p, BF_LTS], denom)
                        LI_[gi] = drive + (LI_[gi] - drive) * beta \
                            + a_ * (LV[gi] - drive) * (alpha - beta)
                        LV[gi] = drive + (LV[gi] - drive) * alpha
                else:
                    for gi in range(s0, s1):
                        LI_[gi] = a_ * LV[gi] * (alpha - beta) + LI_[gi] * beta
                        LV[gi] *= alpha
                    if it == 0 and tfirst[b, y] < -(np.float32(T) * dt):
                        if bk_i[p, BI_LOSS] == LOSS_TTFS_SCE:
                            LV[s0 + y] += bk_f[p, BF_PHANTOM]
                        elif bk_i[p, BI_LOSS] == LOSS_TTFS_EXP:
                            # silent label: the loss's slope with its spike at the end
                            LV[s0 + y] += ((one - drive_val[b, 0, y]) / bk_f[p, BF_TEMP]
                                           + bk_f[p, BF_PHANTOM]) / bk_f[p, BF_DENOM]
            # transitions of replayed spikes, population by population (each event
            # changes only its own neuron's adjoints, so the order does not matter)
            if e_hi > e_lo:
                for p in range(P):
                    if plo[p] == phi[p]:
                        continue
                    role = bk_i[p, BI_ROLE]
                    if role == BK_HIDDEN:
                        vth = bk_f[p, BF_VTH]
                        reg = bk_i[p, BI_REG] != 0
                        nu = bk_i[p, BI_NU]
                        for e in range(plo[p], phi[p]):
                            gi = evn[e]
                            LV[gi] += (one / evx[e]) * (vth * LV[gi] + rev[gi])
                            rev[gi] = zero
                            if reg:
                                cnt = spike_count_batch[gi]
                                if cnt > nu:
                                    LV[gi] -= bk_f[p, BF_REG_UP] * np.float32(cnt - nu)
                                else:
                                    LV[gi] -= bk_f[p, BF_REG_LO] * np.float32(cnt - nu)
                    elif role == BK_OUT_LIF:
                        for e in range(plo[p], phi[p]):
                            gi = evn[e]
                            k = gi - pop_i[p, P_START]
                            recip = one / evx[e]
                            first = abs(np.float32(m) * dt + tfirst[b, k]) < np.float32(1e-3) * dt
                            lcode = bk_i[p, BI_LOSS]
                            if lcode == LOSS_TTFS_SCE or lcode == LOSS_TTFS_EXP:
                                LV[gi] += recip * (bk_f[p, BF_VTH] * LV[gi])
                                if first:
                                    sm = drive_val[b, 0, k]
                                    temp = bk_f[p, BF_TEMP]
                                    if k == y:
                                        reg = ttfs_reg(lcode, bk_f, p, tfirst[b, k])
                                        LV[gi] += recip * (((one - sm) / temp) + reg) \
                                            / bk_f[p, BF_DENOM]
                                    else:
                                        LV[gi] -= recip * sm / (temp * bk_f[p, BF_DENOM])
                            elif first:
                                nout = np.float32(pop_i[p, P_END] - pop_i[p, P_START])
                                delta = bk_f[p, BF_DELTA]
                                if k == y:
                                    LV[gi] += (tsum[b] - nout * ttrue[b]
                                               + (nout - one) * delta) * recip
                                else:
                                    LV[gi] += ((-tfirst[b, k] + ttrue[b]) - delta) * recip
            e_hi = e_lo
            if Dh > 1:
                h = it % Dh
                for n in range(N):
                    hLV[h, n] = LV[n]
                    hLI[h, n] = LI_[n]
            for k in range(K):
                gi = brec_gid[k]
                brec[b, it, 2 * k] = LV[gi]
                brec[b, it, 2 * k + 1] = LI_[gi]
    return nrep


@njit(cache=True)
def _pop_of(pop_i, N):
    """Population index of every neuron id."""
    out = np.empty(N, dtype=np.int64)
    for p in range(pop_i.shape[0]):
        for gi in range(pop_i[p, P_START], pop_i[p, P_END]):
            out[gi] = p
    return out


@njit(cache=True, parallel=True)
def backward_trial(T, dt, n_chunks, pop_i, bk_i, bk_f, conn_i, conn_f, conn_train, conn_dtrain,
                   conn_dense, row_ptr, syn_post, weights, delays, max_delay,
                   ev_step, ev_nid, ev_xmv, ev_cnt, labels, drive_mode, out_p, R, R2, t_ms,
                   drive_val, drive_step, tfirst, tsum, ttrue, xent, spike_count_batch,
                   grad, dgrad, gpos, nsyn, brec_gid, brec, work):
    """EventProp backward pass over one trial for every batch slot.

    With ``drive_mode`` DRIVE_FROM_READOUT each slot's loss terms are computed
    from the readouts ``R``/``R2`` into ``drive_val`` (B, 1, n_out),
    ``drive_step`` (B, n_out: the step of the maximum for max_var, -1 otherwise),
    ``tfirst``, ``tsum``, ``ttrue``; with DRIVE_GIVEN ``drive_val`` (B, Td,
    n_out) holds per-step output error terms already. Gradients are accumulated
    into the flat ``grad`` (and ``dgrad`` for learnt delays): connection c's
    block starts at ``gpos[c]`` and holds one row of its ``nsyn[c]`` synapses
    per thread chunk, so each connection's gradient is a contiguous (chunks, n)
    array. ``work[chunk]`` gains the synapses replayed.
    """
    B = ev_cnt.shape[0]
    P = pop_i.shape[0]
    N = pop_i[P - 1, P_END]
    Dh = max_delay + 1
    per = (B + n_chunks - 1) // n_chunks
    pop_of = _pop_of(pop_i, N)
    for ch in prange(n_chunks):
        LV = np.zeros(N, dtype=np.float32)
        LI_ = np.zeros(N, dtype=np.float32)
        hLV = np.zeros((Dh, N), dtype=np.float32)
        hLI = np.zeros((Dh, N), dtype=np.float32)
        rev = np.zeros(N, dtype=np.float32)
        dd = np.zeros(2 * N, dtype=np.float32)
        plo = np.zeros(P, dtype=np.int64)
        phi = np.zeros(P, dtype=np.int64)
        work[ch] += _backward_slots(ch * per, min(B, (ch + 1) * per), ch, T, dt, pop_i, pop_of,
                                    bk_i, bk_f, conn_i, conn_f, conn_train, conn_dtrain,
                                    conn_dense, row_ptr, syn_post, weights, delays, max_delay,
                                    ev_step, ev_nid, ev_xmv, ev_cnt, labels, drive_mode, out_p,
                                    R, R2, t_ms, drive_val, drive_step, tfirst, tsum, ttrue,
                                    xent, spike_count_batch, grad, dgrad, gpos, nsyn, brec_gid,
                                    brec, LV, LI_, hLV, hLI, rev, dd, plo, phi)
    return 0


@njit(cache=True, parallel=True)
def train_trial(T, dt, zero_step, n_chunks, reset,
                pop_i, pop_f, bias, v_init, a_init, grp_i, grp_f, conn_i, conn_f, conn_dense,
                row_ptr, syn_post, weights, delays, max_delay,
                V, A, RF, X, ring, spk, spk_cnt, R, R2,
                in_ptr, in_hi, in_ev_step, in_ev_nid, rates, frame_steps,
                ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf,
                bk_i, bk_f, conn_train, conn_dtrain, labels, out_p, t_ms,
                drive_val, drive_step, tfirst, tsum, ttrue, xent, spike_count_batch,
                grad, dgrad, gpos, nsyn, work_f, work_b):
    """One EventProp training trial of every slot in one parallel region: the forward
    pass of all T steps (as ``forward_chunk`` without recordings), the slot's loss
    terms from its readouts, and its adjoint pass (as ``backward_trial``). Slots are
    independent, so nothing returns to Python between the passes."""
    B = V.shape[0]
    P = pop_i.shape[0]
    N = V.shape[1]
    Dh = max_delay + 1
    per = (B + n_chunks - 1) // n_chunks
    pop_of = _pop_of(pop_i, pop_i[P - 1, P_END])
    # slots run forward then backward in blocks of `sub`: one call per block (see
    # _forward_slots) while a block's event tapes stay in cache for its backward pass
    sub = max(1, min(16, 240 // max(T, 1)))
    no_rec_i = np.zeros(0, np.int64)
    no_rec_v = np.zeros(0, np.int32)
    no_rec = np.zeros((1, 1, 1), np.float32)
    no_srec = np.zeros(P, np.int8)
    no_hist = np.zeros((1, 1, 1), np.float32)
    for ch in prange(n_chunks):
        isyn = np.zeros(N, dtype=np.float32)
        new_spk = np.zeros(N, dtype=np.int32)
        new_cnt = np.zeros(P, dtype=np.int32)
        hits = np.zeros(((N + 63) // 64) * 64, dtype=np.uint8)
        fgrp = np.zeros(P, dtype=np.int64)
        srec_step = np.zeros((1, 1), np.int32)
        srec_id = np.zeros((1, 1), np.int32)
        srec_cnt = np.zeros(1, np.int64)
        LV = np.zeros(N, dtype=np.float32)
        LI_ = np.zeros(N, dtype=np.float32)
        hLV = np.zeros((Dh, N), dtype=np.float32)
        hLI = np.zeros((Dh, N), dtype=np.float32)
        rev = np.zeros(N, dtype=np.float32)
        dd = np.zeros(2 * N, dtype=np.float32)
        plo = np.zeros(P, dtype=np.int64)
        phi = np.zeros(P, dtype=np.int64)
        nf = 0
        nr = 0
        lo = ch * per
        hi = min(B, (ch + 1) * per)
        for b0 in range(lo, hi, sub):
            b1 = min(hi, b0 + sub)
            nf += _forward_slots(b0, b1, 0, T, T, dt, zero_step, reset,
                                 pop_i, pop_f, bias, v_init, a_init, grp_i, grp_f, conn_i,
                                 conn_dense, row_ptr, syn_post, weights, delays,
                                 V, A, RF, X, ring, spk, spk_cnt, R, R2,
                                 in_ptr, in_hi, in_ev_step, in_ev_nid, rates, frame_steps,
                                 no_rec_i, no_rec_v, no_rec,
                                 no_srec, srec_step, srec_id, srec_cnt,
                                 ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf,
                                 no_hist, -1, isyn, new_spk, new_cnt, hits, fgrp)
            nr += _backward_slots(b0, b1, ch, T, dt, pop_i, pop_of, bk_i, bk_f, conn_i, conn_f,
                                  conn_train, conn_dtrain, conn_dense, row_ptr, syn_post,
                                  weights, delays, max_delay, ev_step, ev_nid, ev_xmv, ev_cnt,
                                  labels, DRIVE_FROM_READOUT, out_p, R, R2, t_ms, drive_val,
                                  drive_step, tfirst, tsum, ttrue, xent, spike_count_batch,
                                  grad, dgrad, gpos, nsyn, no_rec_i, no_rec, LV, LI_, hLV, hLI,
                                  rev, dd, plo, phi)
        work_f[ch] += nf
        work_b[ch] += nr
    return 0
