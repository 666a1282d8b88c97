"""Optimiser steps as one pass over the parameters (numba).

A batch's gradient arrives as per-thread partial sums ``parts`` (k, n): the
step sums them (in chunk order, as the engine always has), checks that
parameters and gradients are finite, applies Adam with the same float32
operations in the same order as the numpy formulation in ``optimisers.py``
(so results are bit-identical), clamps, and zeroes ``parts`` for the next batch.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

OK, BAD_PARAM, BAD_GRAD, BAD_RESULT = 0, 1, 2, 3
_BLOCK = 8192


def blocks(n: int) -> int:
    """Parallel blocks of an update of n parameters (the most threads it can use)."""
    return (n + _BLOCK - 1) // _BLOCK


@njit(cache=True, inline="always")
def _sum_check(param, parts, a, e):
    """Sum block [a, e) of the per-thread gradients into ``parts[0]`` (zeroing the
    others); OK, BAD_PARAM or BAD_GRAD for the block."""
    k = parts.shape[0]
    zero = np.float32(0.0)
    g0 = parts[0, a:e]
    for c in range(1, k):
        gc = parts[c, a:e]
        for i in range(e - a):
            g0[i] += gc[i]
            gc[i] = zero
    # x * 0 is NaN exactly when x is NaN or infinite; integer sums vectorise
    pp = param[a:e]
    badp = np.int32(0)
    badg = np.int32(0)
    for i in range(e - a):
        badp += np.int32(pp[i] * zero != zero)
        badg += np.int32(g0[i] * zero != zero)
    if badp != 0:
        return BAD_PARAM
    if badg != 0:
        return BAD_GRAD
    return OK


@njit(cache=True, inline="always")
def _adam_block(param, parts, m, v, a, e, b1, c1, b2, c2, alpha, s1, s2, eps, lo, hi, clamp):
    """Adam on block [a, e) with the summed gradient in ``parts[0]`` (zeroed); OK or
    BAD_RESULT."""
    zero = np.float32(0.0)
    g0 = parts[0, a:e]
    pp = param[a:e]
    mm = m[a:e]
    vv = v[a:e]
    bad = np.int32(0)
    for i in range(e - a):
        g = g0[i]
        g0[i] = zero
        mi = mm[i] * b1
        mi = mi + c1 * g
        vi = vv[i] * b2
        vi = vi + c2 * g * g
        mm[i] = mi
        vv[i] = vi
        p = pp[i] - (alpha * mi * s1) / (np.sqrt(vi * s2) + eps)
        if clamp:
            p = min(max(p, lo), hi)
        pp[i] = p
        bad += np.int32(p * zero != zero)
    return BAD_RESULT if bad != 0 else OK


@njit(cache=True, parallel=True, error_model="numpy")
def adam_update(param, parts, m, v, b1, c1, b2, c2, alpha, s1, s2, eps, lo, hi, clamp):
    """Adam step on ``param`` with gradient ``parts.sum(0)`` (``parts`` C-contiguous);
    all scalars float32 (c1 = 1 - b1, c2 = 1 - b2, s1/s2 the bias corrections).
    Returns OK; or BAD_PARAM / BAD_GRAD with ``param`` and the moments unchanged
    (``parts`` then holds the summed gradient in row 0); or BAD_RESULT if the step
    made a parameter non-finite.

    Loops run over block slices from 0 (a loop variable that cannot be negative
    needs no wrap-around check, so the loops vectorise)."""
    n = param.shape[0]
    nb = (n + _BLOCK - 1) // _BLOCK
    flags = np.zeros(nb, np.int64)
    for blk in prange(nb):
        flags[blk] = _sum_check(param, parts, blk * _BLOCK, min(n, (blk + 1) * _BLOCK))
    for blk in range(nb):
        if flags[blk] == BAD_PARAM:
            return BAD_PARAM
    for blk in range(nb):
        if flags[blk] != OK:
            return flags[blk]
    for blk in prange(nb):
        flags[blk] = _adam_block(param, parts, m, v, blk * _BLOCK, min(n, (blk + 1) * _BLOCK),
                                 b1, c1, b2, c2, alpha, s1, s2, eps, lo, hi, clamp)
    for blk in range(nb):
        if flags[blk] != OK:
            return BAD_RESULT
    return OK


def _adam_many(params, parts, ms, vs, b1, c1, b2, c2, alpha, s1, s2, eps):
    """``adam_update`` of several trainables (tuples of their arrays, no clamp) in one
    call: every parameter and gradient of all of them is checked before any
    changes, so a bad one leaves every trainable as it was. Returns (status, index
    of the trainable it concerns; -1 with OK): BAD_PARAM before BAD_GRAD, each for
    the first trainable that has one, or BAD_RESULT."""
    nt = len(params)
    first = np.zeros(nt + 1, np.int64)
    for t in range(nt):
        first[t + 1] = first[t] + (params[t].shape[0] + _BLOCK - 1) // _BLOCK
    nb = first[nt]
    owner = np.zeros(nb, np.int64)
    for t in range(nt):
        for blk in range(first[t], first[t + 1]):
            owner[blk] = t
    flags = np.zeros(nb, np.int64)
    for g in prange(nb):
        t = owner[g]
        a = (g - first[t]) * _BLOCK
        flags[g] = _sum_check(params[t], parts[t], a, min(params[t].shape[0], a + _BLOCK))
    for g in range(nb):
        if flags[g] == BAD_PARAM:
            return BAD_PARAM, owner[g]
    for g in range(nb):
        if flags[g] != OK:
            return flags[g], owner[g]
    zero = np.float32(0.0)
    for g in prange(nb):
        t = owner[g]
        a = (g - first[t]) * _BLOCK
        flags[g] = _adam_block(params[t], parts[t], ms[t], vs[t], a,
                               min(params[t].shape[0], a + _BLOCK), b1, c1, b2, c2, alpha,
                               s1, s2, eps, zero, zero, False)
    for g in range(nb):
        if flags[g] != OK:
            return BAD_RESULT, owner[g]
    return OK, np.int64(-1)


adam_update_many = njit(cache=True, parallel=True, error_model="numpy")(_adam_many)


@njit(cache=True, error_model="numpy")
def adam_update_small(param, parts, m, v, b1, c1, b2, c2, alpha, s1, s2, eps, lo, hi, clamp):
    """``adam_update`` of at most one block (``_BLOCK`` parameters) on the calling
    thread: the same operations without starting the thread pool, which costs more
    than such an update."""
    n = param.shape[0]
    flag = _sum_check(param, parts, 0, n)
    if flag != OK:
        return flag
    return _adam_block(param, parts, m, v, 0, n, b1, c1, b2, c2, alpha, s1, s2, eps, lo, hi,
                       clamp)


@njit(cache=True, parallel=True)
def sum_parts(parts):
    """Sum per-thread partial gradients into ``parts[0]``, zeroing the others."""
    n = parts.shape[1]
    k = parts.shape[0]
    nb = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(nb):
        for i in range(blk * _BLOCK, min(n, (blk + 1) * _BLOCK)):
            g = parts[0, i]
            for c in range(1, k):
                g += parts[c, i]
                parts[c, i] = np.float32(0.0)
            parts[0, i] = g
    return 0


@njit(cache=True)
def all_finite(x):
    """True when no element of the 1-D array ``x`` is NaN or infinite."""
    bad = 0
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        bad += np.int64(x[i] * zero != zero)
    return bad == 0
