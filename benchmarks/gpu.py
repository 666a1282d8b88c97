"""EventProp and e-prop training throughput on the cuda backend next to the CPU engine.

Checks the device first: without numba-cuda or a CUDA device it says so and exits 0.
Then, per task (``benchmarks/tasks.py``: SHD-shaped, latency MNIST and Yin-Yang with
EventProp; ``shd-eprop``: the SHD-shaped task with e-prop, LIF hidden), it
builds the same network on both backends, trains one warm-up batch on each (kernel
compilation excluded), and times whole training passes, alternating cpu and cuda
runs, best of ``--repeats``. Prints samples/s, the ratio and the machine load.

    python benchmarks/gpu.py                 # needs a GPU
    python benchmarks/gpu.py --tasks shd --batch 256
    python benchmarks/gpu.py --simulator     # smoke test: tiny tasks, numba's CUDA simulator

``--simulator`` sets NUMBA_ENABLE_CUDASIM=1 (before numba is imported) and runs
scaled-down versions of the tasks: it checks that the script and the kernels run,
its timings mean nothing. The expected GPU numbers are derived in docs/cuda.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from time import perf_counter

if "--simulator" in sys.argv:  # numba reads this when numba.cuda is first imported
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from tasks import Task, build_eprop, build_eventprop, make_task, poisson_spikes  # noqa: E402

TASK_KEYS = ("shd", "mnist", "yy", "shd-eprop")


def device_line() -> str | None:
    """A description of the CUDA device, or None (after printing why) when there is none."""
    from app.training.engine.cuda.support import cuda_device_found, numba_cuda_installed

    if not numba_cuda_installed():
        print('No GPU benchmark: numba-cuda is not installed (pip install "spike-studio[cuda]").')
        return None
    if not cuda_device_found():
        print("No GPU benchmark: numba-cuda finds no CUDA device (numba.cuda.is_available() "
              "is False). Run with --simulator for a smoke test of the script.")
        return None
    from numba import cuda

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "numba-cuda SIMULATOR (timings are meaningless)"
    dev = cuda.get_current_device()
    free, total = cuda.current_context().get_memory_info()
    return (f"{dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, "
            f"compute capability {dev.compute_capability}, {total / 2**30:.0f} GiB")


def smoke_task(key: str) -> Task:
    """A scaled-down task of the same kind (for the simulator)."""
    if key in ("shd", "shd-eprop"):
        xs = poisson_spikes(4, 28, 30, 0.05, seed=1)
        ys = np.random.default_rng(2).integers(0, 4, 4)
        algo = " e-prop" if key == "shd-eprop" else ""
        return Task(key, f"SHD{algo} smoke 28-16r-4, T=30, B=2", xs, ys, 28, 16, 4, 30, 1.0,
                    2, True, 4, 0.3, 100)
    task = make_task(key, batch=2)
    task.n_hid = 8
    task.samples = 4
    task.title = {"mnist": "MNIST smoke 64-8-10, T=20, B=2",
                  "yy": "Yin-Yang smoke 4-8-3, T=30, B=2"}.get(key, task.title)
    if key == "mnist":  # 784 inputs are slow in the simulator: keep the first 64 pixels
        from app.training.data import preprocess_spikes

        task.n_in = 64

        keep = []
        for ex in task.spikes[:4]:
            ends = np.asarray(ex.end_spikes)
            ids = np.repeat(np.arange(ends.shape[0]), np.diff(np.concatenate([[0], ends])))
            m = ids < 64
            keep.append(preprocess_spikes(np.asarray(ex.spike_times)[m], ids[m], 64))
        task.spikes, task.labels = keep, task.labels[:4]
    return task


def time_pass(cn, i, o, x, y) -> float:
    """Seconds of one training pass over x."""
    t0 = perf_counter()
    cn.train({i: x}, {o: y}, num_epochs=1, shuffle=False, callbacks=[])
    return perf_counter() - t0


def bench(task: Task, repeats: int) -> dict[str, float]:
    """Best samples/s per backend over ``repeats`` alternating passes."""
    x, y = task.take(task.samples)
    nets = {}
    for backend in ("cpu", "cuda"):
        if task.key == "shd-eprop":
            cn, i, o = build_eprop(task, adaptive=False, backend=backend)
        else:
            cn, i, o = build_eventprop(task, backend)
        cn.__enter__()
        cn.train({i: x[:task.batch]}, {o: y[:task.batch]}, num_epochs=1, callbacks=[])
        nets[backend] = (cn, i, o)
    best = {"cpu": 0.0, "cuda": 0.0}
    for _ in range(repeats):
        for backend in ("cpu", "cuda"):
            cn, i, o = nets[backend]
            best[backend] = max(best[backend], len(y) / time_pass(cn, i, o, x, y))
    for cn, _, _ in nets.values():
        cn.__exit__(None, None, None)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulator", action="store_true",
                    help="run tiny tasks under numba's CUDA simulator (a smoke test)")
    ap.add_argument("--tasks", default=",".join(TASK_KEYS),
                    help=f"comma-separated, from {', '.join(TASK_KEYS)}")
    ap.add_argument("--batch", type=int, default=None, help="override every task's batch size")
    ap.add_argument("--samples", type=int, default=None, help="examples per timed pass")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per backend")
    args = ap.parse_args()
    dev = device_line()
    if dev is None:
        return 0
    print(f"device: {dev}")
    print(f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    rows = []
    for key in args.tasks.split(","):
        if key not in TASK_KEYS:
            ap.error(f"unknown task {key!r}; known: {', '.join(TASK_KEYS)}")
        if args.simulator:
            task = smoke_task(key)
        elif key == "shd-eprop":
            task = make_task("shd", batch=args.batch)
            task.key, task.title = key, "e-prop " + task.title.replace(", 1% input", "")
        else:
            task = make_task(key, batch=args.batch)
        if args.samples:
            task.samples = args.samples
        elif not args.simulator:
            task.samples = max(task.samples, 4 * task.batch)
        load = os.getloadavg()[0]
        r = bench(task, 1 if args.simulator else args.repeats)
        rows.append((task.title, r["cpu"], r["cuda"], r["cuda"] / max(r["cpu"], 1e-12), load))
    print()
    print(f"| {'task (EventProp unless marked e-prop)':<46} | {'cpu samples/s':>13} "
          f"| {'cuda samples/s':>14} | {'cuda/cpu':>8} | {'load':>5} |")
    print(f"|{'-' * 48}|{'-' * 15}|{'-' * 16}|{'-' * 10}|{'-' * 7}|")
    for title, cpu, gpu, ratio, load in rows:
        print(f"| {title:<46} | {cpu:>13,.0f} | {gpu:>14,.0f} | {ratio:>7.2f}x | {load:>5.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
