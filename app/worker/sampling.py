"""Which training batches the worker samples for the live plots.

A sampled batch records the first example's spikes and voltages and sends them with
the weights: on a fast network that costs several times a plain batch (latency
MNIST, batch 32: ~1.4 ms against ~0.36). The plots redraw at most ~25 times a
second, so sampling more often than that only slows training: on that network
"every 10 batches" meant ~275 samples a second and the worker training at ~0.56x
the library's rate (BENCHMARKS.md, "The window's training rate").
"""
from __future__ import annotations

import time
from collections.abc import Callable


class SampleClock:
    """Batch 0 of every epoch, then a batch at least ``every`` batches and at least
    ``min_interval_s`` seconds (wall clock) after the last sampled one.

    Args:
        min_interval_s: shortest time between two samples, in seconds (0: every
            ``every`` batches, however fast they run).
        clock: the time source, in seconds (tests pass a fake one).
    """

    def __init__(self, min_interval_s: float,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.min_interval_s = max(0.0, float(min_interval_s))
        self.clock = clock
        self._step: int | None = None
        self._t = 0.0

    def would_sample(self, step: int, batch: int, every: int) -> bool:
        """Whether the batch at global ``step`` (``batch`` within its epoch) is due,
        without counting it as sampled."""
        return batch == 0 or self._step is None or (
            step - self._step >= max(1, int(every))
            and self.clock() - self._t >= self.min_interval_s)

    def due(self, step: int, batch: int, every: int) -> bool:
        """Whether the batch at global ``step`` is sampled; a batch found due counts
        as the last sample from then on."""
        due = self.would_sample(step, batch, every)
        if due:
            self._step, self._t = step, self.clock()
        return due

    def batches_to_count(self, step: int, every: int) -> int | None:
        """Batches from ``step`` before the next one ``every`` batches after the last
        sample (None: that count is reached; only the time decides now)."""
        if self._step is None:
            return 0
        left = self._step + max(1, int(every)) - step
        return left if left > 0 else None
