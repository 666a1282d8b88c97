"""Axis ticks people can read: SI prefixes (12k, 3.5M, 20m, 5µ) and only the
decimals the tick spacing needs, never "1.098612308502200" nor a scale
factor tucked into the axis title ("accuracy (x0.001)")."""
from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg

#: (factor, prefix) from large to small.
SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"),
               (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))
#: Plain numbers (no prefix) for ticks of this size.
PLAIN_RANGE = (1e-2, 1e4)
MAX_DECIMALS = 4


def si_factor(largest: float) -> tuple[float, str]:
    """The SI factor and prefix for ticks whose largest magnitude is ``largest``."""
    if largest == 0 or not math.isfinite(largest) or PLAIN_RANGE[0] <= largest < PLAIN_RANGE[1]:
        return 1.0, ""
    for factor, prefix in SI_PREFIXES:
        if largest >= factor:
            return factor, prefix
    return SI_PREFIXES[-1]


def format_ticks(values: Sequence[float], spacing: float) -> list[str]:
    """Tick labels for ``values`` placed ``spacing`` apart, sharing one SI prefix."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    factor, prefix = si_factor(max(finite, default=0.0))
    step = abs(spacing) / factor if spacing else 0.0
    decimals = 0
    while step > 0 and decimals < MAX_DECIMALS \
            and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1  # as many decimals as the spacing needs (0.25 -> 2, 2.5 -> 1)
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(str(v))
            continue
        if spacing and abs(v) < abs(spacing) * 1e-6:
            v = 0.0
        text = f"{v / factor:.{decimals}f}"
        if text.startswith("-") and float(text) == 0.0:
            text = text[1:]
        out.append(text + (prefix if v != 0.0 else ""))
    return out


class SIAxisItem(pg.AxisItem):
    """An axis with :func:`format_ticks` labels and no automatic scale prefix."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return format_ticks([v * scale for v in values], spacing * scale)
