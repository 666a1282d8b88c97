"""Loss functions (names as in mlGeNN) and their values for reporting."""

from __future__ import annotations

import numpy as np

from app.model.errors import bad_arg


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable float32 softmax (max, sum of exp, divide: GeNN's three passes)."""
    x = np.asarray(x, np.float32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


class Loss:
    """Base class; ``value`` gives the mean loss over examples for progress reports."""

    name = ""

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of softmax(readout) against integer labels."""

    name = "sparse_categorical_crossentropy"

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        p = softmax(y_pred)
        idx = np.asarray(y_true, np.int64)
        return float(np.mean(-np.log(np.maximum(p[np.arange(len(idx)), idx], 1e-30))))


class MeanSquareError(Loss):
    """Mean squared error between the readout and the targets."""

    name = "mean_square_error"

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        yt = np.asarray(y_true, np.float32)
        yp = np.asarray(y_pred, np.float32)
        if yt.shape != yp.shape and yt.ndim == yp.ndim + 1:
            yt = yt[:, -1]
        return float(np.mean((yt - yp) ** 2))


class RelativeMeanSquareError(Loss):
    """For first-spike-time outputs: the label neuron should fire ``delta`` ms before the others."""

    name = "relative_mean_square_error"

    def __init__(self, delta: float = 1.0) -> None:
        if not isinstance(delta, (int, float)) or isinstance(delta, bool) or delta < 0:
            raise bad_arg("RelativeMeanSquareError", "delta", delta, "a number >= 0")
        self.delta = float(delta)

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        tt = np.asarray(y_pred, np.float64)
        tt = np.where(tt < -1e30, 0.0, tt)
        idx = np.asarray(y_true, np.int64)
        ty = tt[np.arange(len(idx)), idx][:, None]
        diff = (tt - ty - self.delta)
        mask = np.ones_like(tt, bool)
        mask[np.arange(len(idx)), idx] = False
        return float(np.mean(np.sum(np.where(mask, diff ** 2, 0.0), axis=1) / 2.0))

    def __repr__(self) -> str:
        return f"RelativeMeanSquareError(delta={self.delta!r})"


LOSSES = {"sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
          "mean_square_error": MeanSquareError}


def get_loss(value: str | Loss) -> Loss:
    """Turn a loss name or object into a Loss."""
    if isinstance(value, Loss):
        return value
    if isinstance(value, str) and value in LOSSES:
        return LOSSES[value]()
    raise bad_arg("compiler", "losses", value,
                  f"allowed: {', '.join(LOSSES)} or RelativeMeanSquareError(delta)")
