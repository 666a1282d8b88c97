"""``PlotsPanel``: the training plots in tabs, fed by plain-dict messages.

The worker client hands each message it drains to
:meth:`PlotsPanel.update_from_message`.  Messages are plain ``dict`` objects
(numpy arrays allowed) with a ``"kind"`` key; this module never imports the
worker or the training library.  Message kinds:

``batch_metrics``
    ``{"kind": "batch_metrics", "run": str, "epoch": int, "batch": int,
    "loss": float, "accuracy": float}`` - adds ``batch/loss`` and
    ``batch/accuracy`` points to ``run``.  The x value is ``"step"`` if the
    message has one, else a per-run count of batch messages (0, 1, 2, ...).
    ``loss``/``accuracy`` may be missing or ``None``.
``epoch_metrics``
    ``{"kind": "epoch_metrics", "run": str, "epoch": int, "loss": float,
    "accuracy": float, "val_loss": float, "val_accuracy": float}`` - adds
    ``epoch/<metric>`` points at x = ``epoch`` for each metric present.
``raster``
    ``{"kind": "raster", "population": str, "times": ndarray (ms),
    "ids": ndarray, "n": int, "t_max": float (ms)}`` - replaces that
    population's spikes (``"append": True`` appends instead).
``voltage``
    ``{"kind": "voltage", "population": str, "t": ndarray (ms),
    "V": ndarray [T, k], "ids": list[int], "v_thresh": float}`` - replaces
    the voltage traces; ``v_thresh`` (optional) sets the dashed threshold.
``weights``
    ``{"kind": "weights", "connection": str, "values": ndarray}`` - replaces
    that connection's weights.
``clear_run``
    ``{"kind": "clear_run", "run": str}`` - removes a run's curves.

Unknown kinds are ignored (``update_from_message`` returns ``False``);
a known kind with missing or malformed fields is logged and ignored, so a bad
message never breaks the GUI's drain loop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QTabWidget, QWidget

from app.plots.base import PlotBase, get_theme
from app.plots.curves import CurvesPlot
from app.plots.raster import RasterPlot
from app.plots.voltage import VoltagePlot
from app.plots.weights import WeightHistogram

log = logging.getLogger(__name__)

MESSAGE_KINDS = (
    "batch_metrics",
    "epoch_metrics",
    "raster",
    "voltage",
    "weights",
    "clear_run",
)


class PlotsPanel(QTabWidget):
    """Tabs: loss & accuracy curves, spike raster, voltage traces, weight histogram."""

    def __init__(self, parent: QWidget | None = None, theme: str = "dark") -> None:
        super().__init__(parent)
        self.curves = CurvesPlot(theme=theme)
        self.raster = RasterPlot(theme=theme)
        self.voltage = VoltagePlot(theme=theme)
        self.weights = WeightHistogram(theme=theme)
        self.addTab(self.curves, "Loss && accuracy")
        self.addTab(self.raster, "Raster")
        self.addTab(self.voltage, "Voltage")
        self.addTab(self.weights, "Weights")
        self._batch_steps: dict[str, int] = {}
        self._theme = get_theme(theme).name

    def plots(self) -> list[PlotBase]:
        """The four plot widgets."""
        return [self.curves, self.raster, self.voltage, self.weights]

    @property
    def theme(self) -> str:
        """Name of the current theme."""
        return self._theme

    def set_theme(self, name: str) -> None:
        """Switch every plot to the ``"dark"`` or ``"light"`` theme."""
        self._theme = get_theme(name).name
        for plot in self.plots():
            plot.set_theme(name)

    def redraw_now(self) -> None:
        """Redraw every plot that has pending changes, visible or not."""
        for plot in self.plots():
            if plot.is_dirty:
                plot.redraw_now()

    def clear_run(self, run: str) -> None:
        """Remove ``run``'s curves and restart its batch count."""
        self.curves.clear_run(run)
        self._batch_steps.pop(run, None)

    # --------------------------------------------------------------- messages
    def update_from_message(self, msg: Mapping[str, Any]) -> bool:
        """Route one worker message to the plot it belongs to.

        Returns ``True`` if the message was used, ``False`` if its kind is
        unknown or its fields are unusable (then a warning is logged).
        """
        kind = msg.get("kind") if isinstance(msg, Mapping) else None
        handler = getattr(self, f"_on_{kind}", None) if kind in MESSAGE_KINDS else None
        if handler is None:
            return False
        try:
            handler(msg)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignored malformed %r message: %s", kind, exc)
            return False
        return True

    def _on_batch_metrics(self, msg: Mapping[str, Any]) -> None:
        run = str(msg["run"])
        if msg.get("step") is not None:
            step = int(msg["step"])
            self._batch_steps[run] = step + 1
        else:
            step = self._batch_steps.get(run, 0)
            self._batch_steps[run] = step + 1
        for metric in ("loss", "accuracy"):
            if msg.get(metric) is not None:
                self.curves.add_point(run, f"batch/{metric}", step, float(msg[metric]))

    def _on_epoch_metrics(self, msg: Mapping[str, Any]) -> None:
        run = str(msg["run"])
        epoch = int(msg["epoch"])
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if msg.get(metric) is not None:
                self.curves.add_point(run, f"epoch/{metric}", epoch, float(msg[metric]))

    def _on_raster(self, msg: Mapping[str, Any]) -> None:
        population = str(msg["population"])
        if msg.get("append"):
            self.raster.append_spikes(msg["times"], msg["ids"], msg.get("n"), msg.get("t_max"),
                                      population=population)
        else:
            self.raster.set_spikes(msg["times"], msg["ids"], int(msg["n"]),
                                   float(msg["t_max"]), population=population)

    def _on_voltage(self, msg: Mapping[str, Any]) -> None:
        self.voltage.set_traces(msg["t"], msg["V"], list(msg["ids"]),
                                population=msg.get("population"))
        if "v_thresh" in msg:
            thresh = msg["v_thresh"]
            self.voltage.set_threshold(None if thresh is None else float(thresh))

    def _on_weights(self, msg: Mapping[str, Any]) -> None:
        self.weights.set_weights(str(msg["connection"]), msg["values"])

    def _on_clear_run(self, msg: Mapping[str, Any]) -> None:
        self.clear_run(str(msg["run"]))
