"""Training throughput of the CPU engine (samples/second), printed as a table.

Tasks: Yin-Yang EventProp (mlGeNN's example network, dt 0.01, 30 ms) at batch
1 and 512, and an SHD-shaped synthetic classifier (700 -> 256 recurrent LIF ->
20, 1000 steps, ~1% input rate, batch 32). Each is timed after one warm-up
batch (kernel compilation excluded). Run: ``python benchmarks/train_speed.py``.
``--compile-time`` times compile -> first trained batch with a cold and a warm
numba cache (fresh processes, a temporary NUMBA_CACHE_DIR); ``--memory`` prints
peak memory per task (tracemalloc and max RSS, fresh processes) and EventProp's
memory at T = 1000 vs 10000 and max_spikes = 100 vs 1000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from time import perf_counter, process_time

import numba
import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.compilers import EventPropCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import preprocess_spikes, yin_yang_splits
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam


def _time_training(cn, x, y, n_batches: int) -> tuple[float, float]:
    """(samples/s wall, samples per CPU-second of this process) over ``n_batches``
    training batches after one warm-up batch."""
    B = cn.batch_size
    n = len(next(iter(x.values())))
    total = B * (n_batches + 1)
    reps = int(np.ceil(total / n))
    xi = {k: (list(v) * reps)[:total] for k, v in x.items()}
    yi = {k: np.tile(v, reps)[:total] for k, v in y.items()}
    warm = {k: v[:B] for k, v in xi.items()}
    cn.train(warm, {k: v[:B] for k, v in yi.items()}, num_epochs=1, callbacks=[])
    rest_x = {k: v[B:] for k, v in xi.items()}
    rest_y = {k: v[B:] for k, v in yi.items()}
    t0, c0 = perf_counter(), process_time()
    cn.train(rest_x, rest_y, num_epochs=1, shuffle=False, callbacks=[])
    return (total - B) / (perf_counter() - t0), (total - B) / (process_time() - c0)


def yin_yang(batch: int, n_batches: int) -> tuple[float, float]:
    data = yin_yang_splits(seed=1, num_train=max(batch * 2, 64), dt=0.01)
    net = Network(default_params)
    with net:
        i = Population(SpikeInput(), 4)
        h = Population(LeakyIntegrateFire(tau_mem=20.0), 100)
        o = Population(LeakyIntegrateFire(tau_mem=20.0, readout="first_spike_time"), 3)
        Connection(i, h, Dense(Normal(1.5, 0.78)), Exponential(5.0))
        Connection(h, o, Dense(Normal(0.93, 0.1)), Exponential(5.0))
    comp = EventPropCompiler(data.example_timesteps, RelativeMeanSquareError(1.0),
                             Adam(0.003, 0.9, 0.99), batch_size=batch, dt=0.01,
                             softmax_temperature=0.5, ttfs_alpha=0.1)
    with comp.compile(net) as cn:
        return _time_training(cn, {i: data.train_spikes}, {o: data.train_labels}, n_batches)


def shd_like(batch: int, n_batches: int, rate_per_step: float = 0.01
             ) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    T, n_in = 1000, 700
    x = []
    for _ in range(batch * 2):
        mask = rng.random((T, n_in)) < rate_per_step
        steps, ids = np.nonzero(mask)
        x.append(preprocess_spikes(steps.astype(np.float32), ids, n_in))
    y = rng.integers(0, 20, batch * 2)
    net = Network(default_params)
    with net:
        i = Population(SpikeInput(), n_in)
        h = Population(LeakyIntegrateFire(tau_mem=20.0), 256)
        o = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), 20)
        Connection(i, h, Dense(Normal(0.03, 0.01)), Exponential(5.0))
        Connection(h, h, Dense(Normal(0.0, 0.02)), Exponential(5.0))
        Connection(h, o, Dense(Normal(0.0, 0.03)), Exponential(5.0))
    comp = EventPropCompiler(T, "sparse_categorical_crossentropy", Adam(1e-3), batch_size=batch,
                             max_spikes=1000)
    with comp.compile(net) as cn:
        return _time_training(cn, {i: x}, {o: y}, n_batches)


def _child_compile_time(task_key: str) -> dict:
    """Seconds from ``compile`` to the end of the first trained batch (fresh process)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tasks

    t_imp = perf_counter()
    task = tasks.make_task(task_key)
    t0 = perf_counter()
    cn, i, o = tasks.build_eventprop(task)
    t1 = perf_counter()
    with cn:
        x, y = task.take(task.batch)
        cn.train({i: x}, {o: y}, num_epochs=1, callbacks=[])
    t2 = perf_counter()
    return {"task": task_key, "compile_s": t1 - t0, "first_batch_s": t2 - t1,
            "total_s": t2 - t0, "data_s": t0 - t_imp}


def _child_memory(task_key: str, T: int, max_spikes: int) -> dict:
    """Peak traced (numpy + Python) memory and max RSS of compiling and training one
    repetition of a task, in a fresh process; T overrides example_timesteps (the input
    spikes stay the same), max_spikes the EventProp per-neuron spike buffer."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tasks

    task = tasks.make_task(task_key)
    task.T = T or task.T
    task.max_spikes = max_spikes or task.max_spikes
    tracemalloc.start()
    run, cn, _ = tasks.studio_runner(task, "eventprop", task.batch)
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"task": task_key, "T": task.T, "max_spikes": task.max_spikes,
            "traced_peak_mb": peak / 2**20, "max_rss_mb": rss}


def _run_child(args: list[str], env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compile_times(tasks: list[str]) -> None:
    """Print compile-to-first-trained-batch times with a cold and a warm numba cache."""
    print(f"| {'task':6s} | cache | compile s | first batch s | total s |")
    print("|--------|-------|-----------|---------------|---------|")
    for k in tasks:
        # a fresh, empty cache per task: the first run compiles every kernel it uses
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            for label in ("cold", "warm", "warm"):
                r = _run_child(["compile", k], env)
                print(f"| {k:6s} | {label:5s} | {r['compile_s']:9.3f} | "
                      f"{r['first_batch_s']:13.3f} | {r['total_s']:7.3f} |")


def memory(tasks: list[str]) -> None:
    """Print peak memory per task, and EventProp memory against T and max_spikes."""
    print(f"| {'task':6s} | {'T':>6s} | max_spikes | traced peak MB | max RSS MB |")
    print("|--------|--------|------------|----------------|------------|")
    cases = [(k, 0, 0) for k in tasks] + [("shd", 1000, 100), ("shd", 10000, 100),
                                          ("shd", 1000, 1000), ("shd", 10000, 1000)]
    for k, T, ms in cases:
        r = _run_child(["memory", k, str(T), str(ms)])
        print(f"| {k:6s} | {r['T']:6d} | {r['max_spikes']:10d} | {r['traced_peak_mb']:14.1f} | "
              f"{r['max_rss_mb']:10.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer batches")
    ap.add_argument("--compile-time", action="store_true",
                    help="compile-to-first-trained-batch time, cold and warm numba cache")
    ap.add_argument("--memory", action="store_true", help="peak memory per task")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    tasks = ["yy", "yy01", "mnist", "shd"]
    if args.child:
        if args.child[0] == "compile":
            res = _child_compile_time(args.child[1])
        else:
            res = _child_memory(args.child[1], int(args.child[2]), int(args.child[3]))
        print(json.dumps(res))
        return
    if args.compile_time:
        compile_times(tasks)
        return
    if args.memory:
        memory(tasks)
        return
    k = 1 if args.quick else 3
    rows = [
        ("Yin-Yang EventProp, dt 0.01, batch 1", yin_yang(1, 20 * k)),
        ("Yin-Yang EventProp, dt 0.01, batch 512", yin_yang(512, 2 * k)),
        ("SHD-shaped 700-256r-20, T=1000, batch 32", shd_like(32, k)),
    ]
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numba {numba.__version__} with {numba.get_num_threads()} threads, load {load}")
    print(f"| {'task':45s} | training samples/s | samples/CPU-s |")
    print(f"|{'-' * 47}|--------------------|---------------|")
    for name, (sps, spc) in rows:
        print(f"| {name:45s} | {sps:18.1f} | {spc:13.1f} |")


if __name__ == "__main__":
    main()
