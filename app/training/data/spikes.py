"""Spike-train containers and preprocessing (the ``PreprocessedSpikes`` format).

A ``PreprocessedSpikes`` holds one example's input spikes the way a
``SpikeInput`` population consumes them: all spike times sorted by neuron id
and then by time, plus ``end_spikes[i]``, the index one past neuron ``i``'s
last spike (a cumulative count).  Neuron ``i``'s spikes are therefore
``spike_times[start:end_spikes[i]]`` with ``start = end_spikes[i - 1]`` (0 for
the first neuron).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import DatasetError

PreprocessedSpikes = namedtuple("PreprocessedSpikes", ["end_spikes", "spike_times"])
PreprocessedSpikes.__doc__ = (
    "One example's spikes: ``spike_times`` sorted by (neuron id, time) and "
    "``end_spikes[i]``, the cumulative end index of neuron i's spikes.")

DataDictType = Mapping[Any, Sequence | np.ndarray]

__all__ = [
    "PreprocessedSpikes",
    "preprocess_spikes",
    "preprocess_tonic_spikes",
    "preprocess_tonic_spikes_separate",
    "spikes_to_times_ids",
    "calc_max_spikes",
    "calc_latest_spike_time",
    "calc_start_spikes",
    "batch_spikes",
    "get_dataset_size",
    "split_dataset",
    "batch_dataset",
    "permute_dataset",
]


def preprocess_spikes(times: np.ndarray | Sequence[float],
                      ids: np.ndarray | Sequence[int],
                      num_neurons: int) -> PreprocessedSpikes:
    """Convert parallel (time, neuron id) event arrays into ``PreprocessedSpikes``.

    Events may come in any order; they are sorted by neuron id, then time.
    Raises ``DatasetError`` when an id is negative or not below ``num_neurons``
    (such a spike could never be delivered by an input of that size).
    """
    times = np.asarray(times)
    ids = np.asarray(ids)
    if times.shape != ids.shape or times.ndim != 1:
        raise DatasetError(
            f"preprocess_spikes: 'times' {times.shape} and 'ids' {ids.shape} must be "
            "1-D arrays of the same length (one entry per spike)")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        if not np.all(np.equal(np.mod(ids, 1), 0)):
            raise DatasetError("preprocess_spikes: 'ids' must be integer neuron indices")
        ids = ids.astype(np.int64)
    if ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= num_neurons:
            bad = hi if hi >= num_neurons else lo
            raise DatasetError(
                f"preprocess_spikes: neuron id {bad} is outside 0..{num_neurons - 1} "
                f"(num_neurons={num_neurons}); pass the real number of input neurons "
                "or drop those spikes")
    counts = np.bincount(ids.astype(np.int64, copy=False), minlength=num_neurons)
    end_spikes = np.cumsum(counts)
    # lexsort sorts by the last key first: neuron id, then time within a neuron
    order = np.lexsort((times, ids))
    return PreprocessedSpikes(end_spikes, times[order])


def spikes_to_times_ids(spikes: PreprocessedSpikes) -> tuple[np.ndarray, np.ndarray]:
    """Invert ``preprocess_spikes``: return (times, ids) ordered by neuron, then time.

    Useful for plotting rasters, saving to ``.npz`` and round-trip checks.
    """
    end_spikes = np.asarray(spikes.end_spikes)
    counts = np.diff(end_spikes, prepend=0)
    ids = np.repeat(np.arange(len(end_spikes)), counts)
    return np.asarray(spikes.spike_times), ids


def _tonic_event_ids(events: np.ndarray, ordering: Sequence[str],
                     shape: tuple) -> np.ndarray:
    """Flatten tonic (x[, y], p) coordinates into neuron ids, mlGeNN's layout."""
    if "t" not in ordering or "p" not in ordering:
        raise DatasetError("Only tonic datasets with time (t) and polarity (p) "
                           "in their ordering are supported")
    has_x, has_y = "x" in ordering, "y" in ordering
    if not has_x:
        raise DatasetError("Only 1D (x) and 2D (x, y) tonic sensors are supported")
    width = shape[0]
    num_pol = shape[2] if len(shape) > 2 else 1
    x = events["x"].astype(np.int64)
    if num_pol == 1:
        # single polarity: ids are x + y*width (polarity ignored)
        return x + events["y"].astype(np.int64) * width if has_y else x
    p = events["p"].astype(np.int64)
    ids = p + x * num_pol
    if has_y:
        ids = ids + events["y"].astype(np.int64) * width * num_pol
    return ids


def preprocess_tonic_spikes(events: np.ndarray, ordering: Sequence[str],
                            shape: tuple, time_scale: float = 1.0 / 1000.0,
                            dt: float | None = None,
                            histogram_thresh: int | None = None) -> PreprocessedSpikes:
    """Convert a tonic-style structured event array (fields t, x[, y], p) to spikes.

    Neuron ids follow mlGeNN: ``p + x*P + y*W*P`` for P > 1 polarities, or
    ``x + y*W`` for one polarity, with ``shape = (W, H, P)``.  Times are
    multiplied by ``time_scale`` (tonic's microseconds -> ms by default).  With
    ``histogram_thresh`` (requires ``dt``) events are binned into ``dt`` steps and
    a spike at the bin start is emitted wherever a bin holds at least that many
    events, which downsamples dense sensors.
    """
    num_neurons = int(np.prod(shape))
    ids = _tonic_event_ids(events, ordering, shape)
    scaled_t = events["t"] * time_scale
    if histogram_thresh is None:
        return preprocess_spikes(scaled_t, ids, num_neurons)
    if dt is None:
        raise DatasetError("preprocess_tonic_spikes: histogram_thresh needs a 'dt' "
                           "to bin events into timesteps")
    if len(scaled_t) == 0:
        return preprocess_spikes(np.empty(0), np.empty(0, dtype=np.int64), num_neurons)
    neuron_edges = np.arange(num_neurons + 1)
    time_edges = np.arange(0.0, np.amax(scaled_t) + dt, dt)
    hist, _, _ = np.histogram2d(ids, scaled_t, (neuron_edges, time_edges))
    hit_ids, hit_bins = np.nonzero(hist >= histogram_thresh)
    return preprocess_spikes(hit_bins * dt, hit_ids, num_neurons)


def preprocess_tonic_spikes_separate(events: np.ndarray, ordering: Sequence[str],
                                     shape: tuple, time_scale: float = 1.0 / 1000.0,
                                     dt: float | None = None,
                                     histogram_thresh: int | None = None
                                     ) -> list[PreprocessedSpikes]:
    """Like ``preprocess_tonic_spikes`` but one ``PreprocessedSpikes`` per polarity.

    Lets ON and OFF events drive separate input populations.
    """
    if len(shape) < 3 or shape[2] == 1:
        raise DatasetError("Dataset with a single polarity cannot be separated")
    return [preprocess_tonic_spikes(events[events["p"] == p], ordering,
                                    (shape[0], shape[1], 1), time_scale, dt,
                                    histogram_thresh)
            for p in range(shape[2])]


def calc_max_spikes(spikes: Sequence[PreprocessedSpikes]) -> int:
    """Largest total number of spikes in any one example (sizes SpikeInput buffers)."""
    return max(len(s.spike_times) for s in spikes)


def calc_latest_spike_time(spikes: Sequence[PreprocessedSpikes]) -> float:
    """Time of the latest spike over all examples (to choose example_timesteps)."""
    latest = [float(np.max(s.spike_times)) for s in spikes if len(s.spike_times)]
    if not latest:
        raise DatasetError("calc_latest_spike_time: no example contains any spike")
    return max(latest)


def calc_start_spikes(end_spikes: np.ndarray) -> np.ndarray:
    """Start index of each neuron's spikes given ``end_spikes`` (1-D or batched 2-D).

    For a batched 2-D array, the first neuron of each row starts where the last
    neuron of the previous row ended.
    """
    end_spikes = np.asarray(end_spikes)
    start = np.empty_like(end_spikes)
    if end_spikes.ndim == 1:
        if end_spikes.size:
            start[0] = 0
            start[1:] = end_spikes[:-1]
    else:
        start[0, 0] = 0
        start[1:, 0] = end_spikes[:-1, -1]
        start[:, 1:] = end_spikes[:, :-1]
    return start


def batch_spikes(spikes: Sequence[PreprocessedSpikes],
                 batch_size: int) -> PreprocessedSpikes:
    """Concatenate up to ``batch_size`` examples into one batched ``PreprocessedSpikes``.

    ``end_spikes`` becomes (batch_size, num_neurons) with indices into the
    concatenated times; missing examples of a partial batch are empty rows.
    """
    if len(spikes) == 0:
        raise DatasetError("Cannot batch an empty list of PreprocessedSpikes")
    num_neurons = len(spikes[0].end_spikes)
    if len(spikes) > batch_size:
        raise DatasetError(f"Cannot batch {len(spikes)} PreprocessedSpikes when "
                           f"batch size is only {batch_size}")
    if any(len(s.end_spikes) != num_neurons for s in spikes):
        raise DatasetError("Cannot batch PreprocessedSpikes with different numbers "
                           "of neurons")
    offsets = np.concatenate(([0], np.cumsum([len(s.spike_times) for s in spikes])))
    end = np.zeros((batch_size, num_neurons), dtype=np.int64)
    for i, s in enumerate(spikes):
        end[i] = np.asarray(s.end_spikes) + offsets[i]
    end[len(spikes):] = offsets[-1]
    times = np.concatenate([np.asarray(s.spike_times) for s in spikes])
    return PreprocessedSpikes(end, times)


def get_dataset_size(data: DataDictType) -> int | None:
    """Common length of every value in a {key: examples} dict, or None if they differ."""
    sizes = {len(v) for v in data.values()}
    return sizes.pop() if len(sizes) == 1 else None


def split_dataset(data: DataDictType, split: float) -> tuple[dict, dict]:
    """Split every value at ``round((1 - split) * size)``: (first part, last ``split``).

    Used to carve a validation set off the end of a training set.
    """
    if not 0.0 <= split <= 1.0:
        raise DatasetError(f"Invalid split of {split}; it must be between 0 and 1")
    size = get_dataset_size(data)
    if size is None:
        raise DatasetError("Cannot split a dataset whose entries have different lengths")
    point = int(round((1.0 - split) * size))
    return ({k: v[:point] for k, v in data.items()},
            {k: v[point:] for k, v in data.items()})


def batch_dataset(data: DataDictType, batch_size: int, size: int) -> list[dict]:
    """Cut a {key: examples} dict into a list of per-batch dicts of ``batch_size``."""
    return [{k: v[start:start + batch_size] for k, v in data.items()}
            for start in range(0, size, batch_size)]


def permute_dataset(data: DataDictType,
                    indices: Sequence[int] | np.ndarray) -> dict:
    """Reorder every value of a {key: examples} dict by ``indices`` (for shuffling)."""
    if len(indices) != get_dataset_size(data):
        raise DatasetError("permute_dataset: indices must have one entry per example")
    return {k: (v[indices] if isinstance(v, np.ndarray) else [v[i] for i in indices])
            for k, v in data.items()}
