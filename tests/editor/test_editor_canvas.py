"""The canvas as a person uses it: palette double-clicks, Tab search, clicking
edges, the right-click menu; driven through qtbot on the real widgets."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.editor.canvas import InputNode, LIFNode, OutputNode
from app.editor.main_window import MainWindow
from app.project.examples import EXAMPLES_DIR


@pytest.fixture
def window(qtbot, monkeypatch):
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    w.resize(1280, 728)
    w.show()
    qtbot.waitExposed(w)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    return w


def node_rects(w: MainWindow) -> list:
    return [w.canvas.node(p.id).view.sceneBoundingRect() for p in w.ctl.project.populations]


def test_palette_double_clicks_place_nodes_apart_left_to_right(window: MainWindow) -> None:
    lst = window.palette.list
    for row in (0, 2, 4):  # Input, LIF, LeakyIntegrate output
        item = lst.item(row)
        rect = lst.visualItemRect(item)
        lst.itemDoubleClicked.emit(item)
        assert rect.isValid()
    rects = node_rects(window)
    assert len(rects) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert not rects[i].intersects(rects[j]), (rects[i], rects[j])
    xs = [r.left() for r in rects]
    assert xs == sorted(xs)  # a chain, in the order they were added
    # every new node is on screen
    viewer = window.canvas.graph.viewer()
    shown = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    assert shown.intersects(rects[-1])


def test_free_position_avoids_every_node(window: MainWindow) -> None:
    cv = window.canvas
    ids = [cv.add_node(LIFNode, (0.0, 0.0)) for _ in range(6)]
    rects = [cv.node(i).view.sceneBoundingRect() for i in ids]
    assert all(not a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1:])
    assert tuple(window.ctl.project.population(ids[0]).position) == (0.0, 0.0)


def test_node_labels_fit_inside_their_boxes(window: MainWindow) -> None:
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")
    for pop in window.ctl.project.populations:
        view = window.canvas.node(pop.id).view
        text = view.text_item
        label = text.mapRectToParent(text.boundingRect())
        assert view.boundingRect().contains(label), (pop.name, label, view.boundingRect())
        assert pop.name in window.canvas.label(pop.id)
    # a long name grows the box instead of spilling out
    hidden = [p for p in window.ctl.project.populations if p.name == "hidden"][0]
    window.ctl.edit("rename", lambda p: setattr(p.population(hidden.id), "name",
                                                "a_rather_long_hidden_layer_name"))
    view = window.canvas.node(hidden.id).view
    label = view.text_item.mapRectToParent(view.text_item.boundingRect())
    assert view.boundingRect().contains(label)


def test_tab_on_the_canvas_opens_the_search_and_adds_a_node(window: MainWindow, qtbot) -> None:
    viewer = window.canvas.graph.viewer()
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_Tab)
    search = window.canvas.input.search
    assert search.isVisible()
    assert viewer.hasFocus() or search.edit.hasFocus()  # focus did not move to another widget
    qtbot.keyClicks(search.edit, "alif")
    assert search.visible_texts() == ["ALIF"]
    qtbot.keyClick(search.edit, Qt.Key.Key_Return)
    assert not search.isVisible()
    assert [p.model for p in window.ctl.project.populations] == ["AdaptiveLeakyIntegrateFire"]
    window.ctl.undo_stack.undo()
    assert window.ctl.project.populations == []


def _edge_point(window: MainWindow, cid: str, offset: int) -> QPoint:
    cv = window.canvas
    c = window.ctl.project.connection(cid)
    pipe = cv._pipes()[(c.source, c.target)]
    mid = pipe.path().pointAtPercent(0.5)
    return cv.graph.viewer().mapFromScene(mid) + QPoint(0, offset)


def test_clicking_near_an_edge_selects_it(window: MainWindow, qtbot) -> None:
    cv = window.canvas
    i = cv.add_node(InputNode, (0, 0))
    h = cv.add_node(LIFNode, (400, 150))
    cv.node(i).output(0).connect_to(cv.node(h).input(0))
    cid = window.ctl.project.connections[0].id
    cv.graph.clear_selection()
    viewport = cv.graph.viewer().viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_edge_point(window, cid, 5))
    assert cv.selected() == ([], [cid])
    assert window.inspector.selection.current == ("connection", cid)
    # its label is a target too
    cv.graph.clear_selection()
    label = cv._labels[cid]
    centre = cv.graph.viewer().mapFromScene(label.sceneBoundingRect().center())
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=centre)
    assert cv.selected() == ([], [cid])
    # far from the edge: nothing selected
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_edge_point(window, cid, 60))
    assert cv.selected() == ([], [])


def test_context_menu_is_ours_and_never_offers_nodegraph_undo(window: MainWindow, qtbot) -> None:
    cv = window.canvas
    i = cv.add_node(InputNode, (0, 0))
    h = cv.add_node(LIFNode, (300, 0))
    cv.add_node(OutputNode, (600, 0))
    cv.node(i).output(0).connect_to(cv.node(h).input(0))
    # colours and names set by sync must not pile up in NodeGraphQt's own undo
    window.validate()
    qtbot.waitUntil(lambda: cv.graph.undo_stack().count() == 0, timeout=1000)
    viewer = cv.graph.viewer()
    pos = viewer.mapFromScene(cv.node(h).view.sceneBoundingRect().center())
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(viewer.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, pos, viewer.viewport().mapToGlobal(pos)))
    menu = cv.input.menu
    assert menu is not None and menu.isVisible()
    texts = [a.text() for a in menu.actions()]
    assert not any("property" in t.lower() or "renamed" in t.lower() for t in texts), texts
    assert cv.selected() == ([h], [])  # right-click selected the node
    assert "Delete 1 population" in texts
    undo = [a for a in menu.actions() if a.text().startswith("Undo")][0]
    assert undo.text() == "Undo Connect" and undo.isEnabled()
    undo.trigger()
    menu.hide()
    assert window.ctl.project.connections == []
    assert len(cv._pipes()) == 0  # canvas and document agree
    # deleting through the menu is one document edit
    QApplication.sendEvent(viewer.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, pos, viewer.viewport().mapToGlobal(pos)))
    delete = [a for a in cv.input.menu.actions() if a.text().startswith("Delete")][0]
    delete.trigger()
    cv.input.menu.hide()
    assert h not in [p.id for p in window.ctl.project.populations]
    assert len(cv.graph.all_nodes()) == 2
    window.ctl.undo_stack.undo()
    assert len(cv.graph.all_nodes()) == 3


def test_every_schema_model_has_a_node(window: MainWindow) -> None:
    """The canvas follows the schema: a neuron model added there needs no editor code."""
    from app.editor.canvas import NODE_BY_MODEL, _schema_node
    from app.project import schema

    assert set(NODE_BY_MODEL) == set(schema.NEURON_MODELS)
    cls = _schema_node("TestNeuron", "neuron")
    assert cls.MODEL == "TestNeuron" and cls.ROLE == "neuron" and cls.NODE_NAME == "TestNeuron"
    assert window.palette.list.count() == len(schema.NEURON_MODELS)


def test_nodes_are_drawn_at_a_readable_zoom(window: MainWindow, qtbot) -> None:
    viewer = window.canvas.graph.viewer()
    qtbot.wait(20)  # the window's first fit
    assert viewer.transform().m11() == pytest.approx(1.0, abs=0.05)
    lst = window.palette.list
    for row in (0, 2, 4):
        lst.itemDoubleClicked.emit(lst.item(row))
    window.canvas.fit()
    assert 0.6 <= viewer.transform().m11() <= 1.15  # fit never blows nodes up
