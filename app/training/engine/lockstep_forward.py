"""Forward pass of the lockstep EventProp trial (see ``lockstep_kernels``): a block
of slots advances one step at a time as (neuron, slot) rows, with the same float
operations per slot, in the same order, as ``kernels._forward_slots``. LIF spikes
are handled as rows of the block's slots (spike masks, per-slot counts, replay
rows for the backward pass), never one slot at a time."""

from __future__ import annotations

import numpy as np
from numba import njit

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

#: Slots advanced together. Each (neuron, slot) row of the block is one loop over
#: the slots, and LLVM only runs its vector body on loops of 64 or more (shorter
#: ones ran element by element: 16-slot rows made the spike handling 1.7x slower).
#: A 100-neuron population's rows are 26 kB per variable: the block stays in L2.
LOCKSTEP_BLOCK = 64


@njit(cache=True, _nrt=False, error_model="numpy")
def _ls_forward(b0, nb, T, dt, zero_step, reset, pop_i, pop_f, bias, v_init, a_init, grp_i,
                grp_f, conn_i, row_ptr, weights, V, A, RF, X, spk, spk_cnt, R, R2, in_ptr,
                in_hi, in_ev_step, in_ev_nid, ev_mask_cap, ev_step, ev_nid, ev_xmv, ev_cnt,
                nspk, ev_ovf, Vl, Il, Xl, Rl, R2l, Hl, nspl, Vf, If, Xf, Rf, R2f, biasf,
                tmp, spkl, cntl, ract, hcnt, ecnt, tcnt, eovf, fgrp, pst, rid, rE, rR,
                rstart):
    """All T steps of slots b0..b0+nb-1 in lockstep. ``Vl``, ``Il``, ``Rl``, ``R2l``,
    ``Hl`` (N, LB) and ``Xl`` (slots, LB) hold the block's state as (neuron, slot)
    rows (``Vf`` ... their flat views; columns nb..LB-1 are idle slots kept at zero, so
    a population's update is one unit-stride loop over its n x LB values).
    ``Hl`` is 1 where a neuron spiked in the last step: LIF spikes are delivered
    from it row by row (each slot still adds its spikes' weight rows in neuron
    order, as the per-slot kernel does), and ``nspl`` (N, LB) counts each neuron's
    spikes. The tape (``ev_step`` ...) holds input spikes only (``tcnt`` per slot);
    the LIF spikes to replay are rows: ``rid[r]`` the neuron, ``rE[r]`` 1 in the
    slots that replay it, ``rR[r]`` their 1 / (I * imv - V) there, rows of step s at
    ``rstart[s]:rstart[s + 1]``. ``ev_cnt`` still counts every replayed event.
    Each slot sees the operations of ``kernels._forward_slots`` in the same order.
    Returns the synapses delivered to."""
    N = V.shape[1]
    S = X.shape[1]
    P = pop_i.shape[0]
    G = grp_i.shape[0]
    C = conn_i.shape[0]
    LB = LOCKSTEP_BLOCK  # a constant: 64-long loops the compiler vectorises
    if Vl.shape[1] != LB:
        return -1  # compiled with another block size than its caller's (a stale cache)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    nwork = 0
    for n in range(N):
        for l in range(LB):
            biasf[n * LB + l] = bias[n]
            Hl[n, l] = zero
            nspl[n, l] = 0
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
    # (reset values go to the rows directly; V, R and R2 are written back at the end)
    for l in range(LB):
        ecnt[l] = 0
        tcnt[l] = 0
        eovf[l] = -1
    for l in range(nb):
        b = b0 + l
        if reset & 1:
            for n in range(N):
                A[b, n] = a_init[n]
                RF[b, n] = zero
        else:
            for n in range(N):
                Vl[n, l] = V[b, n]
        if not reset & 2:
            for n in range(N):
                Rl[n, l] = R[b, n]
                R2l[n, l] = R2[b, n]
        for s in range(S):
            Xl[s, l] = X[b, s]
    if reset & 1:
        for n in range(N):
            vi = v_init[n]
            for l in range(nb):
                Vl[n, l] = vi
    if reset & 2:
        for p in range(P):
            r0 = -FLT_MAX if pop_i[p, P_READOUT] == RO_FIRST else zero
            for n in range(pop_i[p, P_START], pop_i[p, P_END]):
                for l in range(nb):
                    Rl[n, l] = r0
                    R2l[n, l] = zero
    # input spike lists double-buffered per slot: buffer `last` holds the previous
    # step's (what the per-slot kernel keeps in spk/spk_cnt), 1 - last receives this
    # step's; pst[k, p]: block total of input population p's spikes in buffer k;
    # pst[3, p]: the block's next input event step (steps without spikes skip the slot
    # loops). LIF spikes of the previous step: Hl, hcnt[0, p] of them, in the
    # hcnt[1, p] rows ract[s0:s0 + hcnt[1, p]].
    big = np.int64(1) << 62
    last = 0
    for p in range(P):
        s0 = pop_i[p, P_START]
        pst[0, p] = 0
        pst[1, p] = 0
        pst[3, p] = big
        hcnt[0, p] = 0
        hcnt[1, p] = 0
        inp = pop_i[p, P_TYPE] == SPIKE_INPUT
        for l in range(nb):
            b = b0 + l
            c = spk_cnt[b, p]
            cntl[0, l, p] = c
            cntl[1, l, p] = 0
            for k in range(c):
                if inp:
                    spkl[0, l, s0 + k] = spk[b, s0 + k]
                else:
                    Hl[s0 + spk[b, s0 + k], l] = one
            pst[0, p] += c
            if not inp:
                hcnt[0, p] += c
            if inp and in_ptr[b, p] < in_hi[b, p]:
                pst[3, p] = min(pst[3, p], np.int64(in_ev_step[in_ptr[b, p]]))
        if not inp and hcnt[0, p] > 0:
            for gi in range(s0, pop_i[p, P_END]):
                for l in range(nb):
                    if Hl[gi, l] != zero:
                        ract[s0 + hcnt[1, p]] = gi
                        hcnt[1, p] += 1
                        break
    nrow = 0
    for step in range(T):
        t = np.float32(step) * dt
        rstart[step] = nrow
        # 1. deliver last step's spikes
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
            if pop_i[pre, P_TYPE] != SPIKE_INPUT:
                # LIF rows: each row with a spike adds w * (1 or 0) to every slot
                for k in range(hcnt[1, pre]):
                    gi = ract[pstart + k]
                    hrow = Hl[gi]
                    r0 = woff + row_ptr[rpo + gi - pstart]
                    for j in range(npost):
                        w = weights[r0 + j]
                        xr = Xl[off + j]
                        for l in range(LB):
                            xr[l] += w * hrow[l]
                nwork += hcnt[0, pre] * npost
                continue
            if pst[last, pre] == 0:
                continue
            for l in range(nb):
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
            if ptype == SPIKE_INPUT:
                if pst[nw, p] != 0:
                    for l in range(nb):
                        cntl[nw, l, p] = 0
                    pst[nw, p] = 0
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
                        if events and tcnt[l] < ev_step.shape[1]:
                            e = tcnt[l]
                            ev_step[b, e] = step
                            ev_nid[b, e] = s0 + nid
                            ev_xmv[b, e] = zero
                            tcnt[l] = e + 1
                            ecnt[l] += 1
                        nspl[s0 + nid, l] += 1
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
            # non-refractory LIF: update, flag crossings (flag f = j * LB + l), count
            # them; Hl keeps ones only in the rows of the last step's spikes
            vth = pop_f[p, F_VTH]
            vreset = pop_f[p, F_VRESET]
            imv = pop_f[p, F_IMV_SCALE]
            rel = pop_i[p, P_REL_RESET] != 0
            cap = ev_mask_cap[p] if events else 0
            ncross = np.int32(0)
            for k in range(hcnt[1, p]):
                hr = Hl[ract[s0 + k]]
                for l in range(LB):
                    hr[l] = zero
            for f in range(m):
                x = xseg[f]
                i = zero + (x if dl else x * giscale)
                xseg[f] = zero if dl else x * gbeta
                iseg[f] = i
                v = alpha * vseg[f] + isc * i
                vseg[f] = v
                ncross += np.int32(v >= vth)
            if ro >= 0:
                _readouts(ro, Rf[s0 * LB:s0 * LB + m], R2f[s0 * LB:s0 * LB + m], vseg, t, T,
                          dt)
            hcnt[0, p] = 0
            hcnt[1, p] = 0
            if ncross == 0:
                continue
            # rows with a crossing, all slots at once: the per-slot kernel's
            # _emit_spike (tape entry -> replay row, counts, readouts) and reset
            left = ncross
            for j in range(n):
                if left == 0:
                    break
                gi = s0 + j
                vr = Vl[gi]
                q = 0
                for l in range(LB):
                    q += np.int32(vr[l] >= vth)
                if q == 0:
                    continue
                left -= q
                ract[s0 + hcnt[1, p]] = gi
                hcnt[1, p] += 1
                ir = Il[gi]
                nr = nspl[gi]
                hr = Hl[gi]
                rr = Rl[gi]
                r2r = R2l[gi]
                er = rE[nrow]
                xr = rR[nrow]
                ncr = 0
                nrep = 0
                for l in range(LB):
                    # branch-free (selects), so the slots form one vector
                    v = vr[l]
                    cr = (v >= vth) & (l < nb)
                    cnt = nr[l]
                    rep = cr & (cnt < cap)
                    recip = one / (ir[l] * imv - v)  # every slot: a select, not a branch
                    er[l] = one if rep else zero
                    xr[l] = recip if rep else zero
                    ecnt[l] += np.int64(rep)
                    nr[l] = cnt + np.int32(cr)
                    vn = v - (vth - vreset) if rel else vreset
                    vr[l] = vn if cr else v
                    hr[l] = one if cr else zero
                    ncr += np.int32(cr)
                    nrep += np.int32(rep)
                if events:
                    for l in range(LB):  # the first neuron past its cap, per slot
                        ov = (hr[l] != zero) & (nr[l] > cap) & (eovf[l] < 0)
                        eovf[l] = gi if ov else eovf[l]
                if ro == RO_FIRST:
                    for l in range(LB):
                        first = (hr[l] != zero) & (r2r[l] == zero)
                        rr[l] = -t if first else rr[l]
                        r2r[l] = one if first else r2r[l]
                elif ro == RO_COUNT:
                    for l in range(LB):
                        rr[l] = rr[l] + one if hr[l] != zero else rr[l]
                hcnt[0, p] += ncr
                if nrep > 0:
                    rid[nrow] = gi
                    nrow += 1
        last = 1 - last  # this step's spikes are delivered next step
    rstart[T] = nrow
    for l in range(nb):
        b = b0 + l
        for n in range(N):
            V[b, n] = Vl[n, l]
            R[b, n] = Rl[n, l]
            R2[b, n] = R2l[n, l]
            nspk[b, n] = nspl[n, l]
        for s in range(S):
            X[b, s] = Xl[s, l]
        for p in range(P):
            s0 = pop_i[p, P_START]
            if pop_i[p, P_TYPE] == SPIKE_INPUT:
                c = cntl[last, l, p]
                for k in range(c):
                    spk[b, s0 + k] = spkl[last, l, s0 + k]
            else:
                c = 0
                for gi in range(s0, pop_i[p, P_END]):
                    if Hl[gi, l] != zero:
                        spk[b, s0 + c] = gi - s0
                        c += 1
            spk_cnt[b, p] = c
        ev_cnt[b] = ecnt[l]
        ev_ovf[b] = eovf[l]
    return nwork
