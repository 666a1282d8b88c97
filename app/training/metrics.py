"""Metrics accumulated over an epoch (names as in mlGeNN)."""

from __future__ import annotations

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
        pred = np.argmax(np.asarray(y_pred), axis=-1)
        correct = int(np.sum(pred == y_true))
        total = int(len(y_true))
        if communicator is not None:
            correct, total = communicator.reduce_sum(np.array([correct, total]))
        self.correct += int(correct)
        self.total += int(total)

    @property
    def result(self) -> float | None:
        return None if self.total == 0 else self.correct / self.total


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
