"""Numba kernels of the CPU engine: forward simulation and EventProp backward pass.

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

# Recordable variables (rec_var codes).
REC_V, REC_A, REC_REFRAC, REC_READOUT = 0, 1, 2, 3
# Backward roles of a population (bk_i[:, 0]).
BK_NONE, BK_HIDDEN, BK_OUT_LI, BK_OUT_LIF = 0, 1, 2, 3
# Output losses (bk_i[:, 1]).
LOSS_SCE, LOSS_SCE_STEP, LOSS_MSE, LOSS_TTFS_SCE, LOSS_RMSE = 0, 1, 2, 3, 4
# bk_f columns.
BF_A, BF_ALPHA, BF_BETA, BF_VTH, BF_DENOM, BF_TEMP, BF_TTFS_ALPHA, BF_PHANTOM, BF_DELTA, \
    BF_REG_UP, BF_REG_LO, BF_FST_SCALE, BF_LTS = range(13)
N_BF = 13
BI_ROLE, BI_LOSS, BI_READOUT, BI_REG, BI_NU = range(5)
N_BI = 5


@njit(cache=True, parallel=True)
def forward_chunk(step0, step1, T, dt, zero_step, n_chunks,
                  pop_i, pop_f, bias, grp_i, grp_f, conn_i, conn_dense, row_ptr, syn_post,
                  weights, delays,
                  V, A, RF, X, ring, spk, spk_cnt, R, R2,
                  in_off, in_ev_step, in_ev_gid, in_ptr, rates, frame_steps,
                  rec_gid, rec_var, rec,
                  srec_mask, srec_step, srec_id, srec_cnt,
                  ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf,
                  out_hist, out_hist_pop):
    """Simulate steps [step0, step1) for every batch slot, updating state in place."""
    B = V.shape[0]
    N = V.shape[1]
    P = pop_i.shape[0]
    G = grp_i.shape[0]
    C = conn_i.shape[0]
    D = ring.shape[1]
    K = rec_gid.shape[0]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    per = (B + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        isyn = np.zeros(N, dtype=np.float32)
        new_spk = np.zeros(N, dtype=np.int32)
        new_cnt = np.zeros(P, dtype=np.int32)
        for b in range(ch * per, min(B, (ch + 1) * per)):
            # 1-D row views: unit-stride loops the compiler can vectorise
            Vb = V[b]
            Xb = X[b]
            for step in range(step0, step1):
                t = np.float32(step) * dt
                # 1. deliver last step's spikes
                if step == zero_step:
                    for s in range(X.shape[1]):
                        X[b, s] = zero
                if D > 1:
                    r = step % D
                    for s in range(X.shape[1]):
                        X[b, s] += ring[b, r, s]
                        ring[b, r, s] = zero
                for c in range(C):
                    pre = conn_i[c, 0]
                    off = grp_i[conn_i[c, 2], 2]
                    woff = conn_i[c, 3]
                    rpo = conn_i[c, 4]
                    hasd = conn_i[c, 5]
                    pstart = pop_i[pre, P_START]
                    for k in range(spk_cnt[b, pre]):
                        i = spk[b, pstart + k]
                        if hasd == 0:
                            r0 = row_ptr[rpo + i]
                            r1 = row_ptr[rpo + i + 1]
                            if conn_dense[c] != 0:
                                # dense row: post j is synapse r0 + j. Slices, so the loop
                                # index is the only subscript (no negative-index wrap
                                # checks) and the add vectorises
                                xrow = Xb[off:off + r1 - r0]
                                wrow = weights[woff + r0:woff + r1]
                                for j in range(r1 - r0):
                                    xrow[j] += wrow[j]
                            else:
                                for s in range(r0, r1):
                                    X[b, off + syn_post[woff + s]] += weights[woff + s]
                            continue
                        for s in range(row_ptr[rpo + i], row_ptr[rpo + i + 1]):
                            j = syn_post[woff + s]
                            if hasd != 0:
                                d = np.int64(np.floor(delays[woff + s] + np.float32(0.5)))
                                if d > D - 1:
                                    d = D - 1
                                if d > 0:
                                    ring[b, (step + d) % D, off + j] += weights[woff + s]
                                    continue
                            X[b, off + j] += weights[woff + s]
                # 2. synapse models -> input current
                for n in range(N):
                    isyn[n] = zero
                for g in range(G):
                    pstart = pop_i[grp_i[g, 0], P_START]
                    off = grp_i[g, 2]
                    if grp_i[g, 1] == 0:
                        ng = grp_i[g, 3]
                        irow = isyn[pstart:pstart + ng]
                        xrow = Xb[off:off + ng]
                        for j in range(ng):
                            irow[j] += xrow[j]
                            xrow[j] = zero
                    else:
                        beta = grp_f[g, 0]
                        iscale = grp_f[g, 1]
                        ng = grp_i[g, 3]
                        irow = isyn[pstart:pstart + ng]
                        xrow = Xb[off:off + ng]
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
                        ptr = in_ptr[b]
                        hi = in_off[b + 1]
                        while ptr < hi and in_ev_step[ptr] == step and in_ev_gid[ptr] < s1:
                            gi = in_ev_gid[ptr]
                            ptr += 1
                            _input_spike(p, b, gi, s0, step, new_spk, new_cnt, pop_i, ev_step,
                                         ev_nid, ev_xmv, ev_cnt, nspk)
                        in_ptr[b] = ptr
                        continue
                    if ptype == POISSON_INPUT:
                        fr = step // frame_steps
                        if fr >= rates.shape[1]:
                            fr = rates.shape[1] - 1
                        for gi in range(s0, s1):
                            x = rates[b, fr, gi]
                            if x > zero and np.random.random() >= np.exp(-x * dt):
                                _input_spike(p, b, gi, s0, step, new_spk, new_cnt, pop_i,
                                             ev_step, ev_nid, ev_xmv, ev_cnt, nspk)
                        continue
                    alpha = pop_f[p, F_ALPHA]
                    isc = pop_f[p, F_ISCALE]
                    if ptype == LI:
                        for gi in range(s0, s1):
                            v = alpha * V[b, gi] + isc * isyn[gi] + bias[gi]
                            V[b, gi] = v
                            _readout(ro, b, gi, v, t, step, T, dt, R, R2)
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
                        # vectorisable update, then readouts, then a threshold scan
                        vrow = Vb[s0:s1]
                        irow = isyn[s0:s1]
                        for j in range(s1 - s0):
                            vrow[j] = alpha * vrow[j] + isc * irow[j]
                        if ro >= 0:
                            for gi in range(s0, s1):
                                _readout(ro, b, gi, V[b, gi], t, step, T, dt, R, R2)
                        for j in range(s1 - s0):
                            if vrow[j] < vth:
                                continue
                            gi = s0 + j
                            v = vrow[j]
                            if v >= vth:
                                _emit_spike(p, b, gi, s0, step, t, isyn[gi] * imv - v, events,
                                            cap, ro, R, R2, new_spk, new_cnt, ev_step, ev_nid,
                                            ev_xmv, ev_cnt, nspk, ev_ovf)
                                if rel:
                                    v -= vth - vreset
                                else:
                                    v = vreset
                                V[b, gi] = v
                        continue
                    for gi in range(s0, s1):
                        v = V[b, gi]
                        I = isyn[gi]
                        integrate = True
                        if has_rf:
                            if idr:
                                if RF[b, gi] > zero:
                                    RF[b, gi] -= dt
                            elif RF[b, gi] > zero:
                                RF[b, gi] -= dt
                                integrate = False
                        if integrate:
                            v = alpha * v + isc * I
                        thr = vth
                        if ptype == ALIF:
                            A[b, gi] *= rho
                            thr = vth + beta_a * A[b, gi]
                        if ro >= 0:
                            _readout(ro, b, gi, v, t, step, T, dt, R, R2)
                        if v >= thr and (not has_rf or RF[b, gi] <= zero):
                            _emit_spike(p, b, gi, s0, step, t, I * imv - v, events, cap, ro,
                                        R, R2, new_spk, new_cnt, ev_step, ev_nid, ev_xmv,
                                        ev_cnt, nspk, ev_ovf)
                            if rel:
                                v -= vth - vreset
                            else:
                                v = vreset
                            if ptype == ALIF:
                                A[b, gi] += one
                            if has_rf:
                                RF[b, gi] = trefrac
                        V[b, gi] = v
                # swap spike buffers, recordings
                for p in range(P):
                    s0 = pop_i[p, P_START]
                    spk_cnt[b, p] = new_cnt[p]
                    for k in range(new_cnt[p]):
                        spk[b, s0 + k] = new_spk[s0 + k]
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
                        rec[b, step - step0, k] = V[b, gi]
                    elif vc == REC_A:
                        rec[b, step - step0, k] = A[b, gi]
                    elif vc == REC_REFRAC:
                        rec[b, step - step0, k] = RF[b, gi]
                    else:
                        rec[b, step - step0, k] = R[b, gi]
                if out_hist_pop >= 0:
                    s0 = pop_i[out_hist_pop, P_START]
                    s1 = pop_i[out_hist_pop, P_END]
                    for gi in range(s0, s1):
                        out_hist[b, step, gi - s0] = V[b, gi]
    return 0


@njit(cache=True, inline="always")
def _emit_spike(p, b, gi, s0, step, t, xmv, events, cap, ro, R, R2, new_spk, new_cnt,
                ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf):
    """Bookkeeping of a LIF/ALIF spike (before its reset): EventProp tape entry with
    (x - V) or overflow flag, spike count, count/first-spike readouts, spike list."""
    if events:
        if nspk[b, gi] < cap:
            e = ev_cnt[b]
            if e < ev_step.shape[1]:
                ev_step[b, e] = step
                ev_nid[b, e] = gi
                ev_xmv[b, e] = xmv
                ev_cnt[b] = e + 1
        elif ev_ovf[b] < 0:
            ev_ovf[b] = gi
    nspk[b, gi] += 1
    if ro == RO_FIRST:
        if R2[b, gi] == np.float32(0.0):
            R[b, gi] = -t
            R2[b, gi] = np.float32(1.0)
    elif ro == RO_COUNT:
        R[b, gi] += np.float32(1.0)
    new_spk[s0 + new_cnt[p]] = gi - s0
    new_cnt[p] += 1


@njit(cache=True, inline="always")
def _input_spike(p, b, gi, s0, step, new_spk, new_cnt, pop_i, ev_step, ev_nid, ev_xmv, ev_cnt,
                 nspk):
    new_spk[s0 + new_cnt[p]] = gi - s0
    new_cnt[p] += 1
    if pop_i[p, P_EVENTS] != 0:
        e = ev_cnt[b]
        if e < ev_step.shape[1]:
            ev_step[b, e] = step
            ev_nid[b, e] = gi
            ev_xmv[b, e] = np.float32(0.0)
            ev_cnt[b] = e + 1
    nspk[b, gi] += 1


@njit(cache=True)
def stage_spike_inputs(in_start, in_end, in_times, dt, T, time0=0):
    """Turn per-neuron spike-time ranges into per-slot input events sorted by (step, neuron).

    Reproduces the step rule of SpikeInput exactly: a spike fires at the first step
    whose float32 start time ``(time0 + step) * dt`` is >= its time, at most once per
    neuron per step (a later spike of the same neuron waits for the next free step).
    Returns ``(offsets (B+1,), steps, neuron ids)``; events at or after step T are dropped.
    """
    B = in_start.shape[0]
    N = in_start.shape[1]
    total = 0
    for b in range(B):
        for gi in range(N):
            total += in_end[b, gi] - in_start[b, gi]
    ev_s = np.empty(max(total, 1), np.int32)
    ev_g = np.empty(max(total, 1), np.int32)
    off = np.zeros(B + 1, np.int64)
    n = 0
    for b in range(B):
        b0 = n
        for gi in range(N):
            prev = -1
            for c in range(in_start[b, gi], in_end[b, gi]):
                tsp = in_times[c]
                guess = np.int64(np.floor(np.float64(tsp) / np.float64(dt))) - 2 - time0
                s = max(prev + 1, guess, 0)
                while s > prev + 1 and s > 0 and np.float32(time0 + s - 1) * dt >= tsp:
                    s -= 1
                while s < T and not (np.float32(time0 + s) * dt >= tsp):
                    s += 1
                if s >= T:
                    break
                ev_s[n] = s
                ev_g[n] = gi
                n += 1
                prev = s
        m = n - b0
        if m > 1:
            key = np.empty(m, np.int64)
            for k in range(m):
                key[k] = np.int64(ev_s[b0 + k]) * N + ev_g[b0 + k]
            order = np.argsort(key)
            ts = ev_s[b0:n].copy()
            tg = ev_g[b0:n].copy()
            for k in range(m):
                ev_s[b0 + k] = ts[order[k]]
                ev_g[b0 + k] = tg[order[k]]
        off[b + 1] = n
    return off, ev_s, ev_g


@njit(cache=True, inline="always")
def _readout(ro, b, gi, v, t, step, T, dt, R, R2):
    if ro == RO_VAR:
        R[b, gi] = v
    elif ro == RO_SUM:
        R[b, gi] += v
    elif ro == RO_AVG:
        R[b, gi] += np.float32(1.0 / T) * v
    elif ro == RO_AVG_EXP:
        lts = np.float32(1.0 / (dt * T))
        R[b, gi] += np.exp(-(t * lts)) * np.float32(1.0 / T) * v
    elif ro == RO_MAX:
        if v > R[b, gi]:
            R[b, gi] = v
            R2[b, gi] = t


@njit(cache=True, parallel=True)
def backward_trial(T, dt, n_chunks, pop_i, bk_i, bk_f, conn_i, conn_f, conn_train, conn_dtrain,
                   conn_dense, row_ptr, syn_post, weights, delays, max_delay,
                   ev_step, ev_nid, ev_xmv, ev_cnt, labels, drive_val, drive_step, out_ref,
                   tfirst, tsum, ttrue, spike_count_batch,
                   grad, dgrad, brec_gid, brec):
    """EventProp backward pass over one trial for every batch slot.

    ``drive_val`` (B, Td, n_out) holds the per-step output error terms of LI
    outputs (Td is 1 for per-trial losses); ``drive_step`` (B, n_out) the step
    of the maximum for max_var (-1 otherwise). Gradients are accumulated into
    ``grad[chunk]`` (and ``dgrad`` for learnt delays).
    """
    B = ev_cnt.shape[0]
    P = pop_i.shape[0]
    N = pop_i[P - 1, P_END]
    C = conn_i.shape[0]
    K = brec_gid.shape[0]
    Dh = max_delay + 1
    zero = np.float32(0.0)
    one = np.float32(1.0)
    per = (B + n_chunks - 1) // n_chunks
    pop_of = np.empty(N, dtype=np.int64)
    for p in range(P):
        for gi in range(pop_i[p, P_START], pop_i[p, P_END]):
            pop_of[gi] = p
    for ch in prange(n_chunks):
        LV = np.zeros(N, dtype=np.float32)
        LI_ = np.zeros(N, dtype=np.float32)
        hLV = np.zeros((Dh, N), dtype=np.float32)
        hLI = np.zeros((Dh, N), dtype=np.float32)
        rev = np.zeros(N, dtype=np.float32)
        for b in range(ch * per, min(B, (ch + 1) * per)):
            for n in range(N):
                LV[n] = zero
                LI_[n] = zero
                rev[n] = zero
            for h in range(Dh):
                for n in range(N):
                    hLV[h, n] = zero
                    hLI[h, n] = zero
            e_hi = ev_cnt[b] - 1
            while e_hi >= 0 and ev_step[b, e_hi] >= T - 1:
                e_hi -= 1
            y = labels[b]
            for it in range(T):
                m = T - 1 - it
                e_lo = e_hi
                while e_lo >= 0 and ev_step[b, e_lo] == m:
                    e_lo -= 1
                # synapse phase: replayed spikes of step m
                for e in range(e_hi, e_lo, -1):
                    gi = ev_nid[b, e]
                    p = pop_of[gi]
                    i = gi - pop_i[p, P_START]
                    for c in range(C):
                        if conn_i[c, 0] != p:
                            continue
                        post = conn_i[c, 1]
                        post0 = pop_i[post, P_START]
                        woff = conn_i[c, 3]
                        rpo = conn_i[c, 4]
                        tau_s = conn_f[c, 0]
                        fb = bk_i[p, BI_ROLE] == BK_HIDDEN and bk_i[post, BI_ROLE] != BK_NONE
                        hasd = conn_i[c, 5] != 0
                        if not hasd and conn_dense[c] != 0:
                            # dense row without delays: contiguous, same order as below
                            base = woff + row_ptr[rpo + i]
                            npost = row_ptr[rpo + i + 1] - row_ptr[rpo + i]
                            # slices: the loop index is the only subscript (vectorises)
                            lirow = LI_[post0:post0 + npost]
                            lvrow = LV[post0:post0 + npost]
                            wrow = weights[base:base + npost]
                            if conn_train[c] != 0:
                                grow = grad[ch, base:base + npost]
                                for j in range(npost):
                                    grow[j] -= lirow[j] * tau_s
                            if conn_dtrain[c] != 0:
                                drow = dgrad[ch, base:base + npost]
                                for j in range(npost):
                                    drow[j] -= wrow[j] * (lirow[j] - lvrow[j])
                            if fb:
                                acc = rev[gi]
                                for j in range(npost):
                                    acc += wrow[j] * (lvrow[j] - lirow[j])
                                rev[gi] = acc
                            continue
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
                            if conn_train[c] != 0:
                                grad[ch, woff + s] -= li * tau_s
                            if conn_dtrain[c] != 0:
                                dgrad[ch, woff + s] -= weights[woff + s] * (li - lv)
                            if fb:
                                rev[gi] += weights[woff + s] * (lv - li)
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
                            drive = zero
                            if loss == LOSS_SCE or loss == LOSS_SCE_STEP:
                                sm = drive_val[b, td, k]
                                g = one - sm if k == y else -sm
                                if bk_i[p, BI_READOUT] == RO_MAX:
                                    if drive_step[b, k] == m:
                                        drive = g / denom
                                elif bk_i[p, BI_READOUT] == RO_AVG_EXP:
                                    tt = np.float32(it) * dt
                                    drive = (g * np.exp(-(one - tt * bk_f[p, BF_LTS]))) / denom
                                else:
                                    drive = g / denom
                            else:
                                drive = drive_val[b, td, k] / denom
                            LI_[gi] = drive + (LI_[gi] - drive) * beta \
                                + a_ * (LV[gi] - drive) * (alpha - beta)
                            LV[gi] = drive + (LV[gi] - drive) * alpha
                    else:
                        for gi in range(s0, s1):
                            LI_[gi] = a_ * LV[gi] * (alpha - beta) + LI_[gi] * beta
                            LV[gi] *= alpha
                        if it == 0 and bk_i[p, BI_LOSS] == LOSS_TTFS_SCE:
                            if tfirst[b, y] < -(np.float32(T) * dt):
                                LV[s0 + y] += bk_f[p, BF_PHANTOM]
                # transitions of replayed spikes
                for e in range(e_hi, e_lo, -1):
                    gi = ev_nid[b, e]
                    p = pop_of[gi]
                    role = bk_i[p, BI_ROLE]
                    if role == BK_HIDDEN:
                        LV[gi] += (one / ev_xmv[b, e]) * (bk_f[p, BF_VTH] * LV[gi] + rev[gi])
                        rev[gi] = zero
                        if bk_i[p, BI_REG] != 0:
                            cnt = spike_count_batch[gi]
                            nu = bk_i[p, BI_NU]
                            if cnt > nu:
                                LV[gi] -= bk_f[p, BF_REG_UP] * np.float32(cnt - nu)
                            else:
                                LV[gi] -= bk_f[p, BF_REG_LO] * np.float32(cnt - nu)
                    elif role == BK_OUT_LIF:
                        k = gi - pop_i[p, P_START]
                        recip = one / ev_xmv[b, e]
                        first = abs(np.float32(m) * dt + tfirst[b, k]) < np.float32(1e-3) * dt
                        if bk_i[p, BI_LOSS] == LOSS_TTFS_SCE:
                            LV[gi] += recip * (bk_f[p, BF_VTH] * LV[gi])
                            if first:
                                sm = drive_val[b, 0, k]
                                temp = bk_f[p, BF_TEMP]
                                if k == y:
                                    fst = bk_f[p, BF_FST_SCALE] + tfirst[b, k]
                                    LV[gi] += recip * (((one - sm) / temp)
                                                       + (bk_f[p, BF_TTFS_ALPHA] / (fst * fst))) \
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
    return 0


@njit(cache=True)
def replayed_synapses(ev_nid, ev_cnt, fanout):
    """Synapses the backward pass touches: the fan-out of every recorded event."""
    total = 0
    for b in range(ev_cnt.shape[0]):
        for e in range(min(ev_cnt[b], ev_nid.shape[1])):
            total += fanout[ev_nid[b, e]]
    return total
