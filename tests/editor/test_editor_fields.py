"""Fields refuse bad values visibly and never change what the user typed:
typed through the keyboard with qtbot, as a person would."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.editor.canvas import InputNode, LIFNode, OutputNode
from app.editor.main_window import MainWindow


@pytest.fixture
def window(qtbot, monkeypatch):
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    w.show()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    return w


def type_into(qtbot, field, text: str) -> None:
    """Select all, type ``text`` and press Enter."""
    field.setFocus()
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def network(w: MainWindow) -> tuple[str, str, str]:
    cv = w.canvas
    return (cv.add_node(InputNode, (0, 0)), cv.add_node(LIFNode, (300, 0)),
            cv.add_node(OutputNode, (600, 0)))


def test_a_refused_value_says_why_next_to_the_field(window: MainWindow, qtbot) -> None:
    _, h, _ = network(window)
    window.canvas.select([h])
    tau = window.inspector.selection.pop_params.widgets["tau_mem"]
    type_into(qtbot, tau, "-3")
    assert window.ctl.project.population(h).params["tau_mem"] == 20.0
    assert tau.text() == "20"
    assert tau.error.isVisible()  # not only a tooltip
    assert tau.error.text() == "must be greater than 0 ms; kept 20"
    assert tau.toolTip() == "tau mem must be greater than 0 ms; kept 20"
    # leaving the field does not hide the reason; typing again does
    tau.editingFinished.emit()
    assert tau.error.isVisible()
    qtbot.keyClicks(tau, "5")
    assert not tau.error.isVisible()


@pytest.mark.parametrize("field,text,kept,reason", [
    ("epochs", "-1", "10", "at least 1"),
    ("epochs", "0", "10", "at least 1"),
    ("batch", "0.2", "32", "whole number"),
    ("epochs", "99999999999", "10", "at most 10,000,000"),
    ("seed", "abc", "0", "whole number"),
    ("limit", "-5", "", "at least 1"),
])
def test_training_fields_refuse_instead_of_changing_the_value(window: MainWindow, qtbot, field,
                                                              text, kept, reason) -> None:
    window.ctl.edit("batch", lambda p: p.compiler.params.__setitem__("batch_size", 32))
    before = window.ctl.project.copy()
    w = getattr(window.inspector.training, field)
    window.inspector.show_tab("Training")
    type_into(qtbot, w, text)
    assert window.ctl.project.same_as(before)
    assert w.text() == kept
    assert w.error.isVisible() and reason in w.error.text()
    type_into(qtbot, w, "3")  # a good value is taken and clears the message
    assert not w.error.isVisible()


def test_population_size_refuses_negative_and_huge(window: MainWindow, qtbot) -> None:
    _, h, _ = network(window)
    window.canvas.select([h])
    size = window.inspector.selection.pop_size
    for text, reason in (("-4", "at least 1"), ("99999999999", "at most"),
                         ("12.5", "whole number"), ("", "must not be empty")):
        type_into(qtbot, size, text)
        assert window.ctl.project.population(h).size == 100
        assert size.text() == "100" and reason in size.error.text() and size.error.isVisible()
    type_into(qtbot, size, "250")
    assert window.ctl.project.population(h).size == 250


@pytest.mark.parametrize("text,reason", [
    ("", "must not be empty"),
    ("input", "already used"),
    ("a/b", "letters, digits"),
    ("9lives", "letters, digits"),
])
def test_bad_names_are_refused_with_a_message(window: MainWindow, qtbot, text, reason) -> None:
    _, h, _ = network(window)
    window.canvas.select([h])
    name = window.inspector.selection.pop_name
    type_into(qtbot, name, text)
    assert window.ctl.project.population(h).name == "hidden"
    assert name.text() == "hidden"
    assert name.error.isVisible() and reason in name.error.text()


def test_connection_name_refused_with_a_message(window: MainWindow, qtbot) -> None:
    i, h, _ = network(window)
    window.canvas.node(i).output(0).connect_to(window.canvas.node(h).input(0))
    cid = window.ctl.project.connections[0].id
    window.canvas.select([], [cid])
    name = window.inspector.selection.conn_name
    type_into(qtbot, name, "hidden")
    assert window.ctl.project.connection(cid).name == "input_hidden"
    assert "already used" in name.error.text() and name.error.isVisible()


@pytest.mark.parametrize("param,text,reason", [
    ("tau_mem", "1e300", "at most 100000 ms"),
    ("tau_mem", "0", "greater than 0 ms"),
    ("v_thresh", "-1", "must be above v reset (0)"),
    ("v_thresh", "inf", "finite"),
    ("tau_refrac", "1e9", "at most"),
])
def test_physically_absurd_parameters_are_refused(window: MainWindow, qtbot, param, text,
                                                  reason) -> None:
    _, h, _ = network(window)
    window.canvas.select([h])
    before = dict(window.ctl.project.population(h).params)
    w = window.inspector.selection.pop_params.widgets[param]
    type_into(qtbot, w, text)
    assert window.ctl.project.population(h).params == before
    assert w.error.isVisible() and reason in w.error.text()


def test_reset_above_threshold_refused_at_the_reset_field(window: MainWindow, qtbot) -> None:
    _, h, _ = network(window)
    window.canvas.select([h])
    w = window.inspector.selection.pop_params.widgets["v_reset"]
    type_into(qtbot, w, "1.5")
    assert window.ctl.project.population(h).params["v_reset"] == 0.0
    assert "must be below v thresh (1)" in w.error.text()


def test_uniform_weight_max_must_exceed_min(window: MainWindow, qtbot) -> None:
    i, h, _ = network(window)
    window.canvas.node(i).output(0).connect_to(window.canvas.node(h).input(0))
    cid = window.ctl.project.connections[0].id
    window.canvas.select([], [cid])
    weight = window.inspector.selection.conn_weight
    weight.combo.setCurrentIndex(weight.combo.findData("Uniform"))
    assert window.ctl.project.connection(cid).weight["type"] == "Uniform"
    type_into(qtbot, weight.form.widgets["max"], "-2")
    assert window.ctl.project.connection(cid).weight["max"] == 1.0
    assert "must be at least min (0)" in weight.form.error_text("max")


def test_compiler_fields_have_sensible_ranges(window: MainWindow, qtbot) -> None:
    panel = window.inspector.compiler
    window.inspector.show_tab("Compiler")
    steps = panel.form.widgets["example_timesteps"]
    before = window.ctl.project.compiler.params["example_timesteps"]
    type_into(qtbot, steps, "12.5")
    assert window.ctl.project.compiler.params["example_timesteps"] == before
    assert "whole number" in steps.error.text()
    dt = panel.form.widgets["dt"]
    type_into(qtbot, dt, "0")
    assert "greater than 0 ms" in dt.error.text()
