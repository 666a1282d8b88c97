"""e-prop training speed and memory.

* pattern: mlGeNN's pattern-recognition setup (20 -> 256 recurrent LIF -> 3,
  1000 steps, batch 1, MSE): training samples (trials) per second.
* shd: an SHD-shaped classifier (700 -> 256 recurrent ALIF -> 20, batch 64,
  synthetic Poisson input at ~1% spikes per input per step, SCE), a short run.
* memory: peak traced memory (tracemalloc: every numpy/Python allocation from
  before compile to the end of training) and peak RSS, for the same network
  trained with example_timesteps T = 1000 and T = 10000. Each measurement runs
  in a fresh process.

    python benchmarks/eprop_bench.py            # everything, prints a table
    python benchmarks/eprop_bench.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.model import Connection, Network, Population  # noqa: E402
from app.model.connectivity import Dense  # noqa: E402
from app.model.initializers import Normal  # noqa: E402
from app.model.neurons import (  # noqa: E402
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.training.compilers.eprop import EPropCompiler, default_params  # noqa: E402
from app.training.data import pattern_recognition_task, preprocess_spikes  # noqa: E402
from app.training.engine.eprop_kernels import num_threads  # noqa: E402
from app.training.optimisers import Adam  # noqa: E402


def poisson_spikes(n: int, n_in: int, T: int, p: float, seed: int) -> list:
    """n examples of Poisson spikes: each input fires with probability p per step."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        steps, ids = np.nonzero(rng.random((T, n_in)) < p)
        out.append(preprocess_spikes(steps.astype(np.float32), ids, n_in))
    return out


def net_recurrent(n_in: int, n_hid: int, n_out: int, alif: bool, readout: str
                  ) -> tuple[Network, Population, Population]:
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), n_in, name="input")
        nrn = (AdaptiveLeakyIntegrateFire(v_thresh=0.6, tau_mem=20.0, tau_refrac=5.0,
                                          tau_adapt=2000.0) if alif else
               LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0))
        hid = Population(nrn, n_hid, name="hidden")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout=readout), n_out, name="output")
        Connection(inp, hid, Dense(Normal(sd=1.0 / np.sqrt(n_in))))
        Connection(hid, hid, Dense(Normal(sd=1.0 / np.sqrt(n_hid))))
        Connection(hid, out, Dense(Normal(sd=1.0 / np.sqrt(n_hid))))
    return net, inp, out


def bench_pattern(epochs: int) -> dict:
    spikes, targets = pattern_recognition_task(seed=0, trial_steps=1000)
    net, inp, out = net_recurrent(20, 256, 3, False, "var")
    comp = EPropCompiler(1000, "mean_square_error", optimiser=Adam(0.003), c_reg=3.0)
    with comp.compile(net) as cn:
        cn.train({inp: spikes}, {out: targets}, num_epochs=2, callbacks=[],
                 metrics="mean_square_error")  # warm-up (JIT cache load)
        t0, c0 = time.perf_counter(), time.process_time()
        cn.train({inp: spikes}, {out: targets}, num_epochs=epochs, start_epoch=2,
                 callbacks=[], metrics="mean_square_error")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        mode = "batch" if cn.sim.by_batch else "neurons"
    syn = 20 * 256 + 256 * 256 + 256 * 3
    return {"case": "pattern 20->256rec LIF->3, T=1000, B=1", "samples_per_s": epochs / wall,
            "wall_s": wall, "cpu_s": cpu, "samples": epochs, "schedule": mode,
            "ns_per_synapse_step": wall / (epochs * 1000 * syn) * 1e9}


def bench_shd(T: int, batches: int) -> dict:
    B = 64
    n = B * batches
    xs = poisson_spikes(n, 700, T, 0.01, seed=1)
    ys = np.random.default_rng(2).integers(0, 20, n)
    net, inp, out = net_recurrent(700, 256, 20, True, "sum_var")
    comp = EPropCompiler(T, "sparse_categorical_crossentropy", optimiser=Adam(0.001),
                         batch_size=B)
    with comp.compile(net) as cn:
        cn.train({inp: xs[:B]}, {out: ys[:B]}, num_epochs=1, callbacks=[])  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        cn.train({inp: xs}, {out: ys}, num_epochs=1, start_epoch=1, callbacks=[])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        mode = "batch" if cn.sim.by_batch else "neurons"
    syn = 700 * 256 + 256 * 256 + 256 * 20
    return {"case": f"SHD-shaped 700->256rec ALIF->20, T={T}, B=64", "samples_per_s": n / wall,
            "wall_s": wall, "cpu_s": cpu, "samples": n, "schedule": mode,
            "ns_per_synapse_step": wall / (n * T * syn) * 1e9}


def bench_memory(T: int, loss: str) -> dict:
    """Peak memory of compiling and training 2 epochs of one trial of T steps."""
    tracemalloc.start()
    net, inp, out = net_recurrent(20, 256, 3, False, "var" if loss == "mse" else "sum_var")
    xs = poisson_spikes(1, 20, T, 0.02, seed=3)
    if loss == "mse":
        t = np.arange(T, dtype=np.float32)
        y = np.sin(np.outer(t, [0.01, 0.02, 0.03])).astype(np.float32)[None]
        comp = EPropCompiler(T, "mean_square_error")
        metric = "mean_square_error"
    else:
        y = np.array([1])
        comp = EPropCompiler(T, "sparse_categorical_crossentropy")
        metric = "sparse_categorical_accuracy"
    with comp.compile(net) as cn:
        cn.train({inp: xs}, {out: y}, num_epochs=2, callbacks=[], metrics=metric)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"case": f"memory {loss.upper()} T={T}", "T": T, "loss": loss,
            "traced_peak_mb": peak / 2**20, "max_rss_mb": rss_kb / 1024}


def run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description="e-prop speed and memory benchmark")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--shd-steps", type=int, default=100,
                    help="example_timesteps of the SHD-shaped run (SHD itself uses ~1000)")
    args = ap.parse_args()
    if args.child:
        kind = args.child[0]
        if kind == "pattern":
            res = bench_pattern(int(args.child[1]))
        elif kind == "shd":
            res = bench_shd(int(args.child[1]), int(args.child[2]))
        else:
            res = bench_memory(int(args.child[1]), args.child[2])
        print(json.dumps(res))
        return
    rows = [run_child(["pattern", "5" if args.quick else "20"]),
            run_child(["shd", str(args.shd_steps), "1" if args.quick else "2"])]
    mem = [run_child(["memory", str(T), loss]) for loss in ("sce", "mse")
           for T in (1000, 10000)]
    print(f"threads: {num_threads()}")
    print(f"{'case':48s} {'samples/s':>10s} {'wall s':>8s} {'cpu s':>8s} {'ns/syn-step':>11s}"
          f" {'schedule':>9s}")
    for r in rows:
        print(f"{r['case']:48s} {r['samples_per_s']:10.2f} {r['wall_s']:8.1f} {r['cpu_s']:8.1f}"
              f" {r['ns_per_synapse_step']:11.2f} {r['schedule']:>9s}")
    print()
    print(f"{'case':48s} {'traced peak MB':>15s} {'max RSS MB':>11s}")
    for r in mem:
        print(f"{r['case']:48s} {r['traced_peak_mb']:15.2f} {r['max_rss_mb']:11.1f}")
    for loss in ("sce", "mse"):
        a, b = [r for r in mem if r["loss"] == loss]
        print(f"{loss.upper()}: T=10000 / T=1000 traced peak = "
              f"{b['traced_peak_mb'] / a['traced_peak_mb']:.3f}, "
              f"max RSS = {b['max_rss_mb'] / a['max_rss_mb']:.3f}")


if __name__ == "__main__":
    main()
