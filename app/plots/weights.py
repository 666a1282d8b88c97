"""Histogram of one connection's weights, with a connection picker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from app.plots.base import PlotBase


def weight_histogram(values: np.ndarray, max_bins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, counts)`` of the finite ``values`` in ``sqrt(n)`` bins (10 to ``max_bins``)."""
    finite = values[np.isfinite(values)]
    n_bins = int(np.clip(round(np.sqrt(finite.size)), 10, max_bins))
    if finite.size == 0:
        return np.linspace(-0.5, 0.5, n_bins + 1), np.zeros(n_bins, dtype=np.int64)
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=n_bins, range=(lo, hi))
    return edges, counts


class WeightHistogram(PlotBase):
    """Distribution of the weights of the connection chosen in the picker."""

    #: Emitted with the connection's name when the user picks another one.
    connection_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, theme: str = "dark",
                 max_bins: int = 100) -> None:
        super().__init__(parent, theme)
        self.max_bins = int(max_bins)
        self._weights: dict[str, np.ndarray] = {}
        self._edges = np.empty(0)
        self._counts = np.empty(0, dtype=np.int64)

        self.toolbar.addWidget(QLabel("Connection:", self))
        self.connection_combo = QComboBox(self)
        self.connection_combo.setMinimumContentsLength(14)
        self.connection_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.connection_combo.setToolTip("Connection whose weights are shown")
        self.connection_combo.currentTextChanged.connect(self._on_connection_changed)
        self.toolbar.addWidget(self.connection_combo)
        self.stats_label = self.info_label()
        self.toolbar.addWidget(self.stats_label, 1)

        self.plot = self._new_plot(left="count", bottom="weight")
        self.bars = pg.PlotDataItem(stepMode="center", fillLevel=0, antialias=False)
        self.plot.addItem(self.bars)
        self.set_theme(theme)

    def current_connection(self) -> str | None:
        """Name of the connection shown, or ``None`` when there is none."""
        return self.connection_combo.currentText() if self.connection_combo.count() else None

    def set_current_connection(self, name: str) -> None:
        """Show connection ``name`` (it must have weights)."""
        if name not in self._weights:
            raise KeyError(f"no weights for connection {name!r}")
        self.connection_combo.setCurrentText(name)

    def connections(self) -> list[str]:
        """Connections that have weights, in the order they came."""
        return list(self._weights)

    def _on_connection_changed(self, name: str) -> None:
        self.mark_dirty()
        if name:
            self.connection_changed.emit(name)

    def set_weights(self, name: str, array: np.ndarray | Sequence[float]) -> None:
        """Store (a flat float copy of) the weights of connection ``name``."""
        self._weights[name] = np.array(array, dtype=np.float64).ravel()
        if self.connection_combo.findText(name) < 0:
            self.connection_combo.addItem(name)  # the first one becomes current
        if name == self.current_connection():
            self.mark_dirty()

    def clear(self) -> None:
        """Forget every connection's weights."""
        self._weights.clear()
        self.connection_combo.blockSignals(True)
        self.connection_combo.clear()
        self.connection_combo.blockSignals(False)
        self.mark_dirty()

    def weights(self, name: str | None = None) -> np.ndarray:
        """Stored weights of ``name`` (default: the connection shown)."""
        key = name if name is not None else self.current_connection()
        return self._weights.get(key, np.empty(0)) if key is not None else np.empty(0)

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, counts)`` of the connection shown (empty arrays if none)."""
        values = self.weights()
        if values.size == 0:
            return np.empty(0), np.empty(0, dtype=np.int64)
        return weight_histogram(values, self.max_bins)

    def _redraw(self) -> None:
        values = self.weights()
        self._edges, self._counts = self.histogram()
        if values.size == 0:
            self.bars.setData([], [])
            self.stats_label.setText("")
            return
        self.bars.setData(self._edges, self._counts)
        finite = values[np.isfinite(values)]
        text = f"n={values.size:,}"
        if finite.size:
            text += (f" · mean {finite.mean():.3g} · sd {finite.std():.3g}"
                     f" · {finite.min():.3g} to {finite.max():.3g}")
        if finite.size < values.size:
            text += f"  non-finite={values.size - finite.size:,}"
        self.stats_label.setText(text)
        self.stats_label.setToolTip(text)

    def _set_compact(self, compact: bool) -> None:
        self.connection_combo.setMinimumContentsLength(8 if compact else 14)

    def _apply_theme(self) -> None:
        color = pg.mkColor(self._theme.foreground)
        self.bars.setPen(pg.mkPen(color, width=1))
        fill = pg.mkColor("#4f8fd6" if self._theme.name == "dark" else "#2a6fb5")
        fill.setAlpha(160)
        self.bars.setBrush(fill)

    def csv_header(self) -> list[str]:
        """Columns: bin edges and count."""
        return ["bin_left", "bin_right", "count"]

    def csv_rows(self) -> Iterable[Sequence]:
        """One row per histogram bin of the connection shown."""
        edges, counts = self.histogram()
        return ([repr(float(edges[i])), repr(float(edges[i + 1])), int(counts[i])]
                for i in range(counts.size))
