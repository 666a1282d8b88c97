"""Spike Studio (EventProp, e-prop) against the strongest setup of each BPTT peer.

Peers: snnTorch 1.0 and Norse 1.1, each in three modes (see ``peer_models.py``):
eager, ``torch.compile`` of the per-step body, ``torch.compile`` of the whole
model. Same tasks, shapes, batch sizes and spike data (``tasks.py``); each
framework trains whole batches (forward, gradient, Adam step). torch uses as
many threads as numba (``torch.set_num_threads``).

Method: after a warm-up pass (compilation, staging; its time is reported), each
repetition runs every framework in an order that rotates per repetition, each
for at least ``--rep-seconds`` of whole passes over its examples, so load from
other processes hits all of them alike. Tables give the median samples/second
(wall clock), the median samples per CPU-second of this process, and each of
ours against the BEST peer of the task. Load averages are printed.

    pip install -e ".[peers]"
    python benchmarks/peers.py                   # every task, 5 repetitions (~15 min)
    python benchmarks/peers.py --quick           # 3 short repetitions (~5 min)
    python benchmarks/peers.py --tasks mnist --frameworks eventprop norse:model

Whole-model compilation unrolls the time loop: on the SHD task (1000 steps) it
had not finished after 7 minutes and 2 GB, so ``*:model`` is skipped for tasks
longer than ``--max-model-steps`` (default 100) unless that is raised.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numba  # noqa: E402
import peer_models  # noqa: E402
import tasks as T  # noqa: E402

OURS = ("eventprop", "eprop_lif", "eprop_alif")
PEERS = tuple(f"{lib}:{mode}" for lib in ("snntorch", "norse")
              for mode in ("eager", "step", "model"))
DEFAULT = {"yy": ("eventprop",) + PEERS, "yy01": ("eventprop",) + PEERS,
           "mnist": ("eventprop",) + PEERS, "shd": OURS + PEERS}
# examples per pass: ours (whole epochs of train()), peers (dense tensors in memory)
PASS = {"yy": (2048, 2048), "yy01": (2048, 1024), "mnist": (2048, 512), "shd": (64, 32)}


def load() -> str:
    """The 1/5/15-minute load averages as text."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def make_runner(fw: str, task: T.Task) -> tuple[Callable[[], int], float, object]:
    """(one pass, warm-up seconds, compiled network or None) of a framework."""
    ours_n, peer_n = PASS[task.key]
    if fw in OURS:
        n = task.batch if fw.startswith("eprop") else ours_n
        run, cn, warm = T.studio_runner(task, fw, n)
        t0 = time.perf_counter()
        run()  # the first pass stages and validates the example list (cached after)
        return run, warm + time.perf_counter() - t0, cn
    lib, mode = fw.split(":")
    xs, ys = task.take(peer_n)
    run, compile_s = peer_models.peer_runner(
        lib, mode, xs, ys, task.n_in, task.n_hid, task.n_out, task.T, task.dt, task.batch,
        task.recurrent, task.w_in, numba.get_num_threads())
    t0 = time.perf_counter()
    run()  # graph breaks and recompilations settle in the first pass
    return run, compile_s + time.perf_counter() - t0, None


def bench(task: T.Task, frameworks: list[str], reps: int, rep_s: float) -> dict:
    """Alternating repetitions; samples/s (wall and CPU) per framework."""
    runners, warm, nets = {}, {}, {}
    for fw in frameworks:
        print(f"  preparing {fw} ...", end=" ", flush=True)
        runners[fw], warm[fw], nets[fw] = make_runner(fw, task)
        print(f"{warm[fw]:.1f} s", flush=True)
    wall: dict[str, list[float]] = {fw: [] for fw in frameworks}
    cpu: dict[str, list[float]] = {fw: [] for fw in frameworks}
    counters = {}
    load0 = load()
    for r in range(reps):
        k = r % len(frameworks)
        for fw in frameworks[k:] + frameworks[:k]:
            sim = getattr(nets[fw], "sim", None)
            if hasattr(sim, "counters"):
                sim.counters.reset()
            n = 0
            t0, c0 = time.perf_counter(), time.process_time()
            while True:
                n += runners[fw]()
                w = time.perf_counter() - t0
                if w >= rep_s:
                    break
            c = time.process_time() - c0
            wall[fw].append(n / w)
            cpu[fw].append(n / c)
            if hasattr(sim, "counters"):
                counters[fw] = (sim.counters.rates(), sim.counters.kernel_s / w)
    for cn in nets.values():
        if cn is not None:
            cn.__exit__(None, None, None)
    return {"wall": wall, "cpu": cpu, "warm": warm, "counters": counters,
            "load": f"{load0} -> {load()}"}


def report(task: T.Task, res: dict) -> list[tuple[str, str, float, str, float]]:
    """Print a task's table; return (task, ours, ours/s, best peer, best peer/s) rows."""
    med = {fw: statistics.median(v) for fw, v in res["wall"].items()}
    medc = {fw: statistics.median(v) for fw, v in res["cpu"].items()}
    peers = [fw for fw in med if fw not in OURS]
    best = max(peers, key=med.__getitem__) if peers else None
    print(f"\n{task.title}  (load {res['load']})")
    print(f"| {'framework':15s} | samples/s (wall) | samples/CPU-s | x best peer | "
          f"warm-up s | all reps (wall) |")
    print(f"|{'-' * 17}|------------------|---------------|-------------|-----------|"
          f"-----------------|")
    rows = []
    for fw in res["wall"]:
        ratio = f"{med[fw] / med[best]:11.1f}" if best and fw in OURS else f"{'':11s}"
        reps = ", ".join(f"{v:.4g}" for v in res["wall"][fw])
        mark = " (best)" if fw == best else ""
        print(f"| {fw + mark:15s} | {med[fw]:16.1f} | {medc[fw]:13.1f} | {ratio} | "
              f"{res['warm'][fw]:9.1f} | {reps} |")
        if best and fw in OURS:
            rows.append((task.key, fw, med[fw], best, med[best]))
    for fw, (c, busy) in res["counters"].items():
        print(f"  {fw}: kernels busy {100 * busy:.0f} % of wall time; synaptic events "
              f"{c['syn_events_per_s'] / 1e6:.0f} M/s, neuron updates "
              f"{c['neuron_updates_per_s'] / 1e6:.0f} M/s per kernel-second")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["yy", "mnist", "shd"], choices=T.TASKS)
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
    import torch

    print(f"{os.cpu_count()} cores, numba {numba.__version__} with {numba.get_num_threads()} "
          f"threads, torch {torch.__version__} with {numba.get_num_threads()} threads; "
          f"{reps} alternating repetitions of >= {rep_s} s; load at start {load()}")
    summary = []
    for key in args.tasks:
        task = T.make_task(key)
        fws = [fw for fw in (args.frameworks or DEFAULT[key])]
        skipped = [fw for fw in fws if fw.endswith(":model") and task.T > args.max_model_steps]
        fws = [fw for fw in fws if fw not in skipped]
        print(f"\n{task.title}: {', '.join(fws)}"
              + (f" (skipped, {task.T} steps to unroll: {', '.join(skipped)})" if skipped
                 else ""))
        summary += report(task, bench(task, fws, reps, rep_s))
    if summary:
        print("\nOurs against the best peer of each task (median samples/s, wall clock):")
        print("| task | ours | samples/s | best peer | samples/s | ratio |")
        print("|------|------|-----------|-----------|-----------|-------|")
        for key, fw, v, best, bv in summary:
            print(f"| {key} | {fw} | {v:.1f} | {best} | {bv:.1f} | {v / bv:.1f}x |")
    print(f"\nload at end {load()}")


if __name__ == "__main__":
    main()
