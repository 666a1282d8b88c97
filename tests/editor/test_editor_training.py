"""End to end through the real worker process: open the Yin-Yang example, train a
short epoch from the Run controls, watch the plots fill, find the run on disk;
kill -9 the worker mid-run and resume it from the Runs panel."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from app.editor.main_window import MainWindow
from app.project.examples import EXAMPLES_DIR


@pytest.fixture
def window(qtbot, monkeypatch):
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    w.show()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    w._errors = []
    monkeypatch.setattr(w, "show_error", lambda *a, **k: w._errors.append(a))
    yield w
    w.run_controller.shutdown()


def open_small_yin_yang(w: MainWindow, tmp_path: Path, epochs: int, batch: int = 32) -> None:
    """The Yin-Yang example cut to 64 examples (64 / ``batch`` batches per epoch)."""
    w.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")

    def shrink(p):
        p.training.max_examples = 64
        p.training.num_epochs = epochs
        p.compiler.params["batch_size"] = batch

    w.ctl.edit("shrink", shrink)
    assert w.save_to(tmp_path / "yy.ssproj")


def test_train_one_epoch_fills_plots_and_records_the_run(window: MainWindow, qtbot,
                                                         tmp_path: Path) -> None:
    open_small_yin_yang(window, tmp_path, epochs=1)
    rc = window.run_controller
    assert rc.backend.count() >= 1 and rc.backend.currentData() == "cpu"
    assert not rc.pause_action.isEnabled() and rc.train_action.isEnabled()
    assert rc.pause_action.shortcut() == QKeySequence(Qt.Key.Key_Space)
    window.actions_by_name["train"].trigger()
    assert rc.client.running and not rc.train_action.isEnabled()
    assert rc.stop_action.isEnabled() and rc.pause_action.isEnabled()
    qtbot.waitUntil(lambda: not rc.client.running, timeout=90_000)
    assert window._errors == []
    assert rc.messages.get("finished") == 1 and rc.messages.get("batch_metrics") == 2
    run = rc.run_dir.name
    plots = rc.plots
    assert {"batch/loss", "batch/accuracy", "epoch/loss", "epoch/accuracy"} <= \
        set(plots.curves.series_names(run))
    xs, ys = plots.curves.series_data(run, "batch/loss")
    assert len(xs) == 2 and np.all(np.isfinite(ys))
    times, ids = plots.raster.spikes("input")
    assert len(times) > 0 and len(times) == len(ids)
    assert plots.voltage.shown_ids() and plots.voltage.threshold == 1.0
    assert set(plots.weights.connections()) == {"input_hidden", "hidden_output"}
    assert rc.progress.value() == 1000 and "finished" in rc.progress_label.text()
    # recorded on disk, listed in the Runs panel
    assert rc.run_dir.parent == tmp_path / "runs"
    status = json.loads((rc.run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["checkpoints"] == [0]
    assert (rc.run_dir / "metrics.csv").is_file()
    assert rc.panel.list.count() == 1 and "finished" in rc.panel.list.item(0).text()
    # overlay: ticking a run draws its recorded curves again
    item = rc.panel.list.item(0)
    assert item.checkState() == Qt.CheckState.Checked  # the run just trained is shown
    item.setCheckState(Qt.CheckState.Unchecked)
    assert run not in plots.curves.runs()
    rc.panel.list.item(0).setCheckState(Qt.CheckState.Checked)
    xs2, ys2 = plots.curves.series_data(run, "batch/loss")
    np.testing.assert_allclose(ys2, ys)
    # evaluate the trained run on the test split
    rc.panel.list.setCurrentRow(0)
    window.actions_by_name["evaluate"].trigger()
    qtbot.waitUntil(lambda: not rc.client.running, timeout=60_000)
    assert rc.last_result["kind"] == "evaluation" and rc.last_result["n"] == 64
    assert "Test split" in rc.panel.detail.text()


def _fine_steps(p) -> None:
    p.compiler.params["dt"] = p.dataset.params["dt"] = 0.01
    p.compiler.params["example_timesteps"] = 3000


def test_killed_worker_leaves_window_working_and_run_resumes(window: MainWindow, qtbot,
                                                             tmp_path: Path) -> None:
    # 8 batches per epoch at a 0.01 ms step and three epochs, so the pause asked for
    # at the first checkpoint lands before the run ends (with two epochs at this
    # speed the last epoch could end first: 1 run in 3 failed)
    open_small_yin_yang(window, tmp_path, epochs=3, batch=8)
    window.ctl.edit("slow", _fine_steps)
    assert window.save_to(tmp_path / "yy.ssproj")
    rc = window.run_controller
    seen: list[dict] = []

    def on_message(m: dict) -> None:
        seen.append(m)
        if m["kind"] == "checkpoint" and m["epoch"] == 0:
            window.actions_by_name["pause"].trigger()  # Space

    rc.adapter.message.connect(on_message)
    run_dir = rc.train()
    qtbot.waitUntil(lambda: any(m["kind"] == "paused" for m in seen), timeout=90_000)
    assert rc.pause_action.isChecked() and "Paused" in rc.progress_label.text()
    last = [m for m in seen if m["kind"] == "batch_metrics"][-1]
    rc._on_batch_metrics(last)
    qtbot.waitUntil(lambda: "ETA" in rc.progress_label.text(), timeout=2_000)
    text = rc.progress_label.text()
    assert text.startswith(f"Epoch {last['epoch'] + 1}/3 · batch {last['batch'] + 1}/8 · ")
    assert "samples/s" in text and 0 < rc.progress.value() < 1000
    os.kill(rc.client.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not rc.client.running, timeout=30_000)
    title, text = window._errors[-1][:2]
    assert title == "Training process ended" and "SIGKILL" in text
    done = max(m["epoch"] for m in seen if m["kind"] == "checkpoint")  # the last one saved
    assert f"after epoch {done + 1}" in text  # 1-based
    assert "crashed" in rc.panel.list.item(0).text()
    assert rc.train_action.isEnabled() and not rc.pause_action.isChecked()
    assert (run_dir / "checkpoints" / "0-input_hidden-g.npy").is_file()
    # the window still works: edit, undo
    window.ctl.edit("rename", lambda p: setattr(p, "name", "after crash"))
    window.ctl.undo_stack.undo()
    assert window.ctl.project.name == "Yin-Yang EventProp"
    # resume from the Runs panel
    rc.panel.list.setCurrentRow(0)
    qtbot.mouseClick(rc.panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not rc.client.running, timeout=90_000)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["resumed"] == [done]
    assert status["checkpoints"] == [0, 1, 2]
    assert "finished" in rc.panel.list.item(0).text()


def test_voltage_plot_records_the_population_picked(window: MainWindow, qtbot,
                                                    tmp_path: Path) -> None:
    open_small_yin_yang(window, tmp_path, epochs=1)
    voltage = window.run_controller.plots.voltage
    combo = voltage.population_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["auto", "hidden", "output"]
    voltage.pick_population("output")
    rc = window.run_controller
    assert rc.train() is not None
    qtbot.waitUntil(lambda: not rc.client.running, timeout=90_000)
    assert rc.messages.get("finished") == 1
    voltage.redraw_now()
    assert voltage._population == "output" and "output" in voltage.note_label.text()
    assert max(voltage.shown_ids()) < 3  # the output's 3 neurons, not hidden's 100
    window.ctl.edit("rename", lambda p: setattr(p.populations[2], "name", "readout"))
    assert voltage.picked_population is None  # its population is gone: back to auto
    assert combo.findText("readout") > 0
