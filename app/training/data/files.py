"""File loaders: Spiking Heidelberg Digits (.h5) and plain NumPy (.npz) spikes."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from .errors import DatasetError
from .spikes import PreprocessedSpikes, preprocess_spikes, spikes_to_times_ids

__all__ = ["load_shd", "load_npz_spikes", "save_npz_spikes", "bin_spike_times"]

PathLike = str | os.PathLike


def bin_spike_times(times: np.ndarray, ids: np.ndarray, dt: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Snap spikes to the start of their ``dt`` step, keeping one per (neuron, step).

    A ``SpikeInput`` emits at most one spike per neuron per step, so this is
    exactly what the network would see, with fewer events to store.
    """
    steps = np.floor(np.asarray(times, dtype=np.float64) / dt + 1e-9).astype(np.int64)
    pairs = np.unique(np.stack([np.asarray(ids, dtype=np.int64), steps]), axis=1)
    return pairs[1] * dt, pairs[0]


def load_shd(path: PathLike, dt: float | None = None, max_time: float | None = None,
             num_inputs: int = 700, time_scale: float = 1000.0,
             max_examples: int | None = None
             ) -> tuple[list[PreprocessedSpikes], np.ndarray]:
    """Load a Spiking Heidelberg Digits file (``shd_train.h5`` / ``shd_test.h5``).

    Layout: ``spikes/times`` (vlen float, seconds), ``spikes/units`` (vlen int)
    and ``labels``.  Times are multiplied by ``time_scale`` (s -> ms).  Spikes
    at or after ``max_time`` ms are dropped; with ``dt`` they are binned to
    step starts (one per neuron and step).  Returns (spikes, int64 labels).
    """
    import h5py

    with h5py.File(path, "r") as f:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise DatasetError(f"{path}: missing dataset '{key}'; expected the SHD "
                                   "layout spikes/times, spikes/units, labels")
        n = len(f["labels"])
        if max_examples is not None:
            n = min(n, max_examples)
        all_times = f["spikes/times"][:n]
        all_units = f["spikes/units"][:n]
        labels = np.asarray(f["labels"][:n]).astype(np.int64)
    spikes = []
    for k in range(n):
        times = np.asarray(all_times[k], dtype=np.float64) * time_scale
        units = np.asarray(all_units[k], dtype=np.int64)
        if len(times) != len(units):
            raise DatasetError(f"{path}: example {k} has {len(times)} spike times but "
                               f"{len(units)} unit ids")
        if max_time is not None:
            keep = times < max_time
            times, units = times[keep], units[keep]
        if dt is not None:
            times, units = bin_spike_times(times, units, dt)
        spikes.append(preprocess_spikes(times, units, num_inputs))
    return spikes, labels


_PER_EXAMPLE = re.compile(r"^times_(\d+)$")


def load_npz_spikes(path: PathLike, num_inputs: int | None = None
                    ) -> tuple[list[PreprocessedSpikes], np.ndarray | None]:
    """Load spikes (and labels/targets if present) from an ``.npz`` without pickle.

    Accepted layouts: flat ``times``, ``ids``, ``sample`` (the example index of
    each spike; the fixtures' ``input_spike_times/ids/sample`` also work), or
    per-example ``times_0``, ``ids_0``, ``times_1``, ...  Labels come from
    ``labels`` (or ``targets``); the example count from ``num_examples``, else
    the labels, else the largest sample index + 1.  The input count is ``num_inputs``, else the
    file's ``num_inputs`` entry, else the largest id + 1.
    """
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    labels = data.get("labels", data.get("targets"))
    if num_inputs is None and "num_inputs" in data:
        num_inputs = int(data["num_inputs"])

    per_example: list[tuple[np.ndarray, np.ndarray]] = []
    prefix = next((p for p in ("", "input_spike_") if f"{p}times" in data), None)
    if prefix is not None:
        try:
            times, ids, sample = (data[f"{prefix}{n}"] for n in ("times", "ids", "sample"))
        except KeyError as e:
            raise DatasetError(f"{path}: has '{prefix}times' but not {e}; flat files need "
                               f"'{prefix}times', '{prefix}ids' and '{prefix}sample'") from None
        if not (len(times) == len(ids) == len(sample)):
            raise DatasetError(f"{path}: 'times', 'ids' and 'sample' have different lengths")
        if "num_examples" in data:
            num_examples = int(data["num_examples"])
        elif labels is not None:
            num_examples = len(labels)
        else:
            num_examples = int(sample.max()) + 1 if len(sample) else 0
        if len(sample) and (int(sample.min()) < 0 or int(sample.max()) >= num_examples):
            raise DatasetError(f"{path}: 'sample' holds example index {int(sample.max())} "
                               f"but there are only {num_examples} examples (labels)")
        order = np.argsort(sample, kind="stable")
        bounds = np.searchsorted(sample[order], np.arange(num_examples + 1))
        for k in range(num_examples):
            sel = order[bounds[k]:bounds[k + 1]]
            per_example.append((times[sel], ids[sel]))
    else:
        indices = sorted(int(m.group(1)) for k in data if (m := _PER_EXAMPLE.match(k)))
        if not indices:
            raise DatasetError(f"{path}: no spikes found; expected 'times'/'ids'/'sample' "
                               "or per-example 'times_0'/'ids_0', ...")
        if indices != list(range(len(indices))):
            raise DatasetError(f"{path}: per-example keys must be times_0..times_"
                               f"{len(indices) - 1} without gaps")
        for k in indices:
            if f"ids_{k}" not in data:
                raise DatasetError(f"{path}: 'times_{k}' has no matching 'ids_{k}'")
            per_example.append((data[f"times_{k}"], data[f"ids_{k}"]))

    if num_inputs is None:
        num_inputs = 1 + max((int(i.max()) for _, i in per_example if len(i)), default=-1)
    spikes = [preprocess_spikes(t, i, num_inputs) for t, i in per_example]
    if labels is not None and len(labels) != len(spikes):
        raise DatasetError(f"{path}: 'labels' has {len(labels)} entries but there are "
                           f"{len(spikes)} examples of spikes")
    return spikes, labels


def save_npz_spikes(path: PathLike, spikes: Sequence[PreprocessedSpikes],
                    labels: np.ndarray | Sequence | None = None) -> None:
    """Save spikes (and labels) as a flat ``times``/``ids``/``sample`` ``.npz``.

    The file loads back with ``load_npz_spikes`` and with plain ``np.load``.
    """
    times, ids, sample = [], [], []
    for k, s in enumerate(spikes):
        t, i = spikes_to_times_ids(s)
        times.append(t)
        ids.append(i)
        sample.append(np.full(len(t), k, dtype=np.int64))
    num_inputs = len(spikes[0].end_spikes) if len(spikes) else 0
    arrays = {
        "times": np.concatenate(times) if times else np.empty(0),
        "ids": np.concatenate(ids) if ids else np.empty(0, dtype=np.int64),
        "sample": np.concatenate(sample) if sample else np.empty(0, dtype=np.int64),
        "num_inputs": np.int64(num_inputs),
        "num_examples": np.int64(len(spikes)),
    }
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    np.savez(path, **arrays)
