"""The window's training rate: an example project trained in the worker process, as
the editor starts it (with the live plots' samples), against the library's
``train()`` on the same project.

The worker streams each batch's metrics and, for the plots, a sampled batch's
first-example raster, voltages and weight histograms (``app/worker/stream.py``). A
sampled batch is recorded and costs several times a plain one, so how often the
worker samples sets how far it falls behind the library on fast networks. Each
repetition trains ``--epochs`` epochs in a fresh worker (``TrainingClient``, the
editor's path, at the editor's default priority unless ``--nice``) per setting of
``min_sample_interval_s``, alternating; the rate is the epochs after the first
(which stages the data and compiles). The library runs ``train()`` in this process
with ``callbacks=[]``.

    python benchmarks/worker_speed.py                              # ~3 min
    python benchmarks/worker_speed.py --project yin_yang_eventprop --reps 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.project.examples import load_example  # noqa: E402


def worker_rate(project, epochs: int, interval: float, nice: int,
                n_ex: int) -> tuple[float, int]:
    """(samples/s of the epochs after the first, sampled batches) of one worker run."""
    from app.worker import TrainingClient

    client = TrainingClient()
    with tempfile.TemporaryDirectory() as tmp:
        client.start_training(project, None, root=Path(tmp), num_epochs=epochs,
                              min_sample_interval_s=interval, nice=nice)
        msgs = client.wait(1800)
    if msgs[-1]["kind"] != "finished":
        raise RuntimeError(f"worker did not finish: {msgs[-1]}")
    batches = [m for m in msgs if m["kind"] == "batch_metrics"]
    per_epoch = batches[0]["num_batches"]
    n = sum(1 for m in batches if m["epoch"] >= 1)
    secs = sum(m["seconds"] for m in msgs if m["kind"] == "epoch_metrics"
               and "seconds" in m and m["epoch"] >= 1)
    examples = n / per_epoch * n_ex
    sampled = len({(m["epoch"], m["batch"]) for m in msgs if m["kind"] == "weights"})
    return examples / secs, sampled


def examples_per_epoch(project) -> int:
    """Training examples of one epoch (after validation split and max_examples)."""
    from app.project.build import build

    built = build(project, None)
    _x, y = built.train_data()
    return len(next(iter(y.values())))


def library_rate(project, epochs: int) -> float:
    """samples/s of ``train(callbacks=[])`` on the project, epochs after the first."""
    from app.project.build import build

    built = build(project, None)
    x, y = built.train_data()
    n = len(next(iter(y.values())))
    with built.compiler.compile(built.network) as cn:
        cn.train(x, y, num_epochs=1, callbacks=[])
        t0 = time.perf_counter()
        cn.train(x, y, num_epochs=epochs - 1, start_epoch=1, callbacks=[])
        return n * (epochs - 1) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--project", default="mnist5k_latency_eventprop",
                    help="example project key (app/project/examples.py)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--intervals", type=float, nargs="+", default=[0.0, 0.04],
                    help="min_sample_interval_s settings (0: every sample_every batches)")
    ap.add_argument("--nice", type=int, default=10, help="the worker's nice increment")
    args = ap.parse_args()
    project = load_example(args.project)
    n_ex = examples_per_epoch(project)
    print(f"{args.project}: {n_ex} examples per epoch, {args.epochs} epochs per run, "
          f"sample_every 10; load at start {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")
    rates: dict[str, list[float]] = {}
    samples: dict[str, list[int]] = {}
    for r in range(args.reps):
        order = [f"worker, min_sample_interval_s={v:g}" for v in args.intervals] + ["library"]
        for name in order if r % 2 == 0 else order[::-1]:
            if name == "library":
                rates.setdefault(name, []).append(library_rate(project, args.epochs))
                continue
            v = float(name.split("=")[1])
            rate, k = worker_rate(project, args.epochs, v, args.nice, n_ex)
            rates.setdefault(name, []).append(rate)
            samples.setdefault(name, []).append(k)
    lib = statistics.median(rates["library"])
    print("| run | samples/s (median) | all reps | sampled batches | / library |")
    print("|---|---|---|---|---|")
    for name, v in rates.items():
        med = statistics.median(v)
        k = ", ".join(str(s) for s in samples.get(name, [])) or "-"
        print(f"| {name} | {med:,.0f} | {', '.join(f'{x:,.0f}' for x in v)} | {k} | "
              f"{med / lib:.2f} |")
    print(f"load at end {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
