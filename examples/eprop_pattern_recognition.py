"""e-prop pattern recognition (mlGeNN's examples/eprop/pattern_recognition.py, plot-free).

20 input neurons in 5 groups fire in turn; 256 recurrent LIF neurons learn to
drive 3 leaky-integrator outputs along fixed sums of sinusoids over a
1000-step trial. Prints the per-epoch mean squared error over all timesteps
and outputs; it should fall below a tenth of the first epoch's within 1000
epochs.

    python examples/eprop_pattern_recognition.py --epochs 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.training.callbacks import OptimiserParamSchedule
from app.training.compilers.eprop import EPropCompiler, default_params
from app.training.data import pattern_recognition_task
from app.training.optimisers import Adam

NUM_INPUT, NUM_HIDDEN, NUM_OUTPUT = 20, 256, 3
TIMESTEPS = 1000


class EpochMSE:
    """Callback: collect (and print) the per-timestep MSE of every epoch."""

    def __init__(self, output: Population, print_every: int) -> None:
        self.output = output
        self.print_every = print_every
        self.history: list[float] = []

    def set_params(self, compiled_network=None, **kwargs) -> None:
        self.cn = compiled_network

    def on_epoch_end(self, epoch: int, metrics) -> None:
        mse = float(np.mean(self.cn.last_squared_error[self.output.name]))
        self.history.append(mse)
        if self.print_every and (epoch % self.print_every == 0):
            print(f"epoch {epoch:4d}  MSE {mse:10.4f}", flush=True)


def alpha_schedule(epoch: int, alpha: float) -> float:
    """mlGeNN's schedule: learning rate x0.7 every 200 epochs."""
    return alpha * 0.7 if epoch % 200 == 0 and epoch != 0 else alpha


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="task (targets) and weight seed")
    ap.add_argument("--print-every", type=int, default=10)
    args = ap.parse_args()

    spikes, targets = pattern_recognition_task(seed=args.seed, trial_steps=TIMESTEPS)
    network = Network(default_params)
    with network:
        inp = Population(SpikeInput(max_spikes=1000), NUM_INPUT, name="input")
        hidden = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0),
                            NUM_HIDDEN, name="hidden")
        output = Population(LeakyIntegrate(tau_mem=20.0, readout="var"), NUM_OUTPUT,
                            name="output")
        Connection(inp, hidden, Dense(Normal(sd=1.0 / np.sqrt(NUM_INPUT))))
        Connection(hidden, hidden, Dense(Normal(sd=1.0 / np.sqrt(NUM_HIDDEN))))
        Connection(hidden, output, Dense(Normal(sd=1.0 / np.sqrt(NUM_HIDDEN))))

    compiler = EPropCompiler(example_timesteps=TIMESTEPS, losses="mean_square_error",
                             optimiser=Adam(0.003), c_reg=3.0, rng_seed=args.seed)
    mse = EpochMSE(output, args.print_every)
    start = time.perf_counter()
    with compiler.compile(network) as cn:
        cn.train({inp: spikes}, {output: targets}, num_epochs=args.epochs,
                 metrics="mean_square_error",
                 callbacks=[mse, OptimiserParamSchedule("alpha", alpha_schedule)])
    elapsed = time.perf_counter() - start
    h = np.asarray(mse.history)
    below = np.nonzero(h < 0.1 * h[0])[0]
    print(f"first-epoch MSE {h[0]:.4f}, final {h[-1]:.4f}, best {h.min():.4f} "
          f"(final/first = {h[-1] / h[0]:.4f})")
    print("MSE below 0.1 x first epoch from epoch "
          f"{int(below[0]) if below.size else 'never'}")
    print(f"{args.epochs} epochs in {elapsed:.1f} s ({args.epochs / elapsed:.2f} trials/s)")


if __name__ == "__main__":
    main()
