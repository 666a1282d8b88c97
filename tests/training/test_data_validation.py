"""validate_spike_dataset names the field that is wrong and how to fix it."""

import numpy as np
import pytest

from app.training.data import (
    DatasetError,
    PreprocessedSpikes,
    preprocess_spikes,
    validate_spike_dataset,
)


def _good():
    return [preprocess_spikes([1.0, 2.0], [0, 3], 4),
            preprocess_spikes([0.0, 29.9], [1, 2], 4)]


def test_valid_dataset_passes():
    validate_spike_dataset(_good(), [0, 2], 4, num_classes=3, example_timesteps=300,
                           dt=0.1)
    validate_spike_dataset(_good(), np.array([1, 1], dtype=np.uint8), 4, num_classes=2)
    validate_spike_dataset(_good(), None, 4)


def test_dataset_error_is_value_error():
    assert issubclass(DatasetError, ValueError)


def test_too_many_input_neurons():
    spikes = [preprocess_spikes([1.0], [6], 7)]
    with pytest.raises(DatasetError, match=r"7 input neurons.*num_inputs=4.*neuron id is 6"):
        validate_spike_dataset(spikes, [0], 4)


def test_too_few_input_neurons():
    spikes = [preprocess_spikes([1.0], [1], 2)]
    with pytest.raises(DatasetError, match=r"spikes\[0\].*2 input neurons.*num_inputs=4"):
        validate_spike_dataset(spikes, [0], 4)


def test_labels_out_of_range_named():
    with pytest.raises(DatasetError, match=r"labels\[1\] = 3 is out of range.*num_classes=3"):
        validate_spike_dataset(_good(), [0, 3], 4, num_classes=3)
    with pytest.raises(DatasetError, match=r"labels\[0\] = -1"):
        validate_spike_dataset(_good(), [-1, 0], 4, num_classes=3)


def test_labels_wrong_dtype():
    with pytest.raises(DatasetError, match=r"labels have dtype float64.*astype"):
        validate_spike_dataset(_good(), np.array([0.0, 1.0]), 4, num_classes=3)
    with pytest.raises(DatasetError, match=r"labels have dtype <U1"):
        validate_spike_dataset(_good(), np.array(["a", "b"]), 4, num_classes=3)
    with pytest.raises(DatasetError, match=r"1-D array.*not one-hot"):
        validate_spike_dataset(_good(), np.eye(2, dtype=int), 4, num_classes=3)


def test_label_count_mismatch():
    with pytest.raises(DatasetError, match=r"labels has 3 entries but spikes has 2 examples"):
        validate_spike_dataset(_good(), [0, 1, 2], 4, num_classes=3)


def test_spike_after_last_timestep():
    # T=300, dt=0.1: the last step starts at 29.9 ms; 29.95 would never be emitted
    spikes = [preprocess_spikes([29.95], [0], 4)]
    with pytest.raises(DatasetError, match=r"spikes\[0\].*29.95 ms.*example_timesteps=300.*"
                                           r"at least 301"):
        validate_spike_dataset(spikes, [0], 4, num_classes=3, example_timesteps=300, dt=0.1)
    validate_spike_dataset([preprocess_spikes([29.9], [0], 4)], [0], 4,
                           example_timesteps=300, dt=0.1)


def test_nan_and_negative_times():
    nan = [PreprocessedSpikes(np.array([1, 1, 1, 1]), np.array([np.nan]))]
    with pytest.raises(DatasetError, match=r"spikes\[0\].spike_times contains NaN"):
        validate_spike_dataset(nan, [0], 4)
    neg = [preprocess_spikes([-1.0], [0], 4)]
    with pytest.raises(DatasetError, match="negative spike time"):
        validate_spike_dataset(neg, [0], 4)


def test_inconsistent_end_spikes_and_wrong_type():
    bad = [PreprocessedSpikes(np.array([1, 0, 2, 2]), np.array([1.0, 2.0]))]
    with pytest.raises(DatasetError, match="end_spikes is not a non-decreasing"):
        validate_spike_dataset(bad, None, 4)
    with pytest.raises(DatasetError, match=r"spikes\[0\] is a ndarray.*preprocess_spikes"):
        validate_spike_dataset([np.zeros(4)], None, 4)


def test_regression_targets():
    targets = np.zeros((2, 300, 3), dtype=np.float32)
    validate_spike_dataset(_good(), targets, 4, example_timesteps=300, dt=0.1)
    with pytest.raises(DatasetError, match=r"200 timesteps.*example_timesteps=300"):
        validate_spike_dataset(_good(), targets[:, :200], 4, example_timesteps=300, dt=0.1)
    targets[1, 5, 0] = np.nan
    with pytest.raises(DatasetError, match="NaN"):
        validate_spike_dataset(_good(), targets, 4)


def test_batched_spikes_rejected_with_hint():
    from app.training.data import batch_spikes

    with pytest.raises(DatasetError, match="batched PreprocessedSpikes"):
        validate_spike_dataset(batch_spikes(_good(), 2), None, 4)
    # a single per-example PreprocessedSpikes is accepted as one example
    validate_spike_dataset(_good()[0], [1], 4, num_classes=2)
