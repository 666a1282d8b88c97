"""Numba forward kernel of e-prop training (Bellec et al. 2020, as mlGeNN implements it).

One call runs steps ``[step0, step1)`` of a trial for every batch slot, with
no Python per step. Each step has two parallel phases that read only the
previous step's values (the double-buffered spikes ``spk``/``zhat`` and the
output errors ``E``):

* phase A, parallel over non-output neurons (inputs and hidden), loops over
  the batch: the feedback ``E_j = sum_k W_jk E_k`` of j's outgoing output
  synapses, then the neuron update (LIF/ALIF with pseudo-derivative ``psi``,
  firing-rate trace, presynaptic trace ``zhat``) or the input spike
  generation;
* phase B, parallel over the batch: output LeakyIntegrate neurons (input
  current, V, error E, ``DeltaBias``, readout, timestep-end softmax), then the
  new spikes/traces become the previous ones and the spikes are delivered
  (rows in connection order, then presynaptic id, as GeNN sums them).

When learning, each step also records the per-neuron values mlGeNN's synapse
update of that step reads (psi, learning signal and regularisation factor of
every hidden neuron, the output errors, and which neurons spiked) into block
buffers; ``eprop_gradient`` turns a block of them into the weight gradients
and the eligibility traces at the block's end; ``eprop_sim.EPropSimulator``
holds the state and calls both. Memory is O(batch x synapses) plus the block
buffers, whatever the number of timesteps.

The operation order inside a step, and every float32 expression of the
neuron dynamics, follows the fixtures' README ("EPropCompiler" section), so
states match mlGeNN to float32 rounding and gradients to a few 1e-7.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

# Neuron kinds (kind column of the per-neuron integer parameters).
K_NONE, K_INPUT, K_LIF, K_ALIF, K_OUT = 0, 1, 2, 3, 4
# Per-neuron float parameters (columns of nrn_f).
NF_VTH, NF_VRESET, NF_TREFRAC, NF_BETA, NF_ALPHA, NF_PSI_SCALE, NF_ISCALE = range(7)
N_NF = 7
# Per-neuron integer parameters (columns of nrn_i; NI_COL: index among the hidden neurons).
NI_KIND, NI_HAS_RF, NI_REL_RESET, NI_IDR, NI_COL = range(5)
N_NI = 5
# Hidden populations: integer (hp_i) and float (hp_f) columns.
HP_START, HP_END, HP_COL0, HP_U0, HP_ALIF, HP_HAS_RF, HP_REL_RESET, HP_IDR = range(8)
HF_VTH, HF_VRESET, HF_TREFRAC, HF_BETA, HF_PSI_SCALE, HF_ISCALE = range(6)
# Output populations (columns of opop).
OP_START, OP_END, OP_LOSS, OP_READOUT, OP_COL0 = range(5)
N_OP = 5
LOSS_SCE, LOSS_MSE = 0, 1
# Output readouts (which variable is read is decided by the loss).
RD_VAR, RD_SUM, RD_AVG = 0, 1, 2
# Global scalars (entries of glob).
G_ALPHA, G_RHO, G_AFAV, G_ONE_M_AFAV, G_FTARGET, G_CREG = range(6)
N_G = 6
#: smallest normal float32; traces that decay below it are flushed to zero
FLT_MIN = np.float32(np.finfo(np.float32).tiny)
# Recordable variables (rec_var codes; the first four match the CPU engine's).
R_V, R_A, R_RF, R_READOUT, R_E, R_DBIAS, R_SOFTMAX, R_Z, R_PSI, R_FAVG, R_ZHAT = range(11)
REC_CODES = {"v": R_V, "a": R_A, "refractime": R_RF, "readout": R_READOUT, "e": R_E,
             "deltabias": R_DBIAS, "vsoftmax": R_SOFTMAX, "z": R_Z, "psi": R_PSI,
             "favg": R_FAVG, "zfilter": R_ZHAT}


@njit(cache=True, inline="always")
def _pre_step(b, step, kk, learn, glob, in_rng, work_pos, ev_step, ev_gid, ev_ptr, ev_end,
              fb_w, out_gid, E, FB, ZH, ZH_N, SPK_N, SB):
    """Slot ``b``'s work before the hidden neurons: the feedback of the previous step's
    output errors to every hidden neuron (``FB = fb_w.T @ E_out``, per hidden neuron
    summed in output order), then the input neurons: traces decay, staged input
    events of this step fire. When learning, clears row ``kk`` of the spike flags
    and flags the input spikes."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    alpha = glob[G_ALPHA]
    fb = FB[b]
    fb[:] = zero
    for o in range(fb_w.shape[0]):
        e = E[b, out_gid[o]]
        w = fb_w[o]
        for j in range(fb.shape[0]):
            fb[j] += w[j] * e
    if learn:
        SB[b, kk, :] = 0
    for r in range(in_rng.shape[0]):
        for gid in range(in_rng[r, 0], in_rng[r, 1]):
            zf = ZH[b, gid] * alpha
            if zf < FLT_MIN:
                zf = zero
            ZH_N[b, gid] = zf
            SPK_N[b, gid] = zero
    p = ev_ptr[b]
    while p < ev_end[b] and ev_step[p] == step:
        gid = ev_gid[p]
        ZH_N[b, gid] += one
        SPK_N[b, gid] = one
        if learn:
            SB[b, kk, work_pos[gid]] = 1
        p += 1
    ev_ptr[b] = p


@njit(cache=True, inline="always")
def _hidden(b, p, g0, g1, kk, dt, learn, glob, hp_i, hp_f, X, V, RF, A, PSI, FAVG, E, FB,
            ZH, ZH_N, SPK_N, n_hid, GB, SB):
    """One step of hidden neurons ``g0 .. g1-1`` of hidden population ``p``, slot ``b``.

    The population's constants are hoisted (``hp_i``/``hp_f`` rows) and the update is
    written with selects, so the loop over neurons has no data-dependent branches.
    When learning, records into row ``kk`` of the block buffers what the gradient
    needs (``eprop_gradient``): the previous step's psi, regularisation factor and
    learning signal, and whether the neuron spikes.
    """
    zero = np.float32(0.0)
    one = np.float32(1.0)
    alpha = glob[G_ALPHA]
    rho = glob[G_RHO]
    afav = glob[G_AFAV]
    one_m_afav = glob[G_ONE_M_AFAV]
    ft = glob[G_FTARGET]
    creg = glob[G_CREG]
    start = hp_i[p, HP_START]
    c0 = hp_i[p, HP_COL0] + g0 - start
    u0 = hp_i[p, HP_U0] + g0 - start
    alif = hp_i[p, HP_ALIF] != 0
    has_rf = hp_i[p, HP_HAS_RF] != 0
    rel_reset = hp_i[p, HP_REL_RESET] != 0
    idr = hp_i[p, HP_IDR] != 0
    vth = hp_f[p, HF_VTH]
    vreset = hp_f[p, HF_VRESET]
    rel = vth - vreset
    trefrac = hp_f[p, HF_TREFRAC]
    beta_a = hp_f[p, HF_BETA]
    psi_scale = hp_f[p, HF_PSI_SCALE]
    iscale = hp_f[p, HF_ISCALE]
    row = GB[b, kk]
    flags = SB[b, kk]
    for i in range(g1 - g0):
        gid = g0 + i
        c = c0 + i
        fav = FAVG[b, gid]
        if learn:
            # the previous step's values the synapses of mlGeNN's step would use:
            # columns [psi | reg | L | ...] of the block buffer (eprop_gradient.filter_block)
            row[c] = PSI[b, gid]
            row[n_hid + c] = (fav - ft) * creg
            row[2 * n_hid + c] = E[b, gid]
        # input current: last step's spikes, delivered by _end_step
        isyn = X[b, gid]
        X[b, gid] = zero
        v = V[b, gid]
        rf = RF[b, gid]
        in_rf = has_rf and rf > zero
        if in_rf:
            rf -= dt
        if idr or not in_rf:
            v = alpha * v + iscale * isyn
        a = A[b, gid] * rho if alif else zero
        thr = vth + beta_a * a if alif else vth
        E[b, gid] = FB[b, c]
        fav = fav * afav
        still_rf = has_rf and rf > zero
        psi = zero if still_rf else psi_scale * max(zero, one - abs((v - thr) / vth))
        PSI[b, gid] = psi
        zf = ZH[b, gid] * alpha
        if zf < FLT_MIN:
            zf = zero
        fire = v >= thr and not still_rf
        if fire:
            v = v - rel if rel_reset else vreset
            a += one
            if has_rf:
                rf = trefrac
            fav += one_m_afav
            zf += one
        SPK_N[b, gid] = one if fire else zero
        if learn:
            flags[u0 + i] = 1 if fire else 0
        V[b, gid] = v
        RF[b, gid] = rf
        if alif:
            A[b, gid] = a
        FAVG[b, gid] = fav
        ZH_N[b, gid] = zf


@njit(cache=True, inline="always")
def _outputs(b, step, kk, T, learn, train_bias, nrn_f, bias, X, opop,
             V, E, SM, R, DB, LSUM, labels, targets, ecol0, GB):
    """One step of every output population in slot ``b``: V, error, readout, softmax.

    When learning, the previous step's errors go to row ``kk`` of the block buffer
    (columns from ``ecol0``: the output-weight gradient's postsynaptic factor).
    """
    zero = np.float32(0.0)
    one = np.float32(1.0)
    inv_t = np.float32(1.0 / T)
    for po in range(opop.shape[0]):
        o0 = opop[po, OP_START]
        o1 = opop[po, OP_END]
        loss = opop[po, OP_LOSS]
        ro = opop[po, OP_READOUT]
        col0 = opop[po, OP_COL0]
        y = labels[b, po]
        for k in range(o0, o1):
            isyn = X[b, k]
            X[b, k] = zero
            v = nrn_f[k, NF_ALPHA] * V[b, k] + nrn_f[k, NF_ISCALE] * isyn + bias[k]
            V[b, k] = v
            if loss == LOSS_SCE:
                out = SM[b, k]
                e = out - (one if k - o0 == y else zero)
            else:
                out = v
                e = v - targets[b, step, col0 + k - o0]
            if learn:
                GB[b, kk, ecol0 + col0 + k - o0] = E[b, k]
            if ro == RD_SUM:
                R[b, k] += out
            elif ro == RD_AVG:
                R[b, k] += inv_t * out
            else:
                R[b, k] = out
            E[b, k] = e
            LSUM[b, k] += e * e
            if train_bias and learn:
                DB[b, k] += e
        if loss == LOSS_SCE:
            mx = V[b, o0]
            for k in range(o0 + 1, o1):
                if V[b, k] > mx:
                    mx = V[b, k]
            tot = zero
            for k in range(o0, o1):
                tot += np.exp(V[b, k] - mx)
            for k in range(o0, o1):
                SM[b, k] = np.exp(V[b, k] - mx) / tot


@njit(cache=True, inline="always")
def _end_step(b, r, step, work, ZH, SPK, ZH_N, SPK_N, X, dl_ptr, dl_pre, dl_post, dl_w, dl_run,
              V, A, RF, R, E, DB, SM, PSI, FAVG,
              rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt):
    """New spikes/traces become the previous ones and are delivered for the next step
    (rows in connection order, then presynaptic id: GeNN's summation order); record."""
    zero = np.float32(0.0)
    # whole rows: output neurons keep 0 in both buffers
    ZH[b, :] = ZH_N[b, :]
    SPK[b, :] = SPK_N[b, :]
    for row in range(dl_pre.shape[0]):
        if SPK[b, dl_pre[row]] != zero:
            _deliver_row(X[b], row, dl_ptr, dl_post, dl_w, dl_run)
    for k in range(rec_gid.shape[0]):
        _record(rec, b, r, k, rec_var[k], rec_gid[k], V, A, RF, R, E, DB, SM, SPK, PSI,
                FAVG, ZH)
    if srec_step.shape[1] == 0:
        return
    for u in range(work.shape[0]):
        gid = work[u]
        if srec_mask[gid] != 0 and SPK[b, gid] != zero:
            c = srec_cnt[b]
            if c < srec_step.shape[1]:
                srec_step[b, c] = step
                srec_id[b, c] = gid
                srec_cnt[b] = c + 1


@njit(cache=True)
def redeliver(SPK, X, dl_ptr, dl_pre, dl_post, dl_w, dl_run):
    """Recompute the pending input of the last step's spikes (after a weight change)."""
    zero = np.float32(0.0)
    for b in range(X.shape[0]):
        for n in range(X.shape[1]):
            X[b, n] = zero
        for row in range(dl_pre.shape[0]):
            if SPK[b, dl_pre[row]] != zero:
                _deliver_row(X[b], row, dl_ptr, dl_post, dl_w, dl_run)


@njit(cache=True, inline="always")
def _deliver_row(x, row, dl_ptr, dl_post, dl_w, dl_run):
    """Add the weights of one spiking row to the targets' inputs ``x``; rows whose targets
    are a run of consecutive neurons (dense connections) take the vectorised form."""
    s0 = dl_ptr[row]
    s1 = dl_ptr[row + 1]
    g0 = dl_run[row]
    if g0 >= 0:
        xs = x[g0:g0 + s1 - s0]
        ws = dl_w[s0:s1]
        for i in range(s1 - s0):
            xs[i] += ws[i]
    else:
        for s in range(s0, s1):
            x[dl_post[s]] += dl_w[s]


def eprop_steps(step0: int, step1: int, k0: int, T: int, dt: np.float32, train_bias: bool,
                by_batch: bool, n_threads: int, *args: Any) -> int:
    """Run e-prop steps [step0, step1) for every batch slot, updating all state in place.

    Shapes: state ``(B, N)`` float32 indexed by global neuron id; ``work``: the
    non-output neurons, ``work_pos`` each gid's position in it; ``hp_i``/``hp_f``
    the hidden populations' constants, ``hid_gid``/``hid_pop`` every hidden
    neuron and its population; ``in_rng`` (R, 2) the gid ranges of the input
    populations; input events (``staging.stage_spike_inputs``)
    ``ev_step``/``ev_gid`` with per-slot cursors ``ev_ptr`` up to ``ev_end``;
    ``fb_w`` (n_out, n_hid): summed output weights, ``out_gid`` the output
    neurons in column order; ``FB`` (B, n_hid): scratch for the feedback.
    ``labels`` ``(B, n_outpops)``; ``targets`` ``(B, T, n_out)`` (MSE); ``LSUM``
    ``(B, N)`` accumulates the squared output errors. When ``learn``, step
    ``step`` fills row ``k0 + step - step0`` of the gradient's block buffers:
    ``GB`` (B, K, 3*n_hid + n_out) float32 and ``SB`` (B, K, >=len(work)) uint8
    (see ``eprop_gradient``); otherwise they are left alone (evaluation).
    ``rec[b, step - step0, k]`` records variable ``rec_var[k]`` of neuron
    ``rec_gid[k]``; spikes of neurons with ``srec_mask`` set are appended to
    ``srec_step``/``srec_id``.

    ``by_batch``: each of ``n_threads`` threads runs whole trials of its own
    batch slots (no synchronisation per step); otherwise every step runs in
    parallel over hidden neurons, with the per-slot work before and after it in
    parallel over the batch (for small batches). The two schedules are separate
    kernels, so a process compiles only the one it uses.
    """
    kernel = _steps_by_batch if by_batch else _steps_by_neuron
    return kernel(step0, step1, k0, T, dt, train_bias, n_threads, *args)


@njit(cache=True, parallel=True)
def _steps_by_batch(step0, step1, k0, T, dt, train_bias, n_threads,
                    glob, nrn_f, bias, work, hp_i, hp_f, hid_gid, hid_pop, in_rng, work_pos,
                    ev_step, ev_gid, ev_ptr, ev_end, fb_w, out_gid,
                    dl_ptr, dl_pre, dl_post, dl_w, dl_run, opop,
                    V, RF, A, PSI, FAVG, E, FB, ZH, SPK, ZH_N, SPK_N, X, SM, R, DB,
                    n_hid, GB, SB,
                    labels, targets, LSUM, learn,
                    rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt):
    """``eprop_steps`` with each thread running whole trials of its batch slots."""
    B = V.shape[0]
    ecol0 = 3 * n_hid
    C = min(B, n_threads)
    per = (B + C - 1) // C
    for ch in prange(C):
        for b in range(ch * per, min(B, (ch + 1) * per)):
            for step in range(step0, step1):
                kk = k0 + step - step0
                _pre_step(b, step, kk, learn, glob, in_rng, work_pos, ev_step, ev_gid,
                          ev_ptr, ev_end, fb_w, out_gid, E, FB, ZH, ZH_N, SPK_N, SB)
                for p in range(hp_i.shape[0]):
                    _hidden(b, p, hp_i[p, HP_START], hp_i[p, HP_END], kk, dt, learn, glob,
                            hp_i, hp_f, X, V, RF, A, PSI, FAVG, E, FB, ZH, ZH_N, SPK_N,
                            n_hid, GB, SB)
                _outputs(b, step, kk, T, learn, train_bias, nrn_f, bias, X,
                         opop, V, E, SM, R, DB, LSUM, labels, targets, ecol0, GB)
                _end_step(b, step - step0, step, work, ZH, SPK, ZH_N, SPK_N, X, dl_ptr,
                          dl_pre, dl_post, dl_w, dl_run, V, A, RF, R, E, DB, SM, PSI, FAVG,
                          rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt)
    return 0


@njit(cache=True, parallel=True)
def _steps_by_neuron(step0, step1, k0, T, dt, train_bias, n_threads,
                     glob, nrn_f, bias, work, hp_i, hp_f, hid_gid, hid_pop, in_rng, work_pos,
                     ev_step, ev_gid, ev_ptr, ev_end, fb_w, out_gid,
                     dl_ptr, dl_pre, dl_post, dl_w, dl_run, opop,
                     V, RF, A, PSI, FAVG, E, FB, ZH, SPK, ZH_N, SPK_N, X, SM, R, DB,
                     n_hid, GB, SB,
                     labels, targets, LSUM, learn,
                     rec_gid, rec_var, rec, srec_mask, srec_step, srec_id, srec_cnt):
    """``eprop_steps`` with every step parallel over hidden neurons, then over the batch."""
    B = V.shape[0]
    Hn = hid_gid.shape[0]
    ecol0 = 3 * n_hid
    for step in range(step0, step1):
        kk = k0 + step - step0
        for b in prange(B):
            _pre_step(b, step, kk, learn, glob, in_rng, work_pos, ev_step, ev_gid, ev_ptr,
                      ev_end, fb_w, out_gid, E, FB, ZH, ZH_N, SPK_N, SB)
        for h in prange(Hn):
            gid = hid_gid[h]
            for b in range(B):
                _hidden(b, hid_pop[h], gid, gid + 1, kk, dt, learn, glob, hp_i, hp_f, X, V, RF,
                        A, PSI, FAVG, E, FB, ZH, ZH_N, SPK_N, n_hid, GB, SB)
        for b in prange(B):
            _outputs(b, step, kk, T, learn, train_bias, nrn_f, bias, X, opop,
                     V, E, SM, R, DB, LSUM, labels, targets, ecol0, GB)
            _end_step(b, step - step0, step, work, ZH, SPK, ZH_N, SPK_N, X, dl_ptr, dl_pre,
                      dl_post, dl_w, dl_run, V, A, RF, R, E, DB, SM, PSI, FAVG, rec_gid, rec_var,
                      rec, srec_mask, srec_step, srec_id, srec_cnt)
    return 0


@njit(cache=True)
def _record(rec, b, r, k, code, gid, V, A, RF, R, E, DB, SM, SPK, PSI, FAVG, ZH):
    if code == R_V:
        rec[b, r, k] = V[b, gid]
    elif code == R_A:
        rec[b, r, k] = A[b, gid]
    elif code == R_RF:
        rec[b, r, k] = RF[b, gid]
    elif code == R_READOUT:
        rec[b, r, k] = R[b, gid]
    elif code == R_E:
        rec[b, r, k] = E[b, gid]
    elif code == R_DBIAS:
        rec[b, r, k] = DB[b, gid]
    elif code == R_SOFTMAX:
        rec[b, r, k] = SM[b, gid]
    elif code == R_Z:
        rec[b, r, k] = SPK[b, gid]
    elif code == R_PSI:
        rec[b, r, k] = PSI[b, gid]
    elif code == R_FAVG:
        rec[b, r, k] = FAVG[b, gid]
    else:
        rec[b, r, k] = ZH[b, gid]
