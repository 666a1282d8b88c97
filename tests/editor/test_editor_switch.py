"""Opening another project while a run trains: the user is asked, the run is
stopped and stays with its project, the plots never mix the two projects.
Through the real worker process."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def start_long_run(w: MainWindow, tmp_path: Path, qtbot) -> Path:
    w.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")

    def shrink(p):
        p.training.max_examples = 64
        p.training.num_epochs = 200
        p.compiler.params["batch_size"] = 32

    w.ctl.edit("shrink", shrink)
    assert w.save_to(tmp_path / "yy.ssproj")
    run_dir = w.run_controller.train()
    assert run_dir is not None
    qtbot.waitUntil(lambda: w.run_controller.messages.get("batch_metrics", 0) >= 2,
                    timeout=90_000)
    return run_dir


def test_new_project_while_training_asks_then_stops_and_separates_runs(
        window: MainWindow, qtbot, tmp_path: Path, monkeypatch) -> None:
    rc = window.run_controller
    run_dir = start_long_run(window, tmp_path, qtbot)
    plots = rc.plots
    qtbot.waitUntil(lambda: run_dir.name in plots.curves.runs(), timeout=5_000)
    asked: list[str] = []
    # Cancel: nothing changes, the run goes on
    monkeypatch.setattr(rc, "ask_stop_training", lambda run: asked.append(run) or False)
    window.actions_by_name["new"].trigger()
    assert asked == [run_dir.name]
    assert rc.busy and window.ctl.path == tmp_path / "yy.ssproj"
    assert run_dir.name in plots.curves.runs()
    # Stop training: the run stops, the new project starts with empty plots and runs
    monkeypatch.setattr(rc, "ask_stop_training", lambda run: asked.append(run) or True)
    window.actions_by_name["new"].trigger()
    assert len(asked) == 2
    assert window.ctl.path is None and window.ctl.project.populations == []
    assert plots.curves.runs() == [] and plots.weights.connections() == []
    assert rc.panel.list.count() == 0 and rc.progress_label.text() == ""
    qtbot.waitUntil(lambda: not rc.busy, timeout=30_000)
    qtbot.wait(200)
    assert plots.curves.runs() == []  # its last messages did not reach the new plots
    assert plots.raster.current_population() is None
    assert rc.train_action.isEnabled()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "stopped"
    assert window._errors == []
    # the run stays with its project: reopening it lists the run again
    assert window.open_path(tmp_path / "yy.ssproj")
    names = [rc.panel.list.item(i).text() for i in range(rc.panel.list.count())]
    assert len(names) == 1 and names[0].startswith(run_dir.name) and "stopped" in names[0]


def test_every_way_of_switching_project_settles_the_run_first(window: MainWindow,
                                                              tmp_path: Path,
                                                              monkeypatch) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    assert window.save_to(tmp_path / "yy.ssproj")
    rc = window.run_controller
    monkeypatch.setattr(type(rc), "busy", property(lambda self: True))
    asked: list[str] = []
    monkeypatch.setattr(rc, "ask_stop_training", lambda run: asked.append(run) or False)
    before = window.ctl.project.copy()
    example = [a for n, a in window.actions_by_name.items() if n.startswith("ex_")][0]
    example.trigger()
    window.recent_menu.actions()[0].trigger()
    assert not window.open_path(tmp_path / "yy.ssproj")
    window.actions_by_name["new"].trigger()
    script = tmp_path / "net.py"
    assert window.export_mlgenn_to(script)
    assert window.import_mlgenn(script) is None
    assert len(asked) == 5
    assert window.ctl.project.same_as(before)


def test_unsaved_projects_keep_their_own_runs_and_take_them_along_when_saved(
        window: MainWindow, tmp_path: Path, qtbot) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")

    def shrink(p):
        p.training.max_examples = 32
        p.training.num_epochs = 1
        p.compiler.params["batch_size"] = 32

    window.ctl.edit("shrink", shrink)
    rc = window.run_controller
    first_root = rc.runs_root()
    run_dir = rc.train()
    assert run_dir is not None and run_dir.parent == first_root
    qtbot.waitUntil(lambda: not rc.busy, timeout=120_000)
    assert rc.messages.get("finished") == 1
    assert rc.panel.list.count() == 1

    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")  # same name, unsaved
    assert window.ctl.path is None and rc.runs_root() != first_root
    assert rc.panel.list.count() == 0  # the other unsaved project's run is not shown here
    (tmp_path / "second").mkdir()
    assert window.save_to(tmp_path / "second" / "yy.ssproj")
    assert rc.runs_root() == tmp_path / "second" / "runs"
    assert first_root.is_dir()  # the first project's run was not taken by this one

    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    window.ctl.edit("shrink", shrink)
    run_dir = rc.train()
    qtbot.waitUntil(lambda: not rc.busy, timeout=120_000)
    unsaved_root = run_dir.parent
    assert window.save_to(tmp_path / "yy.ssproj")
    moved = tmp_path / "runs" / run_dir.name
    assert (moved / "settings.json").is_file() and (moved / "metrics.json").is_file()
    assert not run_dir.exists() and not unsaved_root.exists()
    assert rc.panel.list.count() == 1
