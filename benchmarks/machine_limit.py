"""What this machine can do at best, to set the engine's achieved rates against.

* memory bandwidth: numpy ``copyto`` and a parallel numba copy of a 256 MiB
  float32 array (bytes read + bytes written per second);
* vectorised add: a numba loop ``x[i] += w[i]`` over a float32 row that fits
  in L1 (the operation of delivering one spike to one synapse of a dense row),
  single thread and all threads: the peak synaptic-events/s of a perfect
  event-driven engine; and the same add over 256 MiB (bandwidth-bound);
* gather add ``x[idx[i]] += w[i]`` (sparse rows), in cache;
* the event patterns of the SHD-shaped task, single thread: random 256-wide rows
  of a 700 x 256 float32 matrix (716 KB: in L2) added into one row (forward
  delivery), and a row multiplied into random rows of such a matrix (backward
  weight gradient): the peak synaptic-event rates of those two loops.

Every figure is the best of ``--reps`` runs (so other load on the machine
lowers it less); the load average is printed with the results.

    python benchmarks/machine_limit.py
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numba
import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _par_copy(dst: np.ndarray, src: np.ndarray) -> None:
    for i in prange(src.shape[0]):
        dst[i] = src[i]


@njit(cache=True)
def _row_add(x: np.ndarray, w: np.ndarray, reps: int) -> float:
    n = x.shape[0]
    for _ in range(reps):
        for j in range(n):
            x[j] += w[j]
    return x[0]


@njit(cache=True, parallel=True)
def _row_add_par(xs: np.ndarray, w: np.ndarray, reps: int) -> float:
    for t in prange(xs.shape[0]):
        x = xs[t]
        n = x.shape[0]
        for _ in range(reps):
            for j in range(n):
                x[j] += w[j]
    return xs[0, 0]


@njit(cache=True)
def _gather_add(x: np.ndarray, idx: np.ndarray, w: np.ndarray, reps: int) -> float:
    for _ in range(reps):
        for j in range(idx.shape[0]):
            x[idx[j]] += w[j]
    return x[0]


@njit(cache=True)
def _rows_into_row(x: np.ndarray, W: np.ndarray, rows: np.ndarray) -> float:
    """Forward delivery: add rows of W (picked by ``rows``) into one row x."""
    n = x.shape[0]
    for r in range(rows.shape[0]):
        w = W[rows[r]]
        for j in range(n):
            x[j] += w[j]
    return x[0]


@njit(cache=True)
def _row_into_rows(G: np.ndarray, li: np.ndarray, rows: np.ndarray) -> float:
    """Backward gradient: G[row] -= tau * li for the rows picked by ``rows``."""
    n = li.shape[0]
    tau = np.float32(5.0)
    for r in range(rows.shape[0]):
        g = G[rows[r]]
        for j in range(n):
            g[j] -= li[j] * tau
    return G[0, 0]


@njit(cache=True, parallel=True)
def _stream_add(x: np.ndarray, w: np.ndarray) -> None:
    for j in prange(x.shape[0]):
        x[j] += w[j]


def best(fn: Callable[[], None], reps: int) -> float:
    """Shortest wall time of ``reps`` calls (after one warm-up call)."""
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def measure(reps: int = 5, big_mib: int = 256) -> dict[str, float]:
    """All figures as a dict (bandwidth in GB/s, adds in G/s)."""
    n = big_mib * 2**20 // 4
    a = np.ones(n, np.float32)
    b = np.empty_like(a)
    res: dict[str, float] = {}
    t = best(lambda: np.copyto(b, a), reps)
    res["numpy_copy_GBps"] = 2 * a.nbytes / t / 1e9
    t = best(lambda: _par_copy(b, a), reps)
    res["numba_par_copy_GBps"] = 2 * a.nbytes / t / 1e9
    t = best(lambda: _stream_add(b, a), reps)
    res["numba_stream_add_GBps"] = 3 * a.nbytes / t / 1e9
    res["numba_stream_add_Gadds"] = n / t / 1e9
    row = 256
    inner = 200_000
    x = np.zeros(row, np.float32)
    w = np.full(row, 1e-7, np.float32)
    t = best(lambda: _row_add(x, w, inner), reps)
    res["row_add_1thread_Gadds"] = row * inner / t / 1e9
    th = numba.get_num_threads()
    xs = np.zeros((th, row), np.float32)
    t = best(lambda: _row_add_par(xs, w, inner), reps)
    res["row_add_all_threads_Gadds"] = th * row * inner / t / 1e9
    idx = np.random.default_rng(0).integers(0, row, row).astype(np.int32)
    t = best(lambda: _gather_add(x, idx, w, inner), reps)
    res["gather_add_1thread_Gadds"] = row * inner / t / 1e9
    # the event patterns of the SHD-shaped task: random rows of its 700 x 256 input
    # weights (716 KB, in L2) added into one row (forward) and the same rows of a
    # gradient of that size updated from one row (backward)
    W = np.full((700, 256), 1e-7, np.float32)
    G = np.zeros((700, 256), np.float32)
    rows = np.random.default_rng(1).integers(0, 700, 100_000).astype(np.int64)
    t = best(lambda: _rows_into_row(x, W, rows), reps)
    res["rows_into_row_Gadds"] = 256 * rows.shape[0] / t / 1e9
    t = best(lambda: _row_into_rows(G, x, rows), reps)
    res["row_into_rows_Gadds"] = 256 * rows.shape[0] / t / 1e9
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    load0 = "/".join(f"{v:.1f}" for v in os.getloadavg())
    res = measure(args.reps)
    load1 = "/".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} cores, numba {numba.__version__}, {numba.get_num_threads()} "
          f"threads; load {load0} -> {load1}; best of {args.reps}")
    labels = {
        "numpy_copy_GBps": "numpy copyto 256 MiB (read+write)  GB/s",
        "numba_par_copy_GBps": "numba parallel copy 256 MiB        GB/s",
        "numba_stream_add_GBps": "numba parallel x+=w 256 MiB        GB/s",
        "numba_stream_add_Gadds": "  same, adds                        G/s",
        "row_add_1thread_Gadds": "numba x[j]+=w[j], 256-row in L1, 1 thread  G adds/s",
        "row_add_all_threads_Gadds": "  same, all threads                  G adds/s",
        "gather_add_1thread_Gadds": "numba x[idx[j]]+=w[j] in L1, 1 thread  G adds/s",
        "rows_into_row_Gadds": "random 256-rows of 700x256 W into a row, 1 thr  G adds/s",
        "row_into_rows_Gadds": "a row into random 256-rows of 700x256 G, 1 thr  G/s",
    }
    for k, v in res.items():
        print(f"| {labels[k]:55s} | {v:8.2f} |")


if __name__ == "__main__":
    main()
