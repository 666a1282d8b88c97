"""Helper of the trial-kernel tests: two kernels run from the same engine state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def from_same_state(sim: Any, state: Sequence[str], run: Callable[[bool], Any]) -> tuple:
    """``run(False)``, then ``run(True)`` from the engine state (the arrays named in
    ``state``) and gradient buffers the first run started from; both results."""
    saved = {k: getattr(sim, k).copy() for k in state}
    g0 = sim.grad_parts.copy()
    ref = run(False)
    for k, v in saved.items():
        getattr(sim, k)[...] = v
    sim.grad_parts[...] = g0
    return ref, run(True)


def record_fused_calls(sim: Any) -> list:
    """Wrap ``sim.train_epoch``: the returned list gets what each call returned (None
    where it declined a pass)."""
    calls: list = []
    orig = sim.train_epoch

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(orig(*a, **k))
        return calls[-1]

    sim.train_epoch = spy
    return calls
