"""EventProp training trial with batch slots in lockstep (neurons x slots layout).

The per-slot kernels (``kernels._forward_slots``, ``eventprop_kernels._backward_slots``)
run one slot's whole trial, then the next: every step pays the loops over
populations, groups and connections and the short-vector overheads of each
population once per slot. Here a block of up to ``LOCKSTEP_BLOCK`` slots advances
one step at a time together: state is held as (neuron, slot) rows, so a
population's update is one vectorised loop over its neurons x the block's slots,
and the per-step bookkeeping is paid once per block. Spikes, event tapes and the
backward replay stay per slot (the same per-slot tape as the per-slot kernels).

Only for networks whose every feature this kernel implements (``lockstep_ok``):
SpikeInput, non-refractory LIF and LI populations, dense connections without
delays, per-trial losses without regularisation or delay learning. The forward
pass does the same float operations in the same order per slot as the per-slot
kernel (bit-identical voltages, readouts and tapes); the backward pass adds each
slot's gradient terms in step order across the block (instead of slot by slot),
so gradients differ from the per-slot kernel by float rounding only.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from .eventprop_kernels import _dot, _drive_slot, _pop_of
from .kernels import (
    BF_A,
    BF_ALPHA,
    BF_BETA,
    BF_DELTA,
    BF_DENOM,
    BF_FST_SCALE,
    BF_LTS,
    BF_PHANTOM,
    BF_TEMP,
    BF_TTFS_ALPHA,
    BF_VTH,
    BI_LOSS,
    BI_READOUT,
    BI_REG,
    BI_ROLE,
    BK_HIDDEN,
    BK_NONE,
    BK_OUT_LI,
    BK_OUT_LIF,
    FLT_MAX,
    LOSS_SCE,
    LOSS_SCE_STEP,
    LOSS_TTFS_SCE,
    _readouts,
)
from .layout import (
    F_ALPHA,
    F_IMV_SCALE,
    F_ISCALE,
    F_VRESET,
    F_VTH,
    LI,
    LIF,
    P_END,
    P_EVENTS,
    P_HAS_REFRAC,
    P_READOUT,
    P_REL_RESET,
    P_START,
    P_TYPE,
    RO_AVG_EXP,
    RO_COUNT,
    RO_FIRST,
    RO_MAX,
    SPIKE_INPUT,
)

#: Slots advanced together (a block's (neuron, slot) rows of one 100-neuron
#: population are 12.8 kB per variable: the block's state stays in L1/L2).
LOCKSTEP_BLOCK = 32


def lockstep_ok(pop_i: np.ndarray, grp_i: np.ndarray, max_delay: int, conn_dense: np.ndarray,
                conn_dtrain: np.ndarray, bk_i: np.ndarray) -> bool:
    """Whether the lockstep trial implements every feature of this network: SpikeInput,
    LI and non-refractory LIF populations, each non-input one fed by exactly one
    synapse group (EventProp merges a population's Exponential synapses, which share
    one tau, into one), dense connections without delays, no delay learning, no
    spike regularisation."""
    if max_delay > 0 or not np.all(conn_dense != 0) or np.any(conn_dtrain != 0):
        return False
    if np.any(bk_i[:, BI_REG] != 0):
        return False
    for p in range(pop_i.shape[0]):
        t = pop_i[p, P_TYPE]
        if t == SPIKE_INPUT:
            continue
        if t not in (LIF, LI) or (t == LIF and pop_i[p, P_HAS_REFRAC] != 0):
            return False
        n = pop_i[p, P_END] - pop_i[p, P_START]
        groups = [g for g in range(grp_i.shape[0]) if grp_i[g, 0] == p]
        if len(groups) != 1 or grp_i[groups[0], 3] != n:
            return False
    return True


@njit(cache=True, _nrt=False)
def _ls_forward(b0, nb, T, dt, zero_step, reset, pop_i, pop_f, bias, v_init, a_init, grp_i,
                grp_f, conn_i, row_ptr, weights, V, A, RF, X, spk, spk_cnt, R, R2, in_ptr,
                in_hi, in_ev_step, in_ev_nid, ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt,
                nspk, ev_ovf, Vl, Il, Xl, Rl, R2l, Vf, If, Xf, Rf, R2f, biasf, tmp, spkl,
                cntl, nspl, hits, ecnt, eovf, fgrp, pst):
    """All T steps of slots b0..b0+nb-1 in lockstep. ``Vl``, ``Il``, ``Rl``, ``R2l``
    (N, LB) and ``Xl`` (slots, LB) hold the block's state as (neuron, slot) rows
    (``Vf`` ... their flat views; columns nb..LB-1 are idle slots kept at zero, so a
    population's update is one unit-stride loop over its n x LB values); the rest
    after ``ev_ovf`` is scratch. Each slot sees the operations of
    ``kernels._forward_slots`` in the same order. Returns the synapses delivered to."""
    N = V.shape[1]
    S = X.shape[1]
    P = pop_i.shape[0]
    G = grp_i.shape[0]
    C = conn_i.shape[0]
    LB = LOCKSTEP_BLOCK
    zero = np.float32(0.0)
    one = np.float32(1.0)
    nwork = 0
    words = hits.view(np.uint64)
    for n in range(N):
        for l in range(LB):
            biasf[n * LB + l] = bias[n]
    for l in range(nb, LB):
        for n in range(N):
            Vl[n, l] = zero
            Il[n, l] = zero
            Rl[n, l] = zero
            R2l[n, l] = zero
        for s_ in range(S):
            Xl[s_, l] = zero
    for g in range(G):
        fgrp[grp_i[g, 0]] = g  # the one group of each non-input population
    # trial start: resets as the per-slot kernel does at step 0, then the block's rows
    for l in range(nb):
        b = b0 + l
        ecnt[l] = 0
        eovf[l] = -1
        for n in range(N):
            nspl[l, n] = 0
        if reset & 1:
            for n in range(N):
                V[b, n] = v_init[n]
                A[b, n] = a_init[n]
                RF[b, n] = zero
        if reset & 2:
            for n in range(N):
                R[b, n] = zero
                R2[b, n] = zero
            for p in range(P):
                if pop_i[p, P_READOUT] == RO_FIRST:
                    for gi in range(pop_i[p, P_START], pop_i[p, P_END]):
                        R[b, gi] = -FLT_MAX
        for n in range(N):
            Vl[n, l] = V[b, n]
            Rl[n, l] = R[b, n]
            R2l[n, l] = R2[b, n]
        for s in range(S):
            Xl[s, l] = X[b, s]
    # spike lists double-buffered per slot: buffer `last` holds the previous step's
    # (what the per-slot kernel keeps in spk/spk_cnt), 1 - last receives this step's;
    # pst[k, p]: block total of population p's spikes in buffer k; pst[3, p]: for
    # inputs, the block's next event step (steps without spikes skip the slot loops)
    big = np.int64(1) << 62
    last = 0
    for p in range(P):
        s0 = pop_i[p, P_START]
        pst[0, p] = 0
        pst[1, p] = 0
        pst[3, p] = big
        for l in range(nb):
            b = b0 + l
            c = spk_cnt[b, p]
            cntl[0, l, p] = c
            cntl[1, l, p] = 0
            for k in range(c):
                spkl[0, l, s0 + k] = spk[b, s0 + k]
            pst[0, p] += c
            if pop_i[p, P_TYPE] == SPIKE_INPUT and in_ptr[b, p] < in_hi[b, p]:
                pst[3, p] = min(pst[3, p], np.int64(in_ev_step[in_ptr[b, p]]))
    for step in range(T):
        t = np.float32(step) * dt
        # 1. deliver last step's spikes (per slot, rows in spike order)
        if step == zero_step:
            for f in range(S * LB):
                Xf[f] = zero
        for c in range(C):
            pre = conn_i[c, 0]
            off = grp_i[conn_i[c, 2], 2]
            woff = conn_i[c, 3]
            rpo = conn_i[c, 4]
            pstart = pop_i[pre, P_START]
            npost = row_ptr[rpo + 1] - row_ptr[rpo]
            if pst[last, pre] == 0:
                continue
            for l in range(nb):
                b = b0 + l
                nsp = cntl[last, l, pre]
                if nsp == 0:
                    continue
                xcol = Xl[off:off + npost, l]
                if nsp == 1:
                    r0 = woff + row_ptr[rpo + spkl[last, l, pstart]]
                    for j in range(npost):
                        xcol[j] += weights[r0 + j]
                else:
                    # the slot's column gathered into a contiguous row, the spikes'
                    # rows added in order (vectorised), scattered back
                    trow = tmp[:npost]
                    for j in range(npost):
                        trow[j] = xcol[j]
                    for k in range(nsp):
                        r0 = woff + row_ptr[rpo + spkl[last, l, pstart + k]]
                        wrow = weights[r0:r0 + npost]
                        for j in range(npost):
                            trow[j] += wrow[j]
                    for j in range(npost):
                        xcol[j] = trow[j]
                nwork += nsp * npost
        # 3. neurons
        for p in range(P):
            ptype = pop_i[p, P_TYPE]
            s0 = pop_i[p, P_START]
            s1 = pop_i[p, P_END]
            n = s1 - s0
            events = pop_i[p, P_EVENTS] != 0
            nw = 1 - last
            if pst[nw, p] != 0:
                for l in range(nb):
                    cntl[nw, l, p] = 0
                pst[nw, p] = 0
            if ptype == SPIKE_INPUT:
                if step < pst[3, p]:
                    continue
                pst[3, p] = big
                for l in range(nb):
                    b = b0 + l
                    ptr = in_ptr[b, p]
                    hi = in_hi[b, p]
                    while ptr < hi and in_ev_step[ptr] == step:
                        nid = in_ev_nid[ptr]
                        ptr += 1
                        spkl[nw, l, s0 + cntl[nw, l, p]] = nid
                        cntl[nw, l, p] += 1
                        if events and ecnt[l] < ev_step.shape[1]:
                            e = ecnt[l]
                            ev_step[b, e] = step
                            ev_nid[b, e] = s0 + nid
                            ev_xmv[b, e] = zero
                            ecnt[l] = e + 1
                        nspl[l, s0 + nid] += 1
                        pst[nw, p] += 1
                    in_ptr[b, p] = ptr
                    if ptr < hi:
                        pst[3, p] = min(pst[3, p], np.int64(in_ev_step[ptr]))
                continue
            alpha = pop_f[p, F_ALPHA]
            isc = pop_f[p, F_ISCALE]
            ro = pop_i[p, P_READOUT]
            g = fgrp[p]
            dl = grp_i[g, 1] == 0
            gbeta = grp_f[g, 0]
            giscale = grp_f[g, 1]
            goff = grp_i[g, 2]
            m = n * LB
            vseg = Vf[s0 * LB:s0 * LB + m]
            iseg = If[s0 * LB:s0 * LB + m]
            xseg = Xf[goff * LB:goff * LB + m]
            if ptype == LI:
                bseg = biasf[s0 * LB:s0 * LB + m]
                # isyn = 0 + x * iscale, x decays, V updated: the per-slot kernel's
                # operations, in one pass
                for f in range(m):
                    x = xseg[f]
                    i = zero + (x if dl else x * giscale)
                    xseg[f] = zero if dl else x * gbeta
                    vseg[f] = alpha * vseg[f] + isc * i + bseg[f]
                if ro >= 0:
                    _readouts(ro, Rf[s0 * LB:s0 * LB + m], R2f[s0 * LB:s0 * LB + m], vseg,
                              t, T, dt)
                continue
            # non-refractory LIF: update, count and flag crossings (flag f = j * nb + l)
            vth = pop_f[p, F_VTH]
            vreset = pop_f[p, F_VRESET]
            imv = pop_f[p, F_IMV_SCALE]
            rel = pop_i[p, P_REL_RESET] != 0
            cap = ev_mask_cap[p]
            ncross = np.int32(0)
            hseg = hits[:m]
            for f in range(m):
                x = xseg[f]
                i = zero + (x if dl else x * giscale)
                xseg[f] = zero if dl else x * gbeta
                iseg[f] = i
                v = alpha * vseg[f] + isc * i
                vseg[f] = v
                hseg[f] = np.uint8(v >= vth)
                ncross += np.int32(v >= vth)
            if ro >= 0:
                _readouts(ro, Rf[s0 * LB:s0 * LB + m], R2f[s0 * LB:s0 * LB + m], vseg, t, T,
                          dt)
            if ncross == 0:
                continue
            for f in range(m, ((m + 7) // 8) * 8):
                hits[f] = 0
            q = 0
            while ncross > 0:
                w = words[q]
                while w != 0:
                    f = 8 * q + (np.int64(trailing_zeros(w)) >> 3)
                    w &= w - np.uint64(1)
                    ncross -= 1
                    j = f // LB
                    l = f - j * LB
                    if l >= nb:
                        continue  # an idle column (only if v_thresh <= 0)
                    b = b0 + l
                    gi = s0 + j
                    v = Vl[gi, l]
                    # the per-slot kernel's _emit_spike for slot b
                    if events:
                        if nspl[l, gi] < cap:
                            e = ecnt[l]
                            if e < ev_step.shape[1]:
                                ev_step[b, e] = step
                                ev_nid[b, e] = gi
                                ev_xmv[b, e] = Il[gi, l] * imv - v
                                ecnt[l] = e + 1
                        elif eovf[l] < 0:
                            eovf[l] = gi
                    nspl[l, gi] += 1
                    if ro == RO_FIRST:
                        if R2l[gi, l] == zero:
                            Rl[gi, l] = -t
                            R2l[gi, l] = one
                    elif ro == RO_COUNT:
                        Rl[gi, l] += one
                    spkl[nw, l, s0 + cntl[nw, l, p]] = j
                    cntl[nw, l, p] += 1
                    pst[nw, p] += 1
                    if rel:
                        v -= vth - vreset
                    else:
                        v = vreset
                    Vl[gi, l] = v
                q += 1
        last = 1 - last  # this step's spikes are delivered next step
    for l in range(nb):
        b = b0 + l
        for n in range(N):
            V[b, n] = Vl[n, l]
            R[b, n] = Rl[n, l]
            R2[b, n] = R2l[n, l]
        for s in range(S):
            X[b, s] = Xl[s, l]
        for n in range(N):
            nspk[b, n] = nspl[l, n]
        for p in range(P):
            s0 = pop_i[p, P_START]
            c = cntl[last, l, p]
            spk_cnt[b, p] = c
            for k in range(c):
                spk[b, s0 + k] = spkl[last, l, s0 + k]
        ev_cnt[b] = ecnt[l]
        ev_ovf[b] = eovf[l]
    return nwork


@njit(cache=True, _nrt=False)
def _ls_backward(b0, nb, ch, T, dt, pop_i, pop_of, bk_i, bk_f, conn_i, conn_f, conn_train,
                 row_ptr, weights, ev_step, ev_nid, ev_xmv, ev_cnt, labels, drive_val,
                 drive_step, tfirst, tsum, ttrue, grad, gpos, nsyn, LVl, LIl, revl, LVf, LIf,
                 col, dd, ehi, elo, nxt, plo, phi):
    """EventProp's adjoint pass of slots b0..b0+nb-1 in lockstep (the per-slot
    ``_backward_slots`` without regularisation, delays or recordings); ``LVl``,
    ``LIl``, ``revl`` (N, LB) the block's adjoints (``LVf``, ``LIf`` flat views; idle
    columns stay zero), the rest scratch.
    Returns the synapses replayed."""
    N = LVl.shape[0]
    P = pop_i.shape[0]
    C = conn_i.shape[0]
    LB = LOCKSTEP_BLOCK
    zero = np.float32(0.0)
    one = np.float32(1.0)
    nrep = 0
    for f in range(N * LB):
        LVf[f] = zero
        LIf[f] = zero
    for n in range(N):
        for l in range(nb):
            revl[n, l] = zero
    # per slot, the step of its next event to replay (nxt, -1: none) and the
    # latest of these (mx): only slots with events at a step search their tape
    mx = -1
    for l in range(nb):
        b = b0 + l
        e = ev_cnt[b] - 1
        while e >= 0 and ev_step[b, e] >= T - 1:
            e -= 1
        ehi[l] = e
        elo[l] = e
        nxt[l] = ev_step[b, e] if e >= 0 else -1
        mx = max(mx, nxt[l])
    for it in range(T):
        m = T - 1 - it
        # this step's replayed events of each slot, population by population
        anyev = m == mx
        for l in range(nb if anyev else 0):
            if nxt[l] != m:
                continue
            b = b0 + l
            evs = ev_step[b]
            evn = ev_nid[b]
            e = ehi[l]
            while e >= 0 and evs[e] == m:
                e -= 1
            elo[l] = e
            if ehi[l] > e:
                k = e + 1
                for p in range(P):
                    plo[l, p] = k
                    while k <= ehi[l] and pop_of[evn[k]] == p:
                        k += 1
                    phi[l, p] = k
        # synapse phase
        if anyev:
            for c in range(C):
                p = conn_i[c, 0]
                post = conn_i[c, 1]
                post0 = pop_i[post, P_START]
                npost = pop_i[post, P_END] - post0
                pstart = pop_i[p, P_START]
                woff = conn_i[c, 3]
                rpo = conn_i[c, 4]
                tau_s = conn_f[c, 0]
                fb = bk_i[p, BI_ROLE] == BK_HIDDEN and bk_i[post, BI_ROLE] != BK_NONE
                train = conn_train[c] != 0
                gbase = gpos[c] + ch * nsyn[c]
                lic = col[:npost]
                drow = dd[:npost]
                for l in range(nb):
                    if ehi[l] == elo[l] or plo[l, p] == phi[l, p]:
                        continue
                    evn = ev_nid[b0 + l]
                    licol = LIl[post0:post0 + npost, l]
                    for j in range(npost):
                        lic[j] = licol[j]
                    if fb:
                        lvcol = LVl[post0:post0 + npost, l]
                        for j in range(npost):
                            drow[j] = lvcol[j] - lic[j]
                    nrep += (phi[l, p] - plo[l, p]) * npost
                    for e in range(plo[l, p], phi[l, p]):
                        gi = evn[e]
                        r0 = row_ptr[rpo + gi - pstart]
                        if train:
                            grow = grad[gbase + r0:gbase + r0 + npost]
                            for j in range(npost):
                                grow[j] -= lic[j] * tau_s
                        if fb:
                            revl[gi, l] += _dot(weights[woff + r0:woff + r0 + npost], drow)
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
                liseg = LIf[s0 * LB:s1 * LB]
                lvseg = LVf[s0 * LB:s1 * LB]
                for f in range(liseg.shape[0]):
                    liseg[f] = a_ * lvseg[f] * (beta - alpha) + liseg[f] * beta
                    lvseg[f] *= alpha
            elif role == BK_OUT_LI:
                loss = bk_i[p, BI_LOSS]
                denom = bk_f[p, BF_DENOM]
                rdo = bk_i[p, BI_READOUT]
                for gi in range(s0, s1):
                    k = gi - s0
                    lir = LIl[gi]
                    lvr = LVl[gi]
                    for l in range(nb):
                        b = b0 + l
                        if loss == LOSS_SCE or loss == LOSS_SCE_STEP:
                            sm = drive_val[b, 0, k]
                            gv = one - sm if k == labels[b] else -sm
                            drive = zero
                            if rdo == RO_MAX:
                                if drive_step[b, k] == m:
                                    drive = gv / denom
                            elif rdo == RO_AVG_EXP:
                                tt = np.float32(it) * dt
                                drive = (gv * np.exp(-(one - tt * bk_f[p, BF_LTS]))) / denom
                            else:
                                drive = gv / denom
                        else:
                            drive = drive_val[b, 0, k] / denom
                        lir[l] = drive + (lir[l] - drive) * beta \
                            + a_ * (lvr[l] - drive) * (alpha - beta)
                        lvr[l] = drive + (lvr[l] - drive) * alpha
            else:
                liseg = LIf[s0 * LB:s1 * LB]
                lvseg = LVf[s0 * LB:s1 * LB]
                for f in range(liseg.shape[0]):
                    liseg[f] = a_ * lvseg[f] * (alpha - beta) + liseg[f] * beta
                    lvseg[f] *= alpha
                if it == 0 and bk_i[p, BI_LOSS] == LOSS_TTFS_SCE:
                    for l in range(nb):
                        b = b0 + l
                        y = labels[b]
                        if tfirst[b, y] < -(np.float32(T) * dt):
                            LVl[s0 + y, l] += bk_f[p, BF_PHANTOM]
        # transitions of the replayed spikes
        if anyev:
            for l in range(nb):
                if ehi[l] == elo[l]:
                    continue
                b = b0 + l
                y = labels[b]
                evn = ev_nid[b]
                evx = ev_xmv[b]
                for p in range(P):
                    if plo[l, p] == phi[l, p]:
                        continue
                    role = bk_i[p, BI_ROLE]
                    if role == BK_HIDDEN:
                        vth = bk_f[p, BF_VTH]
                        for e in range(plo[l, p], phi[l, p]):
                            gi = evn[e]
                            LVl[gi, l] += (one / evx[e]) * (vth * LVl[gi, l] + revl[gi, l])
                            revl[gi, l] = zero
                    elif role == BK_OUT_LIF:
                        for e in range(plo[l, p], phi[l, p]):
                            gi = evn[e]
                            k = gi - pop_i[p, P_START]
                            recip = one / evx[e]
                            first = abs(np.float32(m) * dt + tfirst[b, k]) \
                                < np.float32(1e-3) * dt
                            if bk_i[p, BI_LOSS] == LOSS_TTFS_SCE:
                                LVl[gi, l] += recip * (bk_f[p, BF_VTH] * LVl[gi, l])
                                if first:
                                    sm = drive_val[b, 0, k]
                                    temp = bk_f[p, BF_TEMP]
                                    if k == y:
                                        fst = bk_f[p, BF_FST_SCALE] + tfirst[b, k]
                                        LVl[gi, l] += recip * (((one - sm) / temp)
                                                               + (bk_f[p, BF_TTFS_ALPHA]
                                                                  / (fst * fst))) \
                                            / bk_f[p, BF_DENOM]
                                    else:
                                        LVl[gi, l] -= recip * sm / (temp * bk_f[p, BF_DENOM])
                            elif first:
                                nout = np.float32(pop_i[p, P_END] - pop_i[p, P_START])
                                delta = bk_f[p, BF_DELTA]
                                if k == y:
                                    LVl[gi, l] += (tsum[b] - nout * ttrue[b]
                                                   + (nout - one) * delta) * recip
                                else:
                                    LVl[gi, l] += ((-tfirst[b, k] + ttrue[b]) - delta) * recip
        if anyev:
            mx = -1
            for l in range(nb):
                if nxt[l] == m:
                    ehi[l] = elo[l]
                    nxt[l] = ev_step[b0 + l, elo[l]] if elo[l] >= 0 else -1
                mx = max(mx, nxt[l])
    return nrep


@njit(cache=True, parallel=True)
def train_trial_lockstep(T, dt, zero_step, n_chunks, reset, pop_i, pop_f, bias, v_init, a_init,
                         grp_i, grp_f, conn_i, conn_f, row_ptr, weights, V, A, RF, X, spk,
                         spk_cnt, R, R2, in_ptr, in_hi, in_ev_step, in_ev_nid, ev_mask_cap,
                         ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf, bk_i, bk_f, conn_train,
                         labels, out_p, t_ms, drive_val, drive_step, tfirst, tsum, ttrue, xent,
                         grad, gpos, nsyn, work_f, work_b):
    """One EventProp training trial of every slot (as ``eventprop_kernels.train_trial``)
    with each thread's slots advanced in lockstep blocks of ``LOCKSTEP_BLOCK``: the
    block's forward pass, each slot's loss terms, the block's adjoint pass."""
    B = V.shape[0]
    N = V.shape[1]
    S = X.shape[1]
    P = pop_i.shape[0]
    LB = LOCKSTEP_BLOCK
    per = (B + n_chunks - 1) // n_chunks
    pop_of = _pop_of(pop_i, pop_i[P - 1, P_END])
    for ch in prange(n_chunks):
        Vl = np.zeros((N, LB), np.float32)
        Il = np.zeros((N, LB), np.float32)
        Xl = np.zeros((S, LB), np.float32)
        Rl = np.zeros((N, LB), np.float32)
        R2l = np.zeros((N, LB), np.float32)
        LVl = np.zeros((N, LB), np.float32)
        LIl = np.zeros((N, LB), np.float32)
        revl = np.zeros((N, LB), np.float32)
        spkl = np.zeros((2, LB, N), np.int32)
        cntl = np.zeros((2, LB, P), np.int32)
        nspl = np.zeros((LB, N), np.int32)
        Vf = Vl.reshape(N * LB)
        If = Il.reshape(N * LB)
        Xf = Xl.reshape(S * LB)
        Rf = Rl.reshape(N * LB)
        R2f = R2l.reshape(N * LB)
        LVf = LVl.reshape(N * LB)
        LIf = LIl.reshape(N * LB)
        biasf = np.zeros(N * LB, np.float32)
        tmp = np.zeros(max(N, S), np.float32)
        hits = np.zeros(((N * LB + 15) // 8) * 8, np.uint8)
        ecnt = np.zeros(LB, np.int64)
        eovf = np.zeros(LB, np.int64)
        fgrp = np.zeros(P, np.int64)
        col = np.zeros(N, np.float32)
        dd = np.zeros(N, np.float32)
        ehi = np.zeros(LB, np.int64)
        elo = np.zeros(LB, np.int64)
        nxt = np.zeros(LB, np.int64)
        plo = np.zeros((LB, P), np.int64)
        phi = np.zeros((LB, P), np.int64)
        pst = np.zeros((4, P), np.int64)
        nf = 0
        nr = 0
        hi = min(B, (ch + 1) * per)
        for b0 in range(ch * per, hi, LB):
            nb = min(LB, hi - b0)
            nf += _ls_forward(b0, nb, T, dt, zero_step, reset, pop_i, pop_f, bias, v_init,
                              a_init, grp_i, grp_f, conn_i, row_ptr, weights, V, A, RF, X, spk,
                              spk_cnt, R, R2, in_ptr, in_hi, in_ev_step, in_ev_nid, ev_mask_cap,
                              ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf, Vl, Il, Xl, Rl, R2l,
                              Vf, If, Xf, Rf, R2f, biasf, tmp, spkl, cntl, nspl, hits, ecnt,
                              eovf, fgrp, pst)
            for b in range(b0, b0 + nb):
                _drive_slot(b, out_p, pop_i, bk_i, R, R2, labels, dt, t_ms, drive_val,
                            drive_step, tfirst, tsum, ttrue, xent)
            nr += _ls_backward(b0, nb, ch, T, dt, pop_i, pop_of, bk_i, bk_f, conn_i, conn_f,
                               conn_train, row_ptr, weights, ev_step, ev_nid, ev_xmv, ev_cnt,
                               labels, drive_val, drive_step, tfirst, tsum, ttrue, grad, gpos,
                               nsyn, LVl, LIl, revl, LVf, LIf, col, dd, ehi, elo, nxt, plo,
                               phi)
        work_f[ch] += nf
        work_b[ch] += nr
    return 0
