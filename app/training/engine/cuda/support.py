"""What the CUDA backend runs, checked without importing numba-cuda."""

from __future__ import annotations

import importlib.util
from functools import lru_cache

import numpy as np

from ..layout import P_TYPE, POISSON_INPUT, Layout

INSTALL_HINT = 'install it with: pip install "spike-studio[cuda]" (the numba-cuda package)'


def unsupported_features(layout: Layout) -> list[str]:
    """Features of a flattened network the CUDA kernels do not implement (empty: all run)."""
    out = []
    if layout.max_delay > 0 or (layout.conn_i.shape[0] and np.any(layout.conn_i[:, 5])):
        out.append("synaptic delays (connections with delays)")
    if layout.kernels:
        out.append("shared convolution kernels (" + ", ".join(sorted(layout.kernels)) + ")")
    if np.any(layout.pop_i[:, P_TYPE] == POISSON_INPUT):
        out.append("PoissonInput populations")
    return out


def numba_cuda_installed() -> bool:
    """True when the numba-cuda package is importable (nothing is imported)."""
    return importlib.util.find_spec("numba_cuda") is not None


@lru_cache(maxsize=1)
def cuda_device_found() -> bool:
    """True when numba-cuda is installed and sees a CUDA device (or runs its simulator,
    NUMBA_ENABLE_CUDASIM=1). Imports numba.cuda, so call it only when asked about GPUs."""
    if not numba_cuda_installed():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # a broken driver install counts as no device
        return False
