"""The PySide6 6.12 / Python 3.11 reference-count work-around is in effect when needed."""

import sys

from app.plots._compat import protect_singleton_refcounts, qt_calls_leak_singletons


def test_singletons_protected_when_qt_leaks_references(qapp):
    leaks = qt_calls_leak_singletons()
    applied = protect_singleton_refcounts()
    if sys.version_info < (3, 12) and leaks:
        assert applied
        assert sys.getrefcount(None) > 2**39
        assert sys.getrefcount(True) > 2**39
    else:
        assert not applied
