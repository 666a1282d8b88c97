"""Render the main window during a training run to a PNG (for the docs).

``xvfb-run -a -s "-screen 0 1600x1000x24" python tools/screenshot.py docs/screenshot.png``

Opens a bundled example in a temporary folder, trains it in the real worker,
shows all four plots at once (loss & accuracy, raster, voltage, weights) and
grabs the window while the run is still going.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from app.editor import qt  # noqa: F401


def take_screenshot(path: str | Path, example: str = "yin_yang_eventprop",
                    size: tuple[int, int] = (1600, 1000), theme: str = "dark",
                    batches: int = 40, timeout_s: float = 600.0) -> Path:
    """Train ``example`` until ``batches`` batches were plotted, then save a PNG
    of the window at ``size`` in ``theme``; the run is stopped afterwards."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.editor.main_window import MainWindow
    from app.project.examples import EXAMPLES_DIR

    app = QApplication.instance() or QApplication([])
    window = MainWindow(autosave=False)
    window.set_theme(theme, remember=False)
    window.resize(*size)
    window.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    folder = Path(tempfile.mkdtemp(prefix="spike-studio-shot-"))
    window.open_example(EXAMPLES_DIR / f"{example}.ssproj")
    window.ctl.edit("More epochs", lambda p: setattr(p.training, "num_epochs", 20))
    window.save_to(folder / f"{example}.ssproj")
    window.resizeDocks([window.docks["Plots"]], [int(size[1] * 0.55)], Qt.Orientation.Vertical)
    window.set_plots_grid(True)
    pump(0.5)
    window.canvas.fit()
    rc = window.run_controller
    rc.train()
    plots = rc.plots
    wanted = ("batch_metrics", "raster", "voltage", "weights")
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and rc.busy and not (
            rc.messages.get("batch_metrics", 0) >= batches
            and all(rc.messages.get(k, 0) for k in wanted)):
        pump(0.1)
    if not rc.busy:
        raise RuntimeError(f"the run ended before the screenshot: {rc.progress_label.text()}")
    hidden = [p.name for p in window.ctl.project.populations
              if not p.is_input and p.readout is None]
    if hidden:
        plots.raster.set_current_population(hidden[0])
    window.canvas.select([p.id for p in window.ctl.project.populations
                          if p.name in hidden[:1]])
    pump(1.0)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    rc.stop()
    pump(0.5)
    window.ctl.undo_stack.setClean()
    window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """``screenshot.py [OUT.png] [dark|light]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = args[0] if args else "docs/screenshot.png"
    theme = args[1] if len(args) > 1 else "dark"
    print(take_screenshot(out, theme=theme))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
