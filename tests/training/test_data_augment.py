"""Training-set augmentation of MNIST-5k and Yin-Yang's bias input, as the bundled
examples use them."""
from __future__ import annotations

import numpy as np
import pytest

from app.project.examples import load_example
from app.project.validate import validate_project
from app.training.data import BUILTIN_DATASETS, DatasetError, load_mnist5k_latency
from app.training.data.augment import affine_copies
from app.training.data.builtin import _mnist5k


def test_affine_copies_are_reproducible_distortions() -> None:
    images = _mnist5k()[0][:20].reshape(-1, 28, 28)
    a = affine_copies(images, 2, np.random.default_rng(3))
    b = affine_copies(images, 2, np.random.default_rng(3))
    assert a.shape == (40, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[:20], images) and not np.array_equal(a[:20], a[20:])
    # a small distortion: most of each digit's ink stays, and near where it was
    ink = images.reshape(20, -1).sum(1).astype(float)
    assert np.all(np.abs(a[:20].reshape(20, -1).sum(1) - ink) < 0.3 * ink)
    corr = [np.corrcoef(images[i].ravel(), a[i].ravel())[0, 1] for i in range(20)]
    assert min(corr) > 0.15 and np.mean(corr) > 0.6
    identity = affine_copies(images, 1, np.random.default_rng(0), shift=0.0, rotate=0.0,
                             scale=0.0)
    np.testing.assert_array_equal(identity, images)
    with pytest.raises(ValueError, match="images"):
        affine_copies(images.reshape(20, -1), 1, np.random.default_rng(0))


def test_mnist5k_augment_copies_extend_only_the_training_split() -> None:
    plain = load_mnist5k_latency()
    aug = load_mnist5k_latency(augment_copies=2)
    assert len(aug.train_spikes) == 3 * len(plain.train_spikes) == 12000
    np.testing.assert_array_equal(aug.train_labels, np.tile(plain.train_labels, 3))
    np.testing.assert_array_equal(aug.test_labels, plain.test_labels)
    for a, b in zip(aug.test_spikes[:50], plain.test_spikes[:50], strict=True):
        np.testing.assert_array_equal(a.spike_times, b.spike_times)
    for a, b in zip(aug.train_spikes[:50], plain.train_spikes[:50], strict=True):
        np.testing.assert_array_equal(a.spike_times, b.spike_times)
    assert any(len(a.spike_times) != len(b.spike_times)
               for a, b in zip(aug.train_spikes[4000:4050], plain.train_spikes[:50],
                               strict=True))
    for bad in (-1, 1.5, True):
        with pytest.raises(DatasetError, match="augment_copies"):
            load_mnist5k_latency(augment_copies=bad)


def test_yin_yang_bias_gives_a_fifth_input_that_the_checks_know() -> None:
    info = BUILTIN_DATASETS["yin_yang"]
    assert info.input_count() == 4 and info.input_count({"bias": True}) == 5
    ds = info.load(bias=True, num_train=10, num_validation=2, num_test=2)
    assert ds.num_inputs == 5
    assert all(s.end_spikes.shape == (5,) and s.spike_times[0] == pytest.approx(0.2)
               for s in ds.train_spikes)
    project = load_example("yin_yang_eventprop")
    assert project.dataset.params["bias"] is True and validate_project(project) == []
    project.dataset.params["bias"] = False
    issues = validate_project(project)
    assert [i.target for i in issues] == [project.populations[0].id]
    assert "4 input neurons" in issues[0].message
