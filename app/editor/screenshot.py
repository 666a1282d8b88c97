"""Render the main window with an example open to a PNG (for docs).

``xvfb-run -a python -m app.editor.screenshot docs/screenshot.png``
"""
from __future__ import annotations

import sys
from pathlib import Path

from app.editor import qt  # noqa: F401


def take_screenshot(path: str | Path, example: str = "yin_yang_eventprop",
                    size: tuple[int, int] = (1440, 900)) -> Path:
    """Open ``example`` in a main window, select its hidden layer and save a PNG."""
    from PySide6.QtWidgets import QApplication

    from app.editor.main_window import MainWindow
    from app.project.examples import EXAMPLES_DIR

    app = QApplication.instance() or QApplication([])
    window = MainWindow(autosave=False)
    window.set_theme("dark")
    window.resize(*size)
    window.open_example(EXAMPLES_DIR / f"{example}.ssproj")
    window.show()
    for _ in range(20):
        app.processEvents()
    window.validate()
    window.canvas.fit()
    hidden = [p.id for p in window.ctl.project.populations if p.name == "hidden"]
    window.canvas.select(hidden[:1])
    for _ in range(20):
        app.processEvents()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    window.ctl.undo_stack.setClean()
    window.close()
    return out


if __name__ == "__main__":  # pragma: no cover
    print(take_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
