"""``tonic.datasets.SHD`` with synthetic Spiking Heidelberg Digits-shaped data.

Like the real dataset: 700 input channels (``sensor_size = (700, 1, 1)``), 20
classes, events as a structured array with integer fields ``t`` (microseconds),
``x`` (channel) and ``p`` (always 0), sorted by time, ``ordering = "txp"``.
Each class is three bands of channels that sweep up or down over the
example; every example jitters the band positions, timing and events, so the
task is learnable but not trivial. Times are not multiples of a millisecond,
so ``ceil(calc_latest_spike_time(...))`` meets spikes after the last timestep
as it does with the real SHD.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

NUM_CHANNELS = 700
CLASSES = [f"{lang}-{d}" for lang in ("english", "german") for d in range(10)]
DTYPE = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])


class SHD:
    """Synthetic SHD split: ``SHD_STUB_TRAIN`` (default 512) or ``SHD_STUB_TEST``
    (default 256) examples of at most ``SHD_STUB_MS`` (default 100) ms with about
    ``SHD_STUB_EVENTS`` (default 1000, about the event rate of the real SHD) events."""

    sensor_size = (NUM_CHANNELS, 1, 1)
    ordering = "txp"
    classes = CLASSES
    dtype = DTYPE

    def __init__(self, save_to: str = "", train: bool = True, transform: Any = None,
                 target_transform: Any = None) -> None:
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        key = "SHD_STUB_TRAIN" if self.train else "SHD_STUB_TEST"
        self.size = int(os.environ.get(key, 512 if self.train else 256))
        self.duration_us = float(os.environ.get("SHD_STUB_MS", 100)) * 1000.0
        self.events = int(os.environ.get("SHD_STUB_EVENTS", 1000))
        rng = np.random.default_rng(1234)
        # three bands per class: start channel and sweep (channels over the example)
        self._start = rng.uniform(40, NUM_CHANNELS - 40, (len(CLASSES), 3))
        self._sweep = rng.uniform(-150, 150, (len(CLASSES), 3))
        self.targets = np.arange(self.size) % len(CLASSES)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not 0 <= index < self.size:
            raise IndexError(index)
        label = int(self.targets[index])
        rng = np.random.default_rng([int(self.train), index])
        n = max(1, int(rng.poisson(self.events)))
        band = rng.integers(0, 3, n)
        frac = np.sort(rng.uniform(0.02, 0.98, n))
        offset = rng.normal(0.0, 8.0, 3)
        x = (self._start[label, band] + offset[band] + self._sweep[label, band] * frac
             + rng.normal(0.0, 6.0, n))
        keep = (x >= 0) & (x < NUM_CHANNELS)
        t = frac * self.duration_us * rng.uniform(0.85, 1.0)
        events = np.zeros(int(keep.sum()), DTYPE)
        events["t"] = np.round(t[keep]).astype(np.int64)
        events["x"] = x[keep].astype(np.int64)
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return events, label


__all__ = ["SHD"]
