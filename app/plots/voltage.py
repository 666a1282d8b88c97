"""Membrane-voltage traces of chosen neurons, with a dashed threshold line.

The neuron picker takes text such as ``"0-4, 7"`` (see
:func:`parse_neuron_spec`).  An empty picker shows every recorded neuron (up
to :data:`MAX_TRACES`).  A picker that cannot be read shows a plain-words
error in the widget and keeps the previous selection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from app.plots.base import PlotBase

#: Most traces drawn at once (a plot with hundreds of lines is unreadable and slow).
MAX_TRACES = 32
#: Columns of the legend (it stays a small block in the corner).
LEGEND_COLUMNS = 4
#: Most neuron ids a picker text may expand to.
MAX_PICKED = 100_000

_RANGE = re.compile(r"^(\d+)\s*(?:-|:|\.\.)\s*(\d+)$")
_SINGLE = re.compile(r"^\d+$")


class _ShortSample(pg.ItemSample):
    """A legend line sample 12 x 10 px (pyqtgraph's is 20 x 20)."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        super().__init__(item)
        self.setFixedWidth(12)
        self.setFixedHeight(10)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(0, 0, 12, 10)

    def paint(self, p, *args) -> None:
        p.setPen(pg.mkPen(self.item.opts["pen"]))
        p.drawLine(0, 5, 12, 5)


class NeuronSpecError(ValueError):
    """The neuron picker text could not be read; the message says why and how to fix it."""


def parse_neuron_spec(text: str, n_neurons: int | None = None,
                      max_count: int = MAX_PICKED) -> list[int]:
    """Turn text like ``"0-4, 7"`` into sorted unique neuron ids ``[0, 1, 2, 3, 4, 7]``.

    Items are separated by commas, semicolons or spaces; a range is written
    ``a-b``, ``a:b`` or ``a..b`` and includes both ends.  Empty text gives
    ``[]`` (meaning "all").  Raises :class:`NeuronSpecError` on anything else,
    on ids ``>= n_neurons`` (when given) and on more than ``max_count`` ids.
    """
    ids: set[int] = set()
    # normalise separators; keep range markers attached to their numbers
    cleaned = re.sub(r"\s*(-|:|\.\.)\s*", r"\1", text.strip())
    for item in re.split(r"[,;\s]+", cleaned):
        if not item:
            continue
        if _SINGLE.match(item):
            lo = hi = int(item)
        else:
            m = _RANGE.match(item)
            if m is None:
                if item.startswith("-") and _SINGLE.match(item[1:]):
                    raise NeuronSpecError(
                        f"'{item}': neuron ids start at 0, negative numbers are not allowed."
                    )
                raise NeuronSpecError(
                    f"'{item}' is not a neuron id or range. Write ids and ranges "
                    "separated by commas, e.g. 0-4,7."
                )
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise NeuronSpecError(
                    f"'{item}': the range goes backwards; write {hi}-{lo} instead."
                )
        if n_neurons is not None and hi >= n_neurons:
            raise NeuronSpecError(
                f"'{item}': the population has {n_neurons} neurons, "
                f"so ids go from 0 to {n_neurons - 1}."
            )
        if hi - lo + 1 + len(ids) > max_count:
            raise NeuronSpecError(
                f"'{item}' picks too many neurons (at most {max_count:,}); choose a smaller range."
            )
        ids.update(range(lo, hi + 1))
    return sorted(ids)


def format_neuron_ids(ids: Iterable[int]) -> str:
    """Compact text for ids (inverse of :func:`parse_neuron_spec`): ``[0,1,2,7]`` -> ``"0-2,7"``."""
    ordered = sorted(set(int(i) for i in ids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


class VoltagePlot(PlotBase):
    """Voltage traces ``V[T, k]`` of recorded neurons, a threshold line and a neuron picker."""

    #: Emitted with the picked neuron ids (``[]`` = all) when the picker text is valid.
    neurons_changed = Signal(list)
    #: Emitted with the population chosen in the picker (``None``: the worker's choice,
    #: the first hidden population that fits the recording budget).
    population_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None, theme: str = "dark") -> None:
        super().__init__(parent, theme)
        self._t = np.empty(0)
        self._v = np.empty((0, 0))
        self._ids: list[int] = []
        self._population: str | None = None
        self._threshold: float | None = None
        self._picked: list[int] = []
        self._n_neurons: int | None = None

        self.population_combo = QComboBox(self)
        self.population_combo.setObjectName("voltage_population")
        self.population_combo.setToolTip("Population whose membrane voltages are recorded "
                                         "(auto: the first hidden population)")
        self.population_combo.addItem("auto", None)
        self.population_combo.currentIndexChanged.connect(self._on_population_picked)
        self.toolbar.addWidget(QLabel("Population:", self))
        self.toolbar.addWidget(self.population_combo)
        self.toolbar.addWidget(QLabel("Neurons:", self))
        self.neuron_edit = QLineEdit(self)
        self.neuron_edit.setPlaceholderText("e.g. 0-4,7 (empty: all recorded)")
        self.neuron_edit.setToolTip(
            "Neuron ids and ranges separated by commas, e.g. 0-4,7. Empty shows all recorded."
        )
        self.neuron_edit.setClearButtonEnabled(True)
        # validate while typing, apply on Enter / leaving the field
        self.neuron_edit.textChanged.connect(self._validate_picker_text)
        self.neuron_edit.editingFinished.connect(self._apply_picker_text)
        self.toolbar.addWidget(self.neuron_edit)
        self.note_label = self.info_label()
        self.toolbar.addWidget(self.note_label, 1)

        self.plot = self._new_plot(left="voltage", bottom="time (ms)")
        # a compact legend in the corner: small text, several columns
        self.legend = self.plot.addLegend(offset=(-4, 4), labelTextSize="7pt",
                                          colCount=LEGEND_COLUMNS, verSpacing=-6,
                                          horSpacing=8, sampleType=_ShortSample)
        self.threshold_line = pg.InfiniteLine(angle=0, movable=False)
        self.threshold_line.setVisible(False)
        self.plot.addItem(self.threshold_line, ignoreBounds=False)
        self._curves: list[pg.PlotDataItem] = []
        self.set_theme(theme)

    # ----------------------------------------------------------------- picker
    def set_populations(self, names: Iterable[str]) -> None:
        """Offer ``names`` (the network's non-input populations) in the population
        picker; the choice is kept while its population exists, else back to auto."""
        names = list(names)
        current = self.picked_population
        combo = self.population_combo
        if [combo.itemData(i) for i in range(1, combo.count())] == names:
            return
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("auto", None)
        for name in names:
            combo.addItem(name, name)
        combo.setCurrentIndex(max(0, combo.findData(current)) if current in names else 0)
        combo.blockSignals(False)
        if self.picked_population != current:
            self.population_changed.emit(self.picked_population)

    @property
    def picked_population(self) -> str | None:
        """Population chosen in the picker (``None``: auto)."""
        return self.population_combo.currentData()

    def pick_population(self, name: str | None) -> None:
        """Choose ``name`` in the picker (as the user would)."""
        self.population_combo.setCurrentIndex(max(0, self.population_combo.findData(name)))

    def _on_population_picked(self, _index: int) -> None:
        self.population_changed.emit(self.picked_population)

    def _validate_picker_text(self, text: str) -> list[int] | None:
        try:
            picked = parse_neuron_spec(text, self._n_neurons)
        except NeuronSpecError as exc:
            self.show_error(f"Neuron picker: {exc}")
            self.neuron_edit.setStyleSheet(f"border: 1px solid {self._theme.error};")
            return None
        if self.error_text.startswith("Neuron picker"):
            self.clear_error()
        self.neuron_edit.setStyleSheet("")
        return picked

    def _apply_picker_text(self) -> None:
        picked = self._validate_picker_text(self.neuron_edit.text())
        if picked is not None and picked != self._picked:
            self._picked = picked
            self.neurons_changed.emit(list(picked))
            self.mark_dirty()

    def set_neuron_spec(self, text: str) -> None:
        """Put ``text`` in the neuron picker and apply it (as typing it and Enter would)."""
        self.neuron_edit.setText(text)
        self._apply_picker_text()

    @property
    def picked_neurons(self) -> list[int]:
        """Ids chosen in the picker (``[]`` = all recorded)."""
        return list(self._picked)

    def set_population_size(self, n_neurons: int | None) -> None:
        """Let the picker reject ids ``>= n_neurons``."""
        self._n_neurons = n_neurons
        self._apply_picker_text()

    # ------------------------------------------------------------------- data
    def set_traces(self, t_ms: Sequence[float] | np.ndarray, V: np.ndarray,  # noqa: N803
                   neuron_ids: Sequence[int], population: str | None = None) -> None:
        """Store traces: ``t_ms`` has ``T`` samples, ``V`` is ``[T, k]``, one id per column."""
        t = np.asarray(t_ms, dtype=np.float64).ravel()
        v = np.asarray(V, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        ids = [int(i) for i in neuron_ids]
        if v.ndim != 2 or v.shape[0] != t.size or v.shape[1] != len(ids):
            raise ValueError(
                f"V must have shape [len(t_ms), len(neuron_ids)] = [{t.size}, {len(ids)}], "
                f"got {list(v.shape)}"
            )
        self._t, self._v, self._ids = t, v, ids
        if population is not None:
            self._population = population
        self.mark_dirty()

    def clear(self) -> None:
        """Forget the traces, threshold and population (another project opened)."""
        self._t, self._v, self._ids = np.empty(0), np.empty((0, 0)), []
        self._population = None
        self._threshold = None
        self.mark_dirty()

    def set_threshold(self, v: float | None) -> None:
        """Draw the firing threshold as a dashed line at ``v`` (``None`` hides it)."""
        self._threshold = None if v is None else float(v)
        self.mark_dirty()

    @property
    def threshold(self) -> float | None:
        """The threshold shown, if any."""
        return self._threshold

    def shown_ids(self) -> list[int]:
        """Recorded neuron ids that are drawn, in column order."""
        if self._picked:
            wanted = set(self._picked)
            ids = [i for i in self._ids if i in wanted]
        else:
            ids = list(self._ids)
        return ids[:MAX_TRACES]

    # ---------------------------------------------------------------- drawing
    def _redraw(self) -> None:
        shown = self.shown_ids()
        column = {nid: c for c, nid in enumerate(self._ids)}
        while len(self._curves) < len(shown):
            curve = pg.PlotDataItem(antialias=False)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.plot.addItem(curve)
            self._curves.append(curve)
        self.legend.clear()
        for k, curve in enumerate(self._curves):
            if k < len(shown):
                nid = shown[k]
                curve.setData(self._t, self._v[:, column[nid]])
                curve.setPen(pg.mkPen(pg.intColor(nid, hues=9, values=1), width=1))
                curve.setVisible(True)
                self.legend.addItem(curve, f"n{nid}")
            else:
                curve.setData([], [])
                curve.setVisible(False)

        if self._threshold is None:
            self.threshold_line.setVisible(False)
        else:
            self.threshold_line.setPos(self._threshold)
            self.threshold_line.setVisible(True)

        notes = []
        if self._population:
            notes.append(self._population)
        missing = sorted(set(self._picked) - set(self._ids))
        if self._picked and missing and self._ids:
            notes.append(f"not recorded: {format_neuron_ids(missing)}")
        wanted = set(self._picked)
        candidates = sum(1 for i in self._ids if not wanted or i in wanted)
        if candidates > MAX_TRACES:
            notes.append(f"showing first {MAX_TRACES} of {candidates}")
        self.note_label.setText(" · ".join(notes))

    def _set_compact(self, compact: bool) -> None:
        self.neuron_edit.setMaximumWidth(110 if compact else 16777215)

    def _apply_theme(self) -> None:
        self.threshold_line.setPen(
            pg.mkPen(self._theme.threshold, width=1, style=Qt.PenStyle.DashLine)
        )
        self.legend.setLabelTextColor(self._theme.foreground)

    # ----------------------------------------------------------------- export
    def csv_header(self) -> list[str]:
        """``t_ms`` then one ``v_<id>`` column per shown neuron."""
        return ["t_ms"] + [f"v_{nid}" for nid in self.shown_ids()]

    def csv_rows(self) -> Iterable[Sequence]:
        """One row per time sample."""
        column = {nid: c for c, nid in enumerate(self._ids)}
        cols = [column[nid] for nid in self.shown_ids()]
        for r, t in enumerate(self._t):
            yield [repr(float(t))] + [repr(float(x)) for x in self._v[r, cols]]
