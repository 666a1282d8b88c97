"""Postsynaptic models: how delivered spikes become input current."""

from __future__ import annotations

from .errors import bad_arg
from .params import apply_default_params, check_bool, check_number


class Synapse:
    """Base class."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(vars(self).items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Delta(Synapse):
    """Each spike adds its weight to the input current of the next step only."""

    @apply_default_params
    def __init__(self) -> None:
        pass


class Exponential(Synapse):
    """Exponentially decaying current with time constant ``tau`` (ms)."""

    @apply_default_params
    def __init__(self, tau: float = 5.0, scale_i: bool = False) -> None:
        self.tau = check_number("Exponential", "tau", tau, positive=True)
        self.scale_i = check_bool("Exponential", "scale_i", scale_i)


SYNAPSES = {"delta": Delta, "exponential": Exponential}


def get_synapse(value: str | Synapse) -> Synapse:
    """Turn ``"delta"``/``"exponential"`` or a Synapse object into a Synapse."""
    if isinstance(value, Synapse):
        return value
    if isinstance(value, str) and value.lower() in SYNAPSES:
        return SYNAPSES[value.lower()]()
    raise bad_arg("Connection", "synapse", value,
                  "allowed: 'delta', 'exponential', Delta() or Exponential(tau)")
