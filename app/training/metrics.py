"""Metrics accumulated over an epoch (names as in mlGeNN)."""

from __future__ import annotations

import warnings

import numpy as np

from app.model.errors import bad_arg


class Metric:
    """Base class with ``update``, ``result`` and ``reset``."""

    name = ""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, y_true: np.ndarray, y_pred: np.ndarray, communicator: object = None) -> None:
        raise NotImplementedError

    @property
    def result(self) -> float | None:
        raise NotImplementedError


class SparseCategoricalAccuracy(Metric):
    """Fraction of examples whose largest readout is the label."""

    name = "sparse_categorical_accuracy"

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, y_true: np.ndarray, y_pred: np.ndarray, communicator: object = None) -> None:
        y_true = np.asarray(y_true)
        y_pred = np.asarray(y_pred)
        if y_true.ndim > 1:
            correct = self._regression_matches(y_true, y_pred)
        else:
            correct = int(np.count_nonzero(y_pred.argmax(axis=-1) == y_true))
        total = int(len(y_true))
        if communicator is not None:
            correct, total = communicator.reduce_sum(np.array([correct, total]))
        self.correct += int(correct)
        self.total += int(total)

    @property
    def result(self) -> float | None:
        return None if self.total == 0 else self.correct / self.total

    @staticmethod
    def _regression_matches(y_true: np.ndarray, y_pred: np.ndarray) -> int:
        """mlGeNN's count for per-timestep regression targets (its default metric on
        e.g. EventProp's pattern recognition): the final readout's largest neuron is
        compared with every target value of the example and the equal ones are
        counted, so the result means nothing (it is almost always 0). mlGeNN does this
        by broadcasting and crashes unless the batch is 1 (or broadcasts by accident);
        here each example is compared with its own targets, which is mlGeNN's number
        for batch 1 and does not crash for other batch sizes."""
        warnings.warn("sparse_categorical_accuracy on regression targets counts target "
                      "values equal to the predicted class, as mlGeNN does, and means "
                      "nothing; pass metrics='mean_square_error'", RegressionAccuracyWarning,
                      stacklevel=4)
        final = y_pred[:, -1] if y_pred.ndim == 3 else y_pred  # per-step history: last V
        pred = np.argmax(final, axis=-1)
        flat = y_true.reshape(len(y_true), -1)
        return int(np.sum(flat == pred[:len(flat), None]))


class RegressionAccuracyWarning(UserWarning):
    """Accuracy was computed on regression targets (mlGeNN's default metric does this)."""


class MeanSquareError(Metric):
    """Mean over examples of the mean squared error of each example."""

    name = "mean_square_error"

    def reset(self) -> None:
        self.sum = 0.0
        self.total = 0

    def update(self, y_true: np.ndarray, y_pred: np.ndarray, communicator: object = None) -> None:
        yt = np.asarray(y_true, np.float64)
        yp = np.asarray(y_pred, np.float64)
        if yt.shape != yp.shape and yt.ndim == yp.ndim + 1:
            yt = yt[:, -1]
        per = np.mean((yt - yp).reshape(len(yt), int(np.prod(yt.shape[1:]))) ** 2, axis=1)
        s, n = float(per.sum()), int(len(per))
        if communicator is not None:
            s, n = communicator.reduce_sum(np.array([s, n], np.float64))
        self.sum += float(s)
        self.total += int(n)

    @property
    def result(self) -> float | None:
        return None if self.total == 0 else self.sum / self.total


METRICS = {"sparse_categorical_accuracy": SparseCategoricalAccuracy,
           "mean_square_error": MeanSquareError}


def get_metric(value: str | Metric) -> Metric:
    """A fresh Metric from a name or a Metric instance (a new one of the same class)."""
    if isinstance(value, Metric):
        return type(value)()
    if isinstance(value, str) and value in METRICS:
        return METRICS[value]()
    raise bad_arg("train/evaluate", "metrics", value, f"allowed: {', '.join(METRICS)}")


def default_metric_for(loss: object) -> str:
    """The metric a loss implies when the user gives none."""
    from .losses import MeanSquareError as MSELoss
    return "mean_square_error" if isinstance(loss, MSELoss) else "sparse_categorical_accuracy"
