"""How many threads each parallel kernel call runs on, chosen from measured speed.

A parallel region ends when its slowest thread does. On a quiet machine a second
thread nearly halves a sub-millisecond batch (latency MNIST: 42k -> 68k samples/s on
2 cores); on a busy one a thread that the scheduler has set aside holds the region
up, and the same batch runs ~10x slower than on one thread (BENCHMARKS.md). Neither
setting is right everywhere, so each call site (``"train_trial"``, ``"adam"``, ...)
times its calls on one thread and on all, keeps the faster, and now and then tries
the other again: soon after a switch, more and more rarely while the other keeps
losing.

The split of a batch into chunks (and so the order in which gradients are summed)
never depends on this choice: a kernel runs the same chunks on one thread or on
many, so results are the same bit for bit whichever count was picked.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import numba

#: Environment variable: "adaptive" (the default) or "all" (every call on all the
#: threads numba has, the engine's behaviour before the governor).
POLICY_ENV = "SPIKE_STUDIO_THREAD_POLICY"


class SiteChoice:
    """The thread count of one call site: ``wide`` (all threads) or 1.

    Call ``threads()`` before a call and ``record(threads, seconds, units)`` after
    it. A probe runs one count for one call that is not counted (it may load
    compiled code or wake sleeping threads), then for ``probe_calls`` calls or
    ``probe_max_s`` seconds, whichever ends first, and compares their mean time per
    unit of work with the current count's recent mean. The first two probes
    measure both counts; after that the other count is probed every ``interval``
    seconds. The mean, not the median: a second thread is fast most of the time
    and now and then much slower (woken late), and what the user waits for is the
    average. A probe that beats the current count by ``switch_gain`` switches
    counts and resets the interval to ``min_interval_s``; otherwise the interval
    doubles, up to ``max_interval_s``. When the current count's recent mean falls
    behind the other's last probe, the other is probed as soon as the minimum
    interval has passed (a machine that got busy is noticed within a few calls).
    Probes take at most about ``1 / budget`` of the time: the next one waits at
    least ``budget`` times the last one's length, except after a comparison in
    which either side's slowest call took over ``outlier`` times its fastest: then
    the other count is measured again at once (once; a slow call may be a lasting
    pattern or a one-off, perhaps both threads placed on one core for a moment,
    which on SHD-sized calls of ~15 ms had set a process on one thread for seconds).

    Every time here is the site's busy time, the seconds spent in its calls, not
    the wall clock: a process that waits between calls (evaluation, a paused run,
    the other frameworks' turns in ``benchmarks/peers.py``) owes no probe for the
    wait, and probes stay a share of the work.
    """

    def __init__(self, wide: int, probe_calls: int = 5, probe_max_s: float = 0.05,
                 min_interval_s: float = 0.5, max_interval_s: float = 30.0,
                 switch_gain: float = 0.9, budget: float = 20.0,
                 outlier: float = 3.0) -> None:
        if wide < 2:
            raise ValueError(f"wide={wide}: a choice needs at least 2 threads")
        self.wide = int(wide)
        self.probe_calls = int(probe_calls)
        self.probe_max_s = float(probe_max_s)
        self.min_interval_s = float(min_interval_s)
        self.max_interval_s = float(max_interval_s)
        self.switch_gain = float(switch_gain)
        self.budget = float(budget)
        self.outlier = float(outlier)
        #: seconds spent in this site's calls: the clock of intervals and probes
        self.busy = 0.0
        #: until both are measured: the first probe is of ``wide``, the second of 1
        self.current = 1
        self.interval = self.min_interval_s
        self.next_probe = 0.0
        self.last_probe_end = 0.0
        self.last_probe_s = 0.0
        #: recent seconds per unit of each count: the current count's last calls, the
        #: other count's last probe
        self.recent: dict[int, deque[float]] = {self.wide: deque(maxlen=probe_calls),
                                                1: deque(maxlen=probe_calls)}
        self.probe: list[float] = []
        self.probe_s = 0.0
        self.measured_s = 0.0
        self.probing: int | None = None
        self._warm = False
        self._rechecked = False
        self.switches = 0
        self.probes = 0

    def other(self, n: int) -> int:
        """The count that is not ``n``."""
        return 1 if n == self.wide else self.wide

    def threads(self) -> int:
        """The thread count for the next call."""
        if self.probing is None and self.busy >= self.next_probe:
            self.probing = self.other(self.current)
            self.probe = []
            self.probe_s = self.measured_s = 0.0
            self._warm = True
        return self.probing if self.probing is not None else self.current

    def record(self, threads: int, seconds: float, units: float = 1.0) -> None:
        """A call that ran on ``threads`` threads for ``seconds`` doing ``units`` of work."""
        self.busy += seconds
        per_unit = seconds / max(units, 1e-12)
        if threads != self.probing:
            mine = self.recent[threads]
            mine.append(per_unit)
            # the machine got busier (or quieter): when the current count has fallen
            # behind the other's last probe, probe the other soon
            last = self.recent[self.other(threads)]
            if len(mine) >= 3 and last and statistics.fmean(mine) * self.switch_gain \
                    > statistics.fmean(last):
                self.next_probe = min(self.next_probe, self.last_probe_end + max(
                    self.min_interval_s, self.budget * self.last_probe_s))
            return
        self.probe_s += seconds
        if self._warm:
            self._warm = False
            return
        self.probe.append(per_unit)
        self.measured_s += seconds
        if len(self.probe) < self.probe_calls and self.measured_s < self.probe_max_s:
            return
        self.probes += 1
        mine = self.recent[self.current]
        first = not self.recent[self.probing] and not mine
        won = not mine or statistics.fmean(self.probe) < self.switch_gain * statistics.fmean(mine)
        uneven = self._uneven(self.probe) or self._uneven(mine)
        if won:
            if not first:
                self.switches += 1
            self.current = self.probing
            self.interval = self.min_interval_s
        else:
            self.interval = min(2.0 * self.interval, self.max_interval_s)
        self.recent[self.probing].clear()
        self.recent[self.probing].extend(self.probe)
        self.probing = None
        now = self.busy
        self.last_probe_end = now
        self.last_probe_s = self.probe_s
        if first:
            self.next_probe = now  # measure the other count at once
        elif uneven and not self._rechecked:
            self.next_probe = now  # a slow call may have decided: measure again
            self._rechecked = True
        else:
            self.next_probe = now + max(self.interval, self.budget * self.probe_s)
            self._rechecked = False

    def _uneven(self, per_unit: Collection[float]) -> bool:
        """Whether the slowest of these calls took over ``outlier`` times the fastest."""
        return len(per_unit) >= 2 and max(per_unit) > self.outlier * min(per_unit)


_SITES: dict[tuple[str, int], SiteChoice] = {}
#: guards the choices: kernels may be called from more than one Python thread
_LOCK = threading.Lock()


def site_choice(site: str, wide: int) -> SiteChoice:
    """The process-wide choice of call site ``site`` between 1 and ``wide`` threads."""
    key = (site, wide)
    with _LOCK:
        choice = _SITES.get(key)
        if choice is None:
            choice = _SITES[key] = SiteChoice(wide)
    return choice


def adaptive() -> bool:
    """Whether calls pick their thread count (``SPIKE_STUDIO_THREAD_POLICY`` is not "all")."""
    value = os.environ.get(POLICY_ENV, "adaptive").strip().lower()
    if value not in ("adaptive", "all"):
        raise ValueError(f"{POLICY_ENV}={value!r}: allowed 'adaptive' or 'all'")
    return value == "adaptive"


@contextmanager
def threads_for(chunks: int, site: str | None = None, units: float = 1.0) -> Iterator[None]:
    """Run the enclosed parallel kernel call on at most ``chunks`` threads.

    Without ``site`` that is all of them (a region waits for all its threads, even
    idle ones, and an idle sleeping thread can take a scheduler tick to wake, so
    regions with fewer chunks than threads use fewer threads). With ``site`` the
    call runs on 1 or on that many threads, whichever ``site``'s calls have measured
    faster per unit of work (``units``: batch slots, parameters)."""
    n = numba.get_num_threads()
    wide = min(chunks, n) if chunks > 0 else n
    choice = site_choice(site, wide) if site is not None and wide >= 2 and adaptive() \
        else None
    if choice is None:
        use = wide
    else:
        with _LOCK:
            use = choice.threads()
    if use != n:
        numba.set_num_threads(use)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        if use != n:
            numba.set_num_threads(n)
    if choice is not None:
        with _LOCK:
            choice.record(use, elapsed, units)
