"""Forward pass of the lockstep EventProp trial (see ``lockstep_kernels``): a block
of slots advances one step at a time as (neuron, slot) rows, with the same float
operations per slot, in the same order, as ``kernels._forward_slots``."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from .kernels import FLT_MAX, _readouts
from .layout import (
    F_ALPHA,
    F_IMV_SCALE,
    F_ISCALE,
    F_VRESET,
    F_VTH,
    LI,
    P_END,
    P_EVENTS,
    P_READOUT,
    P_REL_RESET,
    P_START,
    P_TYPE,
    RO_COUNT,
    RO_FIRST,
    SPIKE_INPUT,
)

#: Slots advanced together (a block's (neuron, slot) rows of one 100-neuron
#: population are 6.4 kB per variable: the block's state stays in L1/L2). 16, 32
#: and 64 ran Yin-Yang dt 1 ms alike (1.52-1.60 ms per batch of 512); at dt 0.1 ms
#: 16 was 5 % faster than 32 (4.57-4.60 vs 4.83 ms).
LOCKSTEP_BLOCK = 16


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
