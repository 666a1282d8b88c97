"""Checks that a spike dataset fits a network before training starts.

mlGeNN fails late (or silently drops spikes) when data and network disagree;
``validate_spike_dataset`` fails early with a message naming the field and fix.
Spikes after the last timestep are the one exception training tolerates:
mlGeNN drops them (its own ``ceil(calc_latest_spike_time(...))`` idiom makes
them), so ``late_spikes="count"`` returns them as a :class:`LateSpikes`
summary for one warning instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import DatasetError
from .spikes import PreprocessedSpikes

__all__ = ["LateSpikeWarning", "LateSpikes", "validate_spike_dataset"]


class LateSpikeWarning(UserWarning):
    """Input spikes after the last timestep were dropped (as mlGeNN drops them)."""


@dataclass
class LateSpikes:
    """Spikes later than the start of the last timestep: a SpikeInput never emits them.

    ``examples`` are the example indices holding such spikes, ``spikes`` how many
    there are in all, ``latest`` the latest spike time (ms), ``need`` the
    ``example_timesteps`` that would keep them.
    """

    examples: list[int] = field(default_factory=list)
    spikes: int = 0
    latest: float = 0.0
    need: int = 0

    def describe(self, what: str, example_timesteps: int, dt: float) -> str:
        """One sentence for the warning: how many spikes, which examples, the fix."""
        shown = ", ".join(str(i) for i in self.examples[:8])
        more = f" and {len(self.examples) - 8} more" if len(self.examples) > 8 else ""
        last = float(np.float32(example_timesteps - 1) * np.float32(dt))
        return (f"{what}: {self.spikes} input spike(s) in {len(self.examples)} example(s) "
                f"(examples {shown}{more}; latest {self.latest:g} ms) come after the last "
                f"timestep (example_timesteps={example_timesteps} x dt={dt:g} ms: the last "
                f"step starts at {last:g} ms) and are dropped, as mlGeNN drops them; set "
                f"example_timesteps to at least {self.need} to keep them")


def _as_examples(spikes: Sequence[PreprocessedSpikes] | PreprocessedSpikes
                 ) -> list[PreprocessedSpikes]:
    if isinstance(spikes, PreprocessedSpikes):
        if np.ndim(spikes.end_spikes) == 1:
            return [spikes]
        raise DatasetError(
            "spikes is one batched PreprocessedSpikes (2-D end_spikes); pass the list "
            "of per-example PreprocessedSpikes instead (batching happens in training)")
    return list(spikes)


def _check_example(k: int, ex: object, num_inputs: int,
                   last_step_time: np.float32 | None,
                   example_timesteps: int | None, dt: float,
                   late: LateSpikes | None = None) -> None:
    if not (hasattr(ex, "end_spikes") and hasattr(ex, "spike_times")):
        raise DatasetError(
            f"spikes[{k}] is a {type(ex).__name__}, not PreprocessedSpikes; convert "
            "events with preprocess_spikes(times, ids, num_inputs)")
    end = np.asarray(ex.end_spikes)
    times = np.asarray(ex.spike_times)
    if end.ndim != 1:
        raise DatasetError(
            f"spikes[{k}].end_spikes has shape {end.shape}; expected one entry per input "
            "neuron (pass a list of per-example PreprocessedSpikes, not a batch)")
    if len(end) != num_inputs:
        counts = np.diff(end, prepend=0) if len(end) else end
        active = np.nonzero(counts)[0]
        highest = f"; its highest spiking neuron id is {int(active[-1])}" if len(active) else ""
        if len(end) > num_inputs:
            fix = (f"neuron ids must be < num_inputs={num_inputs}: enlarge the input "
                   f"population to {len(end)} neurons or re-encode with "
                   f"num_neurons={num_inputs}")
        else:
            fix = (f"set the input population size to {len(end)} or re-encode with "
                   f"num_neurons={num_inputs}")
        raise DatasetError(
            f"spikes[{k}] has spikes for {len(end)} input neurons but the input "
            f"population has num_inputs={num_inputs}{highest}; {fix}")
    if len(end) and (np.any(np.diff(end) < 0) or end[0] < 0
                     or int(end[-1]) != len(times)):
        raise DatasetError(
            f"spikes[{k}].end_spikes is not a non-decreasing cumulative count ending at "
            f"len(spike_times)={len(times)}; rebuild it with preprocess_spikes")
    if len(times) == 0:
        return
    if not np.issubdtype(times.dtype, np.number) or np.issubdtype(times.dtype,
                                                                  np.complexfloating):
        raise DatasetError(f"spikes[{k}].spike_times has dtype {times.dtype}; "
                           "spike times must be real numbers in ms")
    if np.any(np.isnan(times)):
        raise DatasetError(
            f"spikes[{k}].spike_times contains NaN spike times "
            f"({int(np.isnan(times).sum())} of them); remove them or fix the encoder")
    if np.any(times < 0):
        raise DatasetError(
            f"spikes[{k}].spike_times has a negative spike time ({float(times.min())} ms); "
            "spike times are measured from the start of the example and must be >= 0")
    if last_step_time is not None:
        tmax = times.max()
        if late is not None:
            dropped = _count_dropped(end, times, example_timesteps, dt)
            if dropped:
                late.examples.append(k)
                late.spikes += dropped
                late.latest = max(late.latest, float(tmax))
                late.need = max(late.need, _steps_needed(end, times, dt))
            return
        if np.float32(tmax) > last_step_time:
            need = int(np.ceil(float(tmax) / dt)) + 1
            raise DatasetError(
                f"spikes[{k}].spike_times has a spike at {float(tmax)} ms, past the last "
                f"timestep (example_timesteps={example_timesteps} x dt={dt} ms: the last "
                f"step starts at {float(last_step_time)} ms), so it would never be "
                f"emitted; increase example_timesteps to at least {need} or rescale "
                "the spike times")


def _emit_steps(end: np.ndarray, times: np.ndarray, dt: float) -> np.ndarray:
    """The step at which SpikeInput emits each spike (mlGeNN/GeNN rule): the first step
    whose float32 start time ``step * dt`` is >= the spike time, and at most one spike
    per neuron per step, so a neuron's later spike waits for its next free step."""
    t = np.asarray(times, np.float32)
    dt32 = np.float32(dt)
    s = np.ceil(t.astype(np.float64) / float(dt)).astype(np.int64)
    s[np.float32(s - 1) * dt32 >= t] -= 1
    s[np.float32(s) * dt32 < t] += 1
    s = np.maximum(s, 0)
    counts = np.diff(np.asarray(end, np.int64), prepend=0)
    if counts.size and counts.max() > 1:
        # within each neuron: emitted_k = k + max_{j<=k}(s_j - j), a running max per
        # neuron, made one global running max by offsetting each neuron's values
        idx = np.arange(s.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        d = s - idx
        span = int(d.max() - d.min()) + 1
        group = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
        s = np.maximum.accumulate(d + group * span) - group * span + idx
    return s


def _count_dropped(end: np.ndarray, times: np.ndarray, example_timesteps: int,
                   dt: float) -> int:
    """How many spikes of one example would be emitted at or after step T (lost)."""
    t = np.asarray(times, np.float32)
    counts = np.diff(np.asarray(end, np.int64), prepend=0)
    worst = int(counts.max()) - 1 if counts.size else 0
    # cheap exit: no spike can be pushed to step T (the common case)
    if np.float32(t.max()) <= np.float32(example_timesteps - 1 - worst) * np.float32(dt):
        return 0
    return int(np.count_nonzero(_emit_steps(end, t, dt) >= example_timesteps))


def _steps_needed(end: np.ndarray, times: np.ndarray, dt: float) -> int:
    """example_timesteps that would emit every spike of one example."""
    return int(_emit_steps(end, times, dt).max()) + 1


def validate_spike_dataset(spikes: Sequence[PreprocessedSpikes] | PreprocessedSpikes,
                           labels: Sequence | np.ndarray | None,
                           num_inputs: int,
                           num_classes: int | None = None,
                           example_timesteps: int | None = None,
                           dt: float = 1.0, late_spikes: str = "raise"
                           ) -> LateSpikes | None:
    """Raise ``DatasetError`` if ``spikes``/``labels`` do not fit the network.

    Checks: every example is ``PreprocessedSpikes`` for exactly ``num_inputs``
    neurons; ``end_spikes`` is consistent; no NaN or negative times; no spike
    later than the start of the last step ``(example_timesteps - 1) * dt``
    (a ``SpikeInput`` emits a spike at the first step whose start time is
    >= the spike time, so a later one is lost); one label per example; with
    ``num_classes`` labels are integers in ``0..num_classes-1``, without it
    (regression) they must be finite numbers.  ``labels=None`` skips label checks.

    ``late_spikes="count"`` does not raise for spikes after the last timestep but
    returns a :class:`LateSpikes` summary of them (``None`` when there are none);
    training uses it to drop them with one warning, as mlGeNN drops them.
    """
    if late_spikes not in ("raise", "count"):
        raise ValueError(f"late_spikes={late_spikes!r}: allowed 'raise' or 'count'")
    late = LateSpikes() if late_spikes == "count" else None
    examples = _as_examples(spikes)
    last_step_time = None
    if example_timesteps is not None:
        if example_timesteps < 1:
            raise DatasetError(f"example_timesteps={example_timesteps} must be >= 1")
        last_step_time = np.float32(example_timesteps - 1) * np.float32(dt)
    for k, ex in enumerate(examples):
        _check_example(k, ex, num_inputs, last_step_time, example_timesteps, dt, late)
    _check_labels(labels, len(examples), num_classes, example_timesteps)
    return late if late is not None and late.examples else None


def _check_labels(labels: Sequence | np.ndarray | None, num_examples: int,
                  num_classes: int | None, example_timesteps: int | None) -> None:
    if labels is None:
        return
    labels_arr = np.asarray(labels)
    n_labels = labels_arr.shape[0] if labels_arr.ndim else 1
    if labels_arr.ndim == 0 or n_labels != num_examples:
        raise DatasetError(
            f"labels has {n_labels if labels_arr.ndim else 'no'} entries but spikes has "
            f"{num_examples} examples; provide exactly one label (or target) per example")
    if num_classes is not None:
        if labels_arr.dtype == bool or not np.issubdtype(labels_arr.dtype, np.integer):
            if (np.issubdtype(labels_arr.dtype, np.floating) and labels_arr.size
                    and np.all(np.isfinite(labels_arr))
                    and np.all(labels_arr == np.round(labels_arr))):
                hint = "convert them with labels.astype(np.int64)"
            else:
                hint = "use integer class indices"
            raise DatasetError(
                f"labels have dtype {labels_arr.dtype} but classification needs integer "
                f"class indices 0..{num_classes - 1}; {hint}")
        if labels_arr.ndim != 1:
            raise DatasetError(
                f"labels have shape {labels_arr.shape}; classification needs a 1-D array "
                "of class indices, one per example (not one-hot)")
        if labels_arr.size:
            lo, hi = int(labels_arr.min()), int(labels_arr.max())
            if lo < 0 or hi >= num_classes:
                bad = hi if hi >= num_classes else lo
                idx = int(np.nonzero(labels_arr == bad)[0][0])
                raise DatasetError(
                    f"labels[{idx}] = {bad} is out of range for num_classes={num_classes} "
                    f"(valid 0..{num_classes - 1}); set num_classes / the output "
                    "population size to at least "
                    f"{hi + 1 if hi >= num_classes else num_classes} or fix the labels")
    else:
        if not np.issubdtype(labels_arr.dtype, np.number) or labels_arr.dtype == bool:
            raise DatasetError(
                f"labels (regression targets) have dtype {labels_arr.dtype}; "
                "they must be float numbers")
        if np.issubdtype(labels_arr.dtype, np.floating) and not np.all(
                np.isfinite(labels_arr)):
            raise DatasetError("labels (regression targets) contain NaN or infinite "
                               "values; clean the targets")
        if (example_timesteps is not None and labels_arr.ndim >= 2
                and labels_arr.shape[1] != example_timesteps):
            raise DatasetError(
                f"labels (regression targets) have {labels_arr.shape[1]} timesteps per "
                f"example but example_timesteps={example_timesteps}; targets must be "
                "shaped (examples, example_timesteps, num_outputs)")
