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
and the eligibility traces at the block's end. Memory is O(batch x synapses)
plus the block buffers, whatever the number of timesteps.

The operation order inside a step, and every float32 expression of the
neuron dynamics, follows the fixtures' README ("EPropCompiler" section), so
states match mlGeNN to float32 rounding and gradients to a few 1e-7.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from .cpu import Profiler, Recording
from .eprop_gradient import gradient_block, gradient_chunks
from .kernels import stage_spike_inputs
from .layout import F_ISCALE, LI, P_END, P_START, P_TYPE, SPIKE_INPUT, Layout

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
    populations; input events (``kernels.stage_spike_inputs``)
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


class EPropSimulator:
    """State arrays of e-prop training for ``batch_size`` parallel trials, and the kernel calls.

    ``out_losses`` maps each output population to LOSS_SCE or LOSS_MSE;
    ``out_readouts`` to RD_VAR, RD_SUM or RD_AVG. Every other non-input
    population is hidden (LIF or ALIF). ``tau_mem``/``tau_adapt`` are the
    hidden populations' shared time constants. ``parallel`` picks how threads
    share the work: "batch" (whole trials per thread), "neurons" (every step
    in parallel over neurons) or "auto". ``block_steps``: timesteps per gradient
    block (``eprop_gradient``); None picks it so the block buffers take about as
    much memory as the eligibility state. ``gradient``: how a block's products run,
    "sparse" (a row add per spike), "dense" (BLAS GEMMs) or "auto" (by spike rate).
    """

    #: State that carries from one trial into the next (e-prop keeps V, traces and
    #: errors across trials); saved in checkpoints so a resumed run continues exactly.
    CARRIED_STATE = ("V", "RF", "A", "PSI", "FAVG", "E", "ZH", "SPK", "ZH_N", "SPK_N", "X",
                     "SM", "EF", "EPSA")

    name = "cpu-eprop"

    def __init__(self, layout: Layout, batch_size: int, dt: float, example_timesteps: int,
                 out_losses: dict[str, int], out_readouts: dict[str, int], tau_mem: float,
                 tau_adapt: float | None, tau_reg: float, c_reg: float, f_target: float,
                 train_bias: bool, profiling: bool = False, parallel: str = "auto",
                 block_steps: int | None = None, gradient: str = "auto") -> None:
        self.layout = lay = layout
        self.B = B = int(batch_size)
        self.dt = np.float32(dt)
        self.T = int(example_timesteps)
        self.train_bias = bool(train_bias)
        self.profiler = Profiler(profiling)
        N = max(lay.n_neurons, 1)
        f = np.float32
        glob = np.zeros(N_G, np.float32)
        glob[G_ALPHA] = np.exp(-dt / tau_mem)
        glob[G_RHO] = np.exp(-dt / tau_adapt) if tau_adapt is not None else 0.0
        afav = f(np.exp(-dt / tau_reg))
        glob[G_AFAV] = afav
        glob[G_ONE_M_AFAV] = f(1.0) - afav
        glob[G_FTARGET] = (f_target * dt) / 1000.0
        glob[G_CREG] = c_reg
        self.glob = glob
        nrn_i = np.zeros((N, N_NI), np.int64)
        nrn_f = np.zeros((N, N_NF), np.float32)
        opop_rows = []
        col = 0
        work = []
        for p, pop in enumerate(lay.populations):
            s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
            ptype = int(lay.pop_i[p, P_TYPE])
            nrn = pop.neuron
            if ptype == SPIKE_INPUT:
                nrn_i[s0:s1, NI_KIND] = K_INPUT
                work.extend(range(s0, s1))
            elif pop.name in out_losses:
                if ptype != LI:
                    raise ValueError(f"e-prop output '{pop.name}' must be LeakyIntegrate")
                nrn_i[s0:s1, NI_KIND] = K_OUT
                nrn_f[s0:s1, NF_ALPHA] = np.exp(-dt / nrn.tau_mem)
                nrn_f[s0:s1, NF_ISCALE] = lay.pop_f[p, F_ISCALE]
                opop_rows.append((s0, s1, out_losses[pop.name], out_readouts[pop.name], col))
                col += s1 - s0
            else:
                alif = hasattr(nrn, "tau_adapt")
                nrn_i[s0:s1, NI_KIND] = K_ALIF if alif else K_LIF
                nrn_i[s0:s1, NI_HAS_RF] = int(nrn.tau_refrac is not None)
                nrn_i[s0:s1, NI_REL_RESET] = int(nrn.relative_reset)
                nrn_i[s0:s1, NI_IDR] = int(nrn.integrate_during_refrac)
                nrn_f[s0:s1, NF_ISCALE] = lay.pop_f[p, F_ISCALE]
                vth = f(nrn.v_thresh)
                nrn_f[s0:s1, NF_VTH] = vth
                nrn_f[s0:s1, NF_VRESET] = nrn.v_reset
                nrn_f[s0:s1, NF_TREFRAC] = nrn.tau_refrac or 0.0
                nrn_f[s0:s1, NF_BETA] = nrn.beta if alif else 0.0
                nrn_f[s0:s1, NF_PSI_SCALE] = (f(1.0) / vth) * f(0.3)
                work.extend(range(s0, s1))
        self.nrn_i, self.nrn_f = nrn_i, nrn_f
        self.work = np.asarray(work, np.int64)
        self.opop = np.asarray(opop_rows, np.int64).reshape(-1, N_OP)
        self.out_pops = [pop.name for pop in lay.populations if pop.name in out_losses]
        self.n_out_cols = col
        kind = nrn_i[:, NI_KIND]
        self.has_alif = bool(np.any(kind == K_ALIF))
        # gradient rows: every non-output neuron, in work order; columns: hidden, then outputs
        hid = np.flatnonzero((kind == K_LIF) | (kind == K_ALIF))
        nrn_i[hid, NI_COL] = np.arange(hid.shape[0])
        self.n_hid = int(hid.shape[0])
        self.beta_h = nrn_f[hid, NF_BETA].copy()
        self.work_pos = work_pos = np.full(N, -1, np.int64)
        work_pos[self.work] = np.arange(self.work.shape[0])
        self.hid_gid = hid
        hp_i, hp_f, hid_pop = [], [], np.zeros(hid.shape[0], np.int64)
        for p in range(len(lay.populations)):
            s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
            if s1 > s0 and nrn_i[s0, NI_KIND] in (K_LIF, K_ALIF):
                c0 = int(nrn_i[s0, NI_COL])
                hid_pop[c0:c0 + s1 - s0] = len(hp_i)
                hp_i.append((s0, s1, c0, work_pos[s0], nrn_i[s0, NI_KIND] == K_ALIF,
                             nrn_i[s0, NI_HAS_RF], nrn_i[s0, NI_REL_RESET], nrn_i[s0, NI_IDR]))
                hp_f.append([nrn_f[s0, k] for k in (NF_VTH, NF_VRESET, NF_TREFRAC, NF_BETA,
                                                    NF_PSI_SCALE, NF_ISCALE)])
        self.hp_i = np.asarray(hp_i, np.int64).reshape(-1, 8)
        self.hp_f = np.asarray(hp_f, np.float32).reshape(-1, 6)
        self.hid_pop = hid_pop
        self.in_rng = np.asarray(
            [(lay.pop_i[p, P_START], lay.pop_i[p, P_END]) for p in range(len(lay.populations))
             if lay.pop_i[p, P_TYPE] == SPIKE_INPUT], np.int64).reshape(-1, 2)
        out_col = np.full(N, -1, np.int64)
        for o0, o1, _loss, _ro, c0 in self.opop:
            out_col[o0:o1] = np.arange(c0, c0 + o1 - o0)
        # synapses: flat index, global pre and post ids (connection order, then pre, then post)
        pres, posts, widx = [], [], []
        for c, conn in enumerate(lay.connections):
            pre_p, post_p = int(lay.conn_i[c, 0]), int(lay.conn_i[c, 1])
            woff, rpo = int(lay.conn_i[c, 3]), int(lay.conn_i[c, 4])
            n_pre = conn.source.num_neurons
            rp = lay.row_ptr[rpo:rpo + n_pre + 1]
            counts = np.diff(rp)
            n_syn = int(rp[-1])
            pres.append(np.repeat(np.arange(n_pre, dtype=np.int64), counts)
                        + lay.pop_i[pre_p, P_START])
            posts.append(lay.syn_post[woff:woff + n_syn].astype(np.int64)
                         + lay.pop_i[post_p, P_START])
            widx.append(np.arange(woff, woff + n_syn, dtype=np.int64))
        pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        wi = np.concatenate(widx) if widx else np.zeros(0, np.int64)
        to_out = kind[post] == K_OUT if post.size else np.zeros(0, bool)
        # each synapse's gradient is one entry of the dense (pre, post) gradient matrix DG
        self.syn_widx = wi
        self.syn_row = work_pos[pre]
        self.syn_col = np.where(to_out, self.n_hid + out_col[post], nrn_i[post, NI_COL])
        # hidden -> output synapses: the symmetric feedback of the output errors goes
        # through their weights, summed per (output, hidden) pair into fb_w
        fbs = to_out & (nrn_i[pre, NI_KIND] != K_INPUT) if pre.size else to_out
        self.fb_widx = wi[fbs]
        self.fb_pos = (out_col[post[fbs]], nrn_i[pre[fbs], NI_COL])
        self.fb_w = np.zeros((self.n_out_cols, self.n_hid), np.float32)
        self.out_gid = np.flatnonzero(out_col >= 0)[np.argsort(out_col[out_col >= 0])]
        # spike delivery rows: one per (connection, presynaptic neuron), in that order
        row_pre, row_ptr = [], [np.zeros(1, np.int64)]
        for c, conn in enumerate(lay.connections):
            pre_p, rpo = int(lay.conn_i[c, 0]), int(lay.conn_i[c, 4])
            n_pre = conn.source.num_neurons
            rp = lay.row_ptr[rpo:rpo + n_pre + 1]
            row_pre.append(np.arange(n_pre, dtype=np.int64) + lay.pop_i[pre_p, P_START])
            row_ptr.append(np.diff(rp))
        self.dl_pre = np.concatenate(row_pre) if row_pre else np.zeros(0, np.int64)
        self.dl_ptr = np.cumsum(np.concatenate(row_ptr)).astype(np.int64)
        self.dl_post = post
        # rows whose targets are consecutive neurons: their first target, else -1
        n_row = np.diff(self.dl_ptr)
        starts = self.dl_ptr[:-1][n_row > 0]
        first = np.full(n_row.shape[0], -1, np.int64)
        first[n_row > 0] = post[starts]
        step_ok = np.ones(post.shape[0], bool)
        step_ok[1:] = np.diff(post) == 1
        step_ok[starts] = True  # a row's first synapse starts its run
        bad_rows = np.zeros(n_row.shape[0] + 1, np.int64)
        np.add.at(bad_rows, np.searchsorted(self.dl_ptr, np.flatnonzero(~step_ok),
                                            side="right") - 1, 1)
        self.dl_run = np.where((bad_rows[:-1] == 0) & (n_row > 0), first, -1).astype(np.int64)
        self.dl_widx = wi
        self.dl_w = np.zeros(self.dl_widx.shape[0], np.float32)
        self.refresh_weights()
        # state
        shape = (B, N)
        self.V = np.zeros(shape, np.float32)
        self.RF = np.zeros(shape, np.float32)
        self.A = np.zeros(shape, np.float32)
        self.PSI = np.zeros(shape, np.float32)
        self.FAVG = np.zeros(shape, np.float32)
        self.E = np.zeros(shape, np.float32)
        self.ZH = np.zeros(shape, np.float32)
        self.SPK = np.zeros(shape, np.float32)
        self.ZH_N = np.zeros(shape, np.float32)
        self.SPK_N = np.zeros(shape, np.float32)
        self.X = np.zeros(shape, np.float32)
        self.SM = np.zeros(shape, np.float32)
        self.R = np.zeros(shape, np.float32)
        self.DB = np.zeros(shape, np.float32)
        self.LSUM = np.zeros(shape, np.float32)
        threads = numba.get_num_threads()
        #: each thread runs whole trials of its own batch slots (no per-step barrier, a
        #: slot's state stays in cache) unless the batch is too small to keep at least
        #: half the threads busy; then every step runs in parallel over neurons
        if parallel not in ("auto", "batch", "neurons"):
            raise ValueError(f"parallel={parallel!r}: allowed 'auto', 'batch', 'neurons'")
        self.by_batch = 2 * B >= threads if parallel == "auto" else parallel == "batch"
        # eligibility state per (slot, presynaptic, hidden postsynaptic) neuron at block
        # boundaries, the gradient matrix, and the per-block buffers (eprop_gradient)
        U, H, O = self.work.shape[0], self.n_hid, self.n_out_cols
        self.EF = np.zeros((B, U, H), np.float32)
        self.EPSA = np.zeros((B, U, H if self.has_alif else 0), np.float32)
        self.DG = np.zeros((gradient_chunks(B, threads), U, H + O), np.float32)
        per_step = B * (4 * (3 * H + O) + U)
        if block_steps is None:
            block_steps = min(1024, max(16, (self.EF.nbytes + self.EPSA.nbytes) // per_step))
        if int(block_steps) < 1:
            raise ValueError(f"block_steps={block_steps}: must be >= 1")
        n_blocks = -(-self.T // int(block_steps))
        #: steps per gradient block: at most block_steps, spread evenly over the trial
        self.block = -(-self.T // n_blocks)
        self.GB = np.zeros((B, self.block, 3 * H + O), np.float32)
        self.SB = np.zeros((B, self.block, -(-U // 8) * 8), np.uint8)
        self.Z0 = np.zeros((B, U), np.float32)
        self.COEF = np.zeros((B, 4, H), np.float32)
        self.FB = np.zeros((B, H), np.float32)
        if gradient not in ("auto", "sparse", "dense"):
            raise ValueError(f"gradient={gradient!r}: allowed 'auto', 'sparse', 'dense'")
        self.gradient = gradient
        #: scratch of the dense form (allocated on first use) and blocks run per form
        self.dense_scratch: dict[str, np.ndarray] = {}
        self.block_forms = {"sparse": 0, "dense": 0}
        self.in_end = np.zeros(shape, np.int64)
        self.cursor = np.zeros(shape, np.int64)
        self.in_times = np.zeros(1, np.float32)
        self.labels = np.zeros((B, max(len(self.out_pops), 1)), np.int64)
        self.targets = np.zeros((1, 1, 1), np.float32)
        self.trials = 0
        self.reset_state()

    # ----- weights and gradients ---------------------------------------------------------
    def refresh_weights(self) -> None:
        """Copy the layout's flat weights into the kernel's synapse orders (after each update)."""
        w = self.layout.weights
        self.fb_w[:] = 0
        np.add.at(self.fb_w, self.fb_pos, w[self.fb_widx])
        self.dl_w[:] = w[self.dl_widx]
        if hasattr(self, "X"):
            # spikes of the last step are delivered in the next step, with the new weights
            redeliver(self.SPK, self.X, self.dl_ptr, self.dl_pre, self.dl_post, self.dl_w,
                      self.dl_run)

    def take_gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """(DeltaG per flat synapse, DeltaBias per neuron), summed over the batch; then zeroed."""
        g = np.zeros(self.layout.weights.shape[0], np.float32)
        dg = self.DG.sum(axis=0, dtype=np.float32) if self.DG.shape[0] > 1 else self.DG[0]
        g[self.syn_widx] = dg[self.syn_row, self.syn_col]
        db = self.DB.sum(axis=0, dtype=np.float32) if self.B > 1 else self.DB[0].copy()
        self.DG[:] = 0
        self.DB[:] = 0
        return g, db[:self.layout.n_neurons]

    # ----- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Every variable back to its initial value (V and A from the model)."""
        lay = self.layout
        for a in (self.RF, self.PSI, self.FAVG, self.E, self.ZH, self.SPK, self.ZH_N,
                  self.SPK_N, self.X, self.SM, self.DB, self.EF, self.EPSA, self.DG):
            a[:] = 0
        n = lay.n_neurons
        self.V[:, :n] = lay.v_init
        self.A[:, :n] = lay.a_init
        self.trials = 0
        self.reset_readouts()

    def reset_readouts(self) -> None:
        """Zero the readouts and per-trial squared errors (start of every batch)."""
        self.R[:] = 0
        self.LSUM[:] = 0

    def readout(self, pop_name: str) -> np.ndarray:
        """Readout values (B, n) of an output population."""
        return self.R[:, self.layout.pop_slice(pop_name)].copy()

    def squared_error(self, pop_name: str) -> np.ndarray:
        """Per batch slot, the sum over the last trial's steps of (V - target)^2 (MSE outputs)."""
        return self.LSUM[:, self.layout.pop_slice(pop_name)].copy()

    # ----- inputs ------------------------------------------------------------------------
    def set_inputs(self, inputs: dict[str, list], n_active: int) -> None:
        """Stage one batch of PreprocessedSpikes per SpikeInput population."""
        lay = self.layout
        self.in_end[:] = 0
        self.cursor[:] = 0
        times = []
        off = 0
        for name, examples in inputs.items():
            p = lay.pop_index[name]
            s0 = int(lay.pop_i[p, P_START])
            n = int(lay.pop_i[p, P_END]) - s0
            for b, ex in enumerate(examples[:n_active]):
                ends = np.asarray(ex.end_spikes, dtype=np.int64)
                st = np.asarray(ex.spike_times, dtype=np.float32)
                self.cursor[b, s0:s0 + n] = np.concatenate(([0], ends[:-1])) + off
                self.in_end[b, s0:s0 + n] = ends + off
                times.append(st)
                off += st.shape[0]
        self.in_times = np.concatenate(times) if times else np.zeros(1, np.float32)
        if self.in_times.shape[0] == 0:
            self.in_times = np.zeros(1, np.float32)

    def set_labels(self, labels: dict[str, np.ndarray], n_active: int) -> None:
        """Class labels (SCE outputs) or per-step targets (n, T, n_out) (MSE outputs)."""
        lay = self.layout
        need_targets = bool(np.any(self.opop[:, OP_LOSS] == LOSS_MSE))
        if need_targets and self.targets.shape != (self.B, self.T, self.n_out_cols):
            self.targets = np.zeros((self.B, self.T, self.n_out_cols), np.float32)
        self.labels[:] = 0
        for po, name in enumerate(self.out_pops):
            if name not in labels:
                continue
            y = np.asarray(labels[name])[:n_active]
            if self.opop[po, OP_LOSS] == LOSS_SCE:
                self.labels[:n_active, po] = y
            else:
                c0 = int(self.opop[po, OP_COL0])
                n = lay.populations[lay.pop_index[name]].num_neurons
                y = y.astype(np.float32)
                if y.ndim == 2:
                    y = y[:, None, :]
                self.targets[:n_active, :, c0:c0 + n] = y

    # ----- running -----------------------------------------------------------------------
    def run_trial(self, n_active: int, learn: bool = True,
                  record_vars: list[tuple[str, str]] | None = None,
                  record_spikes: list[str] | None = None,
                  step_callback: Any = None, reset_time: bool = True) -> Recording:
        """Simulate one trial of T steps for the first ``n_active`` batch slots."""
        lay = self.layout
        B = n_active
        rec = Recording()
        gids, codes = [], []
        for key in record_vars or []:
            pop, var = key
            code = REC_CODES.get(var.lower())
            if code is None:
                raise ValueError(f"cannot record variable '{var}' of population '{pop}'; "
                                 f"recordable: {', '.join(REC_CODES)}")
            sl = lay.pop_slice(pop)
            start = len(gids)
            gids.extend(range(sl.start, sl.stop))
            codes.extend([code] * (sl.stop - sl.start))
            rec.var_keys.append(key)
            rec.var_slices[key] = slice(start, len(gids))
        rec_gid = np.asarray(gids, np.int64)
        rec_var = np.asarray(codes, np.int64)
        srec_mask = np.zeros(max(lay.n_neurons, 1), np.int8)
        n_srec = 0
        for name in record_spikes or []:
            sl = lay.pop_slice(name)
            srec_mask[sl] = 1
            n_srec += sl.stop - sl.start
            rec.spike_pops.append(name)
        chunk = self.T if step_callback is None else 1
        if n_srec and step_callback is None:
            chunk = max(1, min(self.T, (1 << 24) // max(1, n_srec * B)))
        values = np.zeros((B, self.T, len(gids)), np.float32) if gids else None
        steps_all: list[list[np.ndarray]] = [[] for _ in range(B)]
        ids_all: list[list[np.ndarray]] = [[] for _ in range(B)]
        time0 = 0 if reset_time else self.trials * self.T
        targets = self.targets if self.targets.shape[0] == 1 else self.targets[:B]
        threads = num_threads()
        # the batch's input spikes as events per slot, sorted by step; every staged event
        # fires in this trial, so the per-neuron cursors move past them afterwards
        ev_off, ev_step, ev_gid = stage_spike_inputs(self.cursor[:B], self.in_end[:B],
                                                     self.in_times, self.dt, self.T, time0)
        ev_ptr = ev_off[:-1].copy()
        # kernel calls end at callback/recording chunks and, when learning, at gradient blocks
        cuts = set(range(0, self.T, chunk))
        if learn:
            cuts.update(range(0, self.T, self.block))
        cuts_sorted = sorted(cuts) + [self.T]
        t0 = time.perf_counter()
        grad_s = 0.0
        block0 = 0
        for s0, s1 in zip(cuts_sorted[:-1], cuts_sorted[1:], strict=True):
            if learn and s0 % self.block == 0:
                block0 = s0
                np.take(self.ZH[:B], self.work, axis=1, out=self.Z0[:B])
            if step_callback is not None:
                step_callback.on_timestep_begin(s0)
            vbuf = (np.zeros((B, s1 - s0, len(gids)), np.float32) if gids
                    else np.zeros((1, 1, 1), np.float32))
            cap = n_srec * (s1 - s0)
            sstep = np.zeros((B, cap), np.int32)
            sid = np.zeros((B, cap), np.int32)
            scnt = np.zeros(B, np.int64)
            eprop_steps(
                s0, s1, s0 - block0, self.T, self.dt, self.train_bias, self.by_batch, threads,
                self.glob, self.nrn_f, lay.bias, self.work, self.hp_i, self.hp_f,
                self.hid_gid, self.hid_pop, self.in_rng, self.work_pos, ev_step, ev_gid,
                ev_ptr, ev_off[1:], self.fb_w, self.out_gid, self.dl_ptr, self.dl_pre,
                self.dl_post, self.dl_w, self.dl_run, self.opop,
                self.V[:B], self.RF[:B], self.A[:B], self.PSI[:B], self.FAVG[:B], self.E[:B],
                self.FB[:B], self.ZH[:B], self.SPK[:B], self.ZH_N[:B], self.SPK_N[:B],
                self.X[:B], self.SM[:B], self.R[:B], self.DB[:B], self.n_hid, self.GB[:B],
                self.SB[:B], self.labels[:B], targets, self.LSUM[:B], learn,
                rec_gid, rec_var, vbuf, srec_mask, sstep, sid, scnt)
            if learn and (s1 % self.block == 0 or s1 == self.T):
                tg = time.perf_counter()
                form = gradient_block(
                    s1 - block0, self.glob[G_ALPHA], self.glob[G_RHO], self.beta_h,
                    self.n_out_cols, self.has_alif, threads, self.GB[:B], self.SB[:B],
                    self.Z0[:B], self.COEF[:B], self.EF[:B], self.EPSA[:B], self.DG,
                    self.gradient, self.dense_scratch)
                self.block_forms[form] += 1
                grad_s += time.perf_counter() - tg
            if values is not None:
                values[:, s0:s1] = vbuf
            if n_srec:
                for b in range(B):
                    steps_all[b].append(sstep[b, :scnt[b]])
                    ids_all[b].append(sid[b, :scnt[b]])
            if step_callback is not None:
                step_callback.on_timestep_end(s1 - 1)
        for b in range(B):
            np.add.at(self.cursor[b], ev_gid[ev_off[b]:ev_off[b + 1]], 1)
        if self.profiler.enabled:
            total = time.perf_counter() - t0
            self.profiler.seconds["eprop_train" if learn else "eprop_forward"] += total - grad_s
            if learn:
                self.profiler.seconds["eprop_gradient"] += grad_s
        self.trials += 1
        rec.values = values
        if n_srec:
            rec.spike_steps = [np.concatenate(s) for s in steps_all]
            rec.spike_ids = [np.concatenate(s) for s in ids_all]
        return rec


def num_threads() -> int:
    """Threads numba runs the kernel's parallel loops on."""
    return int(numba.get_num_threads())
