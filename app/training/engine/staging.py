"""SpikeInput data staged for the kernels: per example, events sorted by (step, neuron).

Turning ``PreprocessedSpikes`` (times sorted by neuron) into per-step events
costs about as much as simulating a small network, so it is done once per
example list and cached (``InputStager``); each batch then only copies its
examples' events into the batch buffer the forward kernel reads.

The step rule is SpikeInput's: a spike fires at the first step whose float32
start time ``step * dt`` is >= its time, at most once per neuron per step (a
later spike of the same neuron waits for the next free step); spikes at or
after step T are dropped.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

#: Largest example list (in staged events) kept staged; beyond it each batch is
#: staged on its own (8 bytes per event: 256 MB).
MAX_CACHED_EVENTS = 32_000_000


@njit(cache=True, inline="always")
def _first_step(tsp, prev, dt, T):
    """SpikeInput's step for a spike at ``tsp`` after the neuron's last step ``prev``."""
    guess = np.int64(np.floor(np.float64(tsp) / np.float64(dt))) - 2
    s = max(prev + 1, guess, 0)
    while s > prev + 1 and s > 0 and np.float32(s - 1) * dt >= tsp:
        s -= 1
    while s < T and not (np.float32(s) * dt >= tsp):
        s += 1
    return s


@njit(cache=True, parallel=True)
def stage_examples(ends, times, ends_off, times_off, n, dt, T, n_chunks):
    """Stage E examples: ``ends``/``times`` are the examples' ``end_spikes`` and
    ``spike_times`` concatenated, example e's at ``ends_off[e]`` (n entries) and
    ``times_off[e]``. Returns ``(off (E+1,), steps int32, neuron ids int32)``:
    example e's events are ``[off[e], off[e+1])``, sorted by (step, neuron)."""
    E = ends_off.shape[0]
    sstep = np.empty(max(times.shape[0], 1), np.int32)
    cnt = np.zeros(E + 1, np.int64)
    per = (E + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        for e in range(ch * per, min(E, (ch + 1) * per)):
            base = times_off[e]
            eo = ends_off[e]
            start = 0
            m = 0
            for i in range(n):
                end = ends[eo + i]
                prev = -1
                for c in range(start, end):
                    s = -1
                    if prev < T:
                        s = _first_step(times[base + c], prev, dt, T)
                        prev = s
                    if s >= T:
                        s = -1
                    sstep[base + c] = s
                    if s >= 0:
                        m += 1
                start = end
            cnt[e + 1] = m
    off = np.cumsum(cnt)
    ev_s = np.empty(max(off[E], 1), np.int32)
    ev_n = np.empty(max(off[E], 1), np.int32)
    for ch in prange(n_chunks):
        hist = np.zeros(T + 1, np.int64)
        for e in range(ch * per, min(E, (ch + 1) * per)):
            base = times_off[e]
            eo = ends_off[e]
            for s in range(T + 1):
                hist[s] = 0
            nsp = ends[eo + n - 1] if n > 0 else 0
            for c in range(nsp):
                s = sstep[base + c]
                if s >= 0:
                    hist[s + 1] += 1
            for s in range(T):
                hist[s + 1] += hist[s]
            o = off[e]
            start = 0
            for i in range(n):
                end = ends[eo + i]
                for c in range(start, end):
                    s = sstep[base + c]
                    if s >= 0:
                        k = o + hist[s]
                        hist[s] += 1
                        ev_s[k] = s
                        ev_n[k] = i
                start = end
    return off, ev_s, ev_n


@njit(cache=True)
def gather_batch(off, ev_s, ev_n, idx, out_s, out_n, at, col_ptr, col_hi):
    """Copy the events of examples ``idx`` to ``out_*`` from position ``at``; slot b's
    range goes to ``col_ptr[b]``/``col_hi[b]``. Returns the next free position."""
    for b in range(idx.shape[0]):
        e = idx[b]
        lo = off[e]
        m = off[e + 1] - lo
        col_ptr[b] = at
        for k in range(m):
            out_s[at + k] = ev_s[lo + k]
            out_n[at + k] = ev_n[lo + k]
        at += m
        col_hi[b] = at
    return at


@njit(cache=True)
def stage_spike_inputs(in_start, in_end, in_times, dt, T, time0=0):
    """Turn per-neuron spike-time ranges into per-slot input events sorted by (step, neuron).

    Reproduces the step rule of SpikeInput exactly: a spike fires at the first step
    whose float32 start time ``(time0 + step) * dt`` is >= its time, at most once per
    neuron per step (a later spike of the same neuron waits for the next free step).
    Returns ``(offsets (B+1,), steps, neuron ids)``; events at or after step T are dropped.
    """
    B = in_start.shape[0]
    N = in_start.shape[1]
    total = 0
    for b in range(B):
        for gi in range(N):
            total += in_end[b, gi] - in_start[b, gi]
    ev_s = np.empty(max(total, 1), np.int32)
    ev_g = np.empty(max(total, 1), np.int32)
    off = np.zeros(B + 1, np.int64)
    n = 0
    for b in range(B):
        b0 = n
        for gi in range(N):
            prev = -1
            for c in range(in_start[b, gi], in_end[b, gi]):
                tsp = in_times[c]
                guess = np.int64(np.floor(np.float64(tsp) / np.float64(dt))) - 2 - time0
                s = max(prev + 1, guess, 0)
                while s > prev + 1 and s > 0 and np.float32(time0 + s - 1) * dt >= tsp:
                    s -= 1
                while s < T and not (np.float32(time0 + s) * dt >= tsp):
                    s += 1
                if s >= T:
                    break
                ev_s[n] = s
                ev_g[n] = gi
                n += 1
                prev = s
        m = n - b0
        if m > 1:
            key = np.empty(m, np.int64)
            for k in range(m):
                key[k] = np.int64(ev_s[b0 + k]) * N + ev_g[b0 + k]
            order = np.argsort(key)
            ts = ev_s[b0:n].copy()
            tg = ev_g[b0:n].copy()
            for k in range(m):
                ev_s[b0 + k] = ts[order[k]]
                ev_g[b0 + k] = tg[order[k]]
        off[b + 1] = n
    return off, ev_s, ev_g


@dataclass
class StagedSpikes:
    """One example list's staged events (see ``stage_examples``)."""

    source: Any  # the list itself (kept, so its id is not reused while cached)
    refs: list  # its examples at staging time, to notice replaced examples
    off: np.ndarray
    steps: np.ndarray
    nids: np.ndarray
    checked: int = -1  # the stager's pass in which ``refs`` were last confirmed

    def counts(self, idx: np.ndarray) -> np.ndarray:
        """Staged events of each example in ``idx``."""
        return self.off[idx + 1] - self.off[idx]


def stage(examples: list, n: int, dt: np.float32, T: int, n_chunks: int) -> StagedSpikes:
    """Stage a list of ``PreprocessedSpikes`` for ``n`` input neurons."""
    E = len(examples)
    ends = [np.asarray(ex.end_spikes) for ex in examples]
    times = [np.asarray(ex.spike_times, dtype=np.float32) for ex in examples]
    if any(x.shape != (n,) for x in ends):
        bad = next(k for k, x in enumerate(ends) if x.shape != (n,))
        raise ValueError(f"example {bad} has end_spikes for {ends[bad].shape} neurons; the "
                         f"input population has {n}")
    lens = np.fromiter((t.shape[0] for t in times), np.int64, E)
    times_off = np.zeros(E, np.int64)
    if E > 1:
        np.cumsum(lens[:-1], out=times_off[1:])
    flat_ends = np.concatenate(ends).astype(np.int64) if E else np.zeros(1, np.int64)
    flat_times = np.concatenate(times) if E and lens.sum() else np.zeros(1, np.float32)
    off, steps, nids = stage_examples(flat_ends, flat_times, np.arange(E, dtype=np.int64) * n,
                                      times_off, n, dt, T, max(1, min(n_chunks, E)))
    return StagedSpikes(examples, list(examples), off, steps, nids)


class InputStager:
    """Caches staged example lists and fills the forward kernel's per-batch event buffer.

    A list is recognised by identity, and once per pass over the data
    (``new_pass``: every epoch of train, evaluate or predict) its examples are
    checked to be the objects that were staged, so a list edited in place
    between epochs is re-staged.
    """

    def __init__(self, dt: np.float32, T: int, n_chunks: int, keep: int = 4) -> None:
        self.dt = dt
        self.T = T
        self.n_chunks = n_chunks
        self.keep = keep
        self.cache: dict[tuple[str, int], StagedSpikes] = {}
        self.ev_s = np.zeros(1, np.int32)
        self.ev_n = np.zeros(1, np.int32)
        self.pass_id = 0

    def new_pass(self) -> None:
        """A new pass over the data begins: cached lists are re-checked at first use."""
        self.pass_id += 1

    def staged(self, name: str, examples: Any, n: int, idx: np.ndarray,
               cache: bool = True) -> StagedSpikes:
        """The staged form of ``examples`` (cached), or of just the batch ``idx`` (then
        indexed 0..len(idx)-1) without ``cache`` or when the list is too large to keep."""
        if not cache:
            return stage([examples[i] for i in idx], n, self.dt, self.T, self.n_chunks)
        key = (name, id(examples))
        st = self.cache.get(key)
        if st is not None and st.source is examples and len(st.refs) == len(examples):
            if st.checked != self.pass_id:  # once per pass over the data: still the same
                st.checked = self.pass_id if all(  # examples (not replaced in place)?
                    map(operator.is_, examples, st.refs)) else -1  # (C loop: 2x a genexpr)
            if st.checked == self.pass_id:
                self.cache[key] = self.cache.pop(key)  # most recently used last
                return st
        self.cache.pop(key, None)
        total = sum(len(ex.spike_times) for ex in examples) if len(examples) <= 200_000 \
            else MAX_CACHED_EVENTS + 1
        if total > MAX_CACHED_EVENTS:
            return stage([examples[i] for i in idx], n, self.dt, self.T, self.n_chunks)
        st = stage(list(examples), n, self.dt, self.T, self.n_chunks)
        st.source = examples
        self.cache[key] = st
        while len(self.cache) > self.keep:
            self.cache.pop(next(iter(self.cache)))
        return st

    def fill(self, inputs: list[tuple[int, str, Any, int]], idx: np.ndarray,
             in_ptr: np.ndarray, in_hi: np.ndarray, cache: bool = True) -> int:
        """Copy batch ``idx``'s events of every input ``(pop, name, examples, n)`` into the
        event buffer; slot b of population p reads ``[in_ptr[b, p], in_hi[b, p])``.
        Returns the largest number of events of one example of one input."""
        parts = []
        total = 0
        most = 0
        for p, name, examples, n in inputs:
            st = self.staged(name, examples, n, idx, cache)
            local = idx if st.source is examples else np.arange(len(idx), dtype=np.int64)
            c = st.counts(local)
            parts.append((p, st, local))
            total += int(c.sum())
            most = max(most, int(c.max()) if c.size else 0)
        if total > self.ev_s.shape[0]:
            size = max(total, 2 * self.ev_s.shape[0])
            self.ev_s = np.zeros(size, np.int32)
            self.ev_n = np.zeros(size, np.int32)
        at = 0
        B = len(idx)
        for p, st, local in parts:
            at = gather_batch(st.off, st.steps, st.nids, local, self.ev_s, self.ev_n, at,
                              in_ptr[:B, p], in_hi[:B, p])
        return most
