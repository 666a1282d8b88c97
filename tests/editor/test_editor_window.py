"""Drive the real editor widgets: build a network on the canvas, edit it in the
inspector, undo/redo, save, reopen and compare documents."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QMessageBox

from app.editor.canvas import InputNode, LIFNode, OutputNode
from app.editor.fields import NumberEdit
from app.editor.main_window import MainWindow
from app.project import io as project_io
from app.project.examples import EXAMPLES_DIR


@pytest.fixture
def window(qtbot, monkeypatch):
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    w.show()
    # never block on a dialog in tests
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(w, "show_error", lambda *a, **k: setattr(w, "_last_error", a))
    return w


def build_small_network(w: MainWindow) -> tuple[str, str, str]:
    cv = w.canvas
    i = cv.add_node(InputNode, (0, 0))
    h = cv.add_node(LIFNode, (300, 0))
    o = cv.add_node(OutputNode, (600, 0))
    cv.node(i).output(0).connect_to(cv.node(h).input(0))
    cv.node(h).output(0).connect_to(cv.node(h).input(0))  # recurrent
    cv.node(h).output(0).connect_to(cv.node(o).input(0))
    return i, h, o


def test_build_network_on_canvas(window: MainWindow) -> None:
    i, h, o = build_small_network(window)
    p = window.ctl.project
    assert [x.model for x in p.populations] == ["SpikeInput", "LeakyIntegrateFire",
                                                "LeakyIntegrate"]
    assert [(c.source, c.target) for c in p.connections] == [(i, h), (h, h), (h, o)]
    assert p.connections[1].is_recurrent
    assert p.population(o).readout == "sum_var"
    assert window.windowTitle().endswith("* - Spike Studio")
    # the canvas draws what the document holds
    assert len(window.canvas.graph.all_nodes()) == 3
    assert len(window.canvas._pipes()) == 3
    # an input cannot receive a connection: refused, document unchanged
    window.canvas.node(o).output(0).connect_to(window.canvas.node(i).input(0)) \
        if window.canvas.node(i).inputs() else None
    assert len(window.ctl.project.connections) == 3


def test_every_edit_undoes_and_redoes(window: MainWindow, qtbot) -> None:
    i, h, o = build_small_network(window)
    snapshots = [window.ctl.project.copy()]
    sel = window.inspector.selection
    window.canvas.select([h])
    assert sel.current == ("population", h)
    sel.pop_size.enter("42")
    snapshots.append(window.ctl.project.copy())
    tau = sel.pop_params.widgets["tau_mem"]
    assert isinstance(tau, NumberEdit)
    tau.setText("12.5")
    tau.editingFinished.emit()
    snapshots.append(window.ctl.project.copy())
    assert window.ctl.project.population(h).params["tau_mem"] == 12.5
    assert window.ctl.project.population(h).size == 42
    # invalid value refused at the field: document unchanged
    tau.setText("-3")
    tau.editingFinished.emit()
    assert window.ctl.project.population(h).params["tau_mem"] == 12.5
    assert tau.text() == "12.5" and "greater than" in tau.toolTip()
    # a connection edit through the inspector
    cid = window.ctl.project.connections[0].id
    window.canvas.select([], [cid])
    assert sel.current == ("connection", cid)
    assert window.ctl.project.connection(cid).synapse["type"] == "Exponential"  # EventProp
    sel.conn_synapse.combo.setCurrentIndex(sel.conn_synapse.combo.findData("Delta"))
    assert window.ctl.project.connection(cid).synapse == {"type": "Delta"}
    snapshots.append(window.ctl.project.copy())
    stack = window.ctl.undo_stack
    for snap in reversed(snapshots[:-1]):
        stack.undo()
        assert window.ctl.project.same_as(snap)
    for snap in snapshots[1:]:
        stack.redo()
        assert window.ctl.project.same_as(snap)
    # undo all the way back to the empty project, the canvas follows
    while stack.canUndo():
        stack.undo()
    assert window.ctl.project.populations == []
    assert window.canvas.graph.all_nodes() == []
    while stack.canRedo():
        stack.redo()
    assert len(window.canvas.graph.all_nodes()) == 3
    assert window.ctl.project.same_as(snapshots[-1])


def test_delete_copy_paste(window: MainWindow) -> None:
    i, h, o = build_small_network(window)
    window.canvas.select([h])
    window.actions_by_name["copy"].trigger()
    window.actions_by_name["paste"].trigger()
    p = window.ctl.project
    assert len(p.populations) == 4
    new = p.populations[-1]
    assert new.name == "hidden_2" and new.model == "LeakyIntegrateFire"
    assert new.position == (340.0, 40.0)
    assert any(c.source == new.id and c.target == new.id for c in p.connections)  # loop copied
    window.canvas.select([h])
    window.actions_by_name["delete"].trigger()
    p = window.ctl.project
    assert h not in [x.id for x in p.populations]
    assert all(h not in (c.source, c.target) for c in p.connections)
    window.ctl.undo_stack.undo()
    assert h in [x.id for x in window.ctl.project.populations]
    assert len(window.canvas.graph.all_nodes()) == 4


def test_move_node_is_recorded(window: MainWindow) -> None:
    i, _, _ = build_small_network(window)
    node = window.canvas.node(i)
    prev = node.view.xy_pos
    node.view.xy_pos = [120.0, 80.0]
    window.canvas.graph.viewer().moved_nodes.emit({node.view: prev})
    assert window.ctl.project.population(i).position == (120.0, 80.0)
    window.ctl.undo_stack.undo()
    assert window.ctl.project.population(i).position == (0.0, 0.0)
    assert tuple(window.canvas.node(i).pos()) == (0.0, 0.0)


def test_save_reopen_compare(window: MainWindow, tmp_path: Path, qtbot) -> None:
    build_small_network(window)
    window.inspector.training.epochs.enter("7")
    path = tmp_path / "net.ssproj"
    assert window.save_to(path)
    assert "*" not in window.windowTitle()
    assert window.windowTitle().startswith("net (net.ssproj)")
    saved = window.ctl.project.copy()
    other = MainWindow(autosave=False)
    qtbot.addWidget(other)
    assert other.open_path(path)
    assert other.ctl.project.same_as(saved)
    assert other.ctl.project.training.num_epochs == 7
    assert len(other.canvas.graph.all_nodes()) == 3
    assert not other.ctl.dirty
    # a broken file leaves the open project untouched and names the field
    data = json.loads(path.read_text())
    data["populations"][1]["size"] = -5
    bad = tmp_path / "bad.ssproj"
    bad.write_text(json.dumps(data))
    errors = []
    other.show_error = lambda *a, **k: errors.append(a)
    assert not other.open_path(bad)
    assert "populations[1].size" in errors[0][1]
    assert other.ctl.project.same_as(saved)


def test_compiler_panel_apply_defaults_is_undoable(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "pattern_eprop.ssproj")
    panel = window.inspector.compiler
    panel.kind.setCurrentIndex(panel.kind.findData("EventPropCompiler"))
    spec = window.ctl.project.compiler
    assert spec.type == "EventPropCompiler"
    assert spec.params["example_timesteps"] == 1000  # carried over
    assert spec.loss == {"type": "mean_square_error"}
    assert "differ from EventProp's defaults" in panel.defaults_result.text()
    before = window.ctl.project.copy()
    changes = panel.apply_defaults()
    names = {str(c) for c in changes}
    assert "hidden.relative_reset: True -> False" in names
    assert "output.scale_i: False -> True" in names
    assert "Changed:" in panel.defaults_result.text()
    hidden = [p for p in window.ctl.project.populations if p.name == "hidden"][0]
    assert hidden.params["integrate_during_refrac"] is False
    window.ctl.undo_stack.undo()
    assert window.ctl.project.same_as(before)
    # every argument is editable: change max_spikes through its field
    w = panel.form.widgets["max_spikes"]
    assert w.enter("777")
    assert window.ctl.project.compiler.params["max_spikes"] == 777
    opt = panel.optimiser.form.widgets["alpha"]
    opt.setText("0.02")
    opt.editingFinished.emit()
    assert window.ctl.project.compiler.optimiser["alpha"] == 0.02


def test_validation_badges_follow_the_compiler(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "shd_eprop.ssproj")
    issues = window.validate()
    assert [i.field for i in issues if i.kind == "dataset"] == ["dataset.path"]
    # EventProp refuses ALIF hidden neurons and Delta synapses: shown on the canvas
    panel = window.inspector.compiler
    panel.kind.setCurrentIndex(panel.kind.findData("EventPropCompiler"))
    issues = window.validate()
    targets = {i.target for i in issues if i.target}
    hidden = [p for p in window.ctl.project.populations if p.name == "hidden"][0]
    assert hidden.id in targets, issues
    node = window.canvas.node(hidden.id)
    assert window.canvas.label(hidden.id).startswith("⚠")
    assert "⚠" in node.view.toolTip()
    assert window.problems.count() == len(issues)


def test_dataset_panel_shape_check(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    panel = window.inspector.dataset
    assert panel.check.text().startswith("✓")
    inp = window.ctl.project.populations[0]
    window.canvas.select([inp.id])
    window.inspector.selection.pop_size.enter("4")
    assert "5 input neurons" in panel.check.text()  # x, y, 1-x, 1-y and the bias spike
    panel.source.setCurrentIndex(panel.source.findData("file"))
    assert window.ctl.project.dataset.source == "file"
    assert "choose your SHD file" in panel.check.text()


def test_training_panel_edits_document(window: MainWindow) -> None:
    t = window.inspector.training
    t.batch.enter("64")
    t.shuffle.setChecked(False)
    t.limit.enter("100")
    assert window.ctl.project.compiler.params["batch_size"] == 64
    assert window.ctl.project.training.shuffle is False
    assert window.ctl.project.training.max_examples == 100


def test_export_script_from_menu(window: MainWindow, tmp_path: Path) -> None:
    window.open_example(EXAMPLES_DIR / "mnist5k_latency_eventprop.ssproj")
    out = tmp_path / "mnist.py"
    assert window.export_to(out)
    src = out.read_text()
    compile(src, str(out), "exec")
    assert "EventPropCompiler(" in src and "BUILTIN_DATASETS['mnist5k_latency']" in src


def test_autosave_and_recovery(window: MainWindow, qtbot, monkeypatch) -> None:
    build_small_network(window)
    path = window.autosave()
    assert path is not None and path.is_file()
    saved = window.ctl.project.copy()
    # a new session (after a "crash") finds it and recovers it
    other = MainWindow(autosave=False)
    qtbot.addWidget(other)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert other.offer_recovery()
    assert other.ctl.project.same_as(saved)
    assert other.ctl.dirty
    assert project_io.find_recoveries(exclude_session=other.session) == []


def test_palette_and_examples_menu(window: MainWindow) -> None:
    names = [window.palette.list.item(i).text() for i in range(window.palette.list.count())]
    assert names == ["Input", "Poisson input", "LIF", "ALIF", "LeakyIntegrate output", "IF input",
                     "Integrate-and-fire"]
    window.palette.filter.setText("lif")
    visible = [window.palette.list.item(i).text() for i in range(window.palette.list.count())
               if not window.palette.list.item(i).isHidden()]
    assert visible == ["LIF", "ALIF"]
    window.actions_by_name["ex_yin_yang_eventprop"].trigger()
    assert window.ctl.project.name == "Yin-Yang EventProp"
    assert len(window.canvas.graph.all_nodes()) == 3
    assert not window.ctl.dirty


def test_population_fields_types(window: MainWindow) -> None:
    build_small_network(window)
    h = window.ctl.project.populations[1].id
    window.canvas.select([h])
    form = window.inspector.selection.pop_params
    assert isinstance(form.widgets["relative_reset"], QCheckBox)
    form.widgets["relative_reset"].setChecked(False)
    assert window.ctl.project.population(h).params["relative_reset"] is False
    refrac = form.widgets["tau_refrac"]
    refrac.setText("")
    refrac.editingFinished.emit()
    assert window.ctl.project.population(h).params["tau_refrac"] is None
    readout = window.inspector.selection.pop_readout
    assert isinstance(readout, QComboBox)
    readout.setCurrentIndex(readout.findData("spike_count"))
    assert window.ctl.project.population(h).readout == "spike_count"
    assert window.canvas.label(h).endswith("-> spike_count")
    _ = Qt


def test_tab_search_and_palette_drop_create_nodes(window: MainWindow) -> None:
    from PySide6.QtCore import QPoint

    from app.editor.canvas import node_type

    viewer = window.canvas.graph.viewer()
    viewer.search_triggered.emit(node_type(LIFNode), (50.0, 60.0))
    p = window.ctl.project
    assert [x.model for x in p.populations] == ["LeakyIntegrateFire"]
    assert p.populations[0].position == (50.0, 60.0)
    item = window.palette.list.item(0)  # "Input"
    mime = window.palette.list.mimeData([item])
    window.canvas.graph._on_node_data_dropped(mime, QPoint(200, 100))
    p = window.ctl.project
    assert [x.model for x in p.populations] == ["LeakyIntegrateFire", "SpikeInput"]
    window.ctl.undo_stack.undo()
    assert len(window.ctl.project.populations) == 1
    assert len(window.canvas.graph.all_nodes()) == 1


def test_close_with_unsaved_changes_asks(window: MainWindow, monkeypatch) -> None:
    build_small_network(window)
    asked = []

    def cancel(*a, **k):
        asked.append(a)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", cancel)
    assert not window.close()
    assert asked and window.isVisible()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    assert window.close()


def test_edge_labels_show_connectivity_and_synapse(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "shd_eventprop.ssproj")
    texts = sorted(label.text() for label in window.canvas._labels.values())
    assert texts == ["Dense · Exp 5 ms"] * 3
    rec = [c for c in window.ctl.project.connections if c.is_recurrent][0]
    window.canvas.select([], [rec.id])
    assert window.canvas.selected() == ([], [rec.id])
    assert window.inspector.selection.conn_ends.text() == "hidden -> hidden  (recurrent)"


def test_keyboard_shortcuts_on_the_canvas(window: MainWindow, qtbot) -> None:
    from PySide6.QtTest import QTest

    _, h, _ = build_small_network(window)
    viewer = window.canvas.graph.viewer()
    viewer.setFocus()
    window.activateWindow()
    window.canvas.select([h])
    QTest.keyClick(viewer, Qt.Key.Key_Delete)
    assert h not in [p.id for p in window.ctl.project.populations]
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert h in [p.id for p in window.ctl.project.populations]
    QTest.keyClick(viewer, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert h not in [p.id for p in window.ctl.project.populations]


def test_dataset_panel_checks_a_chosen_file_in_the_background(window: MainWindow, qtbot,
                                                               tmp_path: Path) -> None:
    import h5py
    import numpy as np

    path = tmp_path / "shd_train.h5"
    with h5py.File(path, "w") as f:
        vt = f.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(np.float32))
        vu = f.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))
        for k in range(2):
            vt[k] = np.array([0.1, 0.5], np.float32)
            vu[k] = np.array([3, 699], np.uint16)
        f.create_dataset("labels", data=np.array([0, 19], np.uint16))
    window.open_example(EXAMPLES_DIR / "shd_eprop.ssproj")
    panel = window.inspector.dataset
    panel.path.setText(str(path))
    panel.path.editingFinished.emit()
    assert window.ctl.project.dataset.path == str(path)
    qtbot.waitUntil(lambda: panel.check.text().startswith("✓"), timeout=10000)
    assert "2 examples, 700 inputs, 20 classes" in panel.check.text()
    out = [p for p in window.ctl.project.populations if p.name == "output"][0]
    window.canvas.select([out.id])
    window.inspector.selection.pop_size.enter("10")
    assert "20 classes" in panel.check.text() and panel.check.text().startswith("⚠")


def test_run_gui_opens_the_given_project(qtbot, monkeypatch, tmp_path: Path) -> None:
    import app.editor
    from app.editor import main_window

    opened = []
    monkeypatch.setattr(main_window.QApplication, "exec", lambda self: 0)
    monkeypatch.setattr(main_window.MainWindow, "open_path",
                        lambda self, p: opened.append(str(p)) or True)
    assert app.editor.run_gui([str(tmp_path / "x.ssproj")]) == 0
    assert opened == [str(tmp_path / "x.ssproj")]
    for w in main_window.QApplication.topLevelWidgets():
        if isinstance(w, main_window.MainWindow):
            w.ctl.undo_stack.setClean()
            w.close()
