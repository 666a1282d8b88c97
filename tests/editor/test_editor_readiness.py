"""The window on top of the readiness, initial-weight and calibration work:
a palette-built network gets fan-in weights that follow resizes, Calibrate runs
in the worker and shows the rate per population, a dead population is named,
a broken weights sidecar can be skipped, warnings do not block training."""
from __future__ import annotations

from pathlib import Path

import numpy as np
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
    w.calibration.shutdown()
    w.run_controller.shutdown()


def palette_network(w: MainWindow, qtbot) -> tuple[str, str, str]:
    """Input -> LIF -> LeakyIntegrate on Yin-Yang, built as a person would."""
    lst = w.palette.list
    for row in (0, 2, 4):
        lst.itemDoubleClicked.emit(lst.item(row))
    i, h, o = (p.id for p in w.ctl.project.populations)
    cv = w.canvas
    cv.node(i).output(0).connect_to(cv.node(h).input(0))
    cv.node(h).output(0).connect_to(cv.node(o).input(0))
    ds = w.inspector.dataset
    ds.source.setCurrentIndex(ds.source.findData("builtin"))
    return i, h, o


def test_palette_connections_follow_fan_in_until_the_user_sets_them(window: MainWindow,
                                                                    qtbot) -> None:
    i, h, o = palette_network(window, qtbot)
    p = window.ctl.project
    assert p.population(i).size == 4 and p.population(o).size == 3  # Yin-Yang's sizes
    assert "Also set" in window.inspector.dataset.changes.text()
    c_in = [c for c in p.connections if c.source == i][0]
    assert c_in.weight_source == "auto"
    sd_4 = c_in.weight["sd"]
    window.canvas.select([i])
    window.inspector.selection.pop_size.enter("16")
    sd_16 = window.ctl.project.connection(c_in.id).weight["sd"]
    assert sd_16 == pytest.approx(sd_4 / 2, rel=0.02)  # 1/sqrt(fan-in)
    window.canvas.select([], [c_in.id])
    sel = window.inspector.selection
    assert "fan-in" in sel.conn_weight_source.text()
    sel.conn_weight.form.widgets["sd"].enter("0.5")
    conn = window.ctl.project.connection(c_in.id)
    assert conn.weight["sd"] == 0.5 and conn.weight_source == "user"
    window.canvas.select([i])
    sel.pop_size.enter("8")
    assert window.ctl.project.connection(c_in.id).weight["sd"] == 0.5  # the user's stays


def test_calibrate_runs_in_the_worker_and_shows_rates(window: MainWindow, qtbot,
                                                      tmp_path: Path) -> None:
    i, h, o = palette_network(window, qtbot)
    c_in = [c for c in window.ctl.project.connections if c.source == i][0]
    window.canvas.select([], [c_in.id])
    form = window.inspector.selection.conn_weight.form
    form.widgets["mean"].enter("0.001")  # a silent start
    form.widgets["sd"].enter("0.001")
    rc = window.run_controller
    assert window.actions_by_name["calibrate"].isEnabled()
    window.actions_by_name["calibrate"].trigger()
    assert rc.busy and not window.actions_by_name["calibrate"].isEnabled()
    qtbot.waitUntil(lambda: not rc.busy, timeout=120_000)
    assert window._errors == [], window._errors
    assert rc.messages.get("calibrated") == 1
    after = window.ctl.project.connection(c_in.id).weight
    assert after["mean"] > 0.01  # scaled up until the hidden layer fires
    report = window.calibration.report
    assert report is not None and report.isVisible()
    assert "hidden:" in report.text() and "Hz" in report.text()
    assert "hidden:" in rc.panel.detail.text()
    window.ctl.undo_stack.undo()  # one undoable edit
    assert window.ctl.project.connection(c_in.id).weight["mean"] == 0.001


def test_a_silent_population_is_reported_by_the_worker(window: MainWindow, qtbot) -> None:
    i, h, o = palette_network(window, qtbot)
    c_in = [c for c in window.ctl.project.connections if c.source == i][0]

    def silence(p):
        p.connection(c_in.id).weight = {"type": "Constant", "value": 0.0}
        p.training.num_epochs = 1
        p.training.max_examples = 64
        p.compiler.params["batch_size"] = 32

    window.ctl.edit("silence", silence)
    window.canvas.select([])
    rc = window.run_controller
    assert rc.train() is not None
    qtbot.waitUntil(lambda: not rc.busy, timeout=120_000)
    assert rc.messages.get("dead_populations", 0) >= 1
    assert rc.warning_label.isVisible() and "hidden" in rc.warning_label.text()
    assert window.canvas.selected() == ([h], [])
    assert window.inspector.selection.current == ("population", h)


def test_calibrate_before_training(window: MainWindow, qtbot) -> None:
    i, h, o = palette_network(window, qtbot)

    def small(p):
        p.training.num_epochs = 1
        p.training.max_examples = 64
        p.compiler.params["batch_size"] = 32

    window.ctl.edit("small", small)
    c_in = [c for c in window.ctl.project.connections if c.source == i][0]
    window.canvas.select([], [c_in.id])
    form = window.inspector.selection.conn_weight.form
    form.widgets["mean"].enter("0.001")  # a silent start
    window.actions_by_name["calibrate_first"].setChecked(True)
    rc = window.run_controller
    assert rc.train() is not None
    qtbot.waitUntil(lambda: not rc.busy, timeout=120_000)
    assert rc.messages.get("calibrated") == 1 and rc.messages.get("finished") == 1
    assert window.ctl.project.connection(c_in.id).weight["mean"] != 0.001  # scaled
    window.actions_by_name["calibrate_first"].setChecked(False)


def test_open_without_trained_weights(window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    cid = window.ctl.project.connections[0].id
    shape = (4, 100)
    window.ctl.edit("trained", lambda p: p.weights.__setitem__(cid, np.ones(shape, np.float32)))
    path = tmp_path / "yy.ssproj"
    assert window.save_to(path)
    sidecars = [f for f in tmp_path.iterdir() if f.name != "yy.ssproj"]
    assert sidecars
    sidecars[0].write_bytes(b"not a zip file")
    asked: list[str] = []
    monkeypatch.setattr(window, "ask_open_without_weights",
                        lambda p, reason: asked.append(reason) or False)
    window.new_project()
    assert not window.open_path(path)  # declined: nothing opened, no second dialog
    assert asked and "intact" in asked[0] and window._errors == []
    assert window.ctl.path is None
    monkeypatch.setattr(window, "ask_open_without_weights", lambda p, reason: True)
    assert window.open_path(path)
    assert window.ctl.path == path and window.ctl.project.weights == {}
    assert len(window.ctl.project.connections) == 2
    assert window.ctl.dirty and window.windowTitle().endswith("* - Spike Studio")
    assert "without trained weights" in window.statusBar().currentMessage()


def test_a_warning_does_not_block_training(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    window.ctl.edit("big step", lambda p: p.compiler.optimiser.__setitem__("alpha", 5.0))
    issues = window.validate()
    assert issues and all(i.severity == "warning" for i in issues)
    assert window.status.text().startswith("✓ ready to train (1 warning")
    assert window.run_controller._ready()
    window.run_controller.client.running  # noqa: B018 - nothing was started


def test_the_window_builds_the_network_that_learns_yin_yang(window: MainWindow, qtbot) -> None:
    """Input -> LIF -> LeakyIntegrate built through the window, no weight edited, is the
    document tests/project/test_project_palette.py trains to >= 90 % on Yin-Yang."""
    from app.project.document import Project
    from app.project.palette import (
        add_population,
        choose_builtin_dataset,
        connect,
        resize_population,
    )

    lst = window.palette.list
    for row in (0, 2, 4):
        lst.itemDoubleClicked.emit(lst.item(row))
    i, h, o = (p.id for p in window.ctl.project.populations)
    cv = window.canvas
    cv.node(i).output(0).connect_to(cv.node(h).input(0))
    cv.node(h).output(0).connect_to(cv.node(o).input(0))
    for pid, size in ((i, "4"), (o, "3")):
        cv.select([pid])
        window.inspector.selection.pop_size.enter(size)
    ds = window.inspector.dataset
    ds.source.setCurrentIndex(ds.source.findData("builtin"))
    ds.builtin.setCurrentIndex(ds.builtin.findData("yin_yang"))
    built = window.ctl.project

    ref = Project()
    pops = [add_population(ref, m, (0.0, 0.0)) for m in
            ("SpikeInput", "LeakyIntegrateFire", "LeakyIntegrate")]
    connect(ref, pops[0].id, pops[1].id)
    connect(ref, pops[1].id, pops[2].id)
    resize_population(ref, pops[0].id, 4)
    resize_population(ref, pops[2].id, 3)
    choose_builtin_dataset(ref, "yin_yang")

    def shape(p: Project) -> dict:
        return {"pops": [(x.model, x.size, x.readout, x.params) for x in p.populations],
                "conns": [(x.connectivity, x.weight, x.synapse, x.weight_source)
                          for x in p.connections],
                "compiler": (p.compiler.type, p.compiler.params, p.compiler.loss,
                             p.compiler.optimiser),
                "dataset": (p.dataset.source, p.dataset.name),
                "training": p.training.to_dict()}

    assert shape(built) == shape(ref)
    qtbot.waitUntil(lambda: window.status.text().startswith("✓ ready to train"), timeout=2000)
