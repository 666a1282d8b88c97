"""Qt node editor: main window, canvas (NodeGraphQt view of the project
document), inspector, compiler/dataset/training panels.

``run(argv)`` starts the GUI.
"""
from __future__ import annotations


def run(argv: list[str] | None = None) -> int:
    """Start the Spike Studio window (``argv[1]``: optional project file)."""
    from app.editor.main_window import run as _run

    return _run(argv)


__all__ = ["run"]
