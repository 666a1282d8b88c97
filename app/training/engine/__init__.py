"""The engine: the only place with numba. ``get_backend(name)`` picks an implementation."""

from __future__ import annotations

from .cpu import CPUSimulator

BACKENDS = {"cpu": CPUSimulator}


def get_backend(name: str = "cpu") -> type[CPUSimulator]:
    """The simulator class for ``name`` (only "cpu" ships; GPU backends register here)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine."""
    return list(BACKENDS)
