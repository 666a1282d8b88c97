"""Yin-Yang generation reproduces mlGeNN's inputs bit for bit (fixture)."""

import math
import os
from pathlib import Path

import numpy as np
import pytest

from app.training.data import (
    PreprocessedSpikes,
    generate_yin_yang_dataset,
    preprocess_spikes,
    yin_yang_class,
    yin_yang_splits,
)

FIXTURES = Path(os.environ.get("SPIKE_STUDIO_FIXTURES")
                or Path(__file__).resolve().parents[1] / "fixtures")
TTFS = FIXTURES / "grad_eventprop_ttfs.npz"


def test_yin_yang_matches_mlgenn_fixture_exactly():
    fx = np.load(TTFS)
    selected = [0, 1, 2, 38, 4]
    state = np.random.get_state()
    try:
        np.random.seed(0)
        spikes, labels = generate_yin_yang_dataset(40, 29.6, 0.2, bias=False)
    finally:
        np.random.set_state(state)
    assert len(spikes) == 40 and len(labels) == 40
    np.testing.assert_array_equal([labels[i] for i in selected], fx["labels"])

    times, ids, sample = (fx["input_spike_times"], fx["input_spike_ids"],
                          fx["input_spike_sample"])
    for k, idx in enumerate(selected):
        ours = spikes[idx]
        ref = preprocess_spikes(times[sample == k], ids[sample == k], 4)
        np.testing.assert_array_equal(ours.end_spikes, ref.end_spikes)
        np.testing.assert_array_equal(ours.end_spikes, [1, 2, 3, 4])
        # the fixture stores float32 times: ours, rounded to float32, are identical
        np.testing.assert_array_equal(ours.spike_times.astype(np.float32), ref.spike_times)


def test_yin_yang_geometry_and_encoding():
    rng = np.random.RandomState(3)
    spikes, labels = generate_yin_yang_dataset(300, 10.0, 1.0, bias=True, rng=rng)
    assert set(labels) == {0, 1, 2}
    for s, lab in zip(spikes, labels, strict=True):
        assert isinstance(s, PreprocessedSpikes)
        np.testing.assert_array_equal(s.end_spikes, [1, 2, 3, 4, 5])
        b, x, y, x2, y2 = (s.spike_times - 1.0) / 10.0
        assert b == 0.0
        assert x + x2 == pytest.approx(1.0) and y + y2 == pytest.approx(1.0)
        assert math.hypot(x - 0.5, y - 0.5) <= 0.5
        assert yin_yang_class(x, y) == lab


def test_yin_yang_class_known_points():
    assert yin_yang_class(0.75, 0.5) == 2       # centre of the right dot
    assert yin_yang_class(0.25, 0.5) == 2       # centre of the left dot
    assert yin_yang_class(0.5, 0.9) == 1        # top half, away from the dots: yin
    assert yin_yang_class(0.5, 0.1) == 0        # bottom half: yang


def test_yin_yang_splits_reproducible_and_distinct():
    a = yin_yang_splits(seed=7, num_train=50, num_validation=20, num_test=20)
    b = yin_yang_splits(seed=7, num_train=50, num_validation=20, num_test=20)
    c = yin_yang_splits(seed=8, num_train=50, num_validation=20, num_test=20)
    assert len(a.train_spikes) == 50 and len(a.validation_spikes) == 20
    assert len(a.test_spikes) == 20
    for x, y in zip(a.train_spikes, b.train_spikes, strict=True):
        np.testing.assert_array_equal(x.spike_times, y.spike_times)
    np.testing.assert_array_equal(a.test_labels, b.test_labels)
    assert not np.array_equal(a.train_spikes[0].spike_times, c.train_spikes[0].spike_times)
    # splits use different streams
    assert not np.array_equal(a.train_spikes[0].spike_times,
                              a.validation_spikes[0].spike_times)
    assert not np.array_equal(a.validation_spikes[0].spike_times,
                              a.test_spikes[0].spike_times)
    assert a.num_inputs == 4 and a.num_classes == 3 and a.example_timesteps == 300
    # dt=0.1, example_time=30: times in [0.2, 29.8], i.e. before the last step (29.9)
    all_t = np.concatenate([s.spike_times for s in a.train_spikes])
    assert all_t.min() >= 0.2 - 1e-12 and all_t.max() <= 29.8 + 1e-12


def test_yin_yang_splits_default_sizes_and_global_state_untouched():
    state = np.random.get_state()[1].copy()
    ds = yin_yang_splits()
    assert np.array_equal(np.random.get_state()[1], state)
    assert (len(ds.train_spikes), len(ds.validation_spikes), len(ds.test_spikes)) == (
        5000, 1000, 1000)
    counts = np.bincount(ds.train_labels, minlength=3)
    assert counts.min() > 1500   # classes balanced by construction
