"""Dark and light themes: the style sheet, toolbar icons, canvas and plots.

The first start follows the system colour scheme; a choice made in View is
remembered (QSettings ``theme``).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

STYLE_DIR = Path(__file__).resolve().parents[2] / "resources" / "style"
THEMES = ("dark", "light")


def settings() -> QSettings:
    """The application's settings store."""
    return QSettings("spike-studio", "spike-studio")


def preferred_theme() -> str:
    """The remembered theme, else the system's colour scheme, else dark."""
    saved = settings().value("theme")
    if saved in THEMES:
        return str(saved)
    hints = QGuiApplication.styleHints() if QGuiApplication.instance() else None
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None and scheme() == Qt.ColorScheme.Light:
        return "light"
    return "dark"


def style_sheet(name: str) -> str:
    """The QSS text of theme ``name`` ("" when the file is missing)."""
    path = STYLE_DIR / f"{name}.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def apply_style(name: str) -> None:
    """Set the application style sheet of theme ``name``."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; use one of {THEMES}")
    app = QApplication.instance()
    text = style_sheet(name)
    if app is not None and app.styleSheet() != text:  # re-polishing every widget is slow
        app.setStyleSheet(text)
