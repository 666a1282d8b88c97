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


class FirstSpikeCrossentropy(SparseCategoricalCrossentropy):
    """Wunderlich & Pehle's (2021) loss on first-spike times ``t`` (ms):
    ``-log softmax(-t/tau0)[label] + alpha*(exp(t[label]/tau1) - 1)``.

    The readout holds ``-t`` (``-FLT_MAX`` for a silent neuron, which gets no
    probability). The paper's loss is infinite when the label neuron stays silent; here
    a silent label neuron counts as firing at the trial end ``t_end`` (where its phantom
    spike in the backward pass pushes it, with this loss's slope there).
    EventPropCompiler uses this loss for ``sparse_categorical_crossentropy`` with
    ``ttfs_loss="exponential"``.
    """

    def __init__(self, tau0: float, alpha: float, tau1: float, t_end: float) -> None:
        self.tau0, self.alpha, self.tau1, self.t_end = tau0, alpha, tau1, t_end

    def softmax(self, y_pred: np.ndarray) -> np.ndarray:
        """softmax(-t/tau0) per example (float32); all-silent rows give 1/n each."""
        x = np.asarray(y_pred, np.float64) / self.tau0
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    def label_softmax(self, y_pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``softmax`` with each silent label neuron counted as firing at ``t_end``
        (the other silent neurons still get nothing)."""
        idx = np.asarray(labels, np.int64)
        rows = np.arange(len(idx))
        pred = np.asarray(y_pred, np.float64).copy()
        pred[rows, idx] = np.maximum(pred[rows, idx], -self.t_end)
        return self.softmax(pred)

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        idx = np.asarray(y_true, np.int64)
        rows = np.arange(len(idx))
        p = self.label_softmax(y_pred, idx)[rows, idx].astype(np.float64)
        t = np.minimum(-np.asarray(y_pred, np.float64)[rows, idx], self.t_end)
        reg = self.alpha * (np.exp(t / self.tau1) - 1.0)
        return float(np.mean(-np.log(np.maximum(p, 1e-30)) + reg))

    def __repr__(self) -> str:
        return (f"FirstSpikeCrossentropy(tau0={self.tau0!r}, alpha={self.alpha!r}, "
                f"tau1={self.tau1!r})")


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
        tt = np.array(y_pred, np.float64)  # a copy: silent neurons (-FLT_MAX) count as 0
        tt[tt < -1e30] = 0.0
        idx = np.asarray(y_true, np.int64)
        rows = np.arange(len(idx))
        diff = tt - tt[rows, idx][:, None]
        diff -= self.delta
        diff *= diff
        diff[rows, idx] = 0.0  # the label neuron's own term
        return float(np.mean(np.sum(diff, axis=1) / 2.0))

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
