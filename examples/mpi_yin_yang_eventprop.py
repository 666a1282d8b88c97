"""Yin-Yang EventProp trained data-parallel on several processes with MPI.

Run: ``mpirun -n 2 python examples/mpi_yin_yang_eventprop.py --epochs 10``
(add ``--oversubscribe`` for more ranks than cores, ``--allow-run-as-root``
as root; on a Slurm cluster ``srun -n 8 python examples/mpi_yin_yang_eventprop.py``).

As in mlGeNN, every rank builds the same network and trains on its own part of
the data (``shard``: every N-th example); ``batch_size`` is the total over all
ranks (it must divide by the number of ranks), each rank simulates
``batch_size / N`` of its own examples per batch and the gradients are summed
with Allreduce. Without shuffling the weights are those of one process with the
same batch size; with shuffling each rank shuffles its own part.
Only rank 0 prints, draws progress bars and writes checkpoints.
Needs OpenMPI and ``pip install 'spike-studio[mpi]'``.
"""

from __future__ import annotations

import argparse
from time import perf_counter

from app.model import InputLayer, Layer, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import Checkpoint
from app.training.communicators import MPI, shard
from app.training.compilers import EventPropCompiler, InferenceCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import yin_yang_splits
from app.training.optimisers import Adam
from app.training.serialisers import Numpy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=512, help="total over all ranks")
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--num-train", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--checkpoints", default="checkpoints_mpi_yin_yang")
    args = ap.parse_args()

    comm = MPI()
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    say(f"training on {comm.num_ranks} rank(s), {args.batch_size // comm.num_ranks} "
        "examples per rank per batch")

    data = yin_yang_splits(seed=args.seed, num_train=args.num_train, dt=args.dt)
    train_x, train_y, test_x, test_y = (shard(d, comm.rank, comm.num_ranks) for d in (
        data.train_spikes, data.train_labels, data.test_spikes, data.test_labels))
    network = SequentialNetwork(default_params)
    with network:
        inp = InputLayer(SpikeInput(max_spikes=args.batch_size * 4), 4)
        Layer(Dense(Normal(mean=1.5, sd=0.78)), LeakyIntegrateFire(tau_mem=20.0), 100,
              Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.93, sd=0.1)),
                    LeakyIntegrateFire(tau_mem=20.0, readout="first_spike_time"), 3,
                    Exponential(5.0))

    compiler = EventPropCompiler(example_timesteps=data.example_timesteps,
                                 losses="sparse_categorical_crossentropy",
                                 optimiser=Adam(args.lr, 0.9, 0.99),
                                 batch_size=args.batch_size, softmax_temperature=0.5,
                                 ttfs_alpha=0.1, dt=args.dt, rng_seed=args.seed,
                                 communicator=comm)
    start = perf_counter()
    with compiler.compile(network) as cn:
        # the callbacks check cn.is_root themselves: every rank may pass the same list
        callbacks = ["batch_progress_bar", Checkpoint(Numpy(args.checkpoints))]
        for epoch in range(args.epochs):
            metrics, _ = cn.train({inp: train_x}, {out: train_y},
                                  num_epochs=1, start_epoch=epoch, shuffle=True,
                                  callbacks=callbacks)
            say(f"epoch {epoch}: train accuracy {100 * metrics[out].result:.2f}% "
                f"loss {cn.epoch_loss:.4f} ({perf_counter() - start:.1f} s)", flush=True)

    test = InferenceCompiler(evaluate_timesteps=data.example_timesteps, dt=args.dt,
                             reset_in_syn_between_batches=True, batch_size=args.batch_size,
                             communicator=comm)
    with test.compile(network) as cn:
        test_metrics, _ = cn.evaluate({inp: test_x}, {out: test_y},
                                      callbacks=[])
    say(f"TEST ACCURACY {100 * test_metrics[out].result:.2f}%")


if __name__ == "__main__":
    main()
