"""Convolution/pooling connectivity and integrate-and-fire populations in the real
editor: palette, inspector fields (shape, pairs), inferred sizes, undo."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app.editor.canvas import IFInputNode, IFNode, InputNode, LIFNode, OutputNode
from app.editor.fields import IntEdit, PairEdit
from app.editor.main_window import MainWindow


@pytest.fixture
def window(qtbot, monkeypatch):
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    w.show()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(w, "show_error", lambda *a, **k: setattr(w, "_last_error", a))
    return w


def test_conv_network_is_built_and_edited_in_the_inspector(window: MainWindow) -> None:
    cv = window.canvas
    i = cv.add_node(InputNode, (0, 0))
    h = cv.add_node(LIFNode, (300, 0))
    o = cv.add_node(OutputNode, (600, 0))
    cv.node(i).output(0).connect_to(cv.node(h).input(0))
    cv.node(h).output(0).connect_to(cv.node(o).input(0))
    sel = window.inspector.selection
    cv.select([i])
    sel.pop_shape.setText("12, 12, 2")
    sel.pop_shape.editingFinished.emit()
    p = window.ctl.project
    assert (p.population(i).shape, p.population(i).size) == ([12, 12, 2], 288)
    sel.pop_shape.setText("12, 0")
    sel.pop_shape.editingFinished.emit()
    assert window.ctl.project.population(i).shape == [12, 12, 2]  # refused at the field
    assert "kept the old one" in sel.pop_shape.toolTip()
    cid = window.ctl.project.connections[0].id
    cv.select([], [cid])
    combo = sel.conn_connectivity.combo
    combo.setCurrentIndex(combo.findData("Conv2D"))
    p = window.ctl.project
    assert p.connection(cid).connectivity["type"] == "Conv2D"
    # the target takes the convolution's output shape: 3x3 'valid', 8 filters
    assert (p.population(h).shape, p.population(h).size) == ([10, 10, 8], 800)
    form = sel.conn_connectivity.form
    filters = form.widgets["filters"]
    assert isinstance(filters, IntEdit)
    assert filters.enter("4")
    assert window.ctl.project.population(h).size == 400
    size = form.widgets["conv_size"]
    assert isinstance(size, PairEdit) and size.text() == "3, 3"
    size.setText("5")
    size.editingFinished.emit()
    p = window.ctl.project
    assert p.connection(cid).connectivity["conv_size"] == [5, 5]
    assert p.population(h).shape == [8, 8, 4]
    size.setText("2, x")
    size.editingFinished.emit()
    assert window.ctl.project.connection(cid).connectivity["conv_size"] == [5, 5]
    padding = form.widgets["conv_padding"]
    padding.setCurrentIndex(padding.findData("same"))
    assert window.ctl.project.population(h).shape == [12, 12, 4]
    assert "Conv2D 5x5x4" in cv._labels[cid].text()
    assert "12x12x4" in cv.label(h)
    # pooling has fixed weights: the weight editor is off
    combo.setCurrentIndex(combo.findData("AvgPool2D"))
    assert not sel.conn_weight.isEnabled()
    assert window.ctl.project.population(h).shape == [6, 6, 2]
    # every step undoes, sizes included
    stack = window.ctl.undo_stack
    stack.undo()
    assert window.ctl.project.population(h).shape == [12, 12, 4]
    stack.undo()
    stack.undo()
    assert window.ctl.project.population(h).size == 400


def test_integrate_fire_nodes_are_in_the_palette(window: MainWindow) -> None:
    names = [window.palette.list.item(k).text() for k in range(window.palette.list.count())]
    assert "IF input" in names and "Integrate-and-fire" in names
    a = window.canvas.add_node(IFInputNode, (0, 0))
    b = window.canvas.add_node(IFNode, (300, 0))
    p = window.ctl.project
    assert p.population(a).model == "IntegrateFireInput" and p.population(a).is_input
    assert p.population(b).model == "IntegrateFire"
    window.canvas.select([b])
    form = window.inspector.selection.pop_params
    assert set(form.widgets) == {"v_thresh", "v_reset", "v"}
