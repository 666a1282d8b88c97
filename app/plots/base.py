"""Shared machinery for the plot widgets: toolbar, themes, throttled redraws, export.

Every plot in :mod:`app.plots` derives from :class:`PlotBase`.  Data setters
only store data and call :meth:`PlotBase.mark_dirty`; a single-shot
:class:`~PySide6.QtCore.QTimer` (40 ms, i.e. at most ~25 redraws per second)
then calls :meth:`PlotBase.redraw_now`.  Many updates arriving in one frame
therefore cost one redraw.  A hidden widget (for instance a tab that is not
shown) stays dirty and redraws when it is shown again.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.plots.axes import SIAxisItem

#: Minimum time between two redraws of one widget (40 ms = 25 Hz).
REDRAW_INTERVAL_MS = 40


@dataclass(frozen=True)
class Theme:
    """Colours a plot uses; ``name`` is ``"dark"`` or ``"light"``."""

    name: str
    background: str
    foreground: str
    ticks: str
    threshold: str
    error: str
    colormap: str


THEMES: dict[str, Theme] = {
    "dark": Theme(
        name="dark",
        background="#262930",
        foreground="#d6d6d6",
        ticks="#e8e8e8",
        threshold="#ff6b6b",
        error="#ff8080",
        colormap="inferno",
    ),
    "light": Theme(
        name="light",
        background="#ffffff",
        foreground="#202020",
        ticks="#101010",
        threshold="#c0392b",
        error="#b00020",
        colormap="viridis",
    ),
}


def get_theme(name: str) -> Theme:
    """Return the :class:`Theme` called ``name``; raise ``ValueError`` if unknown."""
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}; use one of {sorted(THEMES)}") from None


def write_csv(path: str | os.PathLike[str], header: Sequence[str],
              rows: Iterable[Sequence]) -> None:
    """Write ``header`` and ``rows`` as a comma-separated file at ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


class PlotBase(QWidget):
    """Base widget: a toolbar row, an error line and a pyqtgraph graphics area.

    Subclasses fill ``self.toolbar`` (left part) with their pickers, create
    their plot items in ``self.graphics`` and implement :meth:`_redraw`,
    :meth:`csv_header` and :meth:`csv_rows`.
    """

    def __init__(self, parent: QWidget | None = None, theme: str = "dark") -> None:
        super().__init__(parent)
        self._theme = get_theme(theme)
        self._dirty = False
        #: Number of redraws done so far (tests and benchmarks read it).
        self.redraw_count = 0

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.toolbar = QHBoxLayout()
        self.toolbar.setContentsMargins(0, 0, 0, 0)
        bar.addLayout(self.toolbar, 3)  # its info label takes most of the free width
        bar.addStretch(1)
        self.reset_button = self._tool_button("Reset view", "Zoom out to show all data")
        self.reset_button.clicked.connect(self.reset_view)
        self.png_button = self._tool_button("Export PNG…", "Save the plot as a PNG image")
        self.png_button.clicked.connect(self._ask_export_png)
        self.csv_button = self._tool_button("Export CSV…", "Save the plotted data as CSV")
        self.csv_button.clicked.connect(self._ask_export_csv)
        for button in (self.reset_button, self.png_button, self.csv_button):
            bar.addWidget(button)
        # compact mode (all plots at once): the three buttons fold into one menu
        self.more_button = self._tool_button("⋯", "Reset view, export PNG or CSV")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.more_button)
        for button in (self.reset_button, self.png_button, self.csv_button):
            menu.addAction(button.text(), button.click)
        self.more_button.setMenu(menu)
        self.more_button.setVisible(False)
        bar.addWidget(self.more_button)
        layout.addLayout(bar)

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout.addWidget(self.error_label)

        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setMinimumSize(120, 80)
        layout.addWidget(self.graphics, 1)
        self.compact = False

    def info_label(self) -> QLabel:
        """A toolbar label that may be cut short rather than widen the plot."""
        label = QLabel(self)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setMinimumWidth(20)
        return label

    def set_compact(self, compact: bool) -> None:
        """Narrow toolbar (several plots side by side): export buttons in one menu."""
        self.compact = bool(compact)
        for button in (self.reset_button, self.png_button, self.csv_button):
            button.setVisible(not compact)
        self.more_button.setVisible(compact)
        self._set_compact(compact)

    def _set_compact(self, compact: bool) -> None:
        """Shrink subclass toolbar widgets. Subclasses override."""

    # ----------------------------------------------------------------- helpers
    def _tool_button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    def _new_plot(self, row: int = 0, col: int = 0, grid: bool = False,
                  min_y_span: float | None = None, **labels: str) -> pg.PlotItem:
        """Add a PlotItem to the graphics area with the given axis labels.

        Axes use SI tick labels (:mod:`app.plots.axes`).  ``min_y_span`` keeps
        auto-range from zooming into float noise when a series is flat (a loss
        stuck at ln 3 would otherwise get ticks like "1.098612308502200").
        Grid lines are off by default: in software rendering they cost more
        than the data (about 15-20 ms per paint for a 1000x400 plot).
        """
        plot = self.graphics.addPlot(row=row, col=col, axisItems={
            side: SIAxisItem(side) for side in ("left", "bottom")})
        if min_y_span is not None:
            plot.getViewBox().setLimits(minYRange=min_y_span)
        for side, text in labels.items():
            plot.setLabel(side, text)
        if grid:
            plot.showGrid(x=True, y=True, alpha=0.15)
        return plot

    def plot_items(self) -> list[pg.PlotItem]:
        """All PlotItems in the graphics area."""
        return [item for item in self.graphics.ci.items if isinstance(item, pg.PlotItem)]

    # ------------------------------------------------------------------ errors
    def show_error(self, message: str) -> None:
        """Show ``message`` in the widget's error line."""
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    def clear_error(self) -> None:
        """Hide the error line."""
        self.error_label.clear()
        self.error_label.setVisible(False)

    @property
    def error_text(self) -> str:
        """The error currently shown, or ``""``."""
        return self.error_label.text() if self.error_label.isVisibleTo(self) else ""

    # ------------------------------------------------------------------ redraw
    @property
    def is_dirty(self) -> bool:
        """True when data changed since the last redraw."""
        return self._dirty

    def mark_dirty(self) -> None:
        """Note that data changed; a redraw follows within ``REDRAW_INTERVAL_MS``."""
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def _on_timer(self) -> None:
        if self._dirty and self.isVisible():
            self.redraw_now()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._dirty and not self._timer.isActive():
            self._timer.start()

    def redraw_now(self) -> None:
        """Redraw immediately from the stored data (tests, benchmarks, export)."""
        self._timer.stop()
        self._dirty = False
        self._redraw()
        self.redraw_count += 1

    def _redraw(self) -> None:
        """Push stored data into the plot items. Subclasses override."""

    # ------------------------------------------------------------------- view
    def reset_view(self) -> None:
        """Re-enable auto-range on every plot so all data is in view."""
        for plot in self.plot_items():
            plot.enableAutoRange()
            plot.autoRange()

    # ------------------------------------------------------------------ theme
    @property
    def theme(self) -> str:
        """Name of the current theme."""
        return self._theme.name

    def set_theme(self, name: str) -> None:
        """Switch to the ``"dark"`` or ``"light"`` theme."""
        self._theme = get_theme(name)
        self.graphics.setBackground(self._theme.background)
        for plot in self.plot_items():
            for axis_name in ("left", "bottom", "right", "top"):
                axis = plot.getAxis(axis_name)
                axis.setPen(self._theme.foreground)
                axis.setTextPen(self._theme.foreground)
            plot.titleLabel.setAttr("color", self._theme.foreground)
        self.error_label.setStyleSheet(f"color: {self._theme.error};")
        self._apply_theme()
        self.mark_dirty()

    def _apply_theme(self) -> None:
        """Recolour subclass items after a theme change. Subclasses override."""

    # ----------------------------------------------------------------- export
    def export_png(self, path: str | os.PathLike[str]) -> None:
        """Save the graphics area as it looks on screen to a PNG at ``path``.

        The image has the graphics area's size in device pixels.  Raises
        ``OSError`` if the file cannot be written.
        """
        if self._dirty:
            self.redraw_now()
        pixmap = self.graphics.grab()
        if pixmap.isNull() or not pixmap.save(os.fspath(path), "PNG"):
            raise OSError(f"could not write PNG image to {os.fspath(path)!r}")

    def csv_header(self) -> list[str]:
        """Column names of :meth:`export_csv`. Subclasses override."""
        return []

    def csv_rows(self) -> Iterable[Sequence]:
        """Rows of :meth:`export_csv`. Subclasses override."""
        return []

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the data behind the plot to a CSV file at ``path``."""
        write_csv(path, self.csv_header(), self.csv_rows())

    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", "", "PNG image (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self._export_reporting(self.export_png, path)

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", "", "CSV file (*.csv)")
        if path:
            if not path.lower().endswith(".csv"):
                path += ".csv"
            self._export_reporting(self.export_csv, path)

    def _export_reporting(self, export, path: str) -> None:
        try:
            export(path)
        except OSError as exc:
            self.show_error(f"Export failed: {exc}. Choose another folder or file name.")
        else:
            if self.error_text.startswith("Export failed"):
                self.clear_error()
