"""pyqtgraph widgets for live training plots (Qt only; takes plain numpy arrays).

- :class:`RasterPlot` - spike raster per population (ticks, or a binned image
  above ~1e5 spikes)
- :class:`VoltagePlot` - membrane voltage of picked neurons + threshold line
- :class:`CurvesPlot` - loss/accuracy per batch/epoch, raw + EMA, several runs
- :class:`WeightHistogram` - weight distribution per connection
- :class:`PlotsPanel` - all four in tabs, fed by plain-dict worker messages
  (message kinds documented in :mod:`app.plots.panel`)

Setters only store data; each widget redraws at most ~25 times a second.
Every plot has reset view, ``export_png(path)``, ``export_csv(path)`` and
``set_theme("dark" | "light")``.
"""

from app.plots._compat import protect_singleton_refcounts
from app.plots.base import REDRAW_INTERVAL_MS, THEMES, PlotBase
from app.plots.curves import SERIES, CurvesPlot, ema_smooth
from app.plots.panel import MESSAGE_KINDS, PlotsPanel
from app.plots.raster import DEFAULT_MAX_TICKS, RasterPlot
from app.plots.voltage import NeuronSpecError, VoltagePlot, parse_neuron_spec
from app.plots.weights import WeightHistogram

# PySide6 6.12 + Python 3.11 leak references to None/True on void calls and emit (see _compat).
protect_singleton_refcounts()

__all__ = [
    "DEFAULT_MAX_TICKS",
    "MESSAGE_KINDS",
    "REDRAW_INTERVAL_MS",
    "SERIES",
    "THEMES",
    "CurvesPlot",
    "NeuronSpecError",
    "PlotBase",
    "PlotsPanel",
    "RasterPlot",
    "VoltagePlot",
    "WeightHistogram",
    "ema_smooth",
    "parse_neuron_spec",
]
