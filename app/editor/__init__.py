"""Qt node editor: main window, canvas (NodeGraphQt view of the project
document), inspector, compiler/dataset/training panels.

``run(argv)`` / ``run_gui(paths)`` start the GUI.
"""
from __future__ import annotations


def run(argv: list[str] | None = None) -> int:
    """Start the Spike Studio window; ``argv`` is sys.argv-shaped
    (``argv[1]``: optional project file)."""
    from app.plots._compat import protect_singleton_refcounts

    protect_singleton_refcounts()
    from app.editor.main_window import run as _run

    return _run(argv)


def run_gui(paths: list[str] | None = None) -> int:
    """Start the window, opening the first of ``paths`` (project files) if any;
    with none, offers to recover an autosave left by a crash."""
    return run(["spike-studio", *(paths or [])])


__all__ = ["run", "run_gui"]
