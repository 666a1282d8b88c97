"""A/B: the same training task on two checkouts of the project, alternating.

Each side runs in its own long-lived process (``app`` imported from its
checkout; the tasks of this directory's ``tasks.py``). After a warm-up pass,
repetitions alternate A B B A A B ... so drifting load from other processes
hits both alike; each repetition trains whole passes for at least
``--rep-seconds``. Prints every repetition, the medians, B/A, and the load.

    git archive HEAD~3 | tar -x -C /tmp/before
    python benchmarks/ab_compare.py /tmp/before . --task mnist --reps 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def worker(task_key: str, algo: str, batch: int, rep_s: float) -> None:
    """Serve repetitions on stdin/stdout ("run" -> one JSON line)."""
    import tasks

    task = tasks.make_task(task_key, batch or None)
    n = task.batch if algo.startswith("eprop") else None
    run, cn, _warm = tasks.studio_runner(task, algo, n)
    run()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        sim = cn.sim
        sim.counters.reset()
        k = 0
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            k += run()
            w = time.perf_counter() - t0
            if w >= rep_s:
                break
        c = time.process_time() - c0
        cnt = sim.counters
        busy = getattr(cnt, "kernel_s", cnt.forward_s + cnt.backward_s)
        print(json.dumps({"wall": k / w, "cpu": k / c, "kern": busy / w}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", nargs="?", help="checkout A (the baseline)")
    ap.add_argument("b", nargs="?", help="checkout B")
    ap.add_argument("--task", default="mnist")
    ap.add_argument("--algo", default="eventprop")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--rep-seconds", type=float, default=1.0)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.task, args.algo, args.batch, args.rep_seconds)
        return
    procs = {}
    for side, path in (("A", args.a), ("B", args.b)):
        env = dict(os.environ, PYTHONPATH=str(Path(path).resolve()))
        procs[side] = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--task", args.task, "--algo", args.algo,
             "--batch", str(args.batch), "--rep-seconds", str(args.rep_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    for p in procs.values():
        json.loads(p.stdout.readline())
    res: dict[str, list[dict]] = {"A": [], "B": []}
    load0 = os.getloadavg()
    order = []
    for r in range(args.reps):
        order += ["A", "B"] if r % 2 == 0 else ["B", "A"]
    for side in order:
        p = procs[side]
        p.stdin.write("run\n")
        p.stdin.flush()
        res[side].append(json.loads(p.stdout.readline()))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    load1 = os.getloadavg()
    print(f"{args.task} {args.algo}: A = {args.a}, B = {args.b}; load "
          f"{'/'.join(f'{v:.1f}' for v in load0)} -> {'/'.join(f'{v:.1f}' for v in load1)}")
    for side in "AB":
        r = res[side]
        med = statistics.median(x["wall"] for x in r)
        medc = statistics.median(x["cpu"] for x in r)
        kern = statistics.median(x["kern"] for x in r)
        print(f"  {side}: median {med:10.1f} samples/s (wall), {medc:10.1f} per CPU-s; kernels "
              f"busy {100 * kern:.0f} % of wall time; reps "
              + ", ".join(f"{x['wall']:.4g}" for x in r))
    ma = statistics.median(x["wall"] for x in res["A"])
    mb = statistics.median(x["wall"] for x in res["B"])
    ca = statistics.median(x["cpu"] for x in res["A"])
    cb = statistics.median(x["cpu"] for x in res["B"])
    print(f"  B/A: {mb / ma:.2f}x wall, {cb / ca:.2f}x per CPU-s")


if __name__ == "__main__":
    main()
