"""Session-wide test setup: headless Qt and the PySide6 6.12 / Python 3.11 work-around."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")


def pytest_configure(config: object) -> None:
    """Protect None/True/False refcounts before any Qt test runs (see app.plots._compat)."""
    try:
        from app.plots._compat import protect_singleton_refcounts
    except ImportError:
        return
    protect_singleton_refcounts()
