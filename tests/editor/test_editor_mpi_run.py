"""Multi-process training from the window: Processes > 1 makes Train start
``mpirun -n N ... python -m app train ... --distributed`` in a QProcess; rank 0's
epoch lines reach the plots, Stop kills the whole process group."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app.editor.main_window import MainWindow
from app.editor.mpi_run import parse_epoch_line
from app.project.examples import EXAMPLES_DIR

pytestmark = pytest.mark.skipif(shutil.which("mpirun") is None, reason="needs OpenMPI")


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


def open_small_yin_yang(w: MainWindow, epochs: int, examples: int = 64) -> None:
    """The Yin-Yang example, shrunk and left unsaved (the MPI run saves a copy)."""
    w.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")

    def shrink(p):
        p.training.max_examples = examples
        p.training.num_epochs = epochs
        p.compiler.params["batch_size"] = 32

    w.ctl.edit("shrink", shrink)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def test_parse_epoch_line() -> None:
    row = parse_epoch_line("epoch 2: SparseCategoricalAccuracy 0.3594 loss 14.0625 (0.9 s)")
    assert row == {"epoch": 2, "accuracy": 0.3594, "loss": 14.0625, "seconds": 0.9}
    row = parse_epoch_line("epoch 0: MeanSquareError 0.5 loss nan (1.0 s)")
    assert row["mse"] == 0.5 and row["loss"] != row["loss"]
    assert parse_epoch_line("test SparseCategoricalAccuracy: 0.2188") is None


def test_two_processes_train_one_epoch_into_the_plots(window: MainWindow, qtbot,
                                                      tmp_path: Path) -> None:
    open_small_yin_yang(window, epochs=1)
    assert window.ctl.dirty and window.ctl.path is None
    rc = window.run_controller
    assert rc.processes.minimum() == 1 and rc.processes.maximum() == (os.cpu_count() or 1)
    assert rc.processes.value() == 1
    rc.processes.setValue(2)
    window.actions_by_name["train"].trigger()
    assert rc.mpi.running and rc.mode == "mpi"
    assert not rc.train_action.isEnabled() and rc.stop_action.isEnabled()
    assert not rc.pause_action.isEnabled() and "MPI" in rc.pause_action.toolTip()
    assert not rc.processes.isEnabled()
    assert rc.mpi.command[1:3] == ["-n", "2"] and "--distributed" in rc.mpi.command
    qtbot.waitUntil(lambda: not rc.mpi.running and rc.mode == "idle", timeout=120_000)
    assert window._errors == []
    assert rc.messages.get("finished") == 1 and rc.messages.get("epoch_metrics") == 1
    run = rc.run_dir.name
    xs, ys = rc.plots.curves.series_data(run, "epoch/accuracy")
    assert list(xs) == [0] and 0.0 <= ys[0] <= 1.0
    assert {"epoch/loss", "epoch/accuracy"} <= set(rc.plots.curves.series_names(run))
    assert "finished" in rc.progress_label.text() and rc.progress.value() == 1000
    assert any("on 2 MPI rank(s)" in line for line in rc.mpi.tail)
    # the unsaved document went to a copy in its run folder; nothing else was written
    assert (rc.run_dir / "project.ssproj").is_file() and window.ctl.path is None
    status = json.loads((rc.run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["exit_code"] == 0
    assert "on 2 MPI rank(s)" in (rc.run_dir / "output.log").read_text()
    assert (rc.run_dir / "metrics.csv").is_file()
    assert rc.train_action.isEnabled() and rc.processes.isEnabled()


def test_stop_kills_the_mpi_process_group(window: MainWindow, qtbot) -> None:
    open_small_yin_yang(window, epochs=1000, examples=256)
    rc = window.run_controller
    rc.processes.setValue(2)
    rc.train()
    qtbot.waitUntil(lambda: rc.messages.get("epoch_metrics", 0) >= 1, timeout=60_000)
    pid = rc.mpi.pid
    ranks = _children(pid)
    assert pid and _alive(pid) and ranks
    window.actions_by_name["stop"].trigger()
    qtbot.waitUntil(lambda: not rc.mpi.running and rc.mode == "idle", timeout=20_000)
    deadline = time.monotonic() + 5
    while any(_alive(r) for r in ranks) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(r) for r in ranks + [pid])
    assert window._errors == [] and "stopped" in rc.progress_label.text()
    status = json.loads((rc.run_dir / "status.json").read_text())
    assert status["status"] == "stopped"
    assert rc.train_action.isEnabled()


def test_failing_run_shows_the_output_tail(window: MainWindow, qtbot, monkeypatch) -> None:
    open_small_yin_yang(window, epochs=1)
    rc = window.run_controller
    rc.processes.setValue(2)
    # a broken dataset the GUI's checks are told to let through: every rank fails
    window.ctl.edit("bad data", lambda p: (setattr(p.dataset, "source", "file"),
                                           setattr(p.dataset, "format", "npz"),
                                           setattr(p.dataset, "path", "/nonexistent.npz")))
    monkeypatch.setattr(window, "validate", lambda: [])
    rc.train()
    qtbot.waitUntil(lambda: not rc.mpi.running and rc.mode == "idle", timeout=60_000)
    title, text, detail = window._errors[-1][:3]
    assert title == "Training failed" and "exited with code" in text
    assert "/2: ProjectError: dataset" in detail
    assert json.loads((rc.run_dir / "status.json").read_text())["status"] == "failed"
    assert rc.train_action.isEnabled()
