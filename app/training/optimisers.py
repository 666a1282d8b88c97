"""Optimisers. Adam as in mlGeNN, with moments that persist across epochs."""

from __future__ import annotations

import numpy as np

from app.model.errors import bad_arg

from .engine import optim
from .engine.threads import threads_for


class Optimiser:
    """Base class: ``step(param, grad, state, k)`` updates ``param`` in place."""

    def new_state(self, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        return {}

    def step(self, param: np.ndarray, grad: np.ndarray, state: dict, k: int) -> None:
        raise NotImplementedError

    def update(self, param: np.ndarray, parts: np.ndarray, state: dict, k: int,
               clamp: tuple[float, float] | None = None) -> int:
        """One training step from per-thread partial gradients ``parts`` (chunks, n):
        sum them, refuse non-finite parameters or gradients (returning BAD_PARAM /
        BAD_GRAD with nothing changed), step, clamp, zero ``parts``. Returns
        ``optim.OK``, or ``optim.BAD_RESULT`` if a parameter became non-finite."""
        if not np.all(np.isfinite(param)):
            return optim.BAD_PARAM
        grad = parts[0].copy()
        for c in range(1, parts.shape[0]):
            grad += parts[c]
        grad = grad.reshape(param.shape)
        if not np.all(np.isfinite(grad)):
            return optim.BAD_GRAD
        self.step(param, grad, state, k)
        if clamp is not None:
            np.clip(param, clamp[0], clamp[1], out=param)
        parts[:] = 0
        return optim.OK if np.all(np.isfinite(param)) else optim.BAD_RESULT

    def update_many(self, items: list[tuple[np.ndarray, np.ndarray, dict]],
                    k: int) -> tuple[int, int] | None:
        """``update`` of several (param, parts, state) at once, every parameter and
        gradient checked before anything changes; (status, index of the item it
        concerns, -1 with OK), or None where this optimiser has no such step (then
        call ``update`` per item)."""
        return None


class Adam(Optimiser):
    """Adam(alpha=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8); k is the 0-based batch index."""

    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8) -> None:
        for name, v in (("alpha", alpha), ("beta1", beta1), ("beta2", beta2),
                        ("epsilon", epsilon)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
                raise bad_arg("Adam", name, v, "a finite number is required")
        if not 0.0 <= beta1 < 1.0:
            raise bad_arg("Adam", "beta1", beta1, "it must be in [0, 1)")
        if not 0.0 <= beta2 < 1.0:
            raise bad_arg("Adam", "beta2", beta2, "it must be in [0, 1)")
        if alpha < 0:
            raise bad_arg("Adam", "alpha", alpha, "it must be >= 0")
        self.alpha = float(alpha)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)
        self._many: tuple | None = None

    def new_state(self, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        return {"m": np.zeros(shape, np.float32), "v": np.zeros(shape, np.float32)}

    def step(self, param: np.ndarray, grad: np.ndarray, state: dict, k: int) -> None:
        f = np.float32
        m, v = state["m"], state["v"]
        m *= f(self.beta1)
        m += f(1.0 - self.beta1) * grad
        v *= f(self.beta2)
        v += f(1.0 - self.beta2) * grad * grad
        s1 = f(1.0 / (1.0 - self.beta1 ** (k + 1)))
        s2 = f(1.0 / (1.0 - self.beta2 ** (k + 1)))
        param -= (f(self.alpha) * m * s1) / (np.sqrt(v * s2) + f(self.epsilon))

    def update(self, param: np.ndarray, parts: np.ndarray, state: dict, k: int,
               clamp: tuple[float, float] | None = None) -> int:
        """``Optimiser.update`` in one numba pass (same float32 operations as ``step``)."""
        arrays = (param, parts, state["m"], state["v"])
        if any(a.dtype != np.float32 or not a.flags.c_contiguous for a in arrays):
            return super().update(param, parts, state, k, clamp)
        # flat views of the same memory (any shape, e.g. a convolution kernel)
        param, m, v = param.reshape(-1), state["m"].reshape(-1), state["v"].reshape(-1)
        f = np.float32
        lo, hi = clamp if clamp is not None else (0.0, 0.0)
        args = (param, parts, m, v, f(self.beta1), f(1.0 - self.beta1),
                f(self.beta2), f(1.0 - self.beta2), f(self.alpha),
                f(1.0 / (1.0 - self.beta1 ** (k + 1))), f(1.0 / (1.0 - self.beta2 ** (k + 1))),
                f(self.epsilon), f(lo), f(hi), clamp is not None)
        nblocks = optim.blocks(param.shape[0])
        if nblocks <= 1:
            return optim.adam_update_small(*args)
        with threads_for(nblocks, "adam", param.shape[0]):
            return optim.adam_update(*args)

    def update_many(self, items: list[tuple[np.ndarray, np.ndarray, dict]],
                    k: int) -> tuple[int, int] | None:
        """``update`` of several trainables in one numba call (one pass over all their
        blocks on the engine's threads, then one more): no per-trainable call,
        thread choice or separate parameter check. None unless every array is
        float32 and C-contiguous, or where all fit one block (``optim.blocks``: one
        small call per trainable is faster than starting the thread pool). The
        arrays' flat views are kept for the next call with the same arrays (a
        training run passes the same ones every step)."""
        args = self.many_args(items, np.arange(k, k + 1))
        if args is None:
            return None
        n = sum(a.shape[0] for a in args[0])
        args = args[:9] + (args[9][0], args[10][0], args[11])  # this step's s1, s2
        with threads_for(optim.blocks(n), "adam", n):
            status, which = optim.adam_update_many(*args)
        return int(status), int(which)

    def many_args(self, items: list[tuple[np.ndarray, np.ndarray, dict]],
                  steps: np.ndarray, in_kernel: bool = False) -> tuple | None:
        """The arguments of ``optim.adam_update_many`` for ``items`` at each of the
        0-based ``steps``: (params, parts, m, v tuples, b1, 1 - b1, b2, 1 - b2, alpha,
        bias corrections s1 and s2 (float32 arrays, one per step), epsilon); None
        where ``update_many`` declines (see there), but with ``in_kernel`` (the call
        is made from a kernel: no call cost to save) for any sizes."""
        if not items or not in_kernel and (
                len(items) < 2 or optim.blocks(sum(param.size for param, _, _ in items)) <= 1):
            return None
        key = tuple((id(param), id(p), id(state["m"]), id(state["v"]))
                    for param, p, state in items)
        if self._many is None or self._many[0] != key:
            arrays = ([], [], [], [])
            for param, p, state in items:
                m, v = state["m"], state["v"]
                if any(a.dtype != np.float32 or not a.flags.c_contiguous
                       for a in (param, p, m, v)):
                    return None
                for out, a in zip(arrays, (param.reshape(-1), p, m.reshape(-1),
                                           v.reshape(-1)), strict=True):
                    out.append(a)
            # the items themselves are kept too: ids are unique only while they live
            self._many = (key, tuple(tuple(a) for a in arrays), items)
        f = np.float32
        ks = [int(k) for k in steps]  # Python ints: the same powers as ``step``
        s1 = np.array([f(1.0 / (1.0 - self.beta1 ** (k + 1))) for k in ks], np.float32)
        s2 = np.array([f(1.0 / (1.0 - self.beta2 ** (k + 1))) for k in ks], np.float32)
        return (*self._many[1], f(self.beta1), f(1.0 - self.beta1), f(self.beta2),
                f(1.0 - self.beta2), f(self.alpha), s1, s2, f(self.epsilon))

    def __repr__(self) -> str:
        return (f"Adam(alpha={self.alpha!r}, beta1={self.beta1!r}, beta2={self.beta2!r}, "
                f"epsilon={self.epsilon!r})")


def get_optimiser(value: str | Optimiser) -> Optimiser:
    """Turn ``"adam"`` or an Optimiser into an Optimiser."""
    if isinstance(value, Optimiser):
        return value
    if isinstance(value, str) and value.lower() == "adam":
        return Adam()
    raise bad_arg("compiler", "optimiser", value, "allowed: 'adam' or Adam(...)")
