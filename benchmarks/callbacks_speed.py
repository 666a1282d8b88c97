"""What the default callbacks cost: ``train()`` with its default progress bar against
``callbacks=[]``, alternating, on the same compiled network.

A pass whose every batch is a fused trial runs in a few engine calls when no callback
needs to see a batch while it runs (``CallbackList.batches_may_run_together``); the
progress bar declares that its batch hook reads only the metrics (``metrics_only``).
This prints samples/s of each and their ratio, with the load; the bar's output goes
to a null stream so the terminal does not time it.

    python benchmarks/callbacks_speed.py                  # MNIST and Yin-Yang, 6 reps
    python benchmarks/callbacks_speed.py --tasks mnist --reps 4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tasks as T  # noqa: E402

#: examples per pass (as peers.py's own side)
PASS = {"yy": 2048, "mnist": 2048, "shd": 64}
MODES = {"callbacks=[]": [], "default (progress bar)": None}


def bench(key: str, reps: int, rep_s: float) -> dict[str, list[float]]:
    """Samples/s of each mode, ``reps`` alternating repetitions of >= ``rep_s``."""
    task = T.make_task(key)
    cn, i, o = T.BUILDERS["eventprop"](task)
    cn.__enter__()
    x, y = task.take(PASS[key])
    epoch = [1]

    def run(callbacks: list | None) -> int:
        kw = {} if callbacks is None else {"callbacks": callbacks}
        cn.train({i: x}, {o: y}, num_epochs=1, start_epoch=epoch[0], shuffle=False, **kw)
        epoch[0] += 1
        return len(y)

    out: dict[str, list[float]] = {m: [] for m in MODES}
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        for cb in MODES.values():  # compilation, staging
            run(cb)
        for r in range(reps):
            order = list(MODES.items())
            for name, cb in order if r % 2 == 0 else order[::-1]:
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < rep_s:
                    n += run(cb)
                out[name].append(n / (time.perf_counter() - t0))
    cn.__exit__(None, None, None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["mnist", "yy"], choices=sorted(PASS))
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--rep-seconds", type=float, default=1.0)
    args = ap.parse_args()
    print(f"load at start {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")
    print("| task | callbacks | median samples/s | all reps | default / [] |")
    print("|---|---|---|---|---|")
    for key in args.tasks:
        res = bench(key, args.reps, args.rep_seconds)
        med = {m: statistics.median(v) for m, v in res.items()}
        ratio = med["default (progress bar)"] / med["callbacks=[]"]
        for m, v in res.items():
            reps = ", ".join(f"{s:,.0f}" for s in v)
            last = f"{ratio:.2f}" if m.startswith("default") else ""
            print(f"| {key} | {m} | {med[m]:,.0f} | {reps} | {last} |", flush=True)
    print(f"load at end {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
