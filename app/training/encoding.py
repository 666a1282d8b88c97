"""Inputs that are values, not spike trains: turned into spike trains per trial.

An ``IntegrateFireInput`` population integrates each example's value (or the
value of the current frame) every step, ``V += x``, and spikes when
``V >= v_thresh`` (then ``V = v_reset``), in float32 exactly as GeNN does. The
spikes are computed here, on the host, and replayed by the engine like a
``SpikeInput``'s, so every backend gets them without a special kernel.
"""

from __future__ import annotations

import numpy as np

from app.model import Population

from .data.errors import DatasetError
from .data.spikes import PreprocessedSpikes


class IntegrateFireEncoder:
    """Membrane state of one IntegrateFireInput population over the batch slots."""

    def __init__(self, pop: Population, v_init: np.ndarray, batch_size: int) -> None:
        nrn = pop.neuron
        self.pop = pop
        self.n = pop.num_neurons
        self.frames = int(nrn.input_frames)
        self.frame_steps = int(nrn.input_frame_timesteps)
        self.v_thresh = np.float32(nrn.v_thresh)
        self.v_reset = np.float32(nrn.v_reset)
        self.v_init = np.asarray(v_init, np.float32)
        self.V = np.empty((max(batch_size, 1), self.n), np.float32)
        #: V after every step of the last encoded batch (B, T, n), when ``keep_history``
        self.history: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the initial voltage (between batches, as mlGeNN resets vars)."""
        self.V[:] = self.v_init

    def values(self, examples: np.ndarray) -> np.ndarray:
        """One batch of input values as (examples, frames, neurons) float32."""
        arr = np.asarray(examples, np.float32)
        per = self.frames * self.n
        if arr.ndim == 0 or arr.reshape(arr.shape[0], -1).shape[1] != per:
            got = arr.shape[1:] if arr.ndim else arr.shape
            want = f"{self.n}" if self.frames == 1 else f"{self.frames} frames x {self.n}"
            raise DatasetError(f"input '{self.pop.name}' (IntegrateFireInput): each example "
                               f"has shape {got}; {want} values are required (the "
                               f"population's shape is {self.pop.shape})")
        return arr.reshape(arr.shape[0], self.frames, self.n)

    def encode(self, examples: np.ndarray, timesteps: int, dt: float,
               keep_history: bool = False) -> list[PreprocessedSpikes]:
        """Simulate ``timesteps`` steps for the batch and return each example's spikes
        (a spike in step s has time s*dt, which the engine replays in step s)."""
        x = self.values(examples)
        B = x.shape[0]
        V = self.V[:B]
        hist = np.empty((B, timesteps, self.n), np.float32) if keep_history else None
        dt32 = np.float32(dt)
        frame_len = np.float32(self.frame_steps) * dt32
        steps, slots, ids = [], [], []
        for step in range(timesteps):
            t = np.float32(step) * dt32
            fr = min(int(t / frame_len), self.frames - 1)
            V += x[:, fr]
            b, i = np.nonzero(V >= self.v_thresh)
            if b.size:
                V[b, i] = self.v_reset
                steps.append(np.full(b.size, step, np.int64))
                slots.append(b)
                ids.append(i)
            if hist is not None:
                hist[:, step] = V
        self.history = hist
        if not steps:
            empty = np.zeros(self.n, np.int64)
            return [PreprocessedSpikes(empty.copy(), np.zeros(0, np.float32)) for _ in range(B)]
        st = np.concatenate(steps)
        sl = np.concatenate(slots)
        nid = np.concatenate(ids)
        order = np.lexsort((st, nid, sl))
        st, sl, nid = st[order], sl[order], nid[order]
        times = (st.astype(np.float32) * dt32).astype(np.float32)
        bounds = np.searchsorted(sl, np.arange(B + 1))
        out = []
        for b in range(B):
            lo, hi = bounds[b], bounds[b + 1]
            counts = np.bincount(nid[lo:hi], minlength=self.n)
            out.append(PreprocessedSpikes(np.cumsum(counts), times[lo:hi]))
        return out
