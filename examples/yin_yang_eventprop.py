"""Yin-Yang with EventProp after Wunderlich & Pehle (2021).

5 inputs (x, y, 1-x, 1-y as spike times over the first ``INPUT_TIME`` = 15 ms of the
30 ms trial, plus a bias spike at its start) -> 200 LIF -> 3 LIF read out by their first
spike; the loss is the paper's cross-entropy on first-spike times with its regulariser,
``-log softmax(-t/tau0)[label] + alpha*(exp(t_label/tau1) - 1)`` (``ttfs_loss=
"exponential"``, alpha 3e-3, tau1 6.4 ms as in the paper, tau0 0.2 ms where the paper
has 0.5 ms); Adam 5e-3 (0.9, 0.999), the learning rate x0.97 per epoch, batch 32, 80
epochs; 5000 training, 1000 validation and 1000 test examples. Every example is
simulated from rest (``reset_in_syn_between_batches``); mlGeNN lets the synaptic input
of one trial's last steps reach the next. The same settings are in
``resources/examples/yin_yang_eventprop.ssproj``, and
``python benchmarks/accuracy.py yin_yang_eventprop --seeds 0 1 2 3 4`` reports them
over seeds (README, "Examples and results", for the numbers and for where and why this
differs from mlGeNN's example and the paper).

Run: ``python examples/yin_yang_eventprop.py [--seed N] [--epochs N]``.
"""

from __future__ import annotations

import argparse
from time import perf_counter

from app.model import InputLayer, Layer, SequentialNetwork
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import OptimiserParamSchedule
from app.training.compilers import EventPropCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import yin_yang_splits
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam

NUM_HIDDEN = 200
EXAMPLE_TIME = 30.0  # ms
INPUT_TIME = 15.0  # ms: the values are spike times in [2*dt, 2*dt + INPUT_TIME]
DT = 0.05  # ms
BATCH_SIZE = 32
NUM_EPOCHS = 80
LEARNING_RATE = 5e-3
LR_DECAY = 0.97  # per epoch
TAU0, ALPHA, TAU1 = 0.2, 3e-3, 6.4  # softmax temperature (ms), regulariser, its tau (ms)
DATA_SEED = 42


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    ap.add_argument("--dt", type=float, default=DT)
    ap.add_argument("--seed", type=int, default=0, help="initial weights and shuffling")
    ap.add_argument("--loss", choices=["exponential", "mlgenn", "rmse"], default="exponential",
                    help="the paper's first-spike cross-entropy (default), mlGeNN's, or "
                         "mlGeNN's example's RelativeMeanSquareError")
    args = ap.parse_args()

    data = yin_yang_splits(seed=DATA_SEED, dt=args.dt, example_time=EXAMPLE_TIME, bias=True,
                           input_time=INPUT_TIME)
    network = SequentialNetwork(default_params)
    with network:
        inp = InputLayer(SpikeInput(max_spikes=args.batch_size * 5), 5)
        Layer(Dense(Normal(mean=1.5, sd=0.78)),
              LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None),
              NUM_HIDDEN, Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.93, sd=0.1)),
                    LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None,
                                       readout="first_spike_time"),
                    3, Exponential(5.0))

    compiler = EventPropCompiler(
        example_timesteps=data.example_timesteps,
        losses=(RelativeMeanSquareError(1.0) if args.loss == "rmse"
                else "sparse_categorical_crossentropy"),
        optimiser=Adam(LEARNING_RATE, 0.9, 0.999), batch_size=args.batch_size, dt=args.dt,
        softmax_temperature=TAU0, ttfs_alpha=ALPHA, ttfs_tau1=TAU1,
        ttfs_loss="mlgenn" if args.loss == "rmse" else args.loss, rng_seed=args.seed,
        reset_in_syn_between_batches=True)
    start = perf_counter()
    with compiler.compile(network) as cn:
        schedule = OptimiserParamSchedule("alpha",
                                          lambda epoch, alpha: LEARNING_RATE * LR_DECAY ** epoch)
        for epoch in range(args.epochs):
            metrics, _ = cn.train({inp: data.train_spikes}, {out: data.train_labels},
                                  num_epochs=1, start_epoch=epoch, shuffle=True,
                                  callbacks=[schedule])
            print(f"epoch {epoch}: train accuracy {100 * metrics[out].result:.2f}% "
                  f"loss {cn.epoch_loss:.4f} ({perf_counter() - start:.1f} s)", flush=True)
        val, _ = cn.evaluate({inp: data.validation_spikes}, {out: data.validation_labels},
                             callbacks=[])
        test, _ = cn.evaluate({inp: data.test_spikes}, {out: data.test_labels}, callbacks=[])
    print(f"validation accuracy {100 * val[out].result:.2f}%")
    print(f"TEST ACCURACY {100 * test[out].result:.2f}%  ({perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
