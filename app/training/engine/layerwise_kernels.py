"""EventProp training trial of a feed-forward network, one layer at a time.

For SpikeInput -> LIF -> LI networks (latency MNIST's shape): within a trial the
LI output layer never acts back on the hidden layer, so after the hidden layer's
forward pass over all T steps its spikes are known, and the output layer's input
over the whole trial is one product of the (steps, hidden) spike matrix with the
(hidden, output) weights. The same holds backwards: the output adjoints depend
only on the loss, so the hidden-to-output gradient is the spike matrix
(transposed) times the output's adjoint rows, and each hidden spike's adjoint jump
reads one entry of the output adjoint rows times the transposed weights. Those
three products replace the per-slot kernel's per-spike short rows (10 wide on
MNIST: a row add forward, a gradient row and a dot backward per hidden spike),
which cost it more than the arithmetic.

The hidden layer runs as in the per-slot kernel (``kernels._forward_slots``: the
same float operations in the same order, so the same spikes and voltages); the
output layer's input current is summed in a different order, and the gradients
differ from the per-slot kernel's by float rounding only. Only for networks whose
every feature this implements (``layerwise_ok``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .eventprop_kernels import _dot, _drive_slot, li_drive
from .kernels import (
    BF_A,
    BF_ALPHA,
    BF_BETA,
    BF_DENOM,
    BF_LTS,
    BF_VTH,
    BI_LOSS,
    BI_READOUT,
    BI_REG,
    BI_ROLE,
    BK_HIDDEN,
    BK_OUT_LI,
    FLT_MAX,
    LOSS_SCE,
    _readouts,
    add_rows,
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
    RO_FIRST,
    RO_NONE,
    SPIKE_INPUT,
)
from .optim import OK, adam_update_many
from .passes import keep_outputs, stage_batch


def layerwise_ok(pop_i: np.ndarray, grp_i: np.ndarray, conn_i: np.ndarray,
                 conn_dense: np.ndarray, max_delay: int, conn_dtrain: np.ndarray,
                 bk_i: np.ndarray, ev_mask_cap: np.ndarray, T: int) -> bool:
    """Whether the layer-wise trial implements every feature of this network: one
    SpikeInput, one non-refractory LIF hidden and one LI output population (in that
    order), dense connections input -> hidden -> output without delays, each fed
    population by exactly one synapse group, cross-entropy loss, no regularisation or
    delay learning, no hidden readout, and a spike buffer of at least one spike per
    step for the hidden neurons (so no spike is ever left off the replay)."""
    if pop_i.shape[0] != 3 or conn_i.shape[0] != 2 or grp_i.shape[0] != 2:
        return False
    if tuple(pop_i[:, P_TYPE]) != (SPIKE_INPUT, LIF, LI) or pop_i[1, P_HAS_REFRAC] != 0:
        return False
    if pop_i[1, P_READOUT] != RO_NONE or pop_i[0, P_EVENTS] == 0 or pop_i[1, P_EVENTS] == 0:
        return False
    if ev_mask_cap[1] < T or max_delay > 0 or np.any(conn_dtrain != 0):
        return False
    if not np.all(conn_dense != 0) or np.any(conn_i[:, 5] != 0):
        return False
    if tuple(conn_i[0, :2]) != (0, 1) or tuple(conn_i[1, :2]) != (1, 2):
        return False
    for p in (1, 2):
        n = pop_i[p, P_END] - pop_i[p, P_START]
        g = int(conn_i[p - 1, 2])
        if grp_i[g, 0] != p or grp_i[g, 3] != n:
            return False
    return (bk_i[1, BI_ROLE] == BK_HIDDEN and bk_i[2, BI_ROLE] == BK_OUT_LI
            and bk_i[2, BI_LOSS] == LOSS_SCE and not np.any(bk_i[:, BI_REG] != 0))


@njit(cache=True, inline="always")
def _fed_by(c, p, pop_f, grp_i, grp_f, conn_i):
    """Population p fed by connection c alone: its input's offset in X, whether the
    synapse is a delta (no decay), the synapse's decay and input scale, and p's
    membrane decay and input scale."""
    g = conn_i[c, 2]
    return (grp_i[g, 2], grp_i[g, 1] == 0, grp_f[g, 0], grp_f[g, 1], pop_f[p, F_ALPHA],
            pop_f[p, F_ISCALE])


@njit(cache=True, _nrt=False, error_model="numpy")
def _hidden_forward(b, T, zero_step, reset, pop_i, pop_f, v_init, grp_i, grp_f, conn_i,
                    row_ptr, weights, V, X, spk, spk_cnt, in_ptr, in_hi, in_ev_step,
                    in_ev_nid, nspk, Cb, Hx, hptr, iptr):
    """Slot b's input and hidden layers over the trial (``_forward_slots``' operations
    for these populations). ``Cb`` (T + 1, n_hid) gets the hidden spikes as 0/1 rows
    (row 0: the previous trial's last step, delivered at step 0; row s + 1: step s)
    and ``Hx`` their 1 / (I * imv - V) (0 where no spike); ``hptr`` (T + 1) the
    hidden spikes before each step, ``iptr`` (T + 1) each step's range of staged
    input events. Returns the synapses delivered to."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    h0 = pop_i[1, P_START]
    nh = pop_i[1, P_END] - h0
    i0 = pop_i[0, P_START]
    ni = pop_i[0, P_END] - i0
    off, dl, gbeta, giscale, alpha, isc = _fed_by(0, 1, pop_f, grp_i, grp_f, conn_i)
    vth = pop_f[1, F_VTH]
    vreset = pop_f[1, F_VRESET]
    imv = pop_f[1, F_IMV_SCALE]
    rel = pop_i[1, P_REL_RESET] != 0
    W2 = weights[conn_i[0, 3] + row_ptr[conn_i[0, 4]]:][:ni * nh].reshape((ni, nh))
    xrow = X[b, off:off + nh]
    vrow = V[b, h0:h0 + nh]
    nspk_b = nspk[b]
    cnt = nspk_b[h0:h0 + nh]
    spk_b = spk[b]
    for n in range(nspk_b.shape[0]):
        nspk_b[n] = 0
    if reset & 1:
        for j in range(nh):
            vrow[j] = v_init[h0 + j]
    for j in range(nh):
        Cb[0, j] = zero
    for k in range(spk_cnt[b, 1]):
        Cb[0, spk_b[h0 + k]] = np.float32(1.0)
    nwork = 0
    ptr = in_ptr[b, 0]
    hi = in_hi[b, 0]
    prev = spk_b[i0:i0 + spk_cnt[b, 0]]  # the previous trial's last input spikes
    nh_spk = 0
    for step in range(T):
        if step == zero_step:
            for j in range(nh):
                xrow[j] = zero
        if prev.shape[0] > 0:
            add_rows(xrow, W2, prev)
            nwork += prev.shape[0] * nh
        hptr[step] = nh_spk
        crow = Cb[step + 1]
        hrow = Hx[step + 1]
        # one vector loop, spikes included: no branch per neuron (a spike per ~4
        # neurons would mispredict one each) and no per-spike pass
        ncross = np.int32(0)
        for j in range(nh):
            x = xrow[j]
            i = zero + (x if dl else x * giscale)
            xrow[j] = zero if dl else x * gbeta
            v = alpha * vrow[j] + isc * i
            s = v >= vth
            h = one / (i * imv - v)
            crow[j] = one if s else zero
            hrow[j] = h if s else zero
            cnt[j] += np.int32(s)
            ncross += np.int32(s)
            vrow[j] = (v - (vth - vreset) if rel else vreset) if s else v
        nh_spk += ncross
        iptr[step] = ptr
        while ptr < hi and in_ev_step[ptr] == step:
            nspk_b[i0 + in_ev_nid[ptr]] += 1
            ptr += 1
        prev = in_ev_nid[iptr[step]:ptr]
    hptr[T] = nh_spk
    iptr[T] = ptr
    in_ptr[b, 0] = ptr
    # the last step's spikes, delivered at the next trial's step 0
    spk_cnt[b, 0] = prev.shape[0]
    for k in range(prev.shape[0]):
        spk_b[i0 + k] = prev[k]
    k = 0
    for j in range(nh):
        if Cb[T, j] != zero:
            spk_b[h0 + k] = j
            k += 1
    spk_cnt[b, 1] = k
    spk_cnt[b, 2] = 0
    return nwork


@njit(cache=True, _nrt=False)
def _output_forward(b, T, dt, zero_step, reset, pop_i, pop_f, bias, v_init, grp_i, grp_f,
                    conn_i, V, X, R, R2, Zb):
    """Slot b's LI output layer over the trial from ``Zb`` (T, n_out): row s the
    weighted hidden spikes delivered at step s."""
    zero = np.float32(0.0)
    o0 = pop_i[2, P_START]
    no = pop_i[2, P_END] - o0
    off, dl, gbeta, giscale, alpha, isc = _fed_by(1, 2, pop_f, grp_i, grp_f, conn_i)
    ro = pop_i[2, P_READOUT]
    xrow = X[b, off:off + no]
    vrow = V[b, o0:o0 + no]
    brow = bias[o0:o0 + no]
    rrow = R[b, o0:o0 + no]
    r2row = R2[b, o0:o0 + no]
    if reset & 1:
        for j in range(no):
            vrow[j] = v_init[o0 + j]
    if reset & 2:
        for j in range(no):
            rrow[j] = -FLT_MAX if ro == RO_FIRST else zero
            r2row[j] = zero
    for step in range(T):
        if step == zero_step:
            for j in range(no):
                xrow[j] = zero
        for j in range(no):
            x = xrow[j] + Zb[step, j]
            i = zero + (x if dl else x * giscale)
            xrow[j] = zero if dl else x * gbeta
            vrow[j] = alpha * vrow[j] + isc * i + brow[j]
        _readouts(ro, rrow, r2row, vrow, np.float32(step) * dt, T, dt)


@njit(cache=True, _nrt=False)
def _output_backward(b, T, dt, bk_i, bk_f, conn_f, labels, drive_val, drive_step, Qb, Db,
                     lv, li):
    """Slot b's output adjoints over the backward pass: row m + 1 of ``Qb`` gets
    tau_syn * lambda_I and of ``Db`` lambda_V - lambda_I as the replay of step m's
    hidden spikes reads them (before that step's neuron phase); rows 0 and T (the
    previous trial's spikes, the last step's: neither is replayed) stay zero.
    ``lv``, ``li`` (n_out) are scratch."""
    zero = np.float32(0.0)
    no = Qb.shape[1]
    a_ = bk_f[2, BF_A]
    alpha = bk_f[2, BF_ALPHA]
    beta = bk_f[2, BF_BETA]
    denom = bk_f[2, BF_DENOM]
    lts = bk_f[2, BF_LTS]
    loss = bk_i[2, BI_LOSS]
    rdo = bk_i[2, BI_READOUT]
    tau_s = conn_f[1, 0]
    y = labels[b]
    for k in range(no):
        Qb[0, k] = zero
        Db[0, k] = zero
        Qb[T, k] = zero
        Db[T, k] = zero
        lv[k] = zero
        li[k] = zero
    for it in range(T):
        m = T - 1 - it
        if it > 0:
            for k in range(no):
                Qb[m + 1, k] = li[k] * tau_s
                Db[m + 1, k] = lv[k] - li[k]
        for k in range(no):
            drive = li_drive(loss, rdo, drive_val[b, 0, k], k == y, drive_step[b, k] == m,
                             it, dt, lts, denom)
            li[k] = drive + (li[k] - drive) * beta + a_ * (lv[k] - drive) * (alpha - beta)
            lv[k] = drive + (lv[k] - drive) * alpha


@njit(cache=True, _nrt=False)
def _hidden_backward(T, bk_f, conn_f, conn_train, in_ev_nid, G2, Rb, Hx, hptr, iptr, lv, li,
                     q):
    """One slot's hidden adjoints over the backward pass (``_backward_slots``' operations
    for this layer): each replayed input spike's gradient row in ``G2`` (inputs,
    hidden), each hidden spike's transition with its jump from the output layer in
    ``Rb`` (row m + 1 for step m). The last step is not replayed. ``lv``, ``li``,
    ``q`` (n_hid) are scratch. Returns the synapses replayed (input rows only)."""
    zero = np.float32(0.0)
    nh = lv.shape[0]
    a_ = bk_f[1, BF_A]
    alpha = bk_f[1, BF_ALPHA]
    beta = bk_f[1, BF_BETA]
    vth = bk_f[1, BF_VTH]
    tau_s = conn_f[0, 0]
    train = conn_train[0] != 0
    for j in range(nh):
        lv[j] = zero
        li[j] = zero
    nrep = 0
    for it in range(1, T):
        m = T - 1 - it
        lo = iptr[m]
        hi = iptr[m + 1]
        nrep += (hi - lo) * nh
        if train and hi > lo:
            for j in range(nh):
                q[j] = li[j] * tau_s
            for e in range(lo, hi):
                grow = G2[in_ev_nid[e]]
                for j in range(nh):
                    grow[j] -= q[j]
        for j in range(nh):
            li[j] = a_ * lv[j] * (beta - alpha) + li[j] * beta
            lv[j] *= alpha
        if hptr[m + 1] > hptr[m]:
            # the step's spikes' transitions as one vector pass: Hx is 0 where a
            # neuron did not spike, which leaves its adjoint as it is
            rrow = Rb[m + 1]
            hrow = Hx[m + 1]
            for j in range(nh):
                lv[j] += hrow[j] * (vth * lv[j] + rrow[j])
    return nrep


@njit(cache=True, _nrt=False)
def _input_products(T, Cb, Wt, Zb):
    """``Zb`` = Cb @ W over rows 0..T-1: the output layer's input at each step from the
    slot's hidden spike rows ``Cb`` (T + 1, n_hid); ``Wt`` is W^T (n_out, n_hid)."""
    no = Wt.shape[0]
    nh = Wt.shape[1]
    zero = np.float32(0.0)
    for r in range(T):
        crow = Cb[r]
        n = 0
        for j in range(nh):
            n += np.int32(crow[j] != zero)
        for k in range(no):
            Zb[r, k] = _dot(Wt[k], crow) if n > 0 else zero


@njit(cache=True, _nrt=False)
def _adjoint_products(T, Cb, hptr, Wt, Qb, Db, Rb, GT):
    """Over the replayed rows 1..T-1 with spikes: ``GT`` += Qb^T @ Cb (the output
    connection's gradient sum, transposed: (n_out, n_hid)) and ``Rb`` = Db @ W^T
    (each hidden neuron's adjoint jump from the output layer). Four rows (GT) or
    four outputs (Rb) per pass over a row: a quarter of its loads and stores."""
    no = Wt.shape[0]
    nh = Wt.shape[1]
    zero = np.float32(0.0)
    for k in range(no):
        gt = GT[k]
        r = 1
        while r < T:
            if hptr[r] == hptr[r - 1]:
                r += 1
                continue
            c0 = Cb[r]
            q0 = Qb[r, k]
            if r + 3 < T:
                c1 = Cb[r + 1]
                c2 = Cb[r + 2]
                c3 = Cb[r + 3]
                q1 = Qb[r + 1, k]
                q2 = Qb[r + 2, k]
                q3 = Qb[r + 3, k]
                for j in range(nh):
                    gt[j] += q0 * c0[j] + q1 * c1[j] + q2 * c2[j] + q3 * c3[j]
                r += 4
            else:
                for j in range(nh):
                    gt[j] += q0 * c0[j]
                r += 1
    for r in range(1, T):
        if hptr[r] == hptr[r - 1]:
            continue
        rrow = Rb[r]
        for j in range(nh):
            rrow[j] = zero
        k = 0
        while k + 4 <= no:
            d0 = Db[r, k]
            d1 = Db[r, k + 1]
            d2 = Db[r, k + 2]
            d3 = Db[r, k + 3]
            w0 = Wt[k]
            w1 = Wt[k + 1]
            w2 = Wt[k + 2]
            w3 = Wt[k + 3]
            for j in range(nh):
                rrow[j] += d0 * w0[j] + d1 * w1[j] + d2 * w2[j] + d3 * w3[j]
            k += 4
        while k < no:
            dk = Db[r, k]
            wk = Wt[k]
            for j in range(nh):
                rrow[j] += dk * wk[j]
            k += 1


@njit(cache=True, parallel=True)
def train_trial_layerwise(T, dt, zero_step, n_chunks, reset, pop_i, pop_f, bias, v_init,
                          grp_i, grp_f, conn_i, conn_f, row_ptr, weights, V, X, spk, spk_cnt,
                          R, R2, in_ptr, in_hi, in_ev_step, in_ev_nid, nspk, ev_cnt, ev_ovf,
                          bk_i, bk_f, conn_train, labels, out_p, t_ms, drive_val, drive_step,
                          tfirst, tsum, ttrue, xent, grad, gpos, nsyn, work_f, work_b):
    """One EventProp training trial of every slot (as ``eventprop_kernels.train_trial``)
    for a network ``layerwise_ok`` accepts: per slot, the hidden layer's forward
    pass, the output layer's from the spike products, the loss terms, the output
    adjoints, the products for the hidden layer's jumps and the output gradient, and
    the hidden adjoint pass. The gradients go to ``grad`` as there (one row per
    thread chunk); the event tapes are not used (``ev_cnt`` 0, ``ev_ovf`` -1)."""
    B = V.shape[0]
    h0 = pop_i[1, P_START]
    nh = pop_i[1, P_END] - h0
    no = pop_i[2, P_END] - pop_i[2, P_START]
    ni = pop_i[0, P_END] - pop_i[0, P_START]
    per = (B + n_chunks - 1) // n_chunks
    w1 = conn_i[1, 3] + row_ptr[conn_i[1, 4]]
    W2o = weights[w1:w1 + nh * no].reshape((nh, no))
    for ch in prange(n_chunks):
        Cb = np.zeros((T + 1, nh), np.float32)
        Rb = np.zeros((T + 1, nh), np.float32)
        Zb = np.zeros((T + 1, no), np.float32)
        Qb = np.zeros((T + 1, no), np.float32)
        Db = np.zeros((T + 1, no), np.float32)
        GT = np.zeros((no, nh), np.float32)
        Wt = np.ascontiguousarray(W2o.T)
        hptr = np.zeros(T + 1, np.int64)
        iptr = np.zeros(T + 1, np.int64)
        Hx = np.zeros((T + 1, nh), np.float32)
        lvh = np.zeros(nh, np.float32)
        lih = np.zeros(nh, np.float32)
        q = np.zeros(nh, np.float32)
        lvo = np.zeros(no, np.float32)
        lio = np.zeros(no, np.float32)
        g0 = gpos[0] + ch * nsyn[0] + row_ptr[conn_i[0, 4]]
        G2i = grad[g0:g0 + ni * nh].reshape((ni, nh))
        nf = 0
        nr = 0
        for b in range(ch * per, min(B, (ch + 1) * per)):
            carried = spk_cnt[b, 1]
            nf += _hidden_forward(b, T, zero_step, reset, pop_i, pop_f, v_init, grp_i, grp_f,
                                  conn_i, row_ptr, weights, V, X, spk, spk_cnt, in_ptr, in_hi,
                                  in_ev_step, in_ev_nid, nspk, Cb, Hx, hptr, iptr)
            nf += (carried + hptr[T - 1]) * no
            _input_products(T, Cb, Wt, Zb)
            _output_forward(b, T, dt, zero_step, reset, pop_i, pop_f, bias, v_init, grp_i,
                            grp_f, conn_i, V, X, R, R2, Zb)
            _drive_slot(b, out_p, pop_i, bk_i, bk_f, R, R2, labels, dt, t_ms, drive_val,
                        drive_step, tfirst, tsum, ttrue, xent)
            _output_backward(b, T, dt, bk_i, bk_f, conn_f, labels, drive_val, drive_step, Qb,
                             Db, lvo, lio)
            _adjoint_products(T, Cb, hptr, Wt, Qb, Db, Rb, GT)
            nr += _hidden_backward(T, bk_f, conn_f, conn_train, in_ev_nid, G2i, Rb, Hx, hptr,
                                   iptr, lvh, lih, q)
            nr += hptr[T - 1] * no
            ev_cnt[b] = 0
            ev_ovf[b] = -1
        if conn_train[1] != 0:
            g1 = gpos[1] + ch * nsyn[1] + row_ptr[conn_i[1, 4]]
            G2o = grad[g1:g1 + nh * no].reshape((nh, no))
            for i in range(nh):
                for k in range(no):
                    G2o[i, k] -= GT[k, i]
        work_f[ch] += nf
        work_b[ch] += nr
    return 0


@njit(cache=True)
def train_epoch_layerwise(idx, lens, labels, st_off, st_steps, st_nids, reset_in_syn, T, dt,
                          zero_step, n_chunks, pop_i, pop_f, bias, v_init, grp_i, grp_f,
                          conn_i, conn_f, row_ptr, weights, V, X, spk, spk_cnt, R, R2,
                          in_ptr, in_hi, ev_s, ev_n, nspk, ev_cnt, ev_ovf, bk_i, bk_f,
                          conn_train, out_p, t_ms, drive_val, drive_step, tfirst, tsum, ttrue,
                          xent, grad, gpos, nsyn, work_f, work_b, params, parts, ms, vs, b1,
                          c1, b2, c2, alpha, s1, s2, eps, R_out, xent_out):
    """Batches ``idx`` (rows of example indices, ``lens`` of them used, ``labels`` alike)
    of a training pass in one call, each as the per-batch path does it: its staged
    input events gathered (``passes.stage_batch``), its trial
    (``train_trial_layerwise``, resets as ``begin_trial`` asks: neurons and readouts,
    synaptic input with ``reset_in_syn``), then one Adam step of every trainable
    (``optim.adam_update_many``, bias corrections ``s1[k]``, ``s2[k]``). Batch k's
    output readouts go to ``R_out[k]`` and its losses to ``xent_out[k]`` (the metrics
    are computed from them afterwards). Returns (batches done, status, trainable)
    with the optimiser's status of the batch that stopped the pass (OK, -1 when all
    ran)."""
    for k in range(idx.shape[0]):
        nb = lens[k]
        stage_batch(idx[k, :nb], st_off, st_steps, st_nids, ev_s, ev_n, in_ptr, in_hi, X,
                    reset_in_syn)
        train_trial_layerwise(T, dt, zero_step, min(n_chunks, nb), 3, pop_i, pop_f, bias,
                              v_init, grp_i, grp_f, conn_i, conn_f, row_ptr, weights, V[:nb],
                              X[:nb], spk[:nb], spk_cnt[:nb], R[:nb], R2[:nb], in_ptr[:nb],
                              in_hi[:nb], ev_s, ev_n, nspk[:nb], ev_cnt[:nb], ev_ovf[:nb],
                              bk_i, bk_f, conn_train, labels[k, :nb], out_p, t_ms,
                              drive_val[:nb], drive_step[:nb], tfirst[:nb], tsum[:nb],
                              ttrue[:nb], xent[:nb], grad, gpos, nsyn, work_f, work_b)
        keep_outputs(nb, pop_i[2, P_START], R, xent, R_out[k], xent_out[k])
        status, which = adam_update_many(params, parts, ms, vs, b1, c1, b2, c2, alpha, s1[k],
                                         s2[k], eps)
        if status != OK:
            return k, status, which
    return idx.shape[0], OK, -1
