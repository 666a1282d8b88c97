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

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QTabWidget, QToolButton, QWidget

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


TAB_TITLES = ("Loss && accuracy", "Raster", "Voltage", "Weights")
LAYOUTS = ("tabs", "grid")


class PlotsPanel(QTabWidget):
    """Loss & accuracy curves, spike raster, voltage traces and weight histogram,
    one per tab or all four at once in a 2 x 2 grid (:meth:`set_layout`)."""

    def __init__(self, parent: QWidget | None = None, theme: str = "dark") -> None:
        super().__init__(parent)
        self.setObjectName("plots_panel")
        self.curves = CurvesPlot(theme=theme)
        self.raster = RasterPlot(theme=theme)
        self.voltage = VoltagePlot(theme=theme)
        self.weights = WeightHistogram(theme=theme)
        for plot, title in zip(self.plots(), TAB_TITLES, strict=True):
            self.addTab(plot, title)
        self._grid_page = QWidget()
        self._grid = QGridLayout(self._grid_page)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(4)
        self._layout = "tabs"
        corner = QWidget()
        self._corner = QHBoxLayout(corner)
        self._corner.setContentsMargins(0, 0, 4, 0)
        self._corner.setSpacing(2)
        self.setCornerWidget(corner, Qt.Corner.TopRightCorner)
        self.corner_buttons: list[QToolButton] = []
        self._batch_steps: dict[str, int] = {}
        self._theme = get_theme(theme).name

    def add_corner_action(self, action: QAction) -> QToolButton:
        """A small button for ``action`` at the right of the tab bar."""
        button = QToolButton()
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        self._corner.addWidget(button)
        self.corner_buttons.append(button)
        return button

    @property
    def layout_mode(self) -> str:
        """``"tabs"`` or ``"grid"``."""
        return self._layout

    def set_layout(self, mode: str) -> None:
        """``"tabs"``: one plot per tab; ``"grid"``: all four at once."""
        if mode not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {mode!r}")
        if mode == self._layout:
            return
        current = self.currentIndex()
        while self.count():
            self.removeTab(0)
        for plot in self.plots():
            plot.set_compact(mode == "grid")
        if mode == "grid":
            for i, plot in enumerate(self.plots()):
                self._grid.addWidget(plot, i // 2, i % 2)
                plot.show()
            self.addTab(self._grid_page, "All plots")
        else:
            for plot, title in zip(self.plots(), TAB_TITLES, strict=True):
                self._grid.removeWidget(plot)
                self.addTab(plot, title)
            self.setCurrentIndex(max(0, current))
        self._layout = mode

    def clear_all(self) -> None:
        """Empty every plot (another project was opened: nothing of the old one stays)."""
        self.curves.clear()
        self.raster.clear()
        self.raster.set_populations([])
        self.voltage.clear()
        self.weights.clear()
        self._batch_steps.clear()
        for plot in self.plots():  # no axis range left over from the other project
            for item in plot.plot_items():
                item.setRange(xRange=(0.0, 1.0), yRange=(0.0, 1.0), padding=0.0)
                item.enableAutoRange()

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
