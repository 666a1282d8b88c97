"""Weight / delay initializers: constants, arrays, Normal and Uniform draws."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .errors import bad_arg
from .params import check_number


class Initializer:
    """Base class: ``sample(rng, shape)`` returns float32 values."""

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError


class Normal(Initializer):
    """Normally distributed values, ``Normal(mean=0.0, sd=1.0)``."""

    def __init__(self, mean: float = 0.0, sd: float = 1.0) -> None:
        self.mean = check_number("Normal", "mean", mean)
        self.sd = check_number("Normal", "sd", sd, non_negative=True)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.normal(self.mean, self.sd, size=shape).astype(np.float32)

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean!r}, sd={self.sd!r})"


class Uniform(Initializer):
    """Uniformly distributed values in [min, max), ``Uniform(min=0.0, max=1.0)``."""

    def __init__(self, min: float = 0.0, max: float = 1.0) -> None:  # noqa: A002
        self.min = check_number("Uniform", "min", min)
        self.max = check_number("Uniform", "max", max)
        if self.max < self.min:
            raise bad_arg("Uniform", "max", max, f"it must be >= min ({min})")

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(self.min, self.max, size=shape).astype(np.float32)

    def __repr__(self) -> str:
        return f"Uniform(min={self.min!r}, max={self.max!r})"


def check_value(owner: str, name: str, value: Any) -> Any:
    """Accept a number, an Initializer or a finite numeric array; reject anything else."""
    if isinstance(value, Initializer):
        return value
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.number):
            raise bad_arg(owner, name, value.dtype, "a numeric array is required")
        if not np.all(np.isfinite(value)):
            raise bad_arg(owner, name, "array with NaN/inf", "all values must be finite")
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_number(owner, name, value)
    raise bad_arg(owner, name, value,
                  "allowed: a number, Normal(...), Uniform(...) or a numpy array")


def materialise(value: Any, rng: np.random.Generator, shape: tuple[int, ...],
                owner: str, name: str) -> np.ndarray:
    """Produce a float32 array of ``shape`` from a number, initializer or array."""
    if isinstance(value, Initializer):
        return value.sample(rng, shape)
    if isinstance(value, np.ndarray):
        arr = np.asarray(value, dtype=np.float32)
        if arr.size == int(np.prod(shape)):
            return arr.reshape(shape).copy()
        if arr.ndim == 0:
            return np.full(shape, float(arr), dtype=np.float32)
        raise bad_arg(owner, name, f"array of shape {arr.shape}",
                      f"shape {shape} (or {int(np.prod(shape))} values) is required")
    return np.full(shape, value, dtype=np.float32)
