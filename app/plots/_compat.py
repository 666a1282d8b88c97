"""Work-around for reference-counting bugs in PySide6 6.12 on Python < 3.12.

With the installed PySide6 6.12.0 on CPython 3.11, every *void* Qt method
called from Python (``QWidget.update()``, ``QTimer.stop()``, ...) returns
``None`` without taking a new reference, and ``SignalInstance.emit()`` does
the same with ``True``.  pyqtgraph makes such calls on every ``setData``, so
the reference counts of ``None``/``True`` fall steadily until CPython
deallocates them and aborts ("none_dealloc: deallocating None" /
"bool_dealloc: deallocating True or False") - at the latest at exit, after a
long session possibly earlier.  Python 3.12+ makes these objects immortal,
so there the bug is harmless (the wheels were evidently built assuming that).

:func:`protect_singleton_refcounts` detects the bug with a few probe calls
and, only if it is present, raises the reference counts of ``None``,
``True`` and ``False`` by 2**40 - in effect what Python 3.12 does - so the
leak can never reach zero.  It must run before much Qt work happens; the
``app.plots`` package calls it on import.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

_BOOST = 1 << 40
_applied = False


class _Probe(QObject):
    ping = Signal()


def qt_calls_leak_singletons() -> bool:
    """True when void Qt calls or ``Signal.emit`` drop references to ``None``/``True``."""
    probe = _Probe()
    none_before = sys.getrefcount(None)
    true_before = sys.getrefcount(True)
    for _ in range(8):
        probe.setObjectName("probe")
        probe.ping.emit()
    return sys.getrefcount(None) < none_before or sys.getrefcount(True) < true_before


def protect_singleton_refcounts() -> bool:
    """Apply the work-around if needed (once); return whether it is in effect."""
    global _applied
    if _applied:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if not qt_calls_leak_singletons():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _applied = True
    return True
