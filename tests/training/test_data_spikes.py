"""PreprocessedSpikes construction, tonic events, batching and dataset dict helpers."""

import numpy as np
import pytest

from app.training.data import (
    DatasetError,
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


def test_preprocess_spikes_sorts_by_id_then_time():
    times = np.array([5.0, 1.0, 3.0, 2.0, 0.5])
    ids = np.array([2, 0, 2, 0, 3])
    s = preprocess_spikes(times, ids, 5)
    assert isinstance(s, PreprocessedSpikes)
    assert s._fields == ("end_spikes", "spike_times")
    np.testing.assert_array_equal(s.end_spikes, [2, 2, 4, 5, 5])
    np.testing.assert_array_equal(s.spike_times, [1.0, 2.0, 3.0, 5.0, 0.5])


def test_preprocess_spikes_round_trip_and_dtype_kept():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 10, 200)
    times = rng.random(200).astype(np.float32) * 50
    s = preprocess_spikes(times, ids, 12)
    assert s.spike_times.dtype == np.float32
    t2, i2 = spikes_to_times_ids(s)
    order = np.lexsort((times, ids))
    np.testing.assert_array_equal(t2, times[order])
    np.testing.assert_array_equal(i2, ids[order])
    assert len(s.end_spikes) == 12 and s.end_spikes[-1] == 200


def test_preprocess_spikes_rejects_out_of_range_ids():
    with pytest.raises(DatasetError, match="neuron id 4.*num_neurons=4"):
        preprocess_spikes([1.0, 2.0], [0, 4], 4)
    with pytest.raises(DatasetError, match="neuron id -1"):
        preprocess_spikes([1.0], [-1], 4)
    with pytest.raises(DatasetError, match="same length"):
        preprocess_spikes([1.0, 2.0], [0], 4)


def test_empty_spikes():
    s = preprocess_spikes(np.empty(0), np.empty(0, dtype=int), 3)
    np.testing.assert_array_equal(s.end_spikes, [0, 0, 0])
    assert len(s.spike_times) == 0


def _events(rows):
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    return np.array(rows, dtype=dtype)


def test_tonic_2d_two_polarities_ids_and_time_scale():
    # sensor (W=4, H=3, P=2): id = p + x*2 + y*4*2
    ev = _events([(1, 2, 3000, 1), (0, 0, 1000, 0), (3, 1, 2000, 0)])
    s = preprocess_tonic_spikes(ev, ("x", "y", "t", "p"), (4, 3, 2))
    assert len(s.end_spikes) == 24
    t, i = spikes_to_times_ids(s)
    np.testing.assert_array_equal(i, [0, 14, 19])
    np.testing.assert_allclose(t, [1.0, 2.0, 3.0])


def test_tonic_1d_single_polarity_like_shd():
    dtype = np.dtype([("t", np.float64), ("x", np.int16), ("p", np.int8)])
    ev = np.array([(2000.0, 5, 0), (500.0, 699, 0), (700.0, 5, 0)], dtype=dtype)
    s = preprocess_tonic_spikes(ev, ("t", "x", "p"), (700, 1, 1))
    assert len(s.end_spikes) == 700
    t, i = spikes_to_times_ids(s)
    np.testing.assert_array_equal(i, [5, 5, 699])
    np.testing.assert_allclose(t, [0.7, 2.0, 0.5])


def test_tonic_histogram_threshold_bins():
    # neuron 0: 3 events in bin [0,1) and 1 in [1,2); neuron 2: 2 events in [2,3)
    dtype = np.dtype([("t", np.float64), ("x", np.int16), ("p", np.int8)])
    ev = np.array([(100, 0, 0), (200, 0, 0), (300, 0, 0), (1500, 0, 0),
                   (2100, 2, 0), (2900, 2, 0)], dtype=dtype)
    s = preprocess_tonic_spikes(ev, ("t", "x", "p"), (3, 1, 1), dt=1.0, histogram_thresh=2)
    t, i = spikes_to_times_ids(s)
    np.testing.assert_array_equal(i, [0, 2])
    np.testing.assert_allclose(t, [0.0, 2.0])
    with pytest.raises(DatasetError, match="dt"):
        preprocess_tonic_spikes(ev, ("t", "x", "p"), (3, 1, 1), histogram_thresh=2)


def test_tonic_requires_time_and_polarity_and_separates():
    ev = _events([(1, 0, 1000, 0), (1, 0, 2000, 1)])
    with pytest.raises(DatasetError, match="polarity"):
        preprocess_tonic_spikes(ev, ("x", "y", "t"), (2, 1, 2))
    on, off = preprocess_tonic_spikes_separate(ev, ("x", "y", "t", "p"), (2, 1, 2))
    np.testing.assert_array_equal(on.end_spikes, [0, 1])
    np.testing.assert_array_equal(off.end_spikes, [0, 1])
    np.testing.assert_allclose(on.spike_times, [1.0])
    np.testing.assert_allclose(off.spike_times, [2.0])


def test_calc_max_spikes_and_latest():
    a = preprocess_spikes([1.0, 9.0, 3.0], [0, 1, 1], 2)
    b = preprocess_spikes([12.5], [1], 2)
    assert calc_max_spikes([a, b]) == 3
    assert calc_latest_spike_time([a, b]) == 12.5


def test_batch_spikes_and_start_spikes():
    a = preprocess_spikes([1.0, 2.0, 3.0], [0, 1, 1], 2)
    b = preprocess_spikes([4.0], [0], 2)
    batched = batch_spikes([a, b], 3)
    np.testing.assert_array_equal(batched.end_spikes, [[1, 3], [4, 4], [4, 4]])
    np.testing.assert_array_equal(batched.spike_times, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(calc_start_spikes(batched.end_spikes),
                                  [[0, 1], [3, 4], [4, 4]])
    np.testing.assert_array_equal(calc_start_spikes(np.array([1, 3])), [0, 1])
    with pytest.raises(DatasetError, match="batch size is only 1"):
        batch_spikes([a, b], 1)


def test_dataset_dict_helpers():
    data = {"x": np.arange(10), "y": list(range(10, 20))}
    assert get_dataset_size(data) == 10
    assert get_dataset_size({"x": [1], "y": [1, 2]}) is None
    left, right = split_dataset(data, 0.2)
    np.testing.assert_array_equal(left["x"], np.arange(8))
    assert right["y"] == [18, 19]
    with pytest.raises(DatasetError, match="Invalid split"):
        split_dataset(data, 1.5)
    batches = batch_dataset(data, 4, 10)
    assert [len(b["x"]) for b in batches] == [4, 4, 2]
    assert batches[2]["y"] == [18, 19]
    perm = permute_dataset(data, [9, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert perm["x"][0] == 9 and perm["y"][0] == 19


def test_latest_spike_time_all_empty_is_clear():
    empty = preprocess_spikes([], np.empty(0, dtype=int), 2)
    with pytest.raises(DatasetError, match="no example contains any spike"):
        calc_latest_spike_time([empty])
