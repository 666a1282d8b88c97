"""Which batches the worker samples for the live plots (``SampleClock``), and what a
training run then streams."""
from __future__ import annotations

import json
import threading

import numpy as np

from app.project.examples import load_example
from app.worker.control import Control
from app.worker.process import _run
from app.worker.protocol import WorkerSpec
from app.worker.sampling import SampleClock

MNIST = "mnist5k_latency_eventprop"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def sampled(clock: SampleClock, fake: FakeClock, batches: int, every: int, dt: float,
            per_epoch: int) -> list[int]:
    """Steps sampled when each batch takes ``dt`` seconds."""
    out = []
    for step in range(batches):
        if clock.due(step, step % per_epoch, every):
            out.append(step)
        fake.t += dt
    return out


def test_slow_batches_are_sampled_every_n() -> None:
    fake = FakeClock()
    got = sampled(SampleClock(0.04, fake), fake, 25, every=5, dt=0.05, per_epoch=100)
    assert got == [0, 5, 10, 15, 20]


def test_fast_batches_are_sampled_at_most_every_interval() -> None:
    fake = FakeClock()
    # 1 ms batches, every 2 batches asked for, 10 ms apart at most: every 10th batch
    got = sampled(SampleClock(0.01, fake), fake, 45, every=2, dt=0.001, per_epoch=1000)
    assert got == [0, 10, 20, 30, 40]


def test_first_batch_of_every_epoch_is_sampled() -> None:
    fake = FakeClock()
    got = sampled(SampleClock(100.0, fake), fake, 30, every=1, dt=0.001, per_epoch=8)
    assert got == [0, 8, 16, 24]


def test_no_interval_keeps_the_batch_pattern() -> None:
    fake = FakeClock()
    got = sampled(SampleClock(0.0, fake), fake, 12, every=3, dt=0.0, per_epoch=100)
    assert got == [0, 3, 6, 9]
    assert SampleClock(-1.0).min_interval_s == 0.0


def run_worker(interval: float, epochs: int = 2,
               example: str = "yin_yang_eventprop") -> list[dict]:
    """64 examples in batches of 8, every batch due for a sample by count."""
    p = load_example(example)
    p.training.max_examples = 64
    p.training.num_epochs = epochs
    p.training.validation_split = 0.0
    p.compiler.params["batch_size"] = 8
    msgs: list[dict] = []
    spec = WorkerSpec(project_json=json.dumps(p.to_dict()), sample_every=1,
                      min_sample_interval_s=interval)
    _run(spec, msgs.append, Control(threading.Event(), None, msgs.append))
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    return msgs


def test_worker_samples_by_batches_and_by_time() -> None:
    every_batch = run_worker(0.0)
    batches = [m for m in every_batch if m["kind"] == "batch_metrics"]
    assert len(batches) == 16
    for kind in ("voltage", "raster", "weights"):
        per_batch = {(m["epoch"], m["batch"]) for m in every_batch if m["kind"] == kind}
        assert per_batch == {(m["epoch"], m["batch"]) for m in batches}, kind
    # an hour between samples: only each epoch's first batch is drawn
    rare = run_worker(3600.0)
    assert len([m for m in rare if m["kind"] == "batch_metrics"]) == 16
    for kind in ("voltage", "raster", "weights"):
        assert {(m["epoch"], m["batch"]) for m in rare if m["kind"] == kind} == {(0, 0), (1, 0)}


def test_clock_counts_batches_to_the_next_sample() -> None:
    fake = FakeClock()
    clock = SampleClock(0.04, fake)
    assert clock.batches_to_count(0, 10) == 0  # nothing sampled yet: sample now
    assert clock.due(5, 0, 10)
    assert clock.batches_to_count(7, 10) == 8
    fake.t = 1.0
    assert not clock.would_sample(14, 9, 10)  # time has passed, the count has not
    assert clock.batches_to_count(15, 10) is None and clock.would_sample(15, 10, 10)
    assert clock.would_sample(15, 10, 10)  # peeking counts nothing
    assert clock.due(15, 10, 10) and clock.batches_to_count(15, 10) == 10


def test_worker_trains_fused_between_live_batches(monkeypatch) -> None:
    """Between its samples the worker lets the library train in fused engine calls
    (the latency-MNIST example's network runs layer by layer); every batch is still
    reported, and the weights are those of batch by batch."""
    from app.training.compilers.eventprop import EventPropCompiledNetwork
    from app.training.engine.cpu import CPUSimulator

    calls: list[int] = []
    orig = CPUSimulator.train_epoch

    def spy(self, name, examples, idx, *a, **k):
        calls.append(len(idx))
        return orig(self, name, examples, idx, *a, **k)
    monkeypatch.setattr(CPUSimulator, "train_epoch", spy)
    fused = run_worker(3600.0, example=MNIST)
    assert sum(calls) == 14  # 8 batches per epoch, batch 0 of each epoch live
    steps = [m["step"] for m in fused if m["kind"] == "batch_metrics"]
    assert steps == list(range(16))
    calls.clear()
    monkeypatch.setattr(EventPropCompiledNetwork, "_train_pass_fused",
                        lambda self, *a, **k: None)  # the per-batch loop
    per_batch = run_worker(3600.0, example=MNIST)
    assert calls == []
    for key, w in per_batch[-1]["weights"].items():
        np.testing.assert_array_equal(fused[-1]["weights"][key], w)
    loss = [m["loss"] for m in fused if m["kind"] == "batch_metrics"]
    assert loss == [m["loss"] for m in per_batch if m["kind"] == "batch_metrics"]
