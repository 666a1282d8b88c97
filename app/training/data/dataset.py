"""Plain containers describing a dataset: ``SpikeDataset`` and ``DatasetInfo``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .spikes import PreprocessedSpikes

__all__ = ["SpikeDataset", "DatasetInfo"]


@dataclass
class SpikeDataset:
    """Encoded spikes and labels (or regression targets) ready for training.

    ``train_labels``/``test_labels`` hold integer class labels for
    classification.  For regression (``num_classes`` None) they hold the float32
    per-timestep targets of shape (examples, T, num_outputs) and ``targets``
    is the same training array, named for clarity.
    """

    train_spikes: list[PreprocessedSpikes]
    train_labels: np.ndarray
    test_spikes: list[PreprocessedSpikes]
    test_labels: np.ndarray
    num_inputs: int
    num_outputs: int
    validation_spikes: list[PreprocessedSpikes] | None = None
    validation_labels: np.ndarray | None = None
    targets: np.ndarray | None = None
    num_classes: int | None = None
    example_timesteps: int | None = None
    dt: float = 1.0
    name: str = ""

    @property
    def is_regression(self) -> bool:
        """True when labels are float targets rather than class indices."""
        return self.num_classes is None

    @property
    def has_validation(self) -> bool:
        """True when a validation split is present."""
        return self.validation_spikes is not None


@dataclass(frozen=True)
class DatasetInfo:
    """Registry entry for a built-in dataset, read by the GUI dataset panel.

    ``loader(**kwargs)`` builds the ``SpikeDataset``; ``default_kwargs`` lists
    the loader's tunable arguments and their defaults.
    """

    name: str
    description: str
    num_inputs: int
    num_classes: int | None
    num_outputs: int
    example_timesteps: int
    dt: float
    loader: Callable[..., SpikeDataset]
    default_kwargs: dict[str, Any] = field(default_factory=dict)
    needs_download: bool = False
    #: input count for given loader arguments, where they change it (Yin-Yang's bias)
    inputs_for: Callable[[dict[str, Any]], int] | None = None

    def input_count(self, params: dict[str, Any] | None = None) -> int:
        """Input neurons of the dataset loaded with ``params`` (defaults filled in)."""
        if self.inputs_for is None:
            return self.num_inputs
        return self.inputs_for({**self.default_kwargs, **(params or {})})

    @property
    def is_regression(self) -> bool:
        """True for regression tasks (no class labels)."""
        return self.num_classes is None

    def load(self, **kwargs: Any) -> SpikeDataset:
        """Build the dataset, overriding ``default_kwargs`` with ``kwargs``."""
        return self.loader(**{**self.default_kwargs, **kwargs})
