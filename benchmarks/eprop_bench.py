"""e-prop training speed (the per-synapse path of an older revision vs this tree), the
gradient step against the machine's GEMM rate, and memory against the trial length.

Cases (each run in a fresh child process, after a warm-up that loads or compiles the
kernels on a short trial of the same network):

* ``shd-lif`` / ``shd-alif``: an SHD-shaped classifier, 700 -> 256 recurrent LIF or
  ALIF -> 20, 1000 steps, batch 32, synthetic Poisson input (~1 % spikes per input
  per step), cross-entropy on the summed output V;
* ``pattern``: mlGeNN's pattern-recognition task, 20 -> 256 recurrent LIF -> 3,
  1000 steps, batch 1, MSE.

"old" runs the same child code on a copy of the ``app`` package exported from
``--old-rev`` (default: the last revision whose e-prop updated every synapse's
eligibility trace every step); "new" runs this tree. Runs alternate old/new, the
order rotating every repetition, and the table gives medians with the load average.

GEMM comparison: the gradient step (``kernel_profiling``'s ``eprop_gradient``: the
per-neuron filters, the block-start pass over the eligibility state and the
per-spike row adds) is set against the dense matrix-product formulation of the same
block: ``DG += Z^T H`` with Z the (batch*K, pre) presynaptic traces and H the
(batch*K, post) filtered factors, and per batch slot ``state += Z_b^T [G|F]_b``
(ALIF: two state columns per synapse). Those numpy (OpenBLAS) products are timed on
this machine with the same shapes, in a child process between the training runs;
"GEMM fraction" is (time those products take for the run's blocks at the best rate
measured, with one or two BLAS threads) / (median gradient-step time): it is the
fraction of the machine's GEMM rate the gradient step achieves, counted in the
GEMM formulation's flops; above 1 the gradient step finishes before the GEMMs would.

Memory: peak traced memory (tracemalloc, from before compile to the end of training)
and peak RSS for T = 1000 and 10000, in fresh processes: the small pattern network
(both losses) and the SHD-shaped ALIF network (batch 32, one batch).

    python benchmarks/eprop_bench.py                 # everything
    python benchmarks/eprop_bench.py --quick         # one repetition, fewer batches
    python benchmarks/eprop_bench.py --old-rev none  # new tree only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: the tree whose ``app`` package a child imports (the parent sets it for "old" runs)
sys.path.insert(0, os.environ.get("EPROP_BENCH_TREE", str(ROOT)))

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
from app.training.optimisers import Adam  # noqa: E402

OLD_REV = "adeb8750eda314fe40f3bfc40704962b98c5052f"
SHD = {"n_in": 700, "n_hid": 256, "n_out": 20, "T": 1000, "B": 32}


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


# ----- children ---------------------------------------------------------------------------
def _timed_train(cn, x: dict, y: dict, metric: str, epochs: int) -> tuple[float, float]:
    cn.sim.profiler.seconds.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    cn.train(x, y, num_epochs=epochs, start_epoch=1, callbacks=[], metrics=metric)
    return time.perf_counter() - t0, time.process_time() - c0


def child_train(case: str, batches: int, form: str = "auto") -> dict:
    """Train ``batches`` batches (after a warm-up on a short trial) and time them;
    ``form`` forces the gradient's block products ("sparse"/"dense", new tree only)."""
    if case == "pattern":
        spikes, targets = pattern_recognition_task(seed=0, trial_steps=1000)
        net, inp, out = net_recurrent(20, 256, 3, False, "var")
        warm_net, winp, wout = net_recurrent(20, 256, 3, False, "var")
        w_spikes, w_targets = poisson_spikes(1, 20, 20, 0.05, 0), np.zeros((1, 20, 3), np.float32)
        with EPropCompiler(20, "mean_square_error", c_reg=3.0).compile(warm_net) as cn:
            if hasattr(cn.sim, "gradient"):
                cn.sim.gradient = form
            cn.train({winp: w_spikes}, {wout: w_targets}, num_epochs=1, callbacks=[],
                     metrics="mean_square_error")
        comp = EPropCompiler(1000, "mean_square_error", optimiser=Adam(0.003), c_reg=3.0,
                             kernel_profiling=True)
        with comp.compile(net) as cn:
            if hasattr(cn.sim, "gradient"):
                cn.sim.gradient = form
            wall, cpu = _timed_train(cn, {inp: spikes}, {out: targets}, "mean_square_error",
                                     batches)
            prof, sim = dict(cn.sim.profiler.seconds), cn.sim
        n, B, T, n_in, n_hid, n_out = batches, 1, 1000, 20, 256, 3
    else:
        n_in, n_hid, n_out, T, B = (SHD[k] for k in ("n_in", "n_hid", "n_out", "T", "B"))
        alif = case == "shd-alif"
        n = B * batches
        xs = poisson_spikes(n, n_in, T, 0.01, seed=1)
        ys = np.random.default_rng(2).integers(0, n_out, n)
        warm_net, winp, wout = net_recurrent(n_in, n_hid, n_out, alif, "sum_var")
        with EPropCompiler(20, "sparse_categorical_crossentropy",
                           batch_size=B).compile(warm_net) as cn:
            if hasattr(cn.sim, "gradient"):
                cn.sim.gradient = form
            cn.train({winp: poisson_spikes(B, n_in, 20, 0.01, 0)}, {wout: ys[:B]},
                     num_epochs=1, callbacks=[])
        net, inp, out = net_recurrent(n_in, n_hid, n_out, alif, "sum_var")
        comp = EPropCompiler(T, "sparse_categorical_crossentropy", optimiser=Adam(0.001),
                             batch_size=B, kernel_profiling=True)
        with comp.compile(net) as cn:
            if hasattr(cn.sim, "gradient"):
                cn.sim.gradient = form
            wall, cpu = _timed_train(cn, {inp: xs}, {out: ys},
                                     "sparse_categorical_accuracy", 1)
            prof, sim = dict(cn.sim.profiler.seconds), cn.sim
    res = {"case": case, "samples": n, "wall_s": wall, "cpu_s": cpu,
           "samples_per_s": n / wall, "samples_per_cpu_s": n / cpu,
           "forward_s": prof.get("eprop_train", 0.0),
           "gradient_s": prof.get("eprop_gradient", 0.0), "load": os.getloadavg()[0],
           "shape": {"B": B, "T": T, "U": n_in + n_hid, "H": n_hid, "O": n_out,
                     "alif": case == "shd-alif"}}
    if hasattr(sim, "block"):
        res["block"] = int(sim.block)
        res["spikes_per_step"] = float(sim.SB[:B, :sim.block].astype(np.int64).sum()
                                       / (B * sim.block))
        res["forms"] = dict(sim.block_forms)
    return res


def child_gemm(B: int, K: int, U: int, H: int, O: int, alif: bool, reps: int = 5) -> dict:
    """Best time of the dense matrix products of one block (numpy/OpenBLAS), over
    ``reps`` runs with one and with two BLAS threads (the machine's best rate)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    m = 2 if alif else 1
    Z = rng.random((B, K, U), dtype=np.float32)
    X = rng.random((B * K, H + O), dtype=np.float32)
    S = rng.random((B, K, m * H), dtype=np.float32)
    dg = np.empty((U, H + O), np.float32)
    st = np.empty((U, m * H), np.float32)
    Zf = Z.reshape(B * K, U)

    def block() -> None:
        np.matmul(Zf.T, X, out=dg)
        for b in range(B):
            np.matmul(Z[b].T, S[b], out=st)

    best = {}
    for threads in (1, 2):
        with threadpool_limits(threads, "blas"):
            block()
            best[threads] = min(_time(block) for _ in range(reps))
    flops = 2.0 * U * (H + O) * B * K + 2.0 * U * m * H * B * K
    t = min(best.values())
    return {"seconds_per_block": t, "flops_per_block": flops, "gflops": flops / t / 1e9,
            "gflops_1_thread": flops / best[1] / 1e9, "gflops_2_threads": flops / best[2] / 1e9,
            "K": K, "load": os.getloadavg()[0]}


def _time(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def child_memory(kind: str, T: int) -> dict:
    """Peak memory of compiling and training (pattern net: 2 trials; SHD ALIF: 1 batch)."""
    if kind == "shd-alif":
        B = SHD["B"]
        xs = poisson_spikes(B, SHD["n_in"], T, 0.01, seed=3)
        y = np.random.default_rng(2).integers(0, SHD["n_out"], B)
        tracemalloc.start()
        net, inp, out = net_recurrent(SHD["n_in"], SHD["n_hid"], SHD["n_out"], True, "sum_var")
        comp = EPropCompiler(T, "sparse_categorical_crossentropy", batch_size=B)
        metric, epochs = "sparse_categorical_accuracy", 1
    else:
        xs = poisson_spikes(1, 20, T, 0.02, seed=3)
        tracemalloc.start()
        net, inp, out = net_recurrent(20, 256, 3, False, "var" if kind == "mse" else "sum_var")
        if kind == "mse":
            t = np.arange(T, dtype=np.float32)
            y = np.sin(np.outer(t, [0.01, 0.02, 0.03])).astype(np.float32)[None]
            comp = EPropCompiler(T, "mean_square_error")
            metric = "mean_square_error"
        else:
            y = np.array([1])
            comp = EPropCompiler(T, "sparse_categorical_crossentropy")
            metric = "sparse_categorical_accuracy"
        epochs = 2
    with comp.compile(net) as cn:
        cn.train({inp: xs}, {out: y}, num_epochs=epochs, callbacks=[], metrics=metric)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_spikes = sum(int(np.asarray(x.spike_times).shape[0]) for x in xs)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "T": T, "traced_peak_mb": peak / 2**20, "max_rss_mb": rss_kb / 1024,
            "input_spikes": n_spikes}


# ----- parent -----------------------------------------------------------------------------
def run_child(args: list[str], tree: str | None = None) -> dict:
    env = dict(os.environ)
    if tree is not None:
        env["EPROP_BENCH_TREE"] = tree
        env["PYTHONPATH"] = tree
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_tree(rev: str, dest: str) -> str:
    """The ``app`` package of git revision ``rev``, unpacked under ``dest``."""
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "app"], check=True,
                          capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=arch, check=True)
    return dest


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description="e-prop speed, GEMM comparison and memory")
    ap.add_argument("--quick", action="store_true", help="one repetition, fewer batches")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default="shd-lif,shd-alif,pattern")
    ap.add_argument("--old-rev", default=OLD_REV, help="revision of the old path, or 'none'")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--forms", default="auto",
                    help="gradient forms of this tree to run, e.g. auto,sparse,dense")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, rest = args.child[0], args.child[1:]
        if kind == "train":
            res = child_train(rest[0], int(rest[1]), rest[2] if len(rest) > 2 else "auto")
        elif kind == "gemm":
            B, K, U, H, O, alif = (int(v) for v in rest)
            res = child_gemm(B, K, U, H, O, bool(alif))
        else:
            res = child_memory(rest[0], int(rest[1]))
        print(json.dumps(res))
        return
    reps = 1 if args.quick else args.reps
    cases = [c for c in args.cases.split(",") if c]
    batches = {"shd-lif": 1, "shd-alif": 1, "pattern": 5 if args.quick else 10}
    old_batches = {"shd-lif": 1, "shd-alif": 1, "pattern": 3}
    with tempfile.TemporaryDirectory(prefix="eprop_old_") as tmp:
        forms = [f for f in args.forms.split(",") if f]
        trees: dict[str, str | None] = {}
        if args.old_rev != "none":
            trees["old"] = export_tree(args.old_rev, tmp)
        for f in forms:
            trees["new" if f == "auto" else f"new-{f}"] = None
        rows: dict[tuple[str, str], list[dict]] = {}
        gemm: dict[str, list[dict]] = {}
        for rep in range(reps):
            for case in cases:
                order = list(trees) if rep % 2 == 0 else list(reversed(trees))
                for name in order:
                    nb = old_batches[case] if name == "old" else batches[case]
                    form = name.split("-")[1] if "-" in name else "auto"
                    r = run_child(["train", case, str(nb), form], trees[name])
                    rows.setdefault((case, name), []).append(r)
                    print(f"  {case:9s} {name}: {r['samples_per_s']:8.2f} samples/s "
                          f"(load {r['load']:.1f}) {r.get('forms', '')}", flush=True)
                    if name != "old":
                        s = r["shape"]
                        g = run_child(["gemm", str(s["B"]), str(r["block"]), str(s["U"]),
                                       str(s["H"]), str(s["O"]), str(int(s["alif"]))])
                        gemm.setdefault((case, name), []).append(g)
    print(f"\nthreads: numba {os.environ.get('NUMBA_NUM_THREADS', 'default')}, load now "
          f"{os.getloadavg()}")
    print(f"{'case':9s} {'tree':11s} {'samples/s':>10s} {'per CPU-s':>10s} {'forward s':>10s} "
          f"{'gradient s':>10s} {'load':>5s}")
    for (case, name), rs in rows.items():
        print(f"{case:9s} {name:11s} {med(rs, 'samples_per_s'):10.2f} "
              f"{med(rs, 'samples_per_cpu_s'):10.2f} {med(rs, 'forward_s'):10.3f} "
              f"{med(rs, 'gradient_s'):10.3f} {med(rs, 'load'):5.1f}")
    for case in cases:
        if (case, "old") in rows and (case, "new") in rows:
            ratio = med(rows[(case, "new")], "samples_per_s") / med(rows[(case, "old")],
                                                                   "samples_per_s")
            print(f"{case}: new / old = {ratio:.1f}x (wall, medians)")
    print(f"\n{'case':9s} {'tree':11s} {'block K':>7s} {'spikes/step':>11s} "
          f"{'GEMM GFLOP/s':>12s} {'GEMM s (run)':>12s} {'gradient s':>10s} "
          f"{'GEMM fraction':>13s}")
    for (case, name), gs in gemm.items():
        # the machine's best measured rate for these shapes (any repetition, 1 or 2 threads)
        rs = rows[(case, name)]
        best = min(g["seconds_per_block"] for g in gs)
        s = rs[0]["shape"]
        gemm_s = best * s["T"] / rs[0]["block"] * (rs[0]["samples"] // s["B"])
        print(f"{case:9s} {name:11s} {rs[0]['block']:7d} {med(rs, 'spikes_per_step'):11.1f} "
              f"{gs[0]['flops_per_block'] / best / 1e9:12.1f} {gemm_s:12.3f} "
              f"{med(rs, 'gradient_s'):10.3f} {gemm_s / med(rs, 'gradient_s'):13.2f}")
    if args.no_memory:
        return
    print(f"\n{'memory case':20s} {'T':>6s} {'traced peak MB':>15s} {'max RSS MB':>11s} "
          f"{'input spikes':>12s}")
    for kind in ("sce", "mse", "shd-alif"):
        mem = [run_child(["memory", kind, str(T)]) for T in (1000, 10000)]
        for r in mem:
            print(f"{kind:20s} {r['T']:6d} {r['traced_peak_mb']:15.2f} {r['max_rss_mb']:11.1f} "
                  f"{r['input_spikes']:12d}")
        print(f"{kind}: T=10000 / T=1000 traced peak = "
              f"{mem[1]['traced_peak_mb'] / mem[0]['traced_peak_mb']:.3f}, max RSS = "
              f"{mem[1]['max_rss_mb'] / mem[0]['max_rss_mb']:.3f}")


if __name__ == "__main__":
    main()
