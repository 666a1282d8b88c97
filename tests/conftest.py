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


_exit_status = {"code": 0}


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    """Remember pytest's verdict for pytest_unconfigure."""
    _exit_status["code"] = int(exitstatus)


def pytest_unconfigure(config: object) -> None:
    """End the process with pytest's own status once Qt has been used.

    Tearing down Qt/NodeGraphQt objects at interpreter exit can crash (SIGSEGV)
    after every test has passed and the summary is printed; exiting here keeps
    CI's status equal to the test verdict instead of that teardown's.
    """
    import sys

    if "PySide6.QtWidgets" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"])
