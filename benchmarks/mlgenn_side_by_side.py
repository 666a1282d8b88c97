"""Spike Studio against mlGeNN itself, side by side in one process (real wheels).

mlGeNN 2.3 on PyGeNN 5.4 with GeNN's ``single_threaded_cpu`` backend (its only
CPU mode, batch size 1) and Spike Studio on the same machine, the same data and
the same initial weights, in alternating repetitions (samples per second of
wall clock, and per CPU-second of this process: GeNN's CPU backend uses one
thread, ours two; on a busy machine the CPU figure is the steadier one). GeNN's code generation
and C++ compilation (done when the compiled network is entered) and model
loading are timed separately and NOT counted in its training rate; our numba
compilation is likewise excluded (a warm-up pass).

Tasks
  yinyang  mlGeNN's Yin-Yang EventProp example setup: 4 -> 100 LIF -> 3 LIF
           (first-spike-time readout), Exponential(5 ms) synapses, dt 0.01 ms,
           30 ms trials (3000 steps), RelativeMeanSquareError(1.0),
           Adam(0.003, 0.9, 0.99), softmax_temperature 0.5, ttfs_alpha 0.1.
  pattern  mlGeNN's e-prop pattern-recognition example: 20 -> 256 recurrent
           LIF (tau_refrac 5 ms) -> 3 LI (var readout), 1000 steps, per-step
           mean-square-error targets (sums of sinusoids), Adam(0.003), c_reg 3.

mlGeNN trains at batch size 1. Ours runs at batch 1 (the like-for-like ratio)
and at its best batch size (``--batch``: 512 for Yin-Yang as in mlGeNN's
example, 32 copies of the pattern for e-prop). Printed: samples/s (median of
the repetitions), the ratios, GeNN's build time, and the load average.

    python benchmarks/mlgenn_side_by_side.py            # both tasks (~5 min)
    python benchmarks/mlgenn_side_by_side.py --quick    # fewer examples and repetitions
    python benchmarks/mlgenn_side_by_side.py --tasks yinyang
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load() -> str:
    """The 1/5/15-minute load averages as text."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


# ----- the two libraries behind one set of names ---------------------------------------------
def library(name: str) -> dict:
    """The classes a network description needs, from mlGeNN or from Spike Studio
    (the same names: Spike Studio's training library has mlGeNN's public shape)."""
    import importlib

    if name == "mlgenn":
        root, extra = "ml_genn", {"backend": "single_threaded_cpu"}
        where = {"Population": "", "Connection": "", "Network": "",
                 "Dense": ".connectivity", "LeakyIntegrate": ".neurons",
                 "LeakyIntegrateFire": ".neurons", "SpikeInput": ".neurons",
                 "Exponential": ".synapses", "EventPropCompiler": ".compilers",
                 "EPropCompiler": ".compilers", "RelativeMeanSquareError": ".losses",
                 "Adam": ".optimisers", "PreprocessedSpikes": ".utils.data"}
        defaults = {"evp_defaults": ".compilers.event_prop_compiler",
                    "eprop_defaults": ".compilers.eprop_compiler"}
    else:
        root, extra = "app", {}
        where = {"Population": ".model", "Connection": ".model", "Network": ".model",
                 "Dense": ".model.connectivity", "LeakyIntegrate": ".model.neurons",
                 "LeakyIntegrateFire": ".model.neurons", "SpikeInput": ".model.neurons",
                 "Exponential": ".model.synapses", "EventPropCompiler": ".training.compilers",
                 "EPropCompiler": ".training.compilers.eprop",
                 "RelativeMeanSquareError": ".training.losses",
                 "Adam": ".training.optimisers", "PreprocessedSpikes": ".training.data"}
        defaults = {"evp_defaults": ".training.compilers.eventprop",
                    "eprop_defaults": ".training.compilers.eprop"}
    lib = {k: getattr(importlib.import_module(root + mod), k) for k, mod in where.items()}
    for k, mod in defaults.items():
        lib[k] = importlib.import_module(root + mod).default_params
    lib["extra"] = extra
    return lib


def yinyang_net(lib: dict, weights: dict, batch: int, T: int, dt: float):
    """(compiler, network, input, output) of mlGeNN's Yin-Yang EventProp example."""
    net = lib["Network"](lib["evp_defaults"])
    with net:
        inp = lib["Population"](lib["SpikeInput"](max_spikes=batch * 4), 4)
        hid = lib["Population"](lib["LeakyIntegrateFire"](v_thresh=1.0, tau_mem=20.0,
                                                          tau_refrac=None), 100)
        out = lib["Population"](lib["LeakyIntegrateFire"](v_thresh=1.0, tau_mem=20.0,
                                                          tau_refrac=None,
                                                          readout="first_spike_time"), 3)
        lib["Connection"](inp, hid, lib["Dense"](weights["in_hid"]), lib["Exponential"](5.0))
        lib["Connection"](hid, out, lib["Dense"](weights["hid_out"]), lib["Exponential"](5.0))
    comp = lib["EventPropCompiler"](example_timesteps=T,
                                    losses=lib["RelativeMeanSquareError"](1.0),
                                    optimiser=lib["Adam"](0.003, 0.9, 0.99), batch_size=batch,
                                    softmax_temperature=0.5, ttfs_alpha=0.1, dt=dt,
                                    **lib["extra"])
    return comp, net, inp, out


def pattern_net(lib: dict, weights: dict, batch: int, T: int, dt: float):
    """(compiler, network, input, output) of mlGeNN's e-prop pattern-recognition example."""
    net = lib["Network"](lib["eprop_defaults"])
    with net:
        inp = lib["Population"](lib["SpikeInput"](max_spikes=400), 20)
        hid = lib["Population"](lib["LeakyIntegrateFire"](v_thresh=0.61, tau_mem=20.0,
                                                          tau_refrac=5.0), 256)
        out = lib["Population"](lib["LeakyIntegrate"](tau_mem=20.0, readout="var"), 3)
        lib["Connection"](inp, hid, lib["Dense"](weights["in_hid"]))
        lib["Connection"](hid, hid, lib["Dense"](weights["hid_hid"]))
        lib["Connection"](hid, out, lib["Dense"](weights["hid_out"]))
    comp = lib["EPropCompiler"](example_timesteps=T, losses="mean_square_error",
                                optimiser=lib["Adam"](0.003), c_reg=3.0, batch_size=batch,
                                dt=dt, **lib["extra"])
    return comp, net, inp, out


# ----- data --------------------------------------------------------------------------------
def yinyang_data(n: int, seed: int) -> tuple[list, np.ndarray, dict, int, float]:
    """n Yin-Yang examples (the example's encoding), labels, weights, T, dt."""
    from app.training.data.yin_yang import generate_yin_yang_dataset

    dt, t_ms = 0.01, 30.0
    np.random.seed(seed)
    spikes, labels = generate_yin_yang_dataset(n, t_ms - 4 * dt, 2 * dt, bias=False)
    rng = np.random.default_rng(seed)
    w = {"in_hid": rng.normal(1.5, 0.78, (4, 100)).astype(np.float32),
         "hid_out": rng.normal(0.93, 0.1, (100, 3)).astype(np.float32)}
    return list(spikes), np.asarray(labels, np.int64), w, int(np.ceil(t_ms / dt)), dt


def pattern_data(seed: int) -> tuple[list, np.ndarray, dict, int, float]:
    """The pattern example's one input and its (1, 1000, 3) per-step targets."""
    from app.training.data import preprocess_spikes

    rng = np.random.default_rng(seed)
    phase = rng.random((3, 3)) * 2.0 * np.pi
    ampl = 0.5 + rng.random((3, 3)) * 1.5
    sins = np.sin(np.outer(np.arange(1000), np.array([2.0, 3.0, 5.0]) * np.pi / 1000.0))
    y = np.zeros((1000, 3))
    for i in range(3):
        for c in range(3):
            y[:, i] += ampl[i, c] * sins[:, c] + phase[i, c]
    group = np.arange(20) // 4
    times = (np.arange(0, 200, 10)[None, :] + group[:, None] * 200).astype(np.float32)
    ids = np.repeat(np.arange(20), times.shape[1])
    x = preprocess_spikes(times.ravel(), ids, 20)
    w = {"in_hid": rng.normal(0, 1 / np.sqrt(20), (20, 256)).astype(np.float32),
         "hid_hid": rng.normal(0, 1 / np.sqrt(256), (256, 256)).astype(np.float32),
         "hid_out": rng.normal(0, 1 / np.sqrt(256), (256, 3)).astype(np.float32)}
    return [x], y[None].astype(np.float32), w, 1000, 1.0


# ----- runners -------------------------------------------------------------------------------
def runner(which: str, task: str, batch: int, n: int, seed: int
           ) -> tuple[Callable[[], int], dict, Callable[[], None]]:
    """(one training pass over n examples, timings, close) for one side."""
    lib = library(which)
    if task == "yinyang":
        xs, ys, w, T, dt = yinyang_data(n, seed)
        build, metric = yinyang_net, "sparse_categorical_accuracy"
    else:
        x1, y1, w, T, dt = pattern_data(seed)
        xs, ys = x1 * n, np.repeat(y1, n, axis=0)
        # mlGeNN's example keeps the default metric (its mean_square_error metric
        # rejects per-step targets); ours reports the MSE of the last step
        build = pattern_net
        metric = "sparse_categorical_accuracy" if which == "mlgenn" else "mean_square_error"
    xs = [lib["PreprocessedSpikes"](ex.end_spikes, ex.spike_times) for ex in xs]
    times = {}
    cwd = os.getcwd()
    tmp = tempfile.TemporaryDirectory(prefix=f"bench_{which}_")
    os.chdir(tmp.name)  # GeNN writes its generated code here
    try:
        t0 = time.perf_counter()
        comp, net, inp, out = build(lib, w, batch, T, dt)
        cn = comp.compile(net)
        times["build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cn.__enter__()
        times["load_s"] = time.perf_counter() - t0
    finally:
        os.chdir(cwd)
    epoch = [0]

    def run() -> int:
        cn.train({inp: xs}, {out: ys}, num_epochs=1, start_epoch=epoch[0], shuffle=False,
                 metrics=metric, callbacks=[])
        epoch[0] += 1
        return len(xs)

    t0 = time.perf_counter()
    run()  # warm-up: numba compilation (ours), first-touch of everything (both)
    times["first_pass_s"] = time.perf_counter() - t0

    def close() -> None:
        cn.__exit__(None, None, None)
        tmp.cleanup()
    return run, times, close


def bench(task: str, sides: dict[str, tuple[int, int]], reps: int, seed: int) -> None:
    """Alternating repetitions of every side; prints the table."""
    runs, info, closers = {}, {}, []
    for key, (batch, n) in sides.items():
        which = key.split("@")[0]
        print(f"  preparing {key} (batch {batch}, {n} examples per pass) ...", flush=True)
        runs[key], info[key], close = runner(which, task, batch, n, seed)
        closers.append(close)
    rates: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    load0 = load()
    keys = list(runs)
    for r in range(reps):
        k0 = r % len(keys)
        for key in keys[k0:] + keys[:k0]:
            t0, c0 = time.perf_counter(), time.process_time()
            n = runs[key]()
            rates[key].append(n / (time.perf_counter() - t0))
            cpu[key].append(n / (time.process_time() - c0))
    for close in closers:
        close()
    med = {k: statistics.median(v) for k, v in rates.items()}
    medc = {k: statistics.median(v) for k, v in cpu.items()}
    ref, refc = med["mlgenn@1"], medc["mlgenn@1"]
    print(f"\n{task}  (load {load0} -> {load()})")
    print("| side | batch | samples/s | x mlGeNN | samples/CPU-s | x mlGeNN (CPU) | compile() s "
          "| enter s | first pass s | reps |")
    print("|------|-------|-----------|----------|---------------|----------------|------------"
          "-|---------|--------------|------|")
    for key in keys:
        i = info[key]
        print(f"| {key.split('@')[0]} | {sides[key][0]} | {med[key]:.1f} | "
              f"{med[key] / ref:.1f}x | {medc[key]:.1f} | {medc[key] / refc:.1f}x | "
              f"{i['build_s']:.1f} | {i['load_s']:.2f} | {i['first_pass_s']:.1f} | "
              f"{', '.join(f'{v:.4g}' for v in rates[key])} |")
    print("(mlGeNN: compile() builds the GeNN model; entering the compiled network generates "
          "and compiles its C++ code and loads it; the first pass is our numba compilation; "
          "none of these is in the rates)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["yinyang", "pattern"],
                    choices=["yinyang", "pattern"])
    ap.add_argument("--reps", type=int, help="repetitions (default 3, --quick 2)")
    ap.add_argument("--quick", action="store_true", help="fewer examples and repetitions")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    reps = args.reps or (2 if args.quick else 3)
    import numba

    print(f"{os.cpu_count()} cores, numba {numba.__version__} with {numba.get_num_threads()} "
          f"threads (ours); GeNN single_threaded_cpu (mlGeNN); load at start {load()}")
    q = args.quick
    for task in args.tasks:
        if task == "yinyang":
            sides = {"mlgenn@1": (1, 64 if q else 128), "ours@1": (1, 512 if q else 1024),
                     "ours@512": (512, 2048 if q else 4096)}
        else:
            sides = {"mlgenn@1": (1, 8 if q else 20), "ours@1": (1, 8 if q else 20),
                     "ours@32": (32, 32 if q else 64)}
        print(f"\n{task}:")
        bench(task, sides, reps, args.seed)
    print(f"\nload at end {load()}")


if __name__ == "__main__":
    main()
