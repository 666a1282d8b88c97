"""e-prop weight gradients per block of timesteps, from per-neuron time series.

The forward kernel (``eprop_kernels``) runs K steps and records, per batch
slot and step, only per-neuron values: the pseudo-derivative ``psi``, the
learning signal ``L`` and the regularisation factor ``r`` of every hidden
neuron, the output errors ``E``, and which presynaptic neurons spiked. This
module turns them into the block's weight gradient and advances the
per-synapse eligibility state (``ebar``, and ``eps_a`` for ALIF) from the
block's start to its end. Nothing per synapse is touched per step, and no
array grows with the trial length.

Derivation (full version: docs/eprop_gradient.md). In a block of K steps,
the per-synapse recursions of mlGeNN's e-prop are linear in the
presynaptic trace ``z_i(k)``, with per-postsynaptic coefficients, so

* every sum over the block ``sum_k w_j(k) e_ij(k)`` equals
  ``sum_k z_i(k) X_j(k) + eps0_ij x_j``, where ``X`` and ``x`` come from one
  backward-in-time recursion per postsynaptic neuron (``filter_block``);
  with ``w = (alpha-filtered L) + r`` it is the gradient, with
  ``w = alpha^(K-1-k)`` the change of ``ebar`` over the block, and the same
  algebra gives ``eps_a`` at the block end;
* the trace is itself a filtered spike train,
  ``z_i(k) = alpha^k z_i(0) + sum_{m<k} alpha^(k-1-m) s_i(m)``, so
  ``sum_k z_i(k) X_j(k) = z_i(0) Xf_j(0) + sum_{m: s_i(m)=1} Xf_j(m+1)`` with
  ``Xf(m) = sum_{k>=m} alpha^(k-m) X(k)``: a product with the block's sparse
  spike matrix (one contiguous row add per spike) instead of a dense
  (pre x K) by (K x post) matrix product.

So one block costs one pass over the per-synapse state (``apply_block``'s
dense part: the carried ``ebar``/``eps_a`` terms and the rank-one
``z(0)`` terms) plus one row add per presynaptic spike, instead of K
passes. Blocks where many neurons spike run the same products as BLAS
GEMMs on the rebuilt traces instead (``dense_block``; it needs B*K*pre more
floats of scratch, allocated on first use). The summation order differs
from mlGeNN's step-by-step recursion, so results agree to float32 rounding
(the fixtures match to <1e-6).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, prange
from threadpoolctl import ThreadpoolController

#: mean fraction of presynaptic neurons spiking per step above which a block's products
#: run as BLAS GEMMs instead of one row add per spike (crossover measured on a shared
#: 2-core x86 machine with single-threaded OpenBLAS: 2-4 % for the SHD-shaped and the
#: pattern networks; BENCHMARKS.md)
DENSE_ABOVE = 0.03


@njit(cache=True, parallel=True)
def filter_block(K, alpha, rho, beta, n_hid, n_out, alif, za, GB, COEF):
    """Backward-in-time per-neuron recursions of one block, in place.

    ``GB`` (B, >=K, 3*n_hid + n_out) float32 holds per step the columns
    ``[psi | r | L | E_out]``; they are replaced by ``[Gf | Ff | Hf | Ef]``,
    the filtered (``Xf(k) = X(k) + za*Xf(k+1)``) versions of

    * ``H``: the weight gradient's per-postsynaptic factor,
    * ``G``: the factor of ``ebar``'s change over the block,
    * ``F`` (ALIF): the factor of ``eps_a``'s change over the block,
    * ``E``: the output errors (output-weight gradient).

    ``COEF`` (B, 4, n_hid) receives the per-postsynaptic multipliers of the
    state at the block start: ``c`` (ebar -> gradient), ``d`` (eps_a ->
    gradient), ``g`` (eps_a -> ebar), ``pf`` (eps_a -> eps_a). ``beta`` is
    the adaptation strength per hidden neuron (0 for LIF); ``rho`` is
    exp(-dt/tau_adapt), ``alpha`` exp(-dt/tau_mem). ``za``: alpha for the spike
    form of the products (``apply_block``), 0 (no filter) for the matrix-product
    form (``dense_block``).
    """
    B = GB.shape[0]
    H = n_hid
    for b in prange(B):
        lf = np.zeros(H)   # alpha-filtered learning signal, sum_{k'>=k} alpha^(k'-k) L(k')
        u = np.zeros(H)    # ALIF: U(k) of the gradient weights w = lf + r
        up = np.zeros(H)   # ALIF: U(k) of the ebar weights w = alpha^(K-1-k)
        pf = np.ones(H)    # ALIF: prod_{l>k} (rho - beta psi(l))
        hf = np.zeros(H)
        gf = np.zeros(H)
        ff = np.zeros(H)
        ap = 1.0           # alpha^(K-1-k)
        row = GB[b]
        for k in range(K - 1, -1, -1):
            x = row[k]
            if alif:
                for j in range(H):
                    p = np.float64(x[j])
                    bj = np.float64(beta[j])
                    lf[j] = x[2 * H + j] + alpha * lf[j]
                    w = lf[j] + x[H + j]
                    h = p * (w - bj * u[j])
                    g = p * (ap - bj * up[j])
                    f = pf[j] * p
                    q = rho - bj * p
                    u[j] = w * p + q * u[j]
                    up[j] = ap * p + q * up[j]
                    pf[j] = q * pf[j]
                    hf[j] = h + za * hf[j]
                    gf[j] = g + za * gf[j]
                    ff[j] = f + za * ff[j]
                    x[j] = gf[j]
                    x[H + j] = ff[j]
                    x[2 * H + j] = hf[j]
            else:
                for j in range(H):
                    p = np.float64(x[j])
                    lf[j] = x[2 * H + j] + alpha * lf[j]
                    hf[j] = p * (lf[j] + x[H + j]) + za * hf[j]
                    gf[j] = p * ap + za * gf[j]
                    x[j] = gf[j]
                    x[2 * H + j] = hf[j]
            ap *= alpha
        for j in range(H):
            COEF[b, 0, j] = alpha * lf[j]
            COEF[b, 1, j] = -beta[j] * u[j]
            COEF[b, 2, j] = -beta[j] * up[j]
            COEF[b, 3, j] = pf[j]
        ef = np.zeros(n_out)
        for k in range(K - 1, -1, -1):
            x = row[k]
            for o in range(n_out):
                ef[o] = x[3 * H + o] + za * ef[o]
                x[3 * H + o] = ef[o]


@njit(cache=True, inline="always")
def _spike_rows(b, k, h0, h1, o0, o1, H, alif, GB, SBW, EF, EPS, dg_all):
    """Row adds of the spikes of step ``k`` (slot ``b``): ``Xf(k+1)`` into each spiking
    neuron's gradient row and eligibility-state rows (columns [h0, h1), [o0, o1))."""
    nxt = GB[b, k + 1]
    words = SBW[b, k]
    for wi in range(words.shape[0]):
        w = words[wi]
        if w == 0:
            continue
        for byte in range(8):
            if (w >> np.uint64(8 * byte)) & np.uint64(0xFF) == 0:
                continue
            u = 8 * wi + byte
            ef = EF[b, u]
            dg = dg_all[u]
            for j in range(h0, h1):
                dg[j] += nxt[2 * H + j]
                ef[j] += nxt[j]
            if alif:
                ep = EPS[b, u]
                for j in range(h0, h1):
                    ep[j] += nxt[H + j]
            for o in range(o0, o1):
                dg[H + o] += nxt[3 * H + o]


@njit(cache=True, inline="always")
def _dense_pass(b, h0, h1, o0, o1, H, U, aK, alif, GB, Z0, COEF, EF, EPS, dg_all):
    """The block-start state and ``z(0)`` terms of slot ``b`` (columns [h0, h1), [o0, o1))."""
    c = COEF[b, 0]
    d = COEF[b, 1]
    g = COEF[b, 2]
    pf = COEF[b, 3]
    first = GB[b, 0]
    gs = first[:H]
    fs = first[H:2 * H]
    hs = first[2 * H:3 * H]
    es = first[3 * H:]
    for u in range(U):
        z0 = Z0[b, u]
        ef = EF[b, u]
        dg = dg_all[u]
        if alif:
            ep = EPS[b, u]
            for j in range(h0, h1):
                e0 = ef[j]
                p0 = ep[j]
                dg[j] += (e0 * c[j] + p0 * d[j]) + z0 * hs[j]
                ef[j] = (aK * e0 + g[j] * p0) + z0 * gs[j]
                ep[j] = pf[j] * p0 + z0 * fs[j]
        else:
            for j in range(h0, h1):
                e0 = ef[j]
                dg[j] += e0 * c[j] + z0 * hs[j]
                ef[j] = aK * e0 + z0 * gs[j]
        for o in range(o0, o1):
            dg[H + o] += z0 * es[o]


@njit(cache=True, parallel=True)
def apply_block(K, aK, n_hid, n_out, alif, n_col_chunks, GB, SBW, Z0, COEF, EF, EPS, DGT):
    """Add one filtered block to the gradient and advance the eligibility state.

    ``GB`` as left by ``filter_block``; ``SBW`` (B, >=K, W) uint64: the
    presynaptic spikes of each step, one byte per neuron (8 per word, nonzero
    when it spiked); ``Z0`` (B, U): presynaptic traces at the block start;
    ``EF``/``EPS`` (B, U, n_hid): ``ebar``/``eps_a`` at the block start, left at
    its end; ``DGT`` (C, U, n_hid + n_out): gradient accumulators, one per
    chunk of the batch (summed by the caller). ``aK`` is alpha^K.

    Tasks: C chunks of the batch times ``n_col_chunks`` column ranges (several
    per slot only when the batch is smaller than the thread count); no two
    tasks write one element. Each task runs, per slot, the dense pass (state at
    the block start and the ``z(0)`` terms), then one row add per spike.
    """
    B = GB.shape[0]
    U = Z0.shape[1]
    H = n_hid
    C = DGT.shape[0]
    per = (B + C - 1) // C
    for t in prange(C * n_col_chunks):
        ch = t // n_col_chunks
        cc = t % n_col_chunks
        dg_all = DGT[ch]
        h0 = (H * cc) // n_col_chunks
        h1 = (H * (cc + 1)) // n_col_chunks
        o0 = (n_out * cc) // n_col_chunks
        o1 = (n_out * (cc + 1)) // n_col_chunks
        for b in range(ch * per, min(B, (ch + 1) * per)):
            _dense_pass(b, h0, h1, o0, o1, H, U, aK, alif, GB, Z0, COEF, EF, EPS, dg_all)
            for k in range(K - 1):
                _spike_rows(b, k, h0, h1, o0, o1, H, alif, GB, SBW, EF, EPS, dg_all)


@njit(cache=True, parallel=True)
def build_traces(K, alpha, Z0, SB, Z):
    """Presynaptic traces ``Z[b, k, u]`` of the block's steps from those at its start and the
    spike flags (``z(k) = alpha*z(k-1) + s(k-1)``, as the forward kernel updates them)."""
    B, U = Z0.shape
    one = np.float32(1.0)
    for b in prange(B):
        z = Z[b, 0]
        z[:] = Z0[b]
        for k in range(1, K):
            prev = z
            z = Z[b, k]
            flags = SB[b, k - 1]
            for u in range(U):
                z[u] = prev[u] * alpha + (one if flags[u] != 0 else np.float32(0.0))


@njit(cache=True, nogil=True)
def state_pass(aK, n_hid, alif, COEF_b, EF_b, EPS_b, TMP, dg):
    """One slot's block-start terms and state update of the matrix-product form:
    ``dg += ebar0*c + eps0*d``, ``ebar = aK*ebar0 + g*eps0 + TMP[:, :H]``,
    ``eps = pf*eps0 + TMP[:, H:]`` (TMP = Z_b^T [G | F] of the block)."""
    H = n_hid
    c = COEF_b[0]
    d = COEF_b[1]
    g = COEF_b[2]
    pf = COEF_b[3]
    for u in range(EF_b.shape[0]):
        ef = EF_b[u]
        tm = TMP[u]
        dgu = dg[u]
        if alif:
            ep = EPS_b[u]
            for j in range(H):
                e0 = ef[j]
                p0 = ep[j]
                dgu[j] += e0 * c[j] + p0 * d[j]
                ef[j] = (aK * e0 + g[j] * p0) + tm[j]
                ep[j] = pf[j] * p0 + tm[H + j]
        else:
            for j in range(H):
                e0 = ef[j]
                dgu[j] += e0 * c[j]
                ef[j] = aK * e0 + tm[j]


def dense_block(K: int, alpha: np.float32, aK: np.float32, n_hid: int, alif: bool,
                GB: np.ndarray, SB: np.ndarray, Z0: np.ndarray, COEF: np.ndarray,
                EF: np.ndarray, EPS: np.ndarray, DGT: np.ndarray, Z: np.ndarray,
                TMP: np.ndarray) -> None:
    """The matrix-product form of a block (``GB`` unfiltered by ``filter_block``): BLAS
    products ``DG += Z^T [H | E]`` and, per slot, ``Z_b^T [G | F]_b``.

    Each of the C = ``DGT.shape[0]`` chunks of the batch runs on its own Python thread
    (numpy and the nogil state pass release the GIL) with a one-thread BLAS: the
    library's own idle workers would spin against numba's threads between the calls
    (measured: a B=1 block 30x slower on a loaded 2-core machine). ``Z`` (B, >=K, U)
    and ``TMP`` (C, U, m*n_hid) are scratch.
    """
    B, U = Z0.shape
    H = n_hid
    m = 2 if alif else 1
    C = DGT.shape[0]
    per = (B + C - 1) // C
    build_traces(K, alpha, Z0, SB, Z)

    def chunk(ch: int) -> None:
        b0, b1 = ch * per, min(B, (ch + 1) * per)
        if b0 >= b1:
            return
        zf = Z[b0:b1, :K].reshape((b1 - b0) * K, U)
        DGT[ch] += zf.T @ GB[b0:b1, :K, 2 * H:].reshape((b1 - b0) * K, -1)
        for b in range(b0, b1):
            np.matmul(Z[b, :K].T, GB[b, :K, :m * H], out=TMP[ch])
            state_pass(aK, H, alif, COEF[b], EF[b], EPS[b], TMP[ch], DGT[ch])

    with _blas_controller().limit(limits=1, user_api="blas"):
        if C == 1:
            chunk(0)
        else:
            list(_pool(C).map(chunk, range(C)))


_POOL: dict[int, ThreadPoolExecutor] = {}


def _pool(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` threads for the dense form's batch chunks (kept for the process)."""
    if n not in _POOL:
        _POOL[n] = ThreadPoolExecutor(n, thread_name_prefix="eprop-gemm")
    return _POOL[n]


_CONTROLLER: list[ThreadpoolController] = []


def _blas_controller() -> ThreadpoolController:
    """The process's thread-pool controller (built once: inspecting the libraries is slow)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def gradient_block(K: int, alpha: float, rho: float, beta: np.ndarray, n_out: int,
                   alif: bool, n_threads: int, GB: np.ndarray, SB: np.ndarray,
                   Z0: np.ndarray, COEF: np.ndarray, EF: np.ndarray, EPS: np.ndarray,
                   DGT: np.ndarray, mode: str = "auto", scratch: dict | None = None) -> str:
    """One block of K recorded steps into ``DGT``, ``EF`` and ``EPS``; returns the form used.

    ``SB`` (B, >=K, 8*W) uint8 spike flags (the padding bytes stay 0); ``DGT`` has
    one accumulator per chunk of the batch (``gradient_chunks``). ``mode``:
    "sparse" (one row add per spike, ``apply_block``), "dense" (BLAS matrix
    products, ``dense_block``; its scratch arrays are kept in ``scratch``) or
    "auto": dense when more than ``DENSE_ABOVE`` of the presynaptic neurons
    spike per step on average, where a GEMM beats a row add per spike.
    """
    n_hid = beta.shape[0]
    B, U = Z0.shape
    a32 = np.float32(alpha)
    aK = np.float32(np.float64(a32) ** K)
    if mode == "auto":
        dense = np.count_nonzero(SB[:, :K]) > DENSE_ABOVE * B * K * max(U, 1)
        mode = "dense" if dense else "sparse"
    if mode == "dense":
        filter_block(K, np.float64(a32), np.float64(rho), beta, n_hid, n_out, alif, 0.0, GB,
                     COEF)
        scratch = {} if scratch is None else scratch
        m = 2 if alif else 1
        if scratch.get("Z") is None or scratch["Z"].shape[:2] != (B, GB.shape[1]):
            scratch["Z"] = np.zeros((B, GB.shape[1], U), np.float32)
            scratch["TMP"] = np.zeros((DGT.shape[0], U, m * n_hid), np.float32)
        dense_block(K, a32, aK, n_hid, alif, GB, SB, Z0, COEF, EF, EPS, DGT, scratch["Z"],
                    scratch["TMP"])
        return mode
    filter_block(K, np.float64(a32), np.float64(rho), beta, n_hid, n_out, alif,
                 np.float64(a32), GB, COEF)
    n_col = max(1, n_threads // DGT.shape[0])
    apply_block(K, aK, n_hid, n_out, alif, n_col, GB, SB.view(np.uint64), Z0, COEF, EF, EPS,
                DGT)
    return mode


def gradient_chunks(batch_size: int, n_threads: int) -> int:
    """How many gradient accumulators ``apply_block`` uses: one per thread's batch chunk."""
    return max(1, min(batch_size, n_threads))
