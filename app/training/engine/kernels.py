"""Numba kernels of the CPU engine: the forward simulation (EventProp's backward pass
is in ``eventprop_kernels.py``).

All state is float32 per (batch, neuron). Spikes are propagated event-driven:
each step only the synapses of neurons that spiked in the previous step are
touched, so cost grows with spikes x fan-out. Batch slots are independent
and run in parallel (``prange`` over contiguous chunks of the batch, so the
summation order of gradients is fixed for a given thread count).
The order of operations inside a step follows SPEC.md and the fixtures'
README (deliver, synapse decay, neuron update, readout, threshold, reset).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from .layout import (
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
    LIF,
    P_END,
    P_EVENTS,
    P_HAS_REFRAC,
    P_IDR,
    P_READOUT,
    P_REL_RESET,
    P_START,
    P_TYPE,
    POISSON_INPUT,
    RO_AVG,
    RO_AVG_EXP,
    RO_COUNT,
    RO_FIRST,
    RO_MAX,
    RO_SUM,
    RO_VAR,
    SPIKE_INPUT,
)

FLT_MAX = np.float32(np.finfo(np.float32).max)
#: times a word of eight 0/1 bytes puts byte i's flag at bit 56 + i (each product
#: term lands on its own bit, so nothing carries): the top byte is the 8-bit mask
BYTES_TO_BITS = np.uint64(0x0102040810204080)

# Recordable variables (rec_var codes).
REC_V, REC_A, REC_REFRAC, REC_READOUT = 0, 1, 2, 3
# Backward roles of a population (bk_i[:, 0]).
BK_NONE, BK_HIDDEN, BK_OUT_LI, BK_OUT_LIF = 0, 1, 2, 3
# Output losses (bk_i[:, 1]).
LOSS_SCE, LOSS_SCE_STEP, LOSS_MSE, LOSS_TTFS_SCE, LOSS_RMSE, LOSS_TTFS_EXP = 0, 1, 2, 3, 4, 5
# bk_f columns.
BF_A, BF_ALPHA, BF_BETA, BF_VTH, BF_DENOM, BF_TEMP, BF_TTFS_ALPHA, BF_PHANTOM, BF_DELTA, \
    BF_REG_UP, BF_REG_LO, BF_FST_SCALE, BF_LTS, BF_TAU1 = range(14)
N_BF = 14
BI_ROLE, BI_LOSS, BI_READOUT, BI_REG, BI_NU = range(5)
N_BI = 5


@njit(cache=True, inline="always")
def add_rows(xrow, W2, sl):
    """xrow += W2[sl[0]] + W2[sl[1]] + ... (the dense rows of a step's spikes ``sl``),
    four rows per pass over ``xrow``: a quarter of its loads and stores, and each
    element adds the same rows in the same order."""
    npost = xrow.shape[0]
    nsp = sl.shape[0]
    k = 0
    while k + 4 <= nsp:
        wa = W2[sl[k]]
        wb = W2[sl[k + 1]]
        wc = W2[sl[k + 2]]
        wd = W2[sl[k + 3]]
        for j in range(npost):
            xrow[j] = xrow[j] + wa[j] + wb[j] + wc[j] + wd[j]
        k += 4
    while k < nsp:
        wa = W2[sl[k]]
        for j in range(npost):
            xrow[j] += wa[j]
        k += 1


@njit(cache=True, _nrt=False)
def _forward_slots(b0, b1, step0, step1, T, dt, zero_step, reset,
                    pop_i, pop_f, bias, v_init, a_init, grp_i, grp_f, conn_i, conn_dense,
                   row_ptr, syn_post, weights, delays,
                   V, A, RF, X, ring, spk, spk_cnt, R, R2,
                   in_ptr, in_hi, in_ev_step, in_ev_nid, rates, frame_steps,
                   rec_gid, rec_var, rec,
                   srec_mask, srec_step, srec_id, srec_cnt,
                   ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf,
                   out_hist, out_hist_pop, isyn, new_spk, new_cnt, hits, fgrp):
    """Steps [step0, step1) of batch slots b0..b1-1, one after the other (see
    ``forward_chunk``); ``isyn``, ``new_spk``, ``new_cnt`` and ``hits`` (uint8, a
    multiple of 64 long) and ``fgrp`` (P int64) are the calling thread's scratch.
    One call per range
    of slots, not per slot: a call passes ~60 arrays, whose copying cost ~0.3 us
    per call (a tenth of a Yin-Yang example's kernel time).
    Returns the number of synapses delivered to."""
    N = V.shape[1]
    P = pop_i.shape[0]
    G = grp_i.shape[0]
    C = conn_i.shape[0]
    D = ring.shape[1]
    K = rec_gid.shape[0]
    S = X.shape[1]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    nwork = 0
    # fgrp[p]: the one synapse group feeding LI or non-refractory LIF population p
    # (its input is computed inside the neuron update), else -1
    for p in range(P):
        fgrp[p] = -1
        ptype = pop_i[p, P_TYPE]
        if ptype == LI or (ptype == LIF and pop_i[p, P_HAS_REFRAC] == 0):
            for g in range(G):
                if grp_i[g, 0] == p:
                    fgrp[p] = g if fgrp[p] == -1 and grp_i[g, 3] == \
                        pop_i[p, P_END] - pop_i[p, P_START] else -2
            if fgrp[p] < 0:
                fgrp[p] = -1
    for b in range(b0, b1):
        # 1-D row views: unit-stride loops the compiler can vectorise
        Vb = V[b]
        Xb = X[b]
        Rb = R[b]
        R2b = R2[b]
        nspk_b = nspk[b]
        spk_b = spk[b]
        evs_b = ev_step[b]
        evn_b = ev_nid[b]
        evx_b = ev_xmv[b]
        ecnt = ev_cnt[b]
        eovf = ev_ovf[b]
        words = hits.view(np.uint64)  # the crossing flags, 8 per word
        if step0 == 0:
            ecnt = 0
            eovf = -1
            for n in range(N):
                nspk_b[n] = 0
            if reset & 1:
                Ab = A[b]
                RFb = RF[b]
                for n in range(N):
                    Vb[n] = v_init[n]
                    Ab[n] = a_init[n]
                    RFb[n] = zero
            if reset & 2:
                for n in range(N):
                    Rb[n] = zero
                    R2b[n] = zero
                for p in range(P):
                    if pop_i[p, P_READOUT] == RO_FIRST:
                        for gi in range(pop_i[p, P_START], pop_i[p, P_END]):
                            Rb[gi] = -FLT_MAX
        for step in range(step0, step1):
            t = np.float32(step) * dt
            # 1. deliver last step's spikes
            if step == zero_step:
                for s in range(S):
                    Xb[s] = zero
            if D > 1:
                r = step % D
                ringrow = ring[b, r]
                for s in range(S):
                    Xb[s] += ringrow[s]
                    ringrow[s] = zero
            for c in range(C):
                pre = conn_i[c, 0]
                nsp = spk_cnt[b, pre]
                if nsp == 0:
                    continue
                off = grp_i[conn_i[c, 2], 2]
                woff = conn_i[c, 3]
                rpo = conn_i[c, 4]
                hasd = conn_i[c, 5]
                pstart = pop_i[pre, P_START]
                if hasd == 0 and conn_dense[c] != 0:
                    # dense rows: post j is synapse r0 + j, same posts for every row; the
                    # rows as one (pre, post) view, so a row is one index
                    npost = row_ptr[rpo + 1] - row_ptr[rpo]
                    npre = pop_i[pre, P_END] - pstart
                    w0 = woff + row_ptr[rpo]
                    W2 = weights[w0:w0 + npre * npost].reshape((npre, npost))
                    xrow = Xb[off:off + npost]
                    add_rows(xrow, W2, spk_b[pstart:pstart + nsp])
                    nwork += nsp * npost
                    continue
                for k in range(nsp):
                    i = spk_b[pstart + k]
                    r0 = row_ptr[rpo + i]
                    r1 = row_ptr[rpo + i + 1]
                    nwork += r1 - r0
                    for s in range(r0, r1):
                        j = syn_post[woff + s]
                        if hasd != 0:
                            d = np.int64(np.floor(delays[woff + s] + np.float32(0.5)))
                            if d > D - 1:
                                d = D - 1
                            if d > 0:
                                ring[b, (step + d) % D, off + j] += weights[woff + s]
                                continue
                        Xb[off + j] += weights[woff + s]
            # 2. synapse models -> input current (isyn of non-input populations);
            # a population fed by one group (fgrp) does this inside its update
            for p in range(P):
                if pop_i[p, P_TYPE] != SPIKE_INPUT and pop_i[p, P_TYPE] != POISSON_INPUT \
                        and fgrp[p] < 0:
                    irow = isyn[pop_i[p, P_START]:pop_i[p, P_END]]
                    for j in range(irow.shape[0]):
                        irow[j] = zero
            for g in range(G):
                if fgrp[grp_i[g, 0]] == g:
                    continue
                pstart = pop_i[grp_i[g, 0], P_START]
                off = grp_i[g, 2]
                ng = grp_i[g, 3]
                irow = isyn[pstart:pstart + ng]
                xrow = Xb[off:off + ng]
                if grp_i[g, 1] == 0:
                    for j in range(ng):
                        irow[j] += xrow[j]
                        xrow[j] = zero
                else:
                    beta = grp_f[g, 0]
                    iscale = grp_f[g, 1]
                    for j in range(ng):
                        irow[j] += xrow[j] * iscale
                        xrow[j] *= beta
            # 3. neurons
            for p in range(P):
                ptype = pop_i[p, P_TYPE]
                s0 = pop_i[p, P_START]
                s1 = pop_i[p, P_END]
                ro = pop_i[p, P_READOUT]
                new_cnt[p] = 0
                if ptype == SPIKE_INPUT:
                    # staged events, sorted by (step, neuron): touch only spiking inputs
                    ptr = in_ptr[b, p]
                    hi = in_hi[b, p]
                    events = pop_i[p, P_EVENTS] != 0
                    while ptr < hi and in_ev_step[ptr] == step:
                        gi = s0 + in_ev_nid[ptr]
                        ptr += 1
                        ecnt = _input_spike(p, gi, s0, step, events, new_spk, new_cnt,
                                            evs_b, evn_b, evx_b, ecnt, nspk_b)
                    in_ptr[b, p] = ptr
                    continue
                if ptype == POISSON_INPUT:
                    fr = step // frame_steps
                    if fr >= rates.shape[1]:
                        fr = rates.shape[1] - 1
                    events = pop_i[p, P_EVENTS] != 0
                    for gi in range(s0, s1):
                        x = rates[b, fr, gi]
                        if x > zero and np.random.random() >= np.exp(-x * dt):
                            ecnt = _input_spike(p, gi, s0, step, events, new_spk, new_cnt,
                                                evs_b, evn_b, evx_b, ecnt, nspk_b)
                    continue
                alpha = pop_f[p, F_ALPHA]
                isc = pop_f[p, F_ISCALE]
                n = s1 - s0
                vrow = Vb[s0:s1]
                irow = isyn[s0:s1]
                g = fgrp[p]
                # the feeding group's input row, decay and scale (delta: taken whole)
                xrow = Xb[0:0]
                dl = False
                gbeta = one
                giscale = one
                if g >= 0:
                    xrow = Xb[grp_i[g, 2]:grp_i[g, 2] + n]
                    dl = grp_i[g, 1] == 0
                    gbeta = grp_f[g, 0]
                    giscale = grp_f[g, 1]
                if ptype == LI:
                    brow = bias[s0:s1]
                    if g >= 0:
                        # isyn = 0 + x * iscale, then x decays: the same operations
                        # as step 2 and the update below, in one pass
                        for j in range(n):
                            x = xrow[j]
                            i = zero + (x if dl else x * giscale)
                            xrow[j] = zero if dl else x * gbeta
                            vrow[j] = alpha * vrow[j] + isc * i + brow[j]
                    else:
                        for j in range(n):
                            vrow[j] = alpha * vrow[j] + isc * irow[j] + brow[j]
                    _readouts(ro, Rb[s0:s1], R2b[s0:s1], vrow, t, T, dt)
                    continue
                vth = pop_f[p, F_VTH]
                vreset = pop_f[p, F_VRESET]
                trefrac = pop_f[p, F_TREFRAC]
                has_rf = pop_i[p, P_HAS_REFRAC] != 0
                idr = pop_i[p, P_IDR] != 0
                rel = pop_i[p, P_REL_RESET] != 0
                rho = pop_f[p, F_RHO]
                beta_a = pop_f[p, F_BETA_A]
                imv = pop_f[p, F_IMV_SCALE]
                events = pop_i[p, P_EVENTS] != 0
                cap = ev_mask_cap[p]
                if ptype == LIF and not has_rf:
                    # common case (EventProp hidden/output LIF): a branch-free,
                    # vectorisable update that flags threshold crossings (one byte per
                    # neuron) and counts them, readouts, then, if any, the flags 64 at a
                    # time (as bit masks) until all crossings are found
                    ncross = np.int32(0)
                    if g >= 0:
                        for j in range(n):
                            x = xrow[j]
                            i = zero + (x if dl else x * giscale)
                            xrow[j] = zero if dl else x * gbeta
                            irow[j] = i
                            v = alpha * vrow[j] + isc * i
                            vrow[j] = v
                            hits[j] = np.uint8(v >= vth)
                            ncross += np.int32(v >= vth)
                    else:
                        for j in range(n):
                            v = alpha * vrow[j] + isc * irow[j]
                            vrow[j] = v
                            hits[j] = np.uint8(v >= vth)
                            ncross += np.int32(v >= vth)
                    if ro >= 0:
                        _readouts(ro, Rb[s0:s1], R2b[s0:s1], vrow, t, T, dt)
                    if ncross == 0:
                        continue
                    for j in range(n, ((n + 63) // 64) * 64):
                        hits[j] = 0
                    q = 0
                    while ncross > 0:
                        # eight flag words (64 neurons) packed into one bit mask; each
                        # set bit is one crossing: the lowest gives its neuron, clearing
                        # it moves on (one unpredictable loop exit per 64 neurons)
                        w = np.uint64(0)
                        for k in range(8):
                            w |= ((words[8 * q + k] * BYTES_TO_BITS) >> np.uint64(56)) \
                                << np.uint64(8 * k)
                        while w != 0:
                            j = 64 * q + np.int64(trailing_zeros(w))
                            w &= w - np.uint64(1)
                            ncross -= 1
                            gi = s0 + j
                            v = vrow[j]
                            ecnt, eovf = _emit_spike(p, gi, s0, step, t, irow[j] * imv - v,
                                                     events, cap, ro, Rb, R2b, new_spk,
                                                     new_cnt, evs_b, evn_b, evx_b, ecnt,
                                                     eovf, nspk_b)
                            if rel:
                                v -= vth - vreset
                            else:
                                v = vreset
                            vrow[j] = v
                        q += 1
                    continue
                Ab = A[b]
                RFb = RF[b]
                for gi in range(s0, s1):
                    v = Vb[gi]
                    I = isyn[gi]
                    integrate = True
                    if has_rf:
                        if idr:
                            if RFb[gi] > zero:
                                RFb[gi] -= dt
                        elif RFb[gi] > zero:
                            RFb[gi] -= dt
                            integrate = False
                    if integrate:
                        v = alpha * v + isc * I
                    thr = vth
                    if ptype == ALIF:
                        Ab[gi] *= rho
                        thr = vth + beta_a * Ab[gi]
                    if ro >= 0:
                        _readout(ro, gi, v, t, T, dt, Rb, R2b)
                    if v >= thr and (not has_rf or RFb[gi] <= zero):
                        ecnt, eovf = _emit_spike(p, gi, s0, step, t, I * imv - v, events,
                                                 cap, ro, Rb, R2b, new_spk, new_cnt,
                                                 evs_b, evn_b, evx_b, ecnt, eovf, nspk_b)
                        if rel:
                            v -= vth - vreset
                        else:
                            v = vreset
                        if ptype == ALIF:
                            Ab[gi] += one
                        if has_rf:
                            RFb[gi] = trefrac
                    Vb[gi] = v
            # swap spike buffers, recordings
            for p in range(P):
                s0 = pop_i[p, P_START]
                spk_cnt[b, p] = new_cnt[p]
                for k in range(new_cnt[p]):
                    spk_b[s0 + k] = new_spk[s0 + k]
                if srec_mask[p] != 0:
                    for k in range(new_cnt[p]):
                        e = srec_cnt[b]
                        if e < srec_step.shape[1]:
                            srec_step[b, e] = step
                            srec_id[b, e] = s0 + new_spk[s0 + k]
                            srec_cnt[b] = e + 1
            for k in range(K):
                gi = rec_gid[k]
                vc = rec_var[k]
                if vc == REC_V:
                    rec[b, step - step0, k] = Vb[gi]
                elif vc == REC_A:
                    rec[b, step - step0, k] = A[b, gi]
                elif vc == REC_REFRAC:
                    rec[b, step - step0, k] = RF[b, gi]
                else:
                    rec[b, step - step0, k] = Rb[gi]
            if out_hist_pop >= 0:
                s0 = pop_i[out_hist_pop, P_START]
                s1 = pop_i[out_hist_pop, P_END]
                for gi in range(s0, s1):
                    out_hist[b, step, gi - s0] = Vb[gi]
        ev_cnt[b] = ecnt
        ev_ovf[b] = eovf
    return nwork


@njit(cache=True, parallel=True)
def forward_chunk(step0, step1, T, dt, zero_step, n_chunks, reset,
                  pop_i, pop_f, bias, v_init, a_init, grp_i, grp_f, conn_i, conn_dense,
                  row_ptr, syn_post, weights, delays,
                  V, A, RF, X, ring, spk, spk_cnt, R, R2,
                  in_ptr, in_hi, in_ev_step, in_ev_nid, rates, frame_steps,
                  rec_gid, rec_var, rec,
                  srec_mask, srec_step, srec_id, srec_cnt,
                  ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf,
                  out_hist, out_hist_pop, work):
    """Simulate steps [step0, step1) for every batch slot, updating state in place.

    At step 0 each slot's trial counters (spike counts, event tape) start empty;
    ``reset`` bit 1 also resets V, adaptation and refractory time to their initial
    values, bit 2 the readouts. ``work[chunk]`` gains the synapses delivered to.
    Loops over neurons run over row slices from index 0: a loop variable that
    cannot be negative needs no wrap-around check, so those loops vectorise.
    """
    B = V.shape[0]
    N = V.shape[1]
    P = pop_i.shape[0]
    per = (B + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        isyn = np.zeros(N, dtype=np.float32)
        new_spk = np.zeros(N, dtype=np.int32)
        new_cnt = np.zeros(P, dtype=np.int32)
        hits = np.zeros(((N + 63) // 64) * 64, dtype=np.uint8)
        fgrp = np.zeros(P, dtype=np.int64)
        work[ch] += _forward_slots(ch * per, min(B, (ch + 1) * per), step0, step1, T, dt,
                                   zero_step, reset, pop_i, pop_f, bias, v_init, a_init, grp_i,
                                   grp_f, conn_i, conn_dense, row_ptr, syn_post, weights, delays,
                                   V, A, RF, X, ring, spk, spk_cnt, R, R2,
                                   in_ptr, in_hi, in_ev_step, in_ev_nid, rates, frame_steps,
                                   rec_gid, rec_var, rec,
                                   srec_mask, srec_step, srec_id, srec_cnt,
                                   ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf,
                                   out_hist, out_hist_pop, isyn, new_spk, new_cnt, hits,
                                   fgrp)
    return 0


@njit(cache=True, inline="always")
def _emit_spike(p, gi, s0, step, t, xmv, events, cap, ro, Rb, R2b, new_spk, new_cnt,
                evs_b, evn_b, evx_b, ecnt, eovf, nspk_b):
    """Bookkeeping of a LIF/ALIF spike (before its reset) in one slot's rows: EventProp
    tape entry with (x - V) or overflow flag, spike count, count/first-spike readouts,
    spike list. Returns the slot's (tape length, overflow neuron)."""
    if events:
        if nspk_b[gi] < cap:
            if ecnt < evs_b.shape[0]:
                evs_b[ecnt] = step
                evn_b[ecnt] = gi
                evx_b[ecnt] = xmv
                ecnt += 1
        elif eovf < 0:
            eovf = gi
    nspk_b[gi] += 1
    if ro == RO_FIRST:
        if R2b[gi] == np.float32(0.0):
            Rb[gi] = -t
            R2b[gi] = np.float32(1.0)
    elif ro == RO_COUNT:
        Rb[gi] += np.float32(1.0)
    new_spk[s0 + new_cnt[p]] = gi - s0
    new_cnt[p] += 1
    return ecnt, eovf


@njit(cache=True, inline="always")
def _input_spike(p, gi, s0, step, events, new_spk, new_cnt, evs_b, evn_b, evx_b, ecnt, nspk_b):
    """An input spike: spike list, EventProp tape entry, spike count. Returns the tape
    length."""
    new_spk[s0 + new_cnt[p]] = gi - s0
    new_cnt[p] += 1
    if events:
        if ecnt < evs_b.shape[0]:
            evs_b[ecnt] = step
            evn_b[ecnt] = gi
            evx_b[ecnt] = np.float32(0.0)
            ecnt += 1
    nspk_b[gi] += 1
    return ecnt


@njit(cache=True, inline="always")
def _readout(ro, gi, v, t, T, dt, Rb, R2b):
    """Readout update of one neuron of one slot (``Rb``/``R2b`` the slot's rows)."""
    if ro == RO_VAR:
        Rb[gi] = v
    elif ro == RO_SUM:
        Rb[gi] += v
    elif ro == RO_AVG:
        Rb[gi] += np.float32(1.0 / T) * v
    elif ro == RO_AVG_EXP:
        lts = np.float32(1.0 / (dt * T))
        Rb[gi] += np.exp(-(t * lts)) * np.float32(1.0 / T) * v
    elif ro == RO_MAX:
        if v > Rb[gi]:
            Rb[gi] = v
            R2b[gi] = t


@njit(cache=True, inline="always")
def _readouts(ro, rrow, r2row, vrow, t, T, dt):
    """Readout update of a population's row (the same operations as ``_readout``)."""
    n = vrow.shape[0]
    if ro == RO_VAR:
        for j in range(n):
            rrow[j] = vrow[j]
    elif ro == RO_SUM:
        for j in range(n):
            rrow[j] += vrow[j]
    elif ro == RO_AVG:
        w = np.float32(1.0 / T)
        for j in range(n):
            rrow[j] += w * vrow[j]
    elif ro == RO_AVG_EXP or ro == RO_MAX:
        for j in range(n):
            _readout(ro, j, vrow[j], t, T, dt, rrow, r2row)
