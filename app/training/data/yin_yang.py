"""The Yin-Yang classification dataset (Kriener et al. 2021) as input spikes.

Each example is a point (x, y) in the yin-yang symbol, encoded as four spike
times ``offset + scale * (x, y, 1-x, 1-y)`` (plus an optional bias spike at
``offset``).  Classes: 0 yang, 1 yin, 2 the two dots.  Sampling follows the
reference generator (and mlGeNN) draw for draw, so seeding NumPy's global RNG
with the same seed reproduces mlGeNN's examples exactly.
"""

from __future__ import annotations

import math

import numpy as np

from .dataset import SpikeDataset
from .spikes import PreprocessedSpikes, preprocess_spikes

__all__ = ["generate_yin_yang_dataset", "yin_yang_class", "yin_yang_splits"]


def yin_yang_class(x: float, y: float, r_small: float = 0.1, r_big: float = 0.5) -> int:
    """Class of a point inside the yin-yang circle: 0 yang, 1 yin, 2 dot."""
    d_right = math.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_left = math.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    if d_right < r_small or d_left < r_small:
        return 2
    in_yin = (d_right <= r_small
              or r_small < d_left <= 0.5 * r_big
              or (y > r_big and d_right > 0.5 * r_big))
    return int(in_yin)


def generate_yin_yang_dataset(size: int, scale: float, offset: float = 0.0,
                              bias: bool = True, r_small: float = 0.1,
                              r_big: float = 0.5,
                              rng: np.random.RandomState | None = None
                              ) -> tuple[list[PreprocessedSpikes], list[int]]:
    """Generate ``size`` Yin-Yang examples as (spikes, labels), mlGeNN-compatible.

    For each example a class is drawn uniformly (``randint(3)``), then points
    are drawn in the [0, 2*r_big]^2 square by rejection until one lies in the
    circle and in that class, which keeps the classes balanced.  Spike times
    are ``offset + scale * (x, y, 1-x, 1-y)``; with ``bias`` a fifth spike at
    ``offset`` is put first (neuron 0).  ``rng`` defaults to NumPy's global
    random state, as in mlGeNN, so ``np.random.seed(s)`` reproduces its data.
    """
    random = np.random if rng is None else rng
    num_channels = 5 if bias else 4
    ids = np.arange(num_channels)
    spikes: list[PreprocessedSpikes] = []
    labels: list[int] = []
    for _ in range(size):
        goal = random.randint(3)
        while True:
            x, y = random.random_sample(2) * 2.0 * r_big
            if math.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            if yin_yang_class(x, y, r_small, r_big) == goal:
                break
        values = [x, y, 1.0 - x, 1.0 - y]
        if bias:
            values = [0.0, *values]
        times = offset + np.asarray(values) * scale
        spikes.append(preprocess_spikes(times, ids, num_channels))
        labels.append(int(goal))
    return spikes, labels


def yin_yang_splits(seed: int = 42, num_train: int = 5000, num_validation: int = 1000,
                    num_test: int = 1000, example_time: float = 30.0, dt: float = 0.1,
                    bias: bool = False, input_time: float | None = None) -> SpikeDataset:
    """Standard train/validation/test Yin-Yang splits (5000/1000/1000), reproducibly.

    One integer ``seed`` spawns three independent RNG streams (one per split,
    via ``np.random.SeedSequence``), so the splits never share examples by
    construction and NumPy's global random state is left untouched.  Timing
    follows mlGeNN's EventProp example: ``scale = example_time - 4*dt``,
    ``offset = 2*dt``, ``example_timesteps = ceil(example_time / dt)``; ``input_time``
    (ms), when given, encodes the values over ``[offset, offset + input_time]`` instead
    and leaves the rest of the trial for the network to answer.
    """
    scale = example_time - 4.0 * dt if input_time is None else float(input_time)
    if not 0.0 < scale <= example_time - 2.0 * dt:
        raise ValueError(f"input_time={input_time!r} must be in (0, example_time - 2*dt]")
    offset = 2.0 * dt
    children = np.random.SeedSequence(seed).spawn(3)
    parts = []
    for child, n in zip(children, (num_train, num_validation, num_test), strict=True):
        rng = np.random.RandomState(child.generate_state(4))
        spikes, labels = generate_yin_yang_dataset(n, scale, offset, bias=bias, rng=rng)
        parts.append((spikes, np.asarray(labels, dtype=np.int64)))
    (tr_s, tr_l), (va_s, va_l), (te_s, te_l) = parts
    return SpikeDataset(
        train_spikes=tr_s, train_labels=tr_l, test_spikes=te_s, test_labels=te_l,
        validation_spikes=va_s, validation_labels=va_l,
        num_inputs=5 if bias else 4, num_outputs=3, num_classes=3,
        example_timesteps=int(math.ceil(round(example_time / dt, 9))), dt=dt,
        name="yin_yang")
