"""Datasets and spike preprocessing (the counterpart of ``ml_genn.utils.data``).

Scripts written for mlGeNN move over by renaming ``ml_genn.utils.data`` to
``app.training.data``.  On top of mlGeNN's functions this package adds
built-in datasets (``BUILTIN_DATASETS``), file loaders and
``validate_spike_dataset``.
"""

from .builtin import (
    load_digits_latency,
    load_mnist5k_latency,
    load_pattern_dataset,
    pattern_recognition_task,
)
from .dataset import DatasetInfo, SpikeDataset
from .encoding import linear_latency_encode_data, log_latency_encode_data
from .errors import DatasetError
from .files import bin_spike_times, load_npz_spikes, load_shd, save_npz_spikes
from .registry import BUILTIN_DATASETS, load_builtin_dataset
from .spikes import (
    PreprocessedSpikes,
    batch_dataset,
    batch_spikes,
    calc_latest_spike_time,
    calc_max_spikes,
    calc_start_spikes,
    get_dataset_size,
    permute_dataset,
    preprocess_spikes,
    preprocess_tonic_spikes,
    preprocess_tonic_spikes_separate,
    spikes_to_times_ids,
    split_dataset,
)
from .validation import validate_spike_dataset
from .yin_yang import generate_yin_yang_dataset, yin_yang_class, yin_yang_splits

__all__ = [
    "BUILTIN_DATASETS",
    "DatasetError",
    "DatasetInfo",
    "PreprocessedSpikes",
    "SpikeDataset",
    "batch_dataset",
    "batch_spikes",
    "bin_spike_times",
    "calc_latest_spike_time",
    "calc_max_spikes",
    "calc_start_spikes",
    "generate_yin_yang_dataset",
    "get_dataset_size",
    "linear_latency_encode_data",
    "load_builtin_dataset",
    "load_digits_latency",
    "load_mnist5k_latency",
    "load_npz_spikes",
    "load_pattern_dataset",
    "load_shd",
    "log_latency_encode_data",
    "pattern_recognition_task",
    "permute_dataset",
    "preprocess_spikes",
    "preprocess_tonic_spikes",
    "preprocess_tonic_spikes_separate",
    "save_npz_spikes",
    "spikes_to_times_ids",
    "split_dataset",
    "validate_spike_dataset",
    "yin_yang_class",
    "yin_yang_splits",
]
