"""The engine: the only place with numba. ``get_backend(name)`` picks an implementation."""

from __future__ import annotations

import os

# OpenMP threads wait for the next parallel region by spinning, then sleeping. Its
# default spin (300,000 rounds) steals whole time slices from other processes on a
# shared machine, and sleeping at once (OMP_WAIT_POLICY=PASSIVE) makes waking the
# second thread cost more than it saves on sub-millisecond batches. A short spin
# keeps the thread awake between batches; on a busy machine the thread governor
# (threads.py) falls back to one thread. A user's own OMP_WAIT_POLICY or
# GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "20000")

from .cpu import CPUSimulator  # noqa: E402
from .cuda.support import INSTALL_HINT, cuda_device_found, numba_cuda_installed  # noqa: E402

#: Every backend name a compiler accepts; "cuda" is imported only when asked for.
BACKEND_NAMES = ("cpu", "cuda")
BACKENDS = {"cpu": CPUSimulator}


def get_backend(name: str = "cpu") -> type:
    """The simulator class for ``name``: "cpu", or "cuda" (numba-cuda, imported here
    on first use and only if a CUDA device is found)."""
    if name == "cuda" and "cuda" not in BACKENDS:
        if not numba_cuda_installed():
            raise ValueError(f"backend='cuda' needs numba-cuda, which is not installed; "
                             f"{INSTALL_HINT}, or use backend='cpu'")
        if not cuda_device_found():
            raise ValueError("backend='cuda': numba-cuda finds no CUDA device "
                             "(numba.cuda.is_available() is False); use backend='cpu'")
        from .cuda.sim import CUDASimulator

        BACKENDS["cuda"] = CUDASimulator
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKEND_NAMES)}")
    return BACKENDS[name]


def get_eprop_backend(name: str = "cpu") -> type:
    """The e-prop simulator class for ``name`` ("cpu" or "cuda", checked as
    ``get_backend``; the cuda one is imported only when asked for)."""
    if name == "cpu":
        from .eprop_sim import EPropSimulator

        return EPropSimulator
    get_backend(name)
    from .cuda.eprop_sim import CUDAEPropSimulator

    return CUDAEPropSimulator


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine ("cuda" when numba-cuda is
    installed and finds a device; checking imports numba.cuda)."""
    return ["cpu"] + (["cuda"] if cuda_device_found() else [])
