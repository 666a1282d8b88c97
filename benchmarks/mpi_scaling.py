"""Data-parallel scaling: training samples/second on 1 and 2 MPI ranks.

Run: ``python benchmarks/mpi_scaling.py [--ranks 1 2] [--task eventprop eprop]``.
For every rank count it starts ``mpirun -n R`` of this file in worker mode; each
rank trains on its own part of the examples (every R-th, as mlGeNN's MPI scripts
slice their data) with ``batch / R`` of them per batch (the batch size is the
total over all ranks, so the learning problem is the same for every R). After one warm-up
epoch (numba compilation) the ranks time one epoch between barriers; rank 0
prints samples/s. Each rank gets ``NUMBA_NUM_THREADS = cores // R`` threads
(``--threads`` fixes it, e.g. ``--threads 1`` to compare equal work per rank).
Needs OpenMPI (``mpirun``) and mpi4py (``pip install 'spike-studio[mpi]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _data(n: int, n_in: int, T: int, seed: int = 0) -> tuple[list, np.ndarray]:
    """Random spike trains (rate 20 Hz) with 10 labels."""
    from app.training.data import preprocess_spikes

    rng = np.random.default_rng(seed)
    spikes = []
    for _ in range(n):
        fire = rng.random((T, n_in)) < 0.02
        steps, ids = np.nonzero(fire)
        spikes.append(preprocess_spikes(steps.astype(np.float32), ids, n_in))
    return spikes, rng.integers(0, 10, n).astype(np.int64)


def _build(task: str, batch: int, T: int, comm: object) -> tuple:
    from app.model import Connection, Network, Population
    from app.model.connectivity import Dense
    from app.model.initializers import Normal
    from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from app.model.synapses import Exponential
    from app.training.optimisers import Adam

    if task == "eventprop":
        from app.training.compilers import EventPropCompiler
        from app.training.compilers.eventprop import default_params

        net = Network(default_params)
        with net:
            inp = Population(SpikeInput(), 100, name="in")
            hid = Population(LeakyIntegrateFire(tau_mem=20.0), 256, name="hid")
            out = Population(LeakyIntegrate(readout="avg_var"), 10, name="out")
            Connection(inp, hid, Dense(Normal(0.1, 0.1)), Exponential(5.0))
            Connection(hid, out, Dense(Normal(0.0, 0.1)), Exponential(5.0))
        comp = EventPropCompiler(T, "sparse_categorical_crossentropy", Adam(1e-3),
                                 batch_size=batch, communicator=comm)
    else:
        from app.training.compilers.eprop import EPropCompiler, default_params

        net = Network(default_params)
        with net:
            inp = Population(SpikeInput(), 100, name="in")
            hid = Population(LeakyIntegrateFire(v_thresh=0.6, tau_refrac=5.0), 256,
                             name="hid")
            out = Population(LeakyIntegrate(readout="sum_var"), 10, name="out")
            Connection(inp, hid, Dense(Normal(0.0, 0.3)), "delta")
            Connection(hid, hid, Dense(Normal(0.0, 0.05)), "delta")
            Connection(hid, out, Dense(Normal(0.0, 0.1)), "delta")
        comp = EPropCompiler(T, "sparse_categorical_crossentropy", optimiser=Adam(1e-3),
                             batch_size=batch, communicator=comm)
    return net, inp, out, comp


def worker(task: str, examples: int, batch: int, T: int) -> None:
    """One rank: warm up, then time one epoch; rank 0 prints a JSON line."""
    from app.training.communicators import MPI, shard

    comm = MPI()
    net, inp, out, comp = _build(task, batch, T, comm)
    x, y = (shard(d, comm.rank, comm.num_ranks) for d in _data(examples, 100, T))
    with comp.compile(net) as cn:
        cn.train({inp: x[:2 * batch]}, {out: y[:2 * batch]}, num_epochs=1, callbacks=[])
        comm.barrier()
        start = perf_counter()
        cn.train({inp: x}, {out: y}, num_epochs=1, start_epoch=1, callbacks=[])
        comm.barrier()
        took = perf_counter() - start
    if comm.rank == 0:
        print(json.dumps({"task": task, "ranks": comm.num_ranks, "examples": examples,
                          "batch_size": batch, "timesteps": T, "seconds": round(took, 3),
                          "samples_per_s": round(examples / took, 1),
                          "threads_per_rank": os.environ.get("NUMBA_NUM_THREADS")}),
              flush=True)


def launch(task: str, ranks: int, examples: int, batch: int, T: int,
           threads: int | None = None) -> dict:
    """Run the worker under ``mpirun -n ranks`` and return rank 0's result."""
    from app.cli import mpirun_command

    cmd = mpirun_command(ranks, [])[:-3]  # mpirun and its flags, without "python -m app"
    cmd += [sys.executable, str(Path(__file__).resolve()), "--worker", task,
            "--examples", str(examples), "--batch", str(batch), "--timesteps", str(T)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_NUM_THREADS=str(threads or max(1, (os.cpu_count() or 1) // ranks)))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("{"))
    return json.loads(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--task", nargs="+", choices=["eventprop", "eprop"],
                    default=["eventprop", "eprop"])
    ap.add_argument("--examples", type=int, default=None,
                    help="examples per timed epoch (default: EventProp 2048, e-prop 256)")
    ap.add_argument("--batch", type=int, default=32, help="total over all ranks")
    ap.add_argument("--timesteps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None,
                    help="numba threads per rank (default: cores // ranks)")
    ap.add_argument("--worker", choices=["eventprop", "eprop"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.examples, args.batch, args.timesteps)
        return
    print(f"{os.cpu_count()} cores; batch {args.batch} (total over ranks), T={args.timesteps}")
    for task in args.task:
        base = None
        n = args.examples or (2048 if task == "eventprop" else 256)
        for r in args.ranks:
            res = launch(task, r, n, args.batch, args.timesteps, args.threads)
            base = base or res["samples_per_s"]
            print(f"{task:10s} ranks={r}  {n} examples  {res['samples_per_s']:8.1f} samples/s  "
                  f"({res['seconds']:.2f} s/epoch, x{res['samples_per_s'] / base:.2f}, "
                  f"{res['threads_per_rank']} thread(s)/rank)",
                  flush=True)


if __name__ == "__main__":
    main()
