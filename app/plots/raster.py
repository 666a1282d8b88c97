"""Spike raster of one population at a time.

Up to ``max_ticks`` spikes are drawn as one ``PlotCurveItem`` with
``connect="pairs"``: every spike is a short vertical tick from ``id - 0.4`` to
``id + 0.4`` at its time.  Above that the raster becomes a binned 2-D
histogram (time bins x neuron ids, spike counts) in an ``ImageItem``, which
costs the same to draw however many spikes there are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QTransform
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from app.plots.base import PlotBase

#: Spike count above which the raster switches from ticks to a 2-D histogram.
DEFAULT_MAX_TICKS = 100_000
#: Half the height of one spike tick, in neuron-id units.
TICK_HALF_HEIGHT = 0.4


class _PopulationSpikes:
    """Spikes of one population, kept as chunks and joined lazily."""

    def __init__(self) -> None:
        self.n_neurons = 0
        self.t_max = 0.0
        self._times: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []

    def clear(self) -> None:
        self._times.clear()
        self._ids.clear()

    def append(self, times: np.ndarray, ids: np.ndarray) -> None:
        if len(times):
            self._times.append(times)
            self._ids.append(ids)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._times:
            return np.empty(0, np.float64), np.empty(0, np.int64)
        if len(self._times) > 1:
            self._times = [np.concatenate(self._times)]
            self._ids = [np.concatenate(self._ids)]
        return self._times[0], self._ids[0]


def _as_spike_arrays(times_ms: Sequence[float] | np.ndarray,
                     ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    idx = np.asarray(ids).ravel()
    if times.shape != idx.shape:
        raise ValueError(
            f"times_ms and ids must have the same length, got {times.size} and {idx.size}"
        )
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
            raise ValueError("neuron ids must be whole numbers")
    return times, idx.astype(np.int64, copy=False)


def tick_coordinates(times: np.ndarray, ids: np.ndarray,
                     half_height: float = TICK_HALF_HEIGHT,
                     out: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays for ``connect="pairs"``: one vertical segment per spike.

    ``out``: optional float64 buffers of at least ``2 * len(times)`` elements
    to write into (the result is then views of them).  Reusing buffers matters:
    fresh ~1.6 MB arrays cost more in page faults than filling them.
    """
    n = times.size
    if out is None:
        x = np.empty(2 * n, dtype=np.float64)
        y = np.empty(2 * n, dtype=np.float64)
    else:
        x, y = out[0][:2 * n], out[1][:2 * n]
    x[0::2] = times
    x[1::2] = times
    np.subtract(ids, half_height, out=y[0::2])
    np.add(ids, half_height, out=y[1::2])
    return x, y


def bin_spikes(times: np.ndarray, ids: np.ndarray, n_neurons: int, t_max: float,
               n_time_bins: int, n_id_bins: int) -> np.ndarray:
    """Count spikes in a ``(n_time_bins, n_id_bins)`` grid over ``[0, t_max] x [0, n_neurons)``.

    Spikes outside that window are dropped; a spike at exactly ``t_max`` falls
    in the last time bin.
    """
    keep = (times >= 0) & (times <= t_max) & (ids >= 0) & (ids < n_neurons)
    if not np.all(keep):
        times, ids = times[keep], ids[keep]
    tb = (times * (n_time_bins / t_max)).astype(np.int64)
    np.minimum(tb, n_time_bins - 1, out=tb)
    if n_id_bins == n_neurons:
        nb = ids
    else:
        nb = (ids * n_id_bins) // n_neurons
    flat = tb * n_id_bins + nb
    counts = np.bincount(flat, minlength=n_time_bins * n_id_bins)
    return counts.reshape(n_time_bins, n_id_bins)


class _Scratch:
    """Grow-only buffers reused between redraws (avoids page faults on fresh memory)."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, size: int, dtype: type) -> np.ndarray:
        buf = self._arrays.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(max(size, int(1.25 * (0 if buf is None else buf.size))), dtype)
            self._arrays[name] = buf
        return buf[:size]


class TickCurve(pg.PlotCurveItem):
    """``PlotCurveItem`` of vertical ``connect="pairs"`` ticks with a faster exact paint.

    ``QPainter.drawLines`` costs ~0.1 us per segment in Qt's raster engine
    (~11 ms for 1e5 ticks).  When the result is known pixel for pixel - an
    axis-aligned transform, a 1-px cosmetic opaque solid pen with square caps
    (pyqtgraph's default), no antialiasing, no fill or shadow, DPR 1 - the
    ticks are instead written into an image with numpy, using the rule Qt's
    cosmetic stroker follows for a vertical line (endpoints truncated to
    1/64 px; column ``floor(x)``; rows ``floor(y_lo)`` to ``floor(y_hi)``;
    zero-length lines draw nothing), and drawn with one ``drawImage``
    (~4 ms instead of ~12 ms for 1e5 ticks in a 1000x400 plot).
    ``tests/plots/test_plots_raster.py`` checks it against ``drawLines``.
    Anything else (exports, ticks taller than ``max_fast_rows`` pixels when
    zoomed in, other pens) uses pyqtgraph's own paint.
    """

    #: Ticks taller than this many pixels hand the paint over to ``drawLines``.
    max_fast_rows = 16

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        self._scratch = _Scratch()
        super().__init__(*args, **kwargs)

    def paint(self, p, opt, widget):  # noqa: ANN001 (Qt signature)
        if not self._paint_ticks_fast(p):
            super().paint(p, opt, widget)

    def _fast_path_allowed(self, p: QPainter) -> bool:
        o = self.opts
        pen = o["pen"]
        if (self._exportOpts is not False or o["antialias"] or o["shadowPen"] is not None
                or o["fillLevel"] is not None or o["stepMode"] or o["connect"] != "pairs"
                or o["compositionMode"] is not None or pen is None):
            return False
        if not (pen.isCosmetic() and pen.widthF() <= 1.0
                and pen.style() == Qt.PenStyle.SolidLine
                and pen.brush().style() == Qt.BrushStyle.SolidPattern
                and pen.color().alpha() == 255
                and pen.capStyle() == Qt.PenCapStyle.SquareCap):
            return False
        if (p.transform().type().value > QTransform.TransformationType.TxScale.value
                or p.opacity() != 1.0
                or p.compositionMode() != QPainter.CompositionMode.CompositionMode_SourceOver):
            return False
        device = p.device()
        return device is not None and device.devicePixelRatioF() == 1.0

    def _paint_ticks_fast(self, p: QPainter) -> bool:
        if not self._fast_path_allowed(p):
            return False
        x, y = self.getData()
        if x is None or len(x) == 0:
            return True
        if len(x) % 2 or not np.array_equal(x[0::2], x[1::2]):
            return False  # not vertical pairs
        tr = p.transform()
        device = p.device()
        area = QRect(0, 0, device.width(), device.height())
        p.save()
        try:
            p.resetTransform()
            if p.hasClipping():
                area = area.intersected(p.clipBoundingRect().toAlignedRect())
            if area.isEmpty():
                return True
            return self._draw_ticks_image(p, x, y, tr, area)
        finally:
            p.restore()

    def _draw_ticks_image(self, p: QPainter, x: np.ndarray, y: np.ndarray,
                          tr: QTransform, area: QRect) -> bool:
        n = x.size // 2
        get = self._scratch.get
        f = get("f", n, np.float64)
        col, lo, hi = (get(k, n, np.int64) for k in ("col", "lo", "hi"))
        # device pixels in 26.6 fixed point, truncated as in Qt's cosmetic stroker
        for src, scale, shift, dst in ((x[0::2], tr.m11(), tr.dx(), col),
                                       (y[0::2], tr.m22(), tr.dy(), lo),
                                       (y[1::2], tr.m22(), tr.dy(), hi)):
            np.multiply(src, scale, out=f)
            f += shift
            f *= 64.0
            np.trunc(f, out=f)
            np.copyto(dst, f, casting="unsafe")
        drop = get("drop", n, np.bool_)
        np.equal(lo, hi, out=drop)  # zero-length: Qt draws nothing
        np.minimum(lo, hi, out=f, casting="unsafe")  # f: scratch only
        np.maximum(lo, hi, out=hi)
        np.copyto(lo, f, casting="unsafe")
        np.right_shift(col, 6, out=col)
        np.right_shift(lo, 6, out=lo)
        np.right_shift(hi, 6, out=hi)
        left, top, width, height = area.x(), area.y(), area.width(), area.height()
        np.maximum(lo, top, out=lo)
        np.minimum(hi, top + height - 1, out=hi)
        rows = hi  # rows covered per tick, after clipping
        rows -= lo
        rows += 1
        drop |= col < left
        drop |= col >= left + width
        np.putmask(rows, drop, 0)
        tallest = int(rows.max())
        if tallest > self.max_fast_rows:
            return False
        sink = width * height  # one pixel past the image takes dropped ticks
        start = lo
        start -= top
        start *= width
        col -= left
        start += col
        pixels = get("pixels", sink + 1, np.uint32)
        pixels.fill(0)
        color = self.opts["pen"].color().rgba()
        index = col  # scratch
        for k in range(tallest):
            np.add(start, k * width, out=index)
            np.putmask(index, rows <= k, sink)
            pixels[index] = color
        image = QImage(pixels.data, width, height, 4 * width,
                       QImage.Format.Format_ARGB32_Premultiplied)
        p.drawImage(QPointF(left, top), image)
        return True


class _Extent(pg.GraphicsObject):
    """Draws nothing; its rectangle counts for auto-range (the trial x neurons)."""

    def __init__(self) -> None:
        super().__init__()
        self._rect = QRectF()

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)
        self.informViewBoundsChanged()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(self._rect)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802
        if self._rect.isNull():
            return None, None
        r = self._rect
        return (r.left(), r.right()) if ax == 0 else (r.top(), r.bottom())

    def paint(self, painter, *args) -> None:
        return None


class RasterPlot(PlotBase):
    """Spike raster with a population picker.

    Spikes are stored per population; the combo box chooses which one is
    shown and emits :attr:`population_changed`.
    """

    #: Emitted with the population's name when the user picks another one.
    population_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, theme: str = "dark",
                 max_ticks: int = DEFAULT_MAX_TICKS, max_time_bins: int = 1000,
                 max_id_bins: int = 1000, min_bin_ms: float = 1.0) -> None:
        super().__init__(parent, theme)
        self.max_ticks = int(max_ticks)
        self.max_time_bins = int(max_time_bins)
        self.max_id_bins = int(max_id_bins)
        self.min_bin_ms = float(min_bin_ms)
        self._data: dict[str, _PopulationSpikes] = {}
        self._tick_buffers = _Scratch()

        self.toolbar.addWidget(QLabel("Population:", self))
        self.population_combo = QComboBox(self)
        self.population_combo.setMinimumContentsLength(12)
        self.population_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.population_combo.setToolTip("Population whose spikes are shown")
        self.population_combo.currentTextChanged.connect(self._on_population_changed)
        self.toolbar.addWidget(self.population_combo)
        self.summary_label = self.info_label()
        self.toolbar.addWidget(self.summary_label, 1)

        self.plot = self._new_plot(left="neuron", bottom="time (ms)")
        self.curve = TickCurve(antialias=False, skipFiniteCheck=True)
        # where the numpy path does not apply: drawLines() of QLineF segments
        # is ~3x faster than one QPainterPath here
        self.curve.setSegmentedLineMode("on")
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setVisible(False)
        self.plot.addItem(self.image)
        self.plot.addItem(self.curve)
        # invisible corners (0, -0.5) and (t_max, n - 0.5): auto-range shows the whole
        # trial and every neuron, not just where the few spikes happen to be
        self.extent = _Extent()
        self.plot.addItem(self.extent)
        self.mode = "ticks"
        self.set_theme(theme)

    # ------------------------------------------------------------ populations
    def set_populations(self, names: Iterable[str]) -> None:
        """Offer ``names`` in the picker, keeping the current choice if it remains."""
        names = [str(n) for n in names]
        previous = self.current_population()
        self.population_combo.blockSignals(True)
        self.population_combo.clear()
        self.population_combo.addItems(names)
        if previous in names:
            self.population_combo.setCurrentText(previous)
        self.population_combo.blockSignals(False)
        current = self.current_population()
        if current != previous:
            self._on_population_changed(current or "")

    def current_population(self) -> str | None:
        """Name of the population shown, or ``None`` when the picker is empty."""
        text = self.population_combo.currentText()
        return text if self.population_combo.count() else None

    def set_current_population(self, name: str) -> None:
        """Show population ``name`` (added to the picker if new)."""
        if self.population_combo.findText(name) < 0:
            self.population_combo.addItem(name)
        self.population_combo.setCurrentText(name)

    def _on_population_changed(self, name: str) -> None:
        self.mark_dirty()
        if name:
            self.population_changed.emit(name)

    def _slot(self, population: str | None) -> _PopulationSpikes:
        if population is None:
            population = self.current_population() or ""
        elif self.population_combo.findText(population) < 0:
            self.population_combo.addItem(population)  # first one becomes current
        return self._data.setdefault(population, _PopulationSpikes())

    def _touches_view(self, population: str | None) -> None:
        if population is None or population == (self.current_population() or ""):
            self.mark_dirty()

    # ------------------------------------------------------------------ data
    def set_spikes(self, times_ms: Sequence[float] | np.ndarray, ids: Sequence[int] | np.ndarray,
                   n_neurons: int, t_max_ms: float, population: str | None = None) -> None:
        """Replace the spikes of ``population`` (default: the one shown)."""
        times, idx = _as_spike_arrays(times_ms, ids)
        slot = self._slot(population)
        slot.clear()
        slot.append(times, idx)
        slot.n_neurons = int(n_neurons)
        slot.t_max = float(t_max_ms)
        self._touches_view(population)

    def append_spikes(self, times_ms: Sequence[float] | np.ndarray,
                      ids: Sequence[int] | np.ndarray, n_neurons: int | None = None,
                      t_max_ms: float | None = None, population: str | None = None) -> None:
        """Add spikes to ``population``; ``n_neurons``/``t_max_ms`` only ever grow."""
        times, idx = _as_spike_arrays(times_ms, ids)
        slot = self._slot(population)
        slot.append(times, idx)
        if n_neurons is not None:
            slot.n_neurons = max(slot.n_neurons, int(n_neurons))
        if t_max_ms is not None:
            slot.t_max = max(slot.t_max, float(t_max_ms))
        self._touches_view(population)

    def clear(self, population: str | None = None) -> None:
        """Forget the spikes of ``population`` (default: all populations)."""
        if population is None:
            self._data.clear()
        else:
            self._data.pop(population, None)
        self.mark_dirty()

    def spikes(self, population: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(times_ms, ids)`` stored for ``population`` (default: the one shown)."""
        key = population if population is not None else (self.current_population() or "")
        slot = self._data.get(key)
        if slot is None:
            return np.empty(0, np.float64), np.empty(0, np.int64)
        return slot.arrays()

    # ---------------------------------------------------------------- drawing
    def _extent(self, slot: _PopulationSpikes, times: np.ndarray,
                ids: np.ndarray) -> tuple[int, float]:
        n = slot.n_neurons
        t_max = slot.t_max
        if times.size:
            if n <= 0:
                n = int(ids.max()) + 1
            if t_max <= 0:
                t_max = float(times.max())
        return max(n, 1), (t_max if t_max > 0 else 1.0)

    def _redraw(self) -> None:
        key = self.current_population() or ""
        slot = self._data.get(key, _PopulationSpikes())
        times, ids = slot.arrays()
        count = times.size
        if count or slot.t_max > 0:
            n, t_max = self._extent(slot, times, ids)
            self.extent.set_rect(QRectF(0.0, -0.5, t_max, float(n)))
        else:
            self.extent.set_rect(QRectF())
        if count <= self.max_ticks:
            self.mode = "ticks"
            x, y = tick_coordinates(times, ids, out=(
                self._tick_buffers.get("x", 2 * count, np.float64),
                self._tick_buffers.get("y", 2 * count, np.float64)))
            self.curve.setData(x, y, connect="pairs", skipFiniteCheck=True)
            self.curve.setVisible(True)
            self.image.setVisible(False)
            self.image.clear()
        else:
            self.mode = "histogram"
            n, t_max = self._extent(slot, times, ids)
            n_time_bins = max(1, min(self.max_time_bins, math.ceil(t_max / self.min_bin_ms)))
            n_id_bins = min(n, self.max_id_bins)
            counts = bin_spikes(times, ids, n, t_max, n_time_bins, n_id_bins)
            top = max(1, int(counts.max()))
            self.image.setImage(counts.astype(np.float32), autoLevels=False, levels=(0, top))
            self.image.setRect(QRectF(0.0, -0.5, t_max, float(n)))
            self.image.setVisible(True)
            self.curve.setData([], [])
            self.curve.setVisible(False)
        shown = f"{count:,} spikes" + (" (binned)" if self.mode == "histogram" else "")
        self.summary_label.setText(shown)

    def image_counts(self) -> np.ndarray | None:
        """The spike-count image shown in histogram mode, else ``None``."""
        return self.image.image if self.mode == "histogram" else None

    def _set_compact(self, compact: bool) -> None:
        self.population_combo.setMinimumContentsLength(7 if compact else 12)

    def _apply_theme(self) -> None:
        self.curve.setPen(pg.mkPen(self._theme.ticks, width=1, cosmetic=True))
        self.image.setColorMap(pg.colormap.get(self._theme.colormap))

    # ----------------------------------------------------------------- export
    def csv_header(self) -> list[str]:
        """Columns: spike time in ms and neuron id."""
        return ["time_ms", "neuron_id"]

    def csv_rows(self) -> Iterable[Sequence]:
        """One row per spike of the population shown."""
        times, ids = self.spikes()
        return zip((repr(float(t)) for t in times), ids.tolist(), strict=True)
