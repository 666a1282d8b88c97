"""SHD .h5 and .npz loaders on small files written by the tests."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from app.training.data import (
    DatasetError,
    bin_spike_times,
    load_npz_spikes,
    load_shd,
    preprocess_spikes,
    save_npz_spikes,
    spikes_to_times_ids,
)

FIXTURES = Path(os.environ.get("SPIKE_STUDIO_FIXTURES")
                or Path(__file__).resolve().parents[1] / "fixtures")


def _write_shd(path, examples, labels):
    with h5py.File(path, "w") as f:
        ft = h5py.vlen_dtype(np.dtype("float16"))
        ut = h5py.vlen_dtype(np.dtype("uint16"))
        times = f.create_dataset("spikes/times", (len(examples),), dtype=ft)
        units = f.create_dataset("spikes/units", (len(examples),), dtype=ut)
        for k, (t, u) in enumerate(examples):
            times[k] = np.asarray(t, dtype=np.float16)
            units[k] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))


@pytest.fixture
def shd_file(tmp_path):
    path = tmp_path / "shd_small.h5"
    _write_shd(path, [([0.5, 0.0015, 0.25, 0.0012], [699, 3, 3, 3]),
                      ([0.125], [0]),
                      ([], [])],
               [4, 19, 0])
    return path


def test_load_shd_converts_seconds_to_ms(shd_file):
    spikes, labels = load_shd(shd_file)
    np.testing.assert_array_equal(labels, [4, 19, 0])
    assert labels.dtype == np.int64
    assert all(len(s.end_spikes) == 700 for s in spikes)
    t, i = spikes_to_times_ids(spikes[0])
    np.testing.assert_array_equal(i, [3, 3, 3, 699])
    expect = np.float16([0.0012, 0.0015, 0.25, 0.5]).astype(np.float64) * 1000
    np.testing.assert_allclose(t, expect)
    assert len(spikes[2].spike_times) == 0


def test_load_shd_binning_max_time_and_limit(shd_file):
    spikes, labels = load_shd(shd_file, dt=1.0, max_time=300.0, max_examples=2)
    assert len(spikes) == 2 and list(labels) == [4, 19]
    t, i = spikes_to_times_ids(spikes[0])
    # 1.2 ms and 1.5 ms fall in the same 1 ms step: one spike; 500 ms dropped
    np.testing.assert_array_equal(i, [3, 3])
    np.testing.assert_array_equal(t, [1.0, 250.0])


def test_load_shd_reports_missing_layout(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(2))
    with pytest.raises(DatasetError, match="spikes/times"):
        load_shd(path)


def test_bin_spike_times():
    t, i = bin_spike_times(np.array([0.05, 0.08, 0.3, 0.2]), np.array([1, 1, 1, 0]), 0.1)
    np.testing.assert_array_equal(i, [0, 1, 1])
    np.testing.assert_allclose(t, [0.2, 0.0, 0.3])


def test_npz_round_trip(tmp_path):
    spikes = [preprocess_spikes([3.0, 1.0, 2.0], [2, 0, 2], 5),
              preprocess_spikes([], np.empty(0, dtype=int), 5),
              preprocess_spikes([7.5], [4], 5)]
    path = tmp_path / "data.npz"
    save_npz_spikes(path, spikes, np.array([1, 0, 2]))
    # plain np.load works without pickle
    with np.load(path, allow_pickle=False) as f:
        assert {"times", "ids", "sample", "labels"} <= set(f.files)
    loaded, labels = load_npz_spikes(path)
    np.testing.assert_array_equal(labels, [1, 0, 2])
    assert len(loaded) == 3
    for a, b in zip(spikes, loaded, strict=True):
        np.testing.assert_array_equal(a.end_spikes, b.end_spikes)
        np.testing.assert_array_equal(a.spike_times, b.spike_times)


def test_npz_per_example_layout(tmp_path):
    path = tmp_path / "per.npz"
    np.savez(path, times_0=np.array([2.0, 1.0]), ids_0=np.array([1, 1]),
             times_1=np.array([0.5]), ids_1=np.array([3]), labels=np.array([0, 1]))
    spikes, labels = load_npz_spikes(path)
    assert [len(s.end_spikes) for s in spikes] == [4, 4]   # largest id + 1
    np.testing.assert_array_equal(spikes[0].spike_times, [1.0, 2.0])
    spikes, _ = load_npz_spikes(path, num_inputs=10)
    assert len(spikes[1].end_spikes) == 10
    np.savez(path, times_0=np.array([1.0]), labels=np.array([0]))
    with pytest.raises(DatasetError, match="ids_0"):
        load_npz_spikes(path)


def test_npz_label_count_mismatch_and_empty(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, times=np.array([1.0]), ids=np.array([0]), sample=np.array([3]),
             labels=np.array([0, 1]))
    with pytest.raises(DatasetError, match="example index 3"):
        load_npz_spikes(path)
    np.savez(path, something=np.zeros(3))
    with pytest.raises(DatasetError, match="no spikes found"):
        load_npz_spikes(path)


def test_npz_reads_fixture_layout():
    spikes, labels = load_npz_spikes(FIXTURES / "grad_eventprop_ttfs.npz", num_inputs=4)
    assert len(spikes) == 5 and list(labels) == [0, 2, 2, 1, 1]
    np.testing.assert_array_equal(spikes[0].end_spikes, [1, 2, 3, 4])
    np.testing.assert_array_equal(spikes[0].spike_times,
                                  np.float32([18.657486, 11.577699, 11.342515, 18.422302]))
