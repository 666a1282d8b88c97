"""How fast exact event-driven EventProp could be on the SHD-shaped task: our
per-slot kernel against the bare row operations of the same spike tapes, and both
against the thread time per example that a target ratio to the best BPTT peer allows.

Every input and hidden spike of a trial costs exact EventProp rows it cannot avoid:
forward, its weight row into the next step's input current (256 posts, and 20 more
for a hidden spike's output row); backward, its gradient row (256, and 20), and for
a hidden spike the adjoint dots with its recurrent and output rows. This script
trains the task ``--passes`` passes (a fresh network per point), captures the next
``train_trial`` call, and times on one thread, per batch slot:

- ``kernel``: our per-slot training trial (``engine/eventprop_kernels.py``) on that
  call, every array restored before each call (as ``kernel_ab.py``);
- ``rows``: only the rows above, over the same tapes, with the engine's own row loops
  (``add_rows``, ``_dot`` and the gradient row's loop): no neuron updates, no loss
  terms, no tape bookkeeping, weights of the same shapes.

The peer's rate (the best of ``--peers``, measured here with ``peers.py``'s
workers, or given as ``--peer-rate``) sets the budget: at ``--target`` times the
peer, with ``--threads`` threads scaling perfectly and no optimiser or Python
time at all, one example may take threads / (target x peer rate) seconds of
thread time. ``rows`` above that budget means the target cannot be met at that
activity by any exact event-driven EventProp whose rows run at our row loops' rate.

    python benchmarks/shd_floor.py                          # ~3 min
    python benchmarks/shd_floor.py --peer-rate 77.0 --passes 5 30 80 160
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]


def rows_kernel():
    """``rows_slot`` compiled with the engine's row loops. The engine is imported
    here, after the peers ran: importing it sets numba's OpenMP spin count in
    ``os.environ``, which the peers' worker processes would inherit."""
    from app.training.engine.eventprop_kernels import _dot
    from app.training.engine.kernels import add_rows

    return njit(cache=False)(_rows_slot_py(add_rows, _dot))


def _rows_slot_py(add_rows, _dot):
    """The pure-Python ``rows_slot``, closing over the engine's row loops."""
    def rows_slot(evs, evn, ne, n_in, Win, Wrec, Wout, Gin, Grec, Gout, li, lv, lio, lvo, tau):
        """The forward and backward rows of one slot's tape (``ne`` events, steps ``evs``
        ascending, neuron ids ``evn``: inputs below ``n_in``, then hidden), nothing else."""
        n_h = Wrec.shape[0]
        n_o = Wout.shape[1]
        x = np.zeros(n_h, np.float32)
        xo = np.zeros(n_o, np.float32)
        ids = np.empty(n_in + n_h, np.int64)
        e = 0
        while e < ne:
            s = evs[e]
            k = 0
            while e < ne and evs[e] == s and evn[e] < n_in:
                ids[k] = evn[e]
                k += 1
                e += 1
            add_rows(x, Win, ids[:k])
            k = 0
            while e < ne and evs[e] == s:
                ids[k] = evn[e] - n_in
                k += 1
                e += 1
            add_rows(x, Wrec, ids[:k])
            add_rows(xo, Wout, ids[:k])
        q = np.empty(n_h, np.float32)
        d = np.empty(n_h, np.float32)
        qo = np.empty(n_o, np.float32)
        do = np.empty(n_o, np.float32)
        rev = np.zeros(n_h, np.float32)
        e = ne - 1
        while e >= 0:
            s = evs[e]
            for j in range(n_h):
                q[j] = li[j] * tau
                d[j] = lv[j] - li[j]
            for j in range(n_o):
                qo[j] = lio[j] * tau
                do[j] = lvo[j] - lio[j]
            while e >= 0 and evs[e] == s:
                g = evn[e]
                if g < n_in:
                    r = Gin[g]
                    for j in range(n_h):
                        r[j] -= q[j]
                else:
                    i = g - n_in
                    r = Grec[i]
                    for j in range(n_h):
                        r[j] -= q[j]
                    ro = Gout[i]
                    for j in range(n_o):
                        ro[j] -= qo[j]
                    rev[i] += _dot(Wrec[i], d) + _dot(Wout[i], do)
                e -= 1
        return rev[0] + x[0] + xo[0]
    return rows_slot


def peer_rate(peers: list[str], reps: int, rep_s: float) -> tuple[str, float]:
    """The best of ``peers`` on the SHD task: (name, median samples/s), with
    ``peers.py``'s workers (each in its own process, alternating)."""
    import peers as pe

    out = pe.bench("shd", peers, reps, rep_s)
    med = {fw: statistics.median(x["wall"] for x in v) for fw, v in out["res"].items()}
    best = max(med, key=med.__getitem__)
    for fw, v in med.items():
        print(f"  {fw}: {v:.1f} samples/s (load {out['load']})")
    return best, med[best]


def measure(passes: int, calls: int, rows_slot) -> dict:
    """Events per example and microseconds per slot (kernel, rows) after ``passes``."""
    import numba
    from kernel_ab import capture

    import app.training.engine.eventprop_kernels as EK
    from app.training.engine.layout import P_END, P_START

    a = capture("shd", passes)
    code = EK.train_trial.py_func.__code__
    names = code.co_varnames[:code.co_argcount]
    arg = dict(zip(names, a, strict=True))
    numba.set_num_threads(1)
    a[names.index("n_chunks")] = 1
    pop_i = arg["pop_i"]
    n_in = int(pop_i[0, P_END] - pop_i[0, P_START])
    n_h = int(pop_i[1, P_END] - pop_i[1, P_START])
    n_o = int(pop_i[2, P_END] - pop_i[2, P_START])
    evs, evn, ecnt = arg["ev_step"], arg["ev_nid"], arg["ev_cnt"]
    B = ecnt.shape[0]
    n_input = sum(int((evn[b, :ecnt[b]] < n_in).sum()) for b in range(B))
    n_hidden = int(ecnt.sum()) - n_input
    snap = [x.copy() if isinstance(x, np.ndarray) else None for x in a]
    kernel = []
    for _ in range(calls):
        for x, y in zip(a, snap, strict=True):
            if y is not None:
                x[...] = y
        t0 = time.perf_counter()
        EK.train_trial(*a)
        kernel.append(time.perf_counter() - t0)
    rng = np.random.default_rng(0)

    def mat(r: int, c: int) -> np.ndarray:
        return (0.01 * rng.standard_normal((r, c))).astype(np.float32)
    Win, Wrec, Wout = mat(n_in, n_h), mat(n_h, n_h), mat(n_h, n_o)
    Gin, Grec, Gout = np.zeros_like(Win), np.zeros_like(Wrec), np.zeros_like(Wout)
    lam = mat(4, n_h)
    rows = []
    for _ in range(calls):
        t0 = time.perf_counter()
        for b in range(B):
            rows_slot(evs[b], evn[b], ecnt[b], n_in, Win, Wrec, Wout, Gin, Grec, Gout,
                      lam[0], lam[1], lam[2, :n_o].copy(), lam[3, :n_o].copy(),
                      np.float32(5.0))
        rows.append(time.perf_counter() - t0)
    return {"input": n_input / B, "hidden": n_hidden / B,
            "kernel": min(kernel) / B * 1e6, "rows": min(rows) / B * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passes", type=int, nargs="+", default=[5, 30, 80])
    ap.add_argument("--target", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", nargs="+", default=["norse:step", "snntorch:step"])
    ap.add_argument("--peer-rate", type=float, help="samples/s; skips measuring the peers")
    ap.add_argument("--peer-reps", type=int, default=3, help="alternating repetitions")
    ap.add_argument("--peer-seconds", type=float, default=2.0, help="seconds per repetition")
    ap.add_argument("--calls", type=int, default=8, help="timed calls per point (min kept)")
    args = ap.parse_args()
    print(f"load at start {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")
    if args.peer_rate:
        best, rate = "given", args.peer_rate
    else:
        best, rate = peer_rate(args.peers, args.peer_reps, args.peer_seconds)
    budget = args.threads / (args.target * rate) * 1e6
    print(f"best peer {best}: {rate:.1f} samples/s; {args.target:g}x with {args.threads} "
          f"perfectly scaling threads allows {budget:.0f} us of thread time per example\n")
    print(f"the task as defined (no regulariser), one thread, min of {args.calls} calls")
    print("| passes | input events / ex | hidden events / ex | kernel us / slot | "
          "rows us / slot | rows / budget | kernel / rows |")
    print("|---|---|---|---|---|---|---|")
    rows_slot = rows_kernel()
    for p in args.passes:
        m = measure(p, args.calls, rows_slot)
        print(f"| {p} | {m['input']:.0f} | {m['hidden']:.0f} | {m['kernel']:.0f} | "
              f"{m['rows']:.0f} | {m['rows'] / budget:.2f} | {m['kernel'] / m['rows']:.2f} |",
              flush=True)
    print(f"\nload at end {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
