"""The window looks finished: fits a 1366x768 screen, icons with visible
disabled states in both themes, a light canvas in the light theme, plots that
are tall enough and can be detached, status texts shown once, runs and epochs
reported consistently."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QMessageBox

from app.editor.canvas import InputNode, LIFNode
from app.editor.main_window import MainWindow, initial_size
from app.project.examples import EXAMPLES_DIR
from app.project.validate import Issue
from app.worker import runs

LAPTOP = QSize(1366, 768)


@pytest.fixture
def window(qtbot, monkeypatch):
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    w.resize(initial_size(LAPTOP))
    w._arrange_docks()
    w.show()
    qtbot.waitExposed(w)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(w, "show_error", lambda *a, **k: None)
    yield w
    QApplication.instance().setStyleSheet("")


def test_default_window_fits_a_1366x768_screen(window: MainWindow) -> None:
    size = initial_size(LAPTOP)
    assert size.width() <= 1366 and size.height() <= 768 - 30  # room for a title bar
    assert window.width() <= 1366 and window.height() <= 768
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768


def _contrast(widget) -> float:
    """How far the most different pixel is from the widget's background colour."""
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    bits = np.frombuffer(img.constBits(), np.uint8)[:img.sizeInBytes()]
    arr = bits.reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3]
    arr = arr.reshape(img.height(), img.width(), 3).astype(float)
    background = np.median(arr.reshape(-1, 3), axis=0)
    return float(np.abs(arr - background).sum(axis=2).max())


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_toolbar_has_icons_and_disabled_buttons_look_disabled(window: MainWindow, qtbot,
                                                              theme) -> None:
    window.set_theme(theme, remember=False)
    qtbot.wait(20)
    tb = window.toolbar
    for name in ("new", "open", "save", "undo", "redo", "validate", "train", "pause", "stop",
                 "calibrate"):
        assert not window.actions_by_name[name].icon().isNull(), name
    train, pause, stop = (window.actions_by_name[n] for n in ("train", "pause", "stop"))
    assert train.isEnabled() and not pause.isEnabled() and not stop.isEnabled()
    enabled = _contrast(tb.widgetForAction(train))
    for action in (pause, stop, window.actions_by_name["undo"]):
        disabled = _contrast(tb.widgetForAction(action))
        assert enabled - disabled > 80, (theme, action.objectName(), enabled, disabled)


@pytest.mark.parametrize("theme,dark", [("dark", True), ("light", False)])
def test_canvas_follows_the_theme(window: MainWindow, theme, dark) -> None:
    window.set_theme(theme, remember=False)
    image = window.canvas.graph.viewer().viewport().grab().toImage()
    color = image.pixelColor(3, 3)
    assert (color.lightness() < 80) if dark else (color.lightness() > 200), color.name()
    label_color = None
    i = window.canvas.add_node(InputNode, (0, 0))
    h = window.canvas.add_node(LIFNode, (300, 0))
    window.canvas.node(i).output(0).connect_to(window.canvas.node(h).input(0))
    label_color = next(iter(window.canvas._labels.values())).brush().color()
    assert (label_color.lightness() > 150) if dark else (label_color.lightness() < 100)


def test_plots_are_tall_enough_and_can_be_detached(window: MainWindow, qtbot) -> None:
    plots = window.docks["Plots"]
    assert plots.height() >= 0.35 * window.height()
    assert window.plots.curves.loss_plot.getViewBox().height() >= 120
    window.actions_by_name["detach_plots"].trigger()
    qtbot.waitUntil(lambda: plots.isFloating())
    free = window.screen().availableGeometry()
    assert plots.width() >= min(1000, free.width() - 40) - 1
    assert plots.height() >= min(680, free.height() - 60) - 1
    window.actions_by_name["detach_plots"].trigger()
    assert not plots.isFloating()
    window.actions_by_name["plots_grid"].trigger()
    assert window.plots.layout_mode == "grid"
    qtbot.wait(20)
    assert all(p.isVisible() for p in window.plots.plots())
    assert window.width() <= 1366  # all four at once still fit


def test_status_texts_appear_once(window: MainWindow) -> None:
    rc = window.run_controller
    rc.mode = "train"
    rc._on_message({"kind": "finished", "run": "r1", "weights": {}, "metric": "accuracy",
                    "value": 0.5})
    text = rc.progress_label.text()
    assert text == "Run r1 finished: training accuracy 50.0%"
    assert window.statusBar().currentMessage() == ""  # not a second time on the left
    status = window.status.geometry()
    label = rc.progress_label.geometry()
    assert not status.intersects(label) and status.right() < label.left()


def test_a_previous_projects_failure_clears_when_another_opens(window: MainWindow) -> None:
    rc = window.run_controller
    rc.mode = "train"
    rc._on_message({"kind": "error", "error_type": "ValueError", "message": "boom",
                    "where": {}, "traceback": ""})
    assert "Run failed" in rc.progress_label.text()
    rc._on_message({"kind": "dead_populations", "epoch": 0, "populations": ["hidden"]})
    window.open_example(EXAMPLES_DIR / "pattern_eprop.ssproj")
    assert rc.progress_label.text() == ""
    assert rc.panel.detail.text() == ""
    assert not rc.warning_label.isVisible()


def _make_run(root: Path, status: str, epochs_done: int, checkpoints: list[int]) -> Path:
    run = runs.new_run_dir(root)
    runs.save_start(run, {"mode": "train", "num_epochs": 3, "start_epoch": 0}, {})
    runs.update_status(run, status=status, epochs_done=epochs_done, checkpoints=checkpoints)
    folder = run / "checkpoints"
    folder.mkdir()
    for e in checkpoints:
        np.save(folder / f"{e}-c-g.npy", np.zeros(2, np.float32))
    return run


def test_runs_panel_never_says_no_runs_while_listing_runs(window: MainWindow,
                                                          tmp_path: Path) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    assert window.save_to(tmp_path / "yy.ssproj")
    rc = window.run_controller
    assert rc.panel.empty.text().startswith("No runs yet")
    _make_run(tmp_path / "runs", "stopped", 1, [0])
    rc.refresh_runs()
    assert rc.panel.list.count() == 1
    assert "No runs" not in rc.panel.empty.text() and "No runs" not in rc.panel.detail.text()
    # epochs count from 1 everywhere: checkpoint of epoch index 0 is "after epoch 1"
    assert "checkpoint after epoch 1" in rc.panel.list.item(0).text()


def test_epochs_are_one_based_when_paused_and_when_stopped(window: MainWindow) -> None:
    rc = window.run_controller
    rc.mode = "train"
    rc._on_message({"kind": "paused", "epoch": 0, "batch": 2})
    assert rc.progress_label.text().startswith("Paused at epoch 1, batch 3")
    rc._on_message({"kind": "stopped", "run": "r", "epoch": 0, "batch": 2,
                    "last_checkpoint": 0})
    text = rc.progress_label.text()
    assert "epoch 1" in text and "epoch 0" not in text, text
    rc._on_message({"kind": "stopped", "run": "r", "epoch": 1, "batch": 0,
                    "last_checkpoint": None})
    assert rc.progress_label.text().startswith("Stopped in epoch 2, batch 1")


def test_dead_population_is_named_and_selected(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    window.canvas.select([], [window.ctl.project.connections[0].id])  # something else selected
    rc = window.run_controller
    rc.mode = "train"
    rc._on_message({"kind": "dead_populations", "run": "r", "epoch": 2,
                    "populations": ["hidden"], "message": "'hidden' fired no spike"})
    assert rc.warning_label.isVisible()
    assert rc.warning_label.text() == "⚠ hidden fired no spike in epoch 3"
    hidden = [p.id for p in window.ctl.project.populations if p.name == "hidden"]
    assert window.canvas.selected() == (hidden, [])
    assert window.inspector.selection.current == ("population", hidden[0])
    assert "Calibrate" in rc.panel.detail.text()
    rc._on_message({"kind": "finished", "run": "r", "weights": {}, "metric": "accuracy",
                    "value": 0.33})
    assert rc.warning_label.isVisible()  # still said when the run is over
    assert "finished" in rc.panel.detail.text() and "silent" in rc.panel.detail.text()


def test_worker_problems_land_on_nodes_and_fields(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    hidden = [p for p in window.ctl.project.populations if p.name == "hidden"][0]
    idx = window.ctl.project.populations.index(hidden)
    rc = window.run_controller
    rc.mode = "train"
    rc._on_message({"kind": "error", "error_type": "NotReadyError", "message": "not ready",
                    "where": {}, "traceback": "", "issues": [
                        {"message": "tau mem is far too long", "target": hidden.id,
                         "kind": "population", "field": f"populations[{idx}].params.tau_mem"}]})
    assert hidden.id in {i.target for i in window.issues}
    assert window.canvas.label(hidden.id).startswith("⚠")
    window.canvas.select([hidden.id])
    assert "tau mem is far too long" in \
        window.inspector.selection.pop_params.error_text("tau_mem")
    assert any("tau mem is far too long" in window.problems.item(i).text()
               for i in range(window.problems.count()))
    window.show_issues([Issue("x", hidden.id, "population", None)], replace=True)
    assert window.inspector.selection.pop_params.error_text("tau_mem") == ""
