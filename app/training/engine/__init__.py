"""The engine: the only place with numba. ``get_backend(name)`` picks an implementation."""

from __future__ import annotations

import os

# Parallel regions run once per trial chunk; with OpenMP's default busy-waiting,
# threads spin against other processes on a shared machine (5x slower measured on
# 2 cores). Passive waiting costs nothing when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .cpu import CPUSimulator  # noqa: E402

BACKENDS = {"cpu": CPUSimulator}


def get_backend(name: str = "cpu") -> type[CPUSimulator]:
    """The simulator class for ``name`` (only "cpu" ships; GPU backends register here)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine."""
    return list(BACKENDS)
