"""Latency encoding of static (image-like) data into ``PreprocessedSpikes``.

Each input value becomes at most one spike; larger values spike earlier.
Examples are flattened, so an (N, 28, 28) array gives 784 input neurons.
"""

from __future__ import annotations

import numpy as np

from .spikes import PreprocessedSpikes

__all__ = ["linear_latency_encode_data", "log_latency_encode_data"]


def _flat(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    return data.reshape(len(data), -1)


def linear_latency_encode_data(data: np.ndarray, max_time: float,
                               min_time: float = 0.0,
                               thresh: int = 1) -> list[PreprocessedSpikes]:
    """Encode uint8-range data (0..255) linearly: 255 -> ``min_time``, 0 -> ``max_time``.

    Only values strictly greater than ``thresh`` spike, so a blank background
    stays silent.  Returns one ``PreprocessedSpikes`` per example (mlGeNN's
    ``linear_latency_encode_data``).
    """
    flat = _flat(data)
    time_range = max_time - min_time
    out = []
    for row in flat:
        mask = row > thresh
        values = row[mask]
        times = ((255.0 - values) / 255.0) * time_range + min_time
        out.append(PreprocessedSpikes(np.cumsum(mask), times))
    return out


def log_latency_encode_data(data: np.ndarray, tau_eff: float,
                            thresh: float) -> list[PreprocessedSpikes]:
    """Encode data with ``t = tau_eff * log(x / (x - thresh))`` for ``x > thresh``.

    Values at or below ``thresh`` never spike; large values spike near 0.
    This is the encoding of mlGeNN's e-prop latency MNIST example.
    """
    flat = _flat(data)
    out = []
    for row in flat:
        mask = row > thresh
        values = row[mask]
        times = tau_eff * np.log(values / (values - thresh))
        out.append(PreprocessedSpikes(np.cumsum(mask), times))
    return out
