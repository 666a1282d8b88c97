"""The compiler panel's Deep R box: shown for the training compilers, ticking a
connection rewires it (undoable), deleting the connection drops it."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
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
    return w


def test_deep_r_box_edits_the_document(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "pattern_eprop.ssproj")
    panel = window.inspector.compiler
    assert panel.deep_r_box.isVisibleTo(panel)
    assert "deep_r_l1_strength" in panel.form.widgets
    rows = panel.deep_r_conns
    names = [rows.item(i).text() for i in range(rows.count())]
    assert names == [c.name for c in window.ctl.project.connections]
    before = window.ctl.project.copy()
    rows.item(0).setCheckState(Qt.CheckState.Checked)
    first = window.ctl.project.connections[0]
    assert window.ctl.project.compiler.deep_r_conns == [first.id]
    # kept when switching to the other training compiler, gone for inference
    panel.kind.setCurrentIndex(panel.kind.findData("EventPropCompiler"))
    assert window.ctl.project.compiler.deep_r_conns == [first.id]
    panel.kind.setCurrentIndex(panel.kind.findData("InferenceCompiler"))
    assert window.ctl.project.compiler.deep_r_conns == []
    assert not panel.deep_r_box.isVisibleTo(panel)
    for _ in range(3):
        window.ctl.undo_stack.undo()
    assert window.ctl.project.same_as(before)
    window.ctl.undo_stack.redo()
    assert window.ctl.project.compiler.deep_r_conns == [first.id]
    assert panel.deep_r_conns.item(0).checkState() == Qt.CheckState.Checked


def test_deleting_a_connection_removes_it_from_deep_r() -> None:
    from app.editor.canvas import remove_items
    from app.project.examples import load_example

    p = load_example("pattern_eprop")
    p.compiler.deep_r_conns = [c.id for c in p.connections]
    remove_items(p, [], [p.connections[0].id])
    assert p.compiler.deep_r_conns == [c.id for c in p.connections]
