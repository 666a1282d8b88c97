"""Parameter checking and `default_params` injection shared by model objects.

mlGeNN lets ``Network(default_params)`` supply constructor arguments for every
model object created inside ``with network:``; explicit arguments win and the
lookup is by exact class. ``apply_default_params`` implements that rule.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import bad_arg

_DEFAULT_STACK: list[dict] = []


def push_defaults(defaults: dict) -> None:
    """Enter a network context whose default_params apply to new model objects."""
    _DEFAULT_STACK.append(defaults)


def pop_defaults() -> None:
    """Leave the innermost network context."""
    _DEFAULT_STACK.pop()


def current_defaults() -> dict:
    """The default_params of the innermost network context (empty outside one)."""
    return _DEFAULT_STACK[-1] if _DEFAULT_STACK else {}


def apply_default_params(init: Callable) -> Callable:
    """Decorate ``__init__`` so unspecified arguments come from the network's default_params."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args: Any, **kwargs: Any) -> None:
        defaults = current_defaults().get(type(self))
        if defaults:
            bound = sig.bind_partial(self, *args, **kwargs)
            for name, value in defaults.items():
                if name not in sig.parameters:
                    raise bad_arg(f"default_params[{type(self).__name__}]", name, value,
                                  f"allowed names: {', '.join(list(sig.parameters)[1:])}")
                if name not in bound.arguments:
                    kwargs[name] = value
        init(self, *args, **kwargs)

    wrapper.__signature__ = sig  # type: ignore[attr-defined]
    return wrapper


def check_number(owner: str, name: str, value: Any, *, positive: bool = False,
                 non_negative: bool = False, allow_none: bool = False,
                 allow_array: bool = False) -> Any:
    """Validate a numeric argument and return it (float, or array when allowed)."""
    if value is None and allow_none:
        return None
    if allow_array and isinstance(value, np.ndarray):
        if not np.all(np.isfinite(value)):
            raise bad_arg(owner, name, "array with NaN/inf", "all values must be finite")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_arg(owner, name, value, "a number is required"
                      + (" (or None)" if allow_none else ""))
    value = float(value)
    if not np.isfinite(value):
        raise bad_arg(owner, name, value, "it must be finite")
    if positive and value <= 0:
        raise bad_arg(owner, name, value, "it must be > 0")
    if non_negative and value < 0:
        raise bad_arg(owner, name, value, "it must be >= 0")
    return value


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Validate a boolean flag."""
    if not isinstance(value, (bool, np.bool_)):
        raise bad_arg(owner, name, value, "True or False is required")
    return bool(value)


def check_int(owner: str, name: str, value: Any, minimum: int | None = None) -> int:
    """Validate an integer argument with an optional lower bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise bad_arg(owner, name, value, "an integer is required")
    value = int(value)
    if minimum is not None and value < minimum:
        raise bad_arg(owner, name, value, f"it must be >= {minimum}")
    return value
