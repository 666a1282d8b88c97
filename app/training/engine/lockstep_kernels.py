"""EventProp training trial with batch slots in lockstep (neurons x slots layout).

The per-slot kernels (``kernels._forward_slots``, ``eventprop_kernels._backward_slots``)
run one slot's whole trial, then the next: every step pays the loops over
populations, groups and connections and the short-vector overheads of each
population once per slot, and every spike its own bookkeeping. Here a block of up
to ``LOCKSTEP_BLOCK`` (64) slots advances one step at a time together: state is
held as (neuron, slot) rows, so a population's update is one vectorised loop over
its neurons x the block's slots. LIF spikes are handled as rows too: a neuron's
spikes of one step in all the block's slots are one mask row (delivered as weight
x mask), one replay row for the backward pass (1 / (I * imv - V) where the slot
replays the spike), and one set of vector operations in the adjoint pass (jump,
transition, per-slot gradient sums). Input spikes stay per slot (an event tape per
slot), so the lockstep trial is for sparse inputs (``CpuSimulator._use_lockstep``).
The forward pass is in ``lockstep_forward.py``, the adjoint pass and the parallel
driver here.

Only for networks whose every feature this kernel implements (``lockstep_ok``):
SpikeInput, non-refractory LIF and LI populations, dense connections without
delays, per-trial losses without regularisation or delay learning. The forward
pass does the same float operations in the same order per slot as the per-slot
kernel (bit-identical voltages, readouts, spike counts and input tapes); the
backward pass sums a block's gradient terms per slot and step (instead of slot by
slot), so gradients differ from the per-slot kernel by float rounding only.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .eventprop_kernels import _drive_slot, _pop_of, li_drive, ttfs_reg
from .kernels import (
    BF_A,
    BF_ALPHA,
    BF_BETA,
    BF_DELTA,
    BF_DENOM,
    BF_LTS,
    BF_PHANTOM,
    BF_TEMP,
    BF_VTH,
    BI_LOSS,
    BI_READOUT,
    BI_REG,
    BI_ROLE,
    BK_HIDDEN,
    BK_NONE,
    BK_OUT_LI,
    BK_OUT_LIF,
    LOSS_TTFS_EXP,
    LOSS_TTFS_SCE,
)
from .layout import (
    LI,
    LIF,
    P_END,
    P_EVENTS,
    P_HAS_REFRAC,
    P_START,
    P_TYPE,
    SPIKE_INPUT,
)
from .lockstep_forward import LOCKSTEP_BLOCK, _ls_forward
from .optim import OK, adam_update_many
from .passes import OVERFLOW, STALE_CACHE, keep_outputs, stage_batch

#: Each thread's block keeps ~12 (neuron, slot) arrays of every neuron, inputs
#: included, allocated per batch: above this many neurons (~12 MB per thread) the
#: per-slot kernel's single rows are the better trade.
LOCKSTEP_MAX_NEURONS = 16384


def lockstep_ok(pop_i: np.ndarray, grp_i: np.ndarray, max_delay: int, conn_dense: np.ndarray,
                conn_dtrain: np.ndarray, bk_i: np.ndarray) -> bool:
    """Whether the lockstep trial implements every feature of this network: SpikeInput,
    LI and non-refractory LIF populations, each non-input one fed by exactly one
    synapse group (EventProp merges a population's Exponential synapses, which share
    one tau, into one), dense connections without delays, no delay learning, no
    spike regularisation, at most ``LOCKSTEP_MAX_NEURONS`` neurons."""
    if max_delay > 0 or not np.all(conn_dense != 0) or np.any(conn_dtrain != 0):
        return False
    if pop_i.shape[0] == 0 or pop_i[-1, P_END] > LOCKSTEP_MAX_NEURONS:
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


@njit(cache=True, _nrt=False, error_model="numpy")
def _ls_backward(b0, nb, ch, T, dt, pop_i, pop_of, bk_i, bk_f, conn_i, conn_f, conn_train,
                 row_ptr, weights, ev_step, ev_nid, tcnt, labels, drive_val, drive_step,
                 tfirst, tsum, ttrue, grad, gpos, nsyn, LVl, LIl, revl, LVf, LIf, col, acc,
                 ehi, elo, nxt, plo, phi, rid, rE, rR, rstart, Gs, gofs, tfl, sml, regl, yl,
                 tsl, ttl):
    """EventProp's adjoint pass of slots b0..b0+nb-1 in lockstep (the per-slot
    ``_backward_slots`` without regularisation, delays or recordings); ``LVl``,
    ``LIl``, ``revl`` (N, LB) the block's adjoints (``LVf``, ``LIf`` flat views; idle
    columns stay zero). Input spikes are replayed from each slot's tape (``tcnt``
    long), LIF spikes from the forward pass's rows (``rid``, ``rE``, ``rR``,
    ``rstart``): their adjoint jumps and transitions are vector operations over the
    block's slots. A connection c with ``gofs[c] >= 0`` sums its LIF rows' gradient
    terms per slot in ``Gs[gofs[c]:]`` ((pre, post, slot), zero on entry), added to
    the gradient at the end; the rest of ``col``, ``acc`` ... is scratch.
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
        for l in range(LB):
            revl[n, l] = zero
    # each slot's loss terms as lanes, for the output LIF transitions
    for l in range(LB):
        yl[l] = labels[b0 + l] if l < nb else -1
        tsl[l] = tsum[b0 + l] if l < nb else zero
        ttl[l] = ttrue[b0 + l] if l < nb else zero
    for p in range(P):
        if bk_i[p, BI_ROLE] != BK_OUT_LIF:
            continue
        s0 = pop_i[p, P_START]
        lcode = bk_i[p, BI_LOSS]
        for gi in range(s0, pop_i[p, P_END]):
            k = gi - s0
            for l in range(LB):
                tf = tfirst[b0 + l, k] if l < nb else zero
                tfl[gi, l] = tf
                sml[gi, l] = drive_val[b0 + l, 0, k] if l < nb else zero
                regl[gi, l] = ttfs_reg(lcode, bk_f, p, tf)
    # per slot, the step of its next input event to replay (nxt, -1: none) and the
    # latest of these (mx): only slots with events at a step search their tape
    mx = -1
    for l in range(nb):
        b = b0 + l
        e = tcnt[l] - 1
        while e >= 0 and ev_step[b, e] >= T - 1:
            e -= 1
        ehi[l] = e
        elo[l] = e
        nxt[l] = ev_step[b, e] if e >= 0 else -1
        mx = max(mx, nxt[l])
    for it in range(T):
        m = T - 1 - it
        # this step's replayed input events of each slot, population by population
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
        r0_ = rstart[m]
        r1_ = rstart[m + 1] if m < T - 1 else r0_  # the last step's spikes replay nothing
        anyrow = r1_ > r0_
        # synapse phase
        if anyev or anyrow:
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
                if pop_i[p, P_TYPE] != SPIKE_INPUT:
                    for r in range(r0_ if anyrow else 0, r1_ if anyrow else 0):
                        gi = rid[r]
                        if pop_of[gi] != p:
                            continue
                        er = rE[r]
                        r0 = row_ptr[rpo + gi - pstart]
                        if train and gofs[c] >= 0:
                            # this row's terms, per slot: G[i, j, l] += LI[j, l] where
                            # slot l replays the spike
                            gro = Gs[gofs[c] + (gi - pstart) * npost * LB:]
                            for j in range(npost):
                                lir = LIl[post0 + j]
                                gr = gro[j * LB:j * LB + LB]
                                for l in range(LB):
                                    gr[l] += lir[l] if er[l] != zero else zero
                        elif train:
                            grow = grad[gbase + r0:gbase + r0 + npost]
                            for l in range(nb):
                                if er[l] != zero:
                                    for j in range(npost):
                                        grow[j] -= LIl[post0 + j, l] * tau_s
                        if fb:
                            # adjoint jump of every slot: sum_j w_j (LV_j - LI_j)
                            for l in range(LB):
                                acc[l] = zero
                            for j in range(npost):
                                w = weights[woff + r0 + j]
                                lvr = LVl[post0 + j]
                                lir = LIl[post0 + j]
                                for l in range(LB):
                                    acc[l] += w * (lvr[l] - lir[l])
                            rv = revl[gi]
                            for l in range(LB):
                                rv[l] += acc[l]
                        nrep += npost
                    continue
                if not anyev:
                    continue
                lic = col[:npost]
                for l in range(nb):
                    if ehi[l] == elo[l] or plo[l, p] == phi[l, p]:
                        continue
                    evn = ev_nid[b0 + l]
                    licol = LIl[post0:post0 + npost, l]
                    for j in range(npost):
                        lic[j] = licol[j]
                    nrep += (phi[l, p] - plo[l, p]) * npost
                    for e in range(plo[l, p], phi[l, p]):
                        r0 = row_ptr[rpo + evn[e] - pstart]
                        if train:
                            grow = grad[gbase + r0:gbase + r0 + npost]
                            for j in range(npost):
                                grow[j] -= lic[j] * tau_s
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
                        drive = li_drive(loss, rdo, drive_val[b, 0, k], k == labels[b],
                                         drive_step[b, k] == m, it, dt, bk_f[p, BF_LTS], denom)
                        lir[l] = drive + (lir[l] - drive) * beta \
                            + a_ * (lvr[l] - drive) * (alpha - beta)
                        lvr[l] = drive + (lvr[l] - drive) * alpha
            else:
                liseg = LIf[s0 * LB:s1 * LB]
                lvseg = LVf[s0 * LB:s1 * LB]
                for f in range(liseg.shape[0]):
                    liseg[f] = a_ * lvseg[f] * (alpha - beta) + liseg[f] * beta
                    lvseg[f] *= alpha
                lcode = bk_i[p, BI_LOSS]
                if it == 0 and (lcode == LOSS_TTFS_SCE or lcode == LOSS_TTFS_EXP):
                    for l in range(nb):
                        b = b0 + l
                        y = labels[b]
                        if tfirst[b, y] < -(np.float32(T) * dt):
                            if lcode == LOSS_TTFS_SCE:
                                LVl[s0 + y, l] += bk_f[p, BF_PHANTOM]
                            else:  # silent label: the loss's slope with its spike at the end
                                LVl[s0 + y, l] += ((one - drive_val[b, 0, y]) / bk_f[p, BF_TEMP]
                                                   + bk_f[p, BF_PHANTOM]) / bk_f[p, BF_DENOM]
        # transitions of the replayed LIF spikes (input spikes have none)
        for r in range(r0_ if anyrow else 0, r1_ if anyrow else 0):
            gi = rid[r]
            p = pop_of[gi]
            role = bk_i[p, BI_ROLE]
            er = rE[r]
            xr = rR[r]
            if role == BK_HIDDEN:
                vth = bk_f[p, BF_VTH]
                lvr = LVl[gi]
                rv = revl[gi]
                for l in range(LB):
                    lv = lvr[l]
                    lvr[l] = lv + xr[l] * (vth * lv + rv[l]) if er[l] != zero else lv
                    rv[l] = zero
            elif role == BK_OUT_LIF:
                # the per-slot kernel's transition of each replaying slot, as selects
                k = gi - pop_i[p, P_START]
                lcode = bk_i[p, BI_LOSS]
                lvr = LVl[gi]
                tfr = tfl[gi]
                smr = sml[gi]
                rgr = regl[gi]
                mt = np.float32(m) * dt
                thr = np.float32(1e-3) * dt
                if lcode == LOSS_TTFS_SCE or lcode == LOSS_TTFS_EXP:
                    vthp = bk_f[p, BF_VTH]
                    temp = bk_f[p, BF_TEMP]
                    denom = bk_f[p, BF_DENOM]
                    for l in range(LB):
                        recip = xr[l]
                        lv = lvr[l]
                        lv1 = lv + recip * (vthp * lv)
                        first = abs(mt + tfr[l]) < thr
                        lab = lv1 + recip * (((one - smr[l]) / temp) + rgr[l]) / denom
                        non = lv1 - recip * smr[l] / (temp * denom)
                        lv2 = lab if yl[l] == k else non
                        lv3 = lv2 if first else lv1
                        lvr[l] = lv3 if er[l] != zero else lv
                else:
                    nout = np.float32(pop_i[p, P_END] - pop_i[p, P_START])
                    delta = bk_f[p, BF_DELTA]
                    for l in range(LB):
                        recip = xr[l]
                        lv = lvr[l]
                        first = (er[l] != zero) & (abs(mt + tfr[l]) < thr)
                        lab = lv + (tsl[l] - nout * ttl[l] + (nout - one) * delta) * recip
                        non = lv + ((-tfr[l] + ttl[l]) - delta) * recip
                        lv2 = lab if yl[l] == k else non
                        lvr[l] = lv2 if first else lv
        if anyev:
            mx = -1
            for l in range(nb):
                if nxt[l] == m:
                    ehi[l] = elo[l]
                    nxt[l] = ev_step[b0 + l, elo[l]] if elo[l] >= 0 else -1
                mx = max(mx, nxt[l])
    # the per-slot sums of the G connections into their gradient rows
    for c in range(C):
        if gofs[c] < 0 or conn_train[c] == 0:
            continue
        p = conn_i[c, 0]
        pstart = pop_i[p, P_START]
        npost = pop_i[conn_i[c, 1], P_END] - pop_i[conn_i[c, 1], P_START]
        rpo = conn_i[c, 4]
        tau_s = conn_f[c, 0]
        gbase = gpos[c] + ch * nsyn[c]
        for i in range(pop_i[p, P_END] - pstart):
            r0 = row_ptr[rpo + i]
            gro = Gs[gofs[c] + i * npost * LB:gofs[c] + (i + 1) * npost * LB]
            for j in range(npost):
                s = zero
                for l in range(LB):
                    s += gro[j * LB + l]
                    gro[j * LB + l] = zero
                grad[gbase + r0 + j] -= s * tau_s
    return nrep


@njit(cache=True, parallel=True)
def train_trial_lockstep(T, dt, zero_step, n_chunks, reset, pop_i, pop_f, bias, v_init, a_init,
                         grp_i, grp_f, conn_i, conn_f, row_ptr, weights, V, A, RF, X, spk,
                         spk_cnt, R, R2, in_ptr, in_hi, in_ev_step, in_ev_nid, ev_mask_cap,
                         ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf, bk_i, bk_f, conn_train,
                         labels, out_p, t_ms, drive_val, drive_step, tfirst, tsum, ttrue, xent,
                         grad, gpos, nsyn, work_f, work_b, rids, rows, gsum_max):
    """One EventProp training trial of every slot (as ``eventprop_kernels.train_trial``)
    with each thread's slots advanced in lockstep blocks of ``LOCKSTEP_BLOCK``: the
    block's forward pass, each slot's loss terms, the block's adjoint pass. ``rids``
    (threads, rows) and ``rows`` (threads, 2, rows, LOCKSTEP_BLOCK) hold each
    thread's replay rows (``replay_rows`` of them), kept by the caller between
    calls: fresh ones cost a page fault per 4 kB touched, ~70 us per Yin-Yang batch.
    ``gsum_max``: the largest per-slot gradient sum buffer of one connection
    (``GSUM_MAX_FLOATS``; 0 adds every replayed row to the gradient directly)."""
    B = V.shape[0]
    N = V.shape[1]
    S = X.shape[1]
    P = pop_i.shape[0]
    LB = LOCKSTEP_BLOCK
    per = (B + n_chunks - 1) // n_chunks
    pop_of = _pop_of(pop_i, pop_i[P - 1, P_END])
    gofs, gtot = _gsum_offsets(pop_i, conn_i, conn_train, gsum_max)
    for ch in prange(n_chunks):
        Vl = np.zeros((N, LB), np.float32)
        Il = np.zeros((N, LB), np.float32)
        Xl = np.zeros((S, LB), np.float32)
        Rl = np.zeros((N, LB), np.float32)
        R2l = np.zeros((N, LB), np.float32)
        Hl = np.zeros((N, LB), np.float32)
        LVl = np.zeros((N, LB), np.float32)
        LIl = np.zeros((N, LB), np.float32)
        revl = np.zeros((N, LB), np.float32)
        spkl = np.zeros((2, LB, N), np.int32)
        cntl = np.zeros((2, LB, P), np.int32)
        nspl = np.zeros((N, LB), np.int32)
        Vf = Vl.reshape(N * LB)
        If = Il.reshape(N * LB)
        Xf = Xl.reshape(S * LB)
        Rf = Rl.reshape(N * LB)
        R2f = R2l.reshape(N * LB)
        LVf = LVl.reshape(N * LB)
        LIf = LIl.reshape(N * LB)
        biasf = np.zeros(N * LB, np.float32)
        tmp = np.zeros(max(N, S), np.float32)
        ract = np.zeros(N, np.int32)
        hcnt = np.zeros((2, P), np.int64)
        ecnt = np.zeros(LB, np.int64)
        tcnt = np.zeros(LB, np.int64)
        eovf = np.zeros(LB, np.int64)
        fgrp = np.zeros(P, np.int64)
        col = np.zeros(N, np.float32)
        acc = np.zeros(LB, np.float32)
        ehi = np.zeros(LB, np.int64)
        elo = np.zeros(LB, np.int64)
        nxt = np.zeros(LB, np.int64)
        plo = np.zeros((LB, P), np.int64)
        phi = np.zeros((LB, P), np.int64)
        pst = np.zeros((4, P), np.int64)
        rid = rids[ch]  # replay rows: written before they are read
        rE = rows[ch, 0]
        rR = rows[ch, 1]
        rstart = np.zeros(T + 1, np.int64)
        Gs = np.zeros(max(gtot, 1), np.float32)
        tfl = np.zeros((N, LB), np.float32)
        sml = np.zeros((N, LB), np.float32)
        regl = np.zeros((N, LB), np.float32)
        yl = np.zeros(LB, np.int64)
        tsl = np.zeros(LB, np.float32)
        ttl = np.zeros(LB, np.float32)
        nf = 0
        nr = 0
        hi = min(B, (ch + 1) * per)
        for b0 in range(ch * per, hi, LB):
            nb = min(LB, hi - b0)
            f = _ls_forward(b0, nb, T, dt, zero_step, reset, pop_i, pop_f, bias, v_init,
                              a_init, grp_i, grp_f, conn_i, row_ptr, weights, V, A, RF, X, spk,
                              spk_cnt, R, R2, in_ptr, in_hi, in_ev_step, in_ev_nid, ev_mask_cap,
                              ev_step, ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf, Vl, Il, Xl, Rl, R2l,
                              Hl, nspl, Vf, If, Xf, Rf, R2f, biasf, tmp, spkl, cntl,
                              ract, hcnt, ecnt, tcnt, eovf, fgrp, pst, rid, rE, rR, rstart)
            if f < 0:
                nf = -1  # reported by the caller
                break
            nf += f
            for b in range(b0, b0 + nb):
                _drive_slot(b, out_p, pop_i, bk_i, bk_f, R, R2, labels, dt, t_ms, drive_val,
                            drive_step, tfirst, tsum, ttrue, xent)
            nr += _ls_backward(b0, nb, ch, T, dt, pop_i, pop_of, bk_i, bk_f, conn_i, conn_f,
                               conn_train, row_ptr, weights, ev_step, ev_nid, tcnt, labels,
                               drive_val, drive_step, tfirst, tsum, ttrue, grad, gpos, nsyn,
                               LVl, LIl, revl, LVf, LIf, col, acc, ehi, elo, nxt, plo, phi,
                               rid, rE, rR, rstart, Gs, gofs, tfl, sml, regl, yl, tsl,
                               ttl)
        work_f[ch] = -1 if nf < 0 else work_f[ch] + nf
        work_b[ch] += nr
    return 0


#: A connection from a LIF population sums its gradient terms per slot (pre x post x
#: LOCKSTEP_BLOCK floats, added to the gradient once per block) when that buffer is
#: at most this many floats; larger ones add each slot's row as it is replayed.
GSUM_MAX_FLOATS = 1 << 16


@njit(cache=True)
def _gsum_offsets(pop_i, conn_i, conn_train, gsum_max):
    """(offset of each connection's per-slot gradient sums, -1 for none; total floats):
    trained connections from LIF populations whose sums fit ``gsum_max`` floats."""
    C = conn_i.shape[0]
    gofs = np.full(C, -1, np.int64)
    tot = 0
    for c in range(C):
        p = conn_i[c, 0]
        q = conn_i[c, 1]
        size = (pop_i[p, P_END] - pop_i[p, P_START]) * (pop_i[q, P_END] - pop_i[q, P_START]) \
            * LOCKSTEP_BLOCK
        if pop_i[p, P_TYPE] != SPIKE_INPUT and conn_train[c] != 0 and size <= gsum_max:
            gofs[c] = tot
            tot += size
    return gofs, tot


@njit(cache=True)
def replay_rows(pop_i, ev_mask_cap, T):
    """Most replay rows a block can write: one per step and neuron of each LIF
    population with events, and no more than its slots' spike caps allow."""
    steps = 0
    caps = 0
    for p in range(pop_i.shape[0]):
        if pop_i[p, P_TYPE] == SPIKE_INPUT or pop_i[p, P_EVENTS] == 0:
            continue
        n = pop_i[p, P_END] - pop_i[p, P_START]
        steps += n * T
        caps += n * ev_mask_cap[p] * LOCKSTEP_BLOCK
    return max(min(steps, caps), 1)


@njit(cache=True)
def train_epoch_lockstep(idx, lens, labels, st_off, st_steps, st_nids, reset_in_syn, strict,
                         T, dt, zero_step, n_chunks, pop_i, pop_f, bias, v_init, a_init,
                         grp_i, grp_f, conn_i, conn_f, row_ptr, weights, V, A, RF, X, spk,
                         spk_cnt, R, R2, in_ptr, in_hi, ev_s, ev_n, ev_mask_cap, ev_step,
                         ev_nid, ev_xmv, ev_cnt, nspk, ev_ovf, bk_i, bk_f, conn_train, out_p,
                         t_ms, drive_val, drive_step, tfirst, tsum, ttrue, xent, grad, gpos,
                         nsyn, work_f, work_b, rids, rows, gsum_max, params, parts, ms, vs,
                         b1, c1, b2, c2, alpha, s1, s2, eps, R_out, xent_out):
    """``layerwise_kernels.train_epoch_layerwise`` with lockstep trials
    (``train_trial_lockstep``; the caller checked that each batch would run as one).
    With ``strict`` a batch whose spike buffer overflowed stops the pass with its
    gradient dropped (status ``passes.OVERFLOW``), as the per-batch path does."""
    o0 = pop_i[out_p, P_START]
    for k in range(idx.shape[0]):
        nb = lens[k]
        nch = min(n_chunks, nb)
        stage_batch(idx[k, :nb], st_off, st_steps, st_nids, ev_s, ev_n, in_ptr, in_hi, X,
                    reset_in_syn)
        train_trial_lockstep(T, dt, zero_step, nch, 3, pop_i, pop_f, bias, v_init, a_init,
                             grp_i, grp_f, conn_i, conn_f, row_ptr, weights, V[:nb], A[:nb],
                             RF[:nb], X[:nb], spk[:nb], spk_cnt[:nb], R[:nb], R2[:nb],
                             in_ptr[:nb], in_hi[:nb], ev_s, ev_n, ev_mask_cap, ev_step[:nb],
                             ev_nid[:nb], ev_xmv[:nb], ev_cnt[:nb], nspk[:nb], ev_ovf[:nb],
                             bk_i, bk_f, conn_train, labels[k, :nb], out_p, t_ms,
                             drive_val[:nb], drive_step[:nb], tfirst[:nb], tsum[:nb],
                             ttrue[:nb], xent[:nb], grad, gpos, nsyn, work_f, work_b, rids,
                             rows, gsum_max)
        for c in range(nch):
            if work_f[c] < 0:
                return k, STALE_CACHE, -1
        keep_outputs(nb, o0, R, xent, R_out[k], xent_out[k])
        if strict:
            for b in range(nb):
                if ev_ovf[b] >= 0:
                    for i in range(grad.shape[0]):
                        grad[i] = np.float32(0.0)
                    return k, OVERFLOW, -1
        status, which = adam_update_many(params, parts, ms, vs, b1, c1, b2, c2, alpha, s1[k],
                                         s2[k], eps)
        if status != OK:
            return k, status, which
    return idx.shape[0], OK, -1
