"""Loss and accuracy curves, per batch or per epoch, for several runs.

A *series* is named ``"<granularity>/<metric>"`` where granularity is
``batch`` or ``epoch`` and metric is e.g. ``loss``, ``accuracy``,
``val_loss``, ``val_accuracy`` (see :data:`SERIES`).  Metrics containing
``acc`` go to the accuracy plot, all others to the loss plot; metrics
starting with ``val_`` (validation) are dashed.  Each series is drawn raw
(faint) and EMA-smoothed (solid) with TensorBoard's debiased smoothing
(:func:`ema_smooth`), weight set by a slider from 0 to 0.99.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QSplitter,
    QWidget,
)

from app.plots.base import PlotBase

#: Series the training messages produce.
SERIES = (
    "batch/loss",
    "batch/accuracy",
    "epoch/loss",
    "epoch/accuracy",
    "epoch/val_loss",
    "epoch/val_accuracy",
)
GRANULARITIES = ("batch", "epoch")
#: Alpha of the raw line under the smoothed one.
RAW_ALPHA = 70
#: Widest the run list (the curves' legend) gets, in pixels.
LEGEND_MAX_WIDTH = 150


def ema_smooth(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average.

    ``last = weight * last + (1 - weight) * y``, starting from ``last = 0``,
    and each output is ``last / (1 - weight**n)`` with ``n`` the number of
    finite values seen so far.  Non-finite values are passed through and do
    not update the average.  ``weight`` must lie in ``[0, 1)``.
    """
    y = np.asarray(values, dtype=np.float64)
    out, _, _ = _ema_continue(y, weight, 0.0, 0)
    return out


def _ema_continue(y: np.ndarray, weight: float, last: float,
                  n: int) -> tuple[np.ndarray, float, int]:
    """EMA of ``y`` continuing from state ``(last, n)``; returns ``(out, last, n)``."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out = np.empty_like(y)
    for i, value in enumerate(y.tolist()):
        if not math.isfinite(value):
            out[i] = value
            continue
        last = last * weight + (1.0 - weight) * value
        n += 1
        out[i] = last / (1.0 - weight**n)
    return out, last, n


def split_series(series: str) -> tuple[str, str]:
    """``"epoch/val_loss"`` -> ``("epoch", "val_loss")``; ``ValueError`` if malformed."""
    granularity, sep, metric = series.partition("/")
    if not sep or granularity not in GRANULARITIES or not metric:
        raise ValueError(
            f"series {series!r} should look like 'batch/loss' or 'epoch/val_accuracy' "
            f"(granularity one of {GRANULARITIES})"
        )
    return granularity, metric


class _Series:
    """Growable x/y arrays with an incrementally updated EMA."""

    def __init__(self) -> None:
        self._x = np.empty(64)
        self._y = np.empty(64)
        self.size = 0
        self._smooth = np.empty(0)
        self._smooth_weight: float | None = None
        self._smooth_state = (0.0, 0)
        self.raw_item: pg.PlotDataItem | None = None
        self.smooth_item: pg.PlotDataItem | None = None

    def append(self, x: float, y: float) -> None:
        if self.size == self._x.size:
            self._x = np.resize(self._x, 2 * self.size)
            self._y = np.resize(self._y, 2 * self.size)
        self._x[self.size] = x
        self._y[self.size] = y
        self.size += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]

    def smoothed(self, weight: float) -> np.ndarray:
        done = self._smooth.size
        if weight != self._smooth_weight:
            done, self._smooth_state = 0, (0.0, 0)
            self._smooth = np.empty(0)
            self._smooth_weight = weight
        if done < self.size:
            new, last, n = _ema_continue(self.y[done:], weight, *self._smooth_state)
            self._smooth = np.concatenate([self._smooth, new])
            self._smooth_state = (last, n)
        return self._smooth


class CurvesPlot(PlotBase):
    """Loss (left) and accuracy (right) curves of several runs, raw and smoothed."""

    #: Emitted with ``(run, visible)`` when a run is shown or hidden.
    run_visibility_changed = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None, theme: str = "dark",
                 smoothing: float = 0.6) -> None:
        super().__init__(parent, theme)
        self._runs: dict[str, dict[str, _Series]] = {}
        self._visible: dict[str, bool] = {}
        self._colors: dict[str, int] = {}
        self._smoothing = 0.0

        self.x_label = QLabel("X axis:", self)
        self.toolbar.addWidget(self.x_label)
        self.granularity_combo = QComboBox(self)
        self.granularity_combo.addItems(["batch", "epoch"])
        self.granularity_combo.setToolTip("Show values per batch or per epoch")
        self.granularity_combo.currentTextChanged.connect(self._on_granularity)
        self.toolbar.addWidget(self.granularity_combo)
        self.smoothing_title = QLabel("Smoothing:", self)
        self.toolbar.addWidget(self.smoothing_title)
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip("Exponential moving average weight (0 = raw)")
        self.smoothing_slider.valueChanged.connect(self._on_slider)
        self.toolbar.addWidget(self.smoothing_slider)
        self.smoothing_label = QLabel(self)
        self.smoothing_label.setMinimumWidth(32)
        self.toolbar.addWidget(self.smoothing_label)
        self.toolbar.addStretch(1)

        self.loss_plot = self._new_plot(row=0, col=0, min_y_span=0.01, left="loss",
                                        bottom="batch")
        self.accuracy_plot = self._new_plot(row=0, col=1, min_y_span=0.02, left="accuracy",
                                            bottom="batch")

        self.run_list = QListWidget(self)
        self.run_list.setToolTip(
            "Runs in their curve colours; untick to hide. Solid: training, dashed: validation."
        )
        self.run_list.itemChanged.connect(self._on_run_item)
        # the run list is the legend: narrow, so the curves keep the width
        self.run_list.setMinimumWidth(60)
        self.run_list.setMaximumWidth(LEGEND_MAX_WIDTH)
        self.run_list.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.run_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        font = self.run_list.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        self.run_list.setFont(font)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        layout = self.layout()
        layout.removeWidget(self.graphics)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.run_list)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([800, 120])
        layout.addWidget(splitter, 1)

        self.set_smoothing(smoothing)
        self.set_theme(theme)

    def _set_compact(self, compact: bool) -> None:
        self.x_label.setVisible(not compact)
        self.smoothing_title.setText("Smooth:" if compact else "Smoothing:")
        self.smoothing_slider.setFixedWidth(70 if compact else 140)
        self.run_list.setMaximumWidth(90 if compact else LEGEND_MAX_WIDTH)

    # --------------------------------------------------------------- settings
    @property
    def smoothing(self) -> float:
        """EMA weight in ``[0, 0.99]``."""
        return self._smoothing

    def set_smoothing(self, weight: float) -> None:
        """Set the EMA weight (clamped to ``[0, 0.99]``) and move the slider."""
        weight = min(max(float(weight), 0.0), 0.99)
        self._smoothing = weight
        self.smoothing_slider.blockSignals(True)
        self.smoothing_slider.setValue(round(weight * 100))
        self.smoothing_slider.blockSignals(False)
        self.smoothing_label.setText(f"{weight:.2f}")
        self.mark_dirty()

    def _on_slider(self, value: int) -> None:
        self.set_smoothing(value / 100.0)

    @property
    def granularity(self) -> str:
        """``"batch"`` or ``"epoch"``: which series are drawn."""
        return self.granularity_combo.currentText()

    def set_granularity(self, granularity: str) -> None:
        """Show ``"batch"`` or ``"epoch"`` series."""
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        self.granularity_combo.setCurrentText(granularity)

    def _on_granularity(self, granularity: str) -> None:
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setLabel("bottom", granularity)
        self.mark_dirty()

    # ------------------------------------------------------------------- runs
    def runs(self) -> list[str]:
        """Names of the runs, in the order they appeared."""
        return list(self._runs)

    def _ensure_run(self, run: str) -> dict[str, _Series]:
        if run not in self._runs:
            self._runs[run] = {}
            self._visible.setdefault(run, True)
            self._colors.setdefault(run, len(self._colors))
            item = QListWidgetItem(run)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if self._visible[run]
                               else Qt.CheckState.Unchecked)
            item.setForeground(pg.intColor(self._colors[run], hues=8))
            self.run_list.blockSignals(True)
            self.run_list.addItem(item)
            self.run_list.blockSignals(False)
        return self._runs[run]

    def _run_item(self, run: str) -> QListWidgetItem | None:
        for row in range(self.run_list.count()):
            item = self.run_list.item(row)
            if item.text() == run:
                return item
        return None

    def is_run_visible(self, run: str) -> bool:
        """Whether ``run`` is drawn."""
        return self._visible.get(run, True)

    def set_run_visible(self, run: str, visible: bool) -> None:
        """Show or hide every curve of ``run``."""
        visible = bool(visible)
        changed = self._visible.get(run, True) != visible
        self._visible[run] = visible
        item = self._run_item(run)
        if item is not None:
            self.run_list.blockSignals(True)
            item.setCheckState(Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)
            self.run_list.blockSignals(False)
        if changed:
            self.run_visibility_changed.emit(run, visible)
        self.mark_dirty()

    def _on_run_item(self, item: QListWidgetItem) -> None:
        self.set_run_visible(item.text(), item.checkState() == Qt.CheckState.Checked)

    def clear(self) -> None:
        """Forget every run."""
        for run in list(self._runs):
            self.clear_run(run)
        self._visible.clear()
        self._colors.clear()

    def clear_run(self, run: str) -> None:
        """Forget all points of ``run`` and remove it from the run list."""
        series = self._runs.pop(run, None)
        if series is None:
            return
        for s in series.values():
            for curve in (s.raw_item, s.smooth_item):
                if curve is not None:
                    self._remove_item(curve)
        item = self._run_item(run)
        if item is not None:
            self.run_list.takeItem(self.run_list.row(item))
        self.mark_dirty()

    def _remove_item(self, curve: pg.PlotDataItem) -> None:
        for plot in (self.loss_plot, self.accuracy_plot):
            if curve in plot.items:
                plot.removeItem(curve)

    # ------------------------------------------------------------------- data
    def add_point(self, run: str, series: str, x: float, y: float) -> None:
        """Append ``(x, y)`` to ``series`` (e.g. ``"batch/loss"``) of ``run``."""
        split_series(series)
        self._ensure_run(run).setdefault(series, _Series()).append(float(x), float(y))
        self.mark_dirty()

    def series_names(self, run: str) -> list[str]:
        """Series that ``run`` has data for."""
        return list(self._runs.get(run, {}))

    def series_data(self, run: str, series: str) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the raw ``(x, y)`` points of ``series`` in ``run``."""
        s = self._runs[run][series]
        return s.x.copy(), s.y.copy()

    def smoothed_data(self, run: str, series: str) -> np.ndarray:
        """The EMA-smoothed ``y`` of ``series`` at the current smoothing."""
        return self._runs[run][series].smoothed(self._smoothing).copy()

    # ---------------------------------------------------------------- drawing
    def _style(self, run: str, metric: str, alpha: int) -> pg.QtGui.QPen:
        color = pg.intColor(self._colors[run], hues=8, alpha=alpha)
        style = Qt.PenStyle.DashLine if metric.startswith("val_") else Qt.PenStyle.SolidLine
        return pg.mkPen(color, width=1 if alpha < 255 else 2, style=style)

    def _redraw(self) -> None:
        granularity = self.granularity
        for run, series_map in self._runs.items():
            run_visible = self._visible.get(run, True)
            for name, s in series_map.items():
                gran, metric = split_series(name)
                plot = self.accuracy_plot if "acc" in metric else self.loss_plot
                if s.raw_item is None:
                    s.raw_item = pg.PlotDataItem(antialias=False)
                    s.smooth_item = pg.PlotDataItem(antialias=False)
                    for curve in (s.raw_item, s.smooth_item):
                        curve.setDownsampling(auto=True, method="peak")
                        curve.setClipToView(True)
                        plot.addItem(curve)
                    s.raw_item.setPen(self._style(run, metric, RAW_ALPHA))
                    s.smooth_item.setPen(self._style(run, metric, 255))
                shown = run_visible and gran == granularity
                s.raw_item.setVisible(shown and self._smoothing > 0)
                s.smooth_item.setVisible(shown)
                if shown:
                    s.raw_item.setData(s.x, s.y)
                    s.smooth_item.setData(s.x, s.smoothed(self._smoothing))

    # ----------------------------------------------------------------- export
    def csv_header(self) -> list[str]:
        """Long format: one row per point of every series of every run."""
        return ["run", "series", "x", "y", "y_smoothed"]

    def csv_rows(self) -> Iterable[Sequence]:
        """Rows ``run, series, x, y, y_smoothed`` at the current smoothing."""
        for run, series_map in self._runs.items():
            for name, s in series_map.items():
                smooth = s.smoothed(self._smoothing)
                for x, y, ys in zip(s.x.tolist(), s.y.tolist(), smooth.tolist(), strict=True):
                    yield [run, name, repr(x), repr(y), repr(ys)]
