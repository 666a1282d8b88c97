"""Does a network built from the palette learn Yin-Yang in its default epochs?

Input -> LIF 100 -> LeakyIntegrate 3, built with the editor's document
operations (``app.project.palette``): three nodes, two connections, input
resized to 4, output to 3, Yin-Yang picked; no weight edited.  For several
seeds (weight initialisation and shuffling), it trains with the project's own
defaults and reports the test accuracy; "dead start + calibrate" first sets the
input weights to the pre-issue-13 value (Normal(0, 1/sqrt(10)), hidden neurons
never fire) and lets :func:`app.project.calibrate.calibrate` repair them.

    python benchmarks/palette_yin_yang.py [--seeds 5]
"""
from __future__ import annotations

import argparse
import math
import os
import time

from app.project.build import build
from app.project.calibrate import apply_calibration, calibrate
from app.project.document import Project
from app.project.palette import (
    add_population,
    choose_builtin_dataset,
    connect,
    resize_population,
    set_connection_weight,
)


def palette_project(seed: int) -> tuple[Project, str]:
    p = Project()
    inp = add_population(p, "SpikeInput")
    hid = add_population(p, "LeakyIntegrateFire")
    out = add_population(p, "LeakyIntegrate")
    c1 = connect(p, inp.id, hid.id)
    connect(p, hid.id, out.id)
    resize_population(p, inp.id, 4)
    resize_population(p, out.id, 3)
    choose_builtin_dataset(p, "yin_yang")
    p.compiler.params["rng_seed"] = seed
    p.training.seed = seed
    return p, c1.id


def train(p: Project) -> tuple[float, float, list[float]]:
    built = build(p)
    x, y = built.train_data()
    tx, ty = built.test_data()
    curve: list[float] = []

    class Curve:
        def on_epoch_end(self, epoch: int, metrics: dict) -> None:
            curve.append(metrics[built.output].result)

    with built.compiler.compile(built.network) as cn:
        cn.train(x, y, num_epochs=p.training.num_epochs, shuffle=p.training.shuffle,
                 callbacks=[Curve()])
        test, _ = cn.evaluate(tx, ty, callbacks=[])
    return curve[-1], test[built.output].result, curve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    p, _ = palette_project(0)
    print(f"defaults: dt {p.compiler.params['dt']} ms, {p.compiler.timesteps} steps, batch "
          f"{p.compiler.params['batch_size']}, {p.training.num_epochs} epochs, Adam "
          f"{p.compiler.optimiser['alpha']}, readout {p.populations[2].readout}, loss "
          f"{p.compiler.loss['type']}; load {os.getloadavg()[0]:.1f}")
    print("| start | seed | train acc | test acc | first epoch >= 90 % | wall s |")
    print("|---|---|---|---|---|---|")
    for case in ("palette defaults", "dead start + calibrate"):
        for seed in range(args.seeds):
            p, c1 = palette_project(seed)
            t0 = time.perf_counter()
            if case != "palette defaults":
                set_connection_weight(p, c1, {"type": "Normal", "mean": 0.0,
                                              "sd": 1 / math.sqrt(10)})
                apply_calibration(p, calibrate(p))
            tr, te, curve = train(p)
            first = next((i for i, a in enumerate(curve) if a >= 0.9), None)
            print(f"| {case} | {seed} | {tr:.3f} | {te:.3f} | {first} | "
                  f"{time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
