"""Toolbar icons: small SVGs in ``resources/icons`` drawn in the theme's colours,
with a clearly dimmer disabled state (so Pause/Stop/Undo do not look like Train
when they cannot be used)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICONS_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"

#: Per theme: normal, disabled and accent colours (accents for the run controls).
ICON_COLORS = {
    "dark": {"normal": "#d8dbe0", "disabled": "#55595f", "train": "#5cc46a",
             "pause": "#e0b040", "stop": "#e06060"},
    "light": {"normal": "#30343a", "disabled": "#b8bcc2", "train": "#2e9a3e",
              "pause": "#b57d00", "stop": "#c03030"},
}
SIZES = (16, 24, 32, 48)


def _pixmap(svg: str, color: str, size: int) -> QPixmap:
    data = svg.replace("#000", color)
    renderer = QSvgRenderer(QByteArray(data.encode()))
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pix


def themed_icon(name: str, theme: str = "dark") -> QIcon:
    """Icon ``name`` (file ``resources/icons/<name>.svg``) in ``theme``'s colours;
    an empty icon when the file is missing."""
    path = ICONS_DIR / f"{name}.svg"
    if not path.is_file():
        return QIcon()
    colors = ICON_COLORS[theme]
    svg = path.read_text(encoding="utf-8")
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(_pixmap(svg, colors.get(name, colors["normal"]), size),
                       QIcon.Mode.Normal)
        icon.addPixmap(_pixmap(svg, colors["disabled"], size), QIcon.Mode.Disabled)
    return icon
