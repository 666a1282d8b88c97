"""Spike Studio (EventProp, e-prop) against the strongest setup of each BPTT peer.

Peers: snnTorch 1.0 and Norse 1.1, each in three modes (see ``peer_models.py``):
eager, ``torch.compile`` of the per-step body, ``torch.compile`` of the whole
model. Same tasks, shapes, batch sizes and spike data (``tasks.py``); each
framework trains whole batches (forward, gradient, Adam step). torch uses as
many threads as numba (2 on the CI machine).

Every framework runs in its own worker process with its library's default
settings: our engine sets numba's OpenMP spin count when it is imported, and the
torch workers (which import our data code) put the OpenMP variables back as they
were before torch loads its own OpenMP runtime (until 2026-12-01 they inherited
our setting: OMP_WAIT_POLICY=PASSIVE, later GOMP_SPINCOUNT=20000). After a
warm-up pass (compilation, staging; reported), each repetition asks every
worker in turn, in an order that rotates per repetition, to train whole passes
for at least ``--rep-seconds``, so load from other processes hits all of them
alike. Tables give the median
samples/second (wall clock), the median samples per CPU-second of that
process, and each of ours against the BEST peer of the task, with the load.
On the SHD task ``eventprop_reg`` is ours with mlGeNN's SHD spike-count
regulariser (``tasks.py``): our cost follows the hidden activity, the peers' does not.

    pip install -e ".[peers]"
    python benchmarks/peers.py                   # every task, 5 repetitions (~15 min)
    python benchmarks/peers.py --quick           # 3 short repetitions (~6 min)
    python benchmarks/peers.py --tasks mnist --frameworks eventprop norse:model

Whole-model compilation unrolls the time loop: on the SHD task (1000 steps) it
had not finished after 7 minutes and 2 GB, so ``*:model`` is skipped for tasks
longer than ``--max-model-steps`` (default 100) unless that is raised.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: OpenMP settings our engine may set at import (app/training/engine/__init__.py)
OMP_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
OURS = ("eventprop", "eventprop_reg", "eprop_lif", "eprop_alif")
PEERS = tuple(f"{lib}:{mode}" for lib in ("snntorch", "norse")
              for mode in ("eager", "step", "model"))
DEFAULT = {"yy": ("eventprop",) + PEERS, "yy01": ("eventprop",) + PEERS,
           "mnist": ("eventprop",) + PEERS, "shd": OURS + PEERS}
# examples per pass: ours (whole epochs of train()), peers (dense tensors in memory)
PASS = {"yy": (2048, 2048), "yy01": (2048, 1024), "mnist": (2048, 512), "shd": (64, 32)}
THREADS = 2


def load() -> str:
    """The 1/5/15-minute load averages as text."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


# ----- worker process: one framework ---------------------------------------------------------
def make_runner(fw: str, key: str) -> tuple[Callable[[], int], Callable[..., dict]]:
    """(one training pass, engine counters) of a framework on a task."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    omp = {k: os.environ.get(k) for k in OMP_SETTINGS}
    import tasks as T  # imports our engine, which sets numba's OpenMP spin count

    task = T.make_task(key)
    ours_n, peer_n = PASS[key]
    if fw in OURS:
        n = task.batch if fw.startswith("eprop") else ours_n
        run, cn, _ = T.studio_runner(task, fw, n)
        sim = cn.sim

        def counters(before: dict | None = None) -> dict:
            """The engine's counters now; with ``before``, also the rates of the work
            done since then (not since the process started: the warm-up pass's
            compilation would count as kernel time)."""
            c = getattr(sim, "counters", None)
            if c is None:
                return {}
            snap = dataclasses.asdict(c)
            out = {"snap": snap, "busy_s": c.kernel_s}
            if before:
                out["rates"] = type(c)(**{k: v - before["snap"][k]
                                          for k, v in snap.items()}).rates()
            return out
        return run, counters
    # a peer runs with its library's OpenMP defaults (or what the user set), not with
    # the setting our engine made for numba before torch loads its own OpenMP
    for k, v in omp.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    import peer_models

    lib, mode = fw.split(":")
    xs, ys = task.take(peer_n)
    run, _ = peer_models.peer_runner(lib, mode, xs, ys, task.n_in, task.n_hid, task.n_out,
                                     task.T, task.dt, task.batch, task.recurrent, task.w_in,
                                     THREADS)
    return run, lambda before=None: {}


def worker(fw: str, key: str, rep_s: float) -> None:
    """Serve repetitions on stdin/stdout: "run" -> one JSON line."""
    t0 = time.perf_counter()
    run, counters = make_runner(fw, key)
    run()  # graph breaks, recompilations, staging and caches settle in the first pass
    print(json.dumps({"warm_s": time.perf_counter() - t0}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        n = 0
        before = counters()
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            n += run()
            w = time.perf_counter() - t0
            if w >= rep_s:
                break
        cpu = time.process_time() - c0
        after = counters(before)
        busy = (after.get("busy_s", 0.0) - before.get("busy_s", 0.0)) / w
        print(json.dumps({"wall": n / w, "cpu": n / cpu, "busy": busy,
                          "rates": after.get("rates")}), flush=True)


# ----- driver ----------------------------------------------------------------------------------
def start(fw: str, key: str, rep_s: float) -> subprocess.Popen:
    """A worker process for one framework."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS=str(THREADS))
    return subprocess.Popen([sys.executable, __file__, "--worker", fw, key, str(rep_s)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def ask(p: subprocess.Popen) -> dict:
    """One repetition of a worker."""
    p.stdin.write("run\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())


def bench(key: str, frameworks: list[str], reps: int, rep_s: float) -> dict:
    """Alternating repetitions; samples/s (wall and CPU) per framework."""
    procs, warm = {}, {}
    for fw in frameworks:  # one at a time: compilations do not overlap
        print(f"  preparing {fw} ...", end=" ", flush=True)
        procs[fw] = start(fw, key, rep_s)
        line = procs[fw].stdout.readline()
        if not line:
            raise RuntimeError(f"worker {fw} failed (see its error output above)")
        warm[fw] = json.loads(line)["warm_s"]
        print(f"{warm[fw]:.1f} s", flush=True)
    res: dict[str, list[dict]] = {fw: [] for fw in frameworks}
    load0 = load()
    for r in range(reps):
        k = r % len(frameworks)
        for fw in frameworks[k:] + frameworks[:k]:
            res[fw].append(ask(procs[fw]))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    return {"res": res, "warm": warm, "load": f"{load0} -> {load()}"}


def report(title: str, key: str, out: dict) -> list[tuple[str, str, float, str, float]]:
    """Print a task's table; return (task, ours, ours/s, best peer, best peer/s) rows."""
    res = out["res"]
    med = {fw: statistics.median(x["wall"] for x in v) for fw, v in res.items()}
    medc = {fw: statistics.median(x["cpu"] for x in v) for fw, v in res.items()}
    peers = [fw for fw in med if fw not in OURS]
    best = max(peers, key=med.__getitem__) if peers else None
    print(f"\n{title}  (load {out['load']})")
    print(f"| {'framework':21s} | samples/s (wall) | samples/CPU-s | x best peer | "
          f"warm-up s | all reps (wall) |")
    print(f"|{'-' * 23}|------------------|---------------|-------------|-----------|"
          f"-----------------|")
    rows = []
    for fw in res:
        ratio = f"{med[fw] / med[best]:11.1f}" if best and fw in OURS else f"{'':11s}"
        reps = ", ".join(f"{x['wall']:.4g}" for x in res[fw])
        name = fw + (" (best peer)" if fw == best else "")
        print(f"| {name:21s} | {med[fw]:16.1f} | {medc[fw]:13.1f} | {ratio} | "
              f"{out['warm'][fw]:9.1f} | {reps} |")
        if best and fw in OURS:
            rows.append((key, fw, med[fw], best, med[best]))
    for fw in res:
        last = res[fw][-1]
        if last.get("rates"):
            c = last["rates"]
            busy = statistics.median(x["busy"] for x in res[fw])
            print(f"  {fw}: kernels busy {100 * busy:.0f} % of wall time; synaptic events "
                  f"{c['syn_events_per_s'] / 1e6:.0f} M/s, neuron updates "
                  f"{c['neuron_updates_per_s'] / 1e6:.0f} M/s per kernel-second")
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["yy", "mnist", "shd"],
                    choices=list(DEFAULT))
    ap.add_argument("--frameworks", nargs="+", help=f"subset of {OURS + PEERS}")
    ap.add_argument("--reps", type=int, help="repetitions (default 5, --quick 3)")
    ap.add_argument("--rep-seconds", type=float, help="seconds per framework and "
                    "repetition (default 2, --quick 0.5)")
    ap.add_argument("--max-model-steps", type=int, default=100,
                    help="skip whole-model torch.compile for tasks with more steps")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    rep_s = args.rep_seconds or (0.5 if args.quick else 2.0)
    import numba
    import torch

    print(f"{os.cpu_count()} cores; numba {numba.__version__} and torch {torch.__version__}, "
          f"{THREADS} threads each, one process per framework; {reps} alternating "
          f"repetitions of >= {rep_s} s; load at start {load()}")
    summary = []
    steps = {"yy": 30, "yy01": 300, "mnist": 20, "shd": 1000}
    titles = {"yy": "Yin-Yang dt 1.0 (T=30) 4-100-3, B=512",
              "yy01": "Yin-Yang dt 0.1 (T=300) 4-100-3, B=512",
              "mnist": "latency MNIST-5k 784-128-10, T=20, B=32",
              "shd": "SHD-shaped 700-256r-20, T=1000, 1% input, B=32"}
    for key in args.tasks:
        fws = list(args.frameworks or DEFAULT[key])
        skipped = [fw for fw in fws if fw.endswith(":model") and steps[key] > args.max_model_steps]
        fws = [fw for fw in fws if fw not in skipped]
        print(f"\n{titles[key]}: {', '.join(fws)}"
              + (f" (skipped, {steps[key]} steps to unroll: {', '.join(skipped)})" if skipped
                 else ""))
        summary += report(titles[key], key, bench(key, fws, reps, rep_s))
    if summary:
        print("\nOurs against the best peer of each task (median samples/s, wall clock):")
        print("| task | ours | samples/s | best peer | samples/s | ratio |")
        print("|------|------|-----------|-----------|-----------|-------|")
        for key, fw, v, best, bv in summary:
            print(f"| {key} | {fw} | {v:.1f} | {best} | {bv:.1f} | {v / bv:.1f}x |")
    print(f"\nload at end {load()}")


if __name__ == "__main__":
    main()
