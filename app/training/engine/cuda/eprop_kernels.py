"""CUDA kernels of e-prop training (numba-cuda): the forward step and the block gradient.

The CPU engine's block formulation (docs/eprop_gradient.md, ``eprop_gradient``)
laid out for a GPU:

- ``ep_step``: one kernel per timestep, one thread per (batch slot, neuron).
  A neuron thread gathers its
  own input from the previous step's spike bitmap (the cuda backend's
  ``forward_step`` design: set bits walked in connection, then presynaptic
  order, the CPU engine's summation order, so the sums are bit-identical and
  need no atomics), updates its neuron, sets its spike bit with an atomic OR
  and, when learning, writes the per-neuron values the gradient needs into the
  block buffers: its presynaptic trace ``Z[b, k, u]`` and, for hidden neurons,
  ``psi``, the regularisation factor and the learning signal (``GB``). The
  learning signal is the feedback of the previous step's output errors, so the
  errors are double-buffered by step parity (``E[prev]`` read, ``E[1 - prev]``
  written) and outputs run in the same launch. ``ep_softmax`` (one thread per
  slot and cross-entropy output population) then computes the softmax the next
  step's errors read;
- ``ep_filter``: per block, one thread per (slot, hidden neuron) runs the
  backward-in-time recursions (float64, as on the CPU) that turn psi, r and L
  into the factors H, G, F and the coefficients of the block-start state;
- ``ep_product``: the block's matrix products ``DG += Z^T [H | E]`` summed over
  slots and, per slot, ``Z_b^T [G | F]_b`` with the eligibility-state update,
  as one shared-memory tiled kernel: one thread per (presynaptic, postsynaptic)
  pair, slots and k-tiles in a fixed order (deterministic, no atomics), the
  carried ``ebar``/``eps_a`` read and written once per block.

Products that feed an addition in the neuron updates go through ``_mul``
(``__fmul_rn`` on a GPU) so they are not fused into FMAs whose single rounding
differs from the CPU engine's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda

from ..eprop_kernels import (
    FLT_MIN,
    G_AFAV,
    G_ALPHA,
    G_CREG,
    G_FTARGET,
    G_ONE_M_AFAV,
    G_RHO,
    K_ALIF,
    K_INPUT,
    LOSS_SCE,
    NF_ALPHA,
    NF_BETA,
    NF_ISCALE,
    NF_PSI_SCALE,
    NF_TREFRAC,
    NF_VRESET,
    NF_VTH,
    NI_COL,
    NI_HAS_RF,
    NI_IDR,
    NI_KIND,
    NI_REL_RESET,
    OP_COL0,
    OP_END,
    OP_LOSS,
    OP_READOUT,
    OP_START,
    R_A,
    R_DBIAS,
    R_E,
    R_FAVG,
    R_PSI,
    R_READOUT,
    R_RF,
    R_SOFTMAX,
    R_V,
    R_Z,
    RD_AVG,
    RD_SUM,
)
from ..layout import P_START
from .kernels import _mul, add_connection_input

#: Tile edge of the block product (threads per block: TS x TS). The simulator runs
#: every thread as a Python thread, so it gets small tiles.
TS = 8 if config.ENABLE_CUDASIM else 16
#: Most blocks of a grid-stride fill (the simulator starts a thread per GPU thread)
FILL_BLOCKS = 2 if config.ENABLE_CUDASIM else 1024


@cuda.jit
def ep_fill(a, val):
    """Set every element of the 1-D array ``a`` to ``val`` (grid-stride loop)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < a.shape[0]:
        a[i] = val
        i += step


@cuda.jit
def ep_stage(ev_b, ev_s, ev_w, ev_bit, raster):
    """Set the bits of a batch's input events (one thread per event)."""
    i = cuda.grid(1)
    if i < ev_b.shape[0]:
        cuda.atomic.or_(raster, (ev_b[i], ev_s[i], ev_w[i]), np.uint32(1) << np.uint32(ev_bit[i]))


@cuda.jit(device=True)
def _gather(b, step, p, j, in_ptr, in_list, pop_i, conn_i, conn_dense, row_ptr, weights,
            csc_ptr, csc_pre, csc_syn, cco, pw0, raster, carry):
    """Input of neuron j of population p: the weights of last step's spikes, added in
    connection order, then presynaptic id (the CPU engine's delivery order)."""
    x = np.float32(0.0)
    for q in range(in_ptr[p], in_ptr[p + 1]):
        x = add_connection_input(x, in_list[q], b, step, j, pop_i, conn_i, conn_dense,
                                 row_ptr, weights, csc_ptr, csc_pre, csc_syn, cco, pw0,
                                 raster, carry)
    return x


@cuda.jit(device=True)
def _record(rec, b, rstep, rec_ptr, rec_k, rec_code, gid, cur, spk, V, A, RF, R, E, DB, SM,
            PSI, FAVG, ZH, skip_sm):
    """Write neuron gid's recorded variables of this step (the CPU kernel's ``_record``);
    with ``skip_sm`` the softmax is left to ``ep_softmax``, which computes it."""
    for r in range(rec_ptr[gid], rec_ptr[gid + 1]):
        code = rec_code[r]
        if code == R_SOFTMAX and skip_sm:
            continue
        if code == R_V:
            val = V[b, gid]
        elif code == R_A:
            val = A[b, gid]
        elif code == R_RF:
            val = RF[b, gid]
        elif code == R_READOUT:
            val = R[b, gid]
        elif code == R_E:
            val = E[cur, b, gid]
        elif code == R_DBIAS:
            val = DB[b, gid]
        elif code == R_SOFTMAX:
            val = SM[b, gid]
        elif code == R_Z:
            val = spk
        elif code == R_PSI:
            val = PSI[b, gid]
        elif code == R_FAVG:
            val = FAVG[b, gid]
        else:
            val = ZH[b, gid]
        rec[b, rstep, rec_k[r]] = val


@cuda.jit
def ep_step(step, kk, T, dt, learn, train_bias, prev, glob, nrn_i, nrn_f, bias, work,
            n_work, out_po, pop_of, pop_i, in_ptr, in_list, conn_i, conn_dense, row_ptr,
            weights, csc_ptr, csc_pre, csc_syn, cco, pw0, fb_w, out_gid, opop, n_hid,
            V, RF, A, PSI, FAVG, E, ZH, SM, R, DB, LSUM, raster, carry, labels, targets,
            Z, GB, rstep, rec_ptr, rec_k, rec_code, rec):
    """One e-prop step of every (slot, neuron): ``work`` lists the non-output neurons
    (the first ``n_work``), then the output neurons; the order of operations and every
    float32 expression of ``eprop_kernels``."""
    tid = cuda.grid(1)
    U = n_work
    M = work.shape[0]
    B = V.shape[0]
    if tid >= B * M:
        return
    b = tid // M
    r = tid - b * M
    zero = np.float32(0.0)
    one = np.float32(1.0)
    cur = 1 - prev
    alpha = glob[G_ALPHA]
    gid = work[r]
    p = pop_of[gid]
    j = gid - pop_i[p, P_START]
    if r < U:
        zprev = ZH[b, gid]
        if learn:
            Z[b, kk, r] = zprev
        zf = zprev * alpha
        if zf < FLT_MIN:
            zf = zero
        wd = pw0[p] + j // 32
        bit = np.uint32(1) << np.uint32(j % 32)
        if nrn_i[gid, NI_KIND] == K_INPUT:
            spk = zero
            if raster[b, step, wd] & bit:
                zf += one
                spk = one
            ZH[b, gid] = zf
            _record(rec, b, rstep, rec_ptr, rec_k, rec_code, gid, cur, spk, V, A, RF, R, E,
                    DB, SM, PSI, FAVG, ZH, False)
            return
        # hidden LIF/ALIF neuron
        c = nrn_i[gid, NI_COL]
        fav = FAVG[b, gid]
        if learn:
            GB[b, kk, c] = PSI[b, gid]
            GB[b, kk, n_hid + c] = (fav - glob[G_FTARGET]) * glob[G_CREG]
            GB[b, kk, 2 * n_hid + c] = E[prev, b, gid]
        fb = zero
        for o in range(fb_w.shape[0]):
            fb = fb + _mul(fb_w[o, c], E[prev, b, out_gid[o]])
        isyn = _gather(b, step, p, j, in_ptr, in_list, pop_i, conn_i, conn_dense, row_ptr,
                       weights, csc_ptr, csc_pre, csc_syn, cco, pw0, raster, carry)
        alif = nrn_i[gid, NI_KIND] == K_ALIF
        has_rf = nrn_i[gid, NI_HAS_RF] != 0
        vth = nrn_f[gid, NF_VTH]
        v = V[b, gid]
        rf = RF[b, gid]
        in_rf = has_rf and rf > zero
        if in_rf:
            rf -= dt
        if nrn_i[gid, NI_IDR] != 0 or not in_rf:
            v = _mul(alpha, v) + _mul(nrn_f[gid, NF_ISCALE], isyn)
        a = A[b, gid] * glob[G_RHO] if alif else zero
        thr = vth + _mul(nrn_f[gid, NF_BETA], a) if alif else vth
        E[cur, b, gid] = fb
        fav = fav * glob[G_AFAV]
        still_rf = has_rf and rf > zero
        psi = zero
        if not still_rf:
            psi = nrn_f[gid, NF_PSI_SCALE] * max(zero, one - abs((v - thr) / vth))
        PSI[b, gid] = psi
        fire = v >= thr and not still_rf
        spk = zero
        if fire:
            if nrn_i[gid, NI_REL_RESET] != 0:
                v = v - (vth - nrn_f[gid, NF_VRESET])
            else:
                v = nrn_f[gid, NF_VRESET]
            a += one
            if has_rf:
                rf = nrn_f[gid, NF_TREFRAC]
            fav += glob[G_ONE_M_AFAV]
            zf += one
            spk = one
            cuda.atomic.or_(raster, (b, step, wd), bit)
        V[b, gid] = v
        RF[b, gid] = rf
        if alif:
            A[b, gid] = a
        FAVG[b, gid] = fav
        ZH[b, gid] = zf
        _record(rec, b, rstep, rec_ptr, rec_k, rec_code, gid, cur, spk, V, A, RF, R, E, DB,
                SM, PSI, FAVG, ZH, False)
        return
    # output neuron (its population's softmax of this step follows in ep_softmax)
    k = gid
    po = out_po[k]
    o0 = opop[po, OP_START]
    loss = opop[po, OP_LOSS]
    ro = opop[po, OP_READOUT]
    col = opop[po, OP_COL0] + k - o0
    isyn = _gather(b, step, p, j, in_ptr, in_list, pop_i, conn_i, conn_dense, row_ptr,
                   weights, csc_ptr, csc_pre, csc_syn, cco, pw0, raster, carry)
    v = _mul(nrn_f[k, NF_ALPHA], V[b, k]) + _mul(nrn_f[k, NF_ISCALE], isyn) + bias[k]
    V[b, k] = v
    if loss == LOSS_SCE:
        out = SM[b, k]
        e = out - (one if k - o0 == labels[b, po] else zero)
    else:
        out = v
        e = v - targets[b, step, col]
    if learn:
        GB[b, kk, 3 * n_hid + col] = E[prev, b, k]
    if ro == RD_SUM:
        R[b, k] += out
    elif ro == RD_AVG:
        R[b, k] += _mul(np.float32(1.0 / T), out)
    else:
        R[b, k] = out
    E[cur, b, k] = e
    LSUM[b, k] += _mul(e, e)
    if train_bias and learn:
        DB[b, k] += e
    _record(rec, b, rstep, rec_ptr, rec_k, rec_code, k, cur, zero, V, A, RF, R, E, DB, SM,
            PSI, FAVG, ZH, loss == LOSS_SCE)


@cuda.jit
def ep_softmax(opop, V, SM, rstep, rec_ptr, rec_k, rec_code, rec):
    """The softmax of every (slot, cross-entropy output population) from this step's V,
    one thread each (read by the next step's errors), and its recording."""
    tid = cuda.grid(1)
    n_pop = opop.shape[0]
    if tid >= V.shape[0] * n_pop:
        return
    b = tid // n_pop
    po = tid - b * n_pop
    if opop[po, OP_LOSS] != LOSS_SCE:
        return
    o0 = opop[po, OP_START]
    o1 = opop[po, OP_END]
    mx = V[b, o0]
    for k in range(o0 + 1, o1):
        if V[b, k] > mx:
            mx = V[b, k]
    tot = np.float32(0.0)
    for k in range(o0, o1):
        tot += np.float32(math.exp(V[b, k] - mx))
    for k in range(o0, o1):
        SM[b, k] = np.float32(math.exp(V[b, k] - mx)) / tot
        for r in range(rec_ptr[k], rec_ptr[k + 1]):
            if rec_code[r] == R_SOFTMAX:
                rec[b, rstep, rec_k[r]] = SM[b, k]


@cuda.jit
def ep_filter(K, alpha, rho, beta, n_hid, alif, GB, COEF):
    """Backward-in-time recursions of one block, one thread per (slot, hidden neuron):
    columns [psi | r | L] of ``GB`` become [G | F | H] (unfiltered: the product form of
    ``eprop_gradient.filter_block`` with ``za`` = 0); ``COEF[b, :, j]`` receives the
    multipliers c, d, g, pf of the block-start state. float64, as on the CPU."""
    tid = cuda.grid(1)
    H = n_hid
    if tid >= GB.shape[0] * H:
        return
    b = tid // H
    j = tid - b * H
    lf = 0.0
    u = 0.0
    up = 0.0
    pf = 1.0
    ap = 1.0
    bj = np.float64(beta[j])
    for k in range(K - 1, -1, -1):
        p = np.float64(GB[b, k, j])
        lf = np.float64(GB[b, k, 2 * H + j]) + alpha * lf
        w = lf + np.float64(GB[b, k, H + j])
        if alif:
            h = p * (w - bj * u)
            g = p * (ap - bj * up)
            f = pf * p
            q = rho - bj * p
            u = w * p + q * u
            up = ap * p + q * up
            pf = q * pf
            GB[b, k, j] = g
            GB[b, k, H + j] = f
            GB[b, k, 2 * H + j] = h
        else:
            GB[b, k, j] = p * ap
            GB[b, k, 2 * H + j] = p * w
        ap *= alpha
    COEF[b, 0, j] = alpha * lf
    COEF[b, 1, j] = -bj * u
    COEF[b, 2, j] = -bj * up
    COEF[b, 3, j] = pf


@cuda.jit
def ep_product(K, aK, n_hid, n_out, alif, Z, GB, COEF, EF, EPS, DG):
    """One block's products and state update; thread (u, col) of a TS x TS tile.

    For every slot b in order: ``ah = sum_k Z[b,k,u] X[b,k,col]`` with X the
    gradient factor (H for hidden columns, the output error E for output columns),
    and for hidden columns ``ag``/``af`` with G and F; then the block-start terms:
    ``dg += (ebar0 c + eps0 d) + ah``, ``ebar = (aK ebar0 + g eps0) + ag``,
    ``eps = pf eps0 + af``. ``DG[u, col]`` gets the sum over slots at the end.
    The Z and factor tiles of each k-range are staged in shared memory.
    """
    zs = cuda.shared.array((TS, TS), np.float32)
    hs = cuda.shared.array((TS, TS), np.float32)
    gs = cuda.shared.array((TS, TS), np.float32)
    fs = cuda.shared.array((TS, TS), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    H = n_hid
    NC = H + n_out
    U = Z.shape[2]
    u = cuda.blockIdx.y * TS + ty
    col = cuda.blockIdx.x * TS + tx
    ul = cuda.blockIdx.y * TS + tx   # the u this thread loads into the Z tile
    zero = np.float32(0.0)
    dg = zero
    for b in range(Z.shape[0]):
        ah = zero
        ag = zero
        af = zero
        for k0 in range(0, K, TS):
            kl = k0 + ty
            zs[ty, tx] = Z[b, kl, ul] if kl < K and ul < U else zero
            hv = zero
            gv = zero
            fv = zero
            if kl < K and col < NC:
                if col < H:
                    hv = GB[b, kl, 2 * H + col]
                    gv = GB[b, kl, col]
                    if alif:
                        fv = GB[b, kl, H + col]
                else:
                    hv = GB[b, kl, 3 * H + col - H]
            hs[ty, tx] = hv
            gs[ty, tx] = gv
            fs[ty, tx] = fv
            cuda.syncthreads()
            if col >= H:  # output column: the gradient product only
                for t in range(TS):
                    ah += zs[t, ty] * hs[t, tx]
            elif alif:
                for t in range(TS):
                    z = zs[t, ty]
                    ah += z * hs[t, tx]
                    ag += z * gs[t, tx]
                    af += z * fs[t, tx]
            else:
                for t in range(TS):
                    z = zs[t, ty]
                    ah += z * hs[t, tx]
                    ag += z * gs[t, tx]
            cuda.syncthreads()
        if u < U and col < NC:
            if col < H:
                e0 = EF[b, u, col]
                if alif:
                    p0 = EPS[b, u, col]
                    dg += (e0 * COEF[b, 0, col] + p0 * COEF[b, 1, col]) + ah
                    EF[b, u, col] = (aK * e0 + COEF[b, 2, col] * p0) + ag
                    EPS[b, u, col] = COEF[b, 3, col] * p0 + af
                else:
                    dg += e0 * COEF[b, 0, col] + ah
                    EF[b, u, col] = aK * e0 + ag
            else:
                dg += ah
    if u < U and col < NC:
        DG[u, col] += dg


@cuda.jit
def ep_take(DG, syn_row, syn_col, syn_widx, gbatch, gsum):
    """Each synapse's gradient from its (presynaptic, postsynaptic) entry of DG: the
    batch's value to ``gbatch``, added to the optimiser's ``gsum``."""
    s = cuda.grid(1)
    if s < syn_row.shape[0]:
        g = DG[syn_row[s], syn_col[s]]
        w = syn_widx[s]
        gbatch[w] = g
        gsum[w] += g


@cuda.jit
def ep_sum_slots(DB, dbatch, dsum, n_slots):
    """Per neuron: its bias gradient summed over slots in slot order to ``dbatch`` and
    added to ``dsum``; the per-slot sums are zeroed."""
    i = cuda.grid(1)
    if i >= dsum.shape[0]:
        return
    g = np.float32(0.0)
    for b in range(n_slots):
        g += DB[b, i]
        DB[b, i] = np.float32(0.0)
    dbatch[i] = g
    dsum[i] += g


@cuda.jit
def ep_zero_pairs(EF, EPS, rows, cols, alif):
    """Zero the eligibility state of the given (presynaptic, hidden) pairs in every slot."""
    i = cuda.grid(1)
    n = rows.shape[0]
    if i >= EF.shape[0] * n:
        return
    b = i // n
    k = i - b * n
    EF[b, rows[k], cols[k]] = np.float32(0.0)
    if alif:
        EPS[b, rows[k], cols[k]] = np.float32(0.0)
