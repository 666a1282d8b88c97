"""Checks that a spike dataset fits a network before training starts.

mlGeNN fails late (or silently drops spikes) when data and network disagree;
``validate_spike_dataset`` fails early with a message naming the field and fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import DatasetError
from .spikes import PreprocessedSpikes

__all__ = ["validate_spike_dataset"]


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
                   example_timesteps: int | None, dt: float) -> None:
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
        if np.float32(tmax) > last_step_time:
            need = int(np.ceil(float(tmax) / dt)) + 1
            raise DatasetError(
                f"spikes[{k}].spike_times has a spike at {float(tmax)} ms, past the last "
                f"timestep (example_timesteps={example_timesteps} x dt={dt} ms: the last "
                f"step starts at {float(last_step_time)} ms), so it would never be "
                f"emitted; increase example_timesteps to at least {need} or rescale "
                "the spike times")


def validate_spike_dataset(spikes: Sequence[PreprocessedSpikes] | PreprocessedSpikes,
                           labels: Sequence | np.ndarray | None,
                           num_inputs: int,
                           num_classes: int | None = None,
                           example_timesteps: int | None = None,
                           dt: float = 1.0) -> None:
    """Raise ``DatasetError`` if ``spikes``/``labels`` do not fit the network.

    Checks: every example is ``PreprocessedSpikes`` for exactly ``num_inputs``
    neurons; ``end_spikes`` is consistent; no NaN or negative times; no spike
    later than the start of the last step ``(example_timesteps - 1) * dt``
    (a ``SpikeInput`` emits a spike at the first step whose start time is
    >= the spike time, so a later one is lost); one label per example; with
    ``num_classes`` labels are integers in ``0..num_classes-1``, without it
    (regression) they must be finite numbers.  ``labels=None`` skips label checks.
    """
    examples = _as_examples(spikes)
    last_step_time = None
    if example_timesteps is not None:
        if example_timesteps < 1:
            raise DatasetError(f"example_timesteps={example_timesteps} must be >= 1")
        last_step_time = np.float32(example_timesteps - 1) * np.float32(dt)
    for k, ex in enumerate(examples):
        _check_example(k, ex, num_inputs, last_step_time, example_timesteps, dt)

    if labels is None:
        return
    labels_arr = np.asarray(labels)
    n_labels = labels_arr.shape[0] if labels_arr.ndim else 1
    if labels_arr.ndim == 0 or n_labels != len(examples):
        raise DatasetError(
            f"labels has {n_labels if labels_arr.ndim else 'no'} entries but spikes has "
            f"{len(examples)} examples; provide exactly one label (or target) per example")
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
