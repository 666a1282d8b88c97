"""Shared fixtures of the project tests."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest


def write_fake_shd(path: Path, n: int = 8, seed: int = 0) -> Path:
    """A tiny file with the published SHD layout (700 channels, 20 classes)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        ft = h5py.vlen_dtype(np.float32)
        fu = h5py.vlen_dtype(np.uint16)
        times = f.create_dataset("spikes/times", (n,), dtype=ft)
        units = f.create_dataset("spikes/units", (n,), dtype=fu)
        for k in range(n):
            m = int(rng.integers(50, 200))
            times[k] = np.sort(rng.uniform(0.0, 1.2, m)).astype(np.float32)
            units[k] = rng.integers(0, 700, m).astype(np.uint16)
        f.create_dataset("labels", data=rng.integers(0, 20, n).astype(np.uint16))
    return path


@pytest.fixture
def fake_shd() -> Callable[..., Path]:
    """Factory writing a small SHD-layout file: ``fake_shd(path, n=8)``."""
    return write_fake_shd
