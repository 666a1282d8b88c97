"""Readouts: how an output population's state becomes the network's output.

Names match mlGeNN (``"var"``, ``"sum_var"``, ...). ``FirstSpikeTime`` reports
the NEGATED time of each neuron's first spike so that argmax picks the earliest.
"""

from __future__ import annotations

from .errors import bad_arg


class Readout:
    """Base class; ``name`` is the string users may pass instead of an object."""

    name = ""
    needs_spikes = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class Var(Readout):
    """The instantaneous membrane voltage at the end of the trial."""

    name = "var"


class SumVar(Readout):
    """Sum of V over every step of the trial."""

    name = "sum_var"


class AvgVar(Readout):
    """Sum of V/T over the trial."""

    name = "avg_var"


class AvgVarExpWeight(Readout):
    """Sum of exp(-t/(dt*T)) * V/T over the trial."""

    name = "avg_var_exp_weight"


class MaxVar(Readout):
    """Maximum V over the trial."""

    name = "max_var"


class SpikeCount(Readout):
    """Number of spikes in the trial."""

    name = "spike_count"
    needs_spikes = True


class FirstSpikeTime(Readout):
    """Minus the time (ms) of the first spike; -FLT_MAX if the neuron never spikes."""

    name = "first_spike_time"
    needs_spikes = True


READOUTS: dict[str, type[Readout]] = {
    cls.name: cls
    for cls in (Var, SumVar, AvgVar, AvgVarExpWeight, MaxVar, SpikeCount, FirstSpikeTime)
}


def get_readout(value: str | Readout | None, owner: str = "neuron") -> Readout | None:
    """Turn a readout name or object into a Readout instance (None stays None)."""
    if value is None or isinstance(value, Readout):
        return value
    if isinstance(value, str) and value in READOUTS:
        return READOUTS[value]()
    raise bad_arg(owner, "readout", value, f"allowed: None, {', '.join(READOUTS)}")
