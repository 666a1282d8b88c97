"""VoltagePlot: neuron picker parsing/errors, traces, threshold, CSV round trip."""

import csv

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from app.plots.voltage import (
    MAX_TRACES,
    NeuronSpecError,
    VoltagePlot,
    format_neuron_ids,
    parse_neuron_spec,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-4,7", [0, 1, 2, 3, 4, 7]),
        (" 7 , 0 - 2 ", [0, 1, 2, 7]),
        ("3;1 2", [1, 2, 3]),
        ("5..6, 8:9", [5, 6, 8, 9]),
        ("2,2,1-2,", [1, 2]),
        ("", []),
        ("   ", []),
        ("4-4", [4]),
    ],
)
def test_parse_neuron_spec(text, expected):
    assert parse_neuron_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "'a' is not a neuron id or range"),
        ("0-x", "'0-x' is not a neuron id or range"),
        ("1.5", "'1.5' is not a neuron id or range"),
        ("5-2", "goes backwards; write 2-5"),
        ("-3", "negative numbers are not allowed"),
        ("1-2-3", "'1-2-3' is not a neuron id or range"),
        ("0-10", "has 10 neurons, so ids go from 0 to 9"),
        ("0-999999999", "too many"),
    ],
)
def test_parse_neuron_spec_errors(text, message):
    n = 10 if text == "0-10" else None
    with pytest.raises(NeuronSpecError, match=message):
        parse_neuron_spec(text, n_neurons=n, max_count=1000)


def test_format_is_inverse_of_parse():
    ids = [0, 1, 2, 7, 9, 10]
    assert format_neuron_ids(ids) == "0-2,7,9-10"
    assert parse_neuron_spec(format_neuron_ids(ids)) == ids


@pytest.fixture
def voltage(qtbot):
    widget = VoltagePlot()
    widget.resize(640, 360)
    qtbot.addWidget(widget)
    return widget


def traces(T=50, ids=(0, 1, 2, 3, 4)):
    t = np.arange(T) * 0.5
    V = np.sin(t[:, None] + np.arange(len(ids))[None, :])
    return t, V, list(ids)


def visible_curves(plot):
    return [i for i in plot.plot.items if isinstance(i, pg.PlotDataItem) and i.isVisible()]


def test_traces_threshold_and_picker(voltage, qtbot):
    t, V, ids = traces()
    voltage.set_traces(t, V, ids)
    voltage.set_threshold(0.8)
    voltage.redraw_now()
    assert len(visible_curves(voltage)) == 5
    assert voltage.threshold_line.isVisible()
    assert voltage.threshold_line.value() == pytest.approx(0.8)
    assert voltage.threshold_line.pen.style() == Qt.PenStyle.DashLine

    qtbot.keyClicks(voltage.neuron_edit, "1,3")
    assert voltage.picked_neurons == []  # typing validates, Enter applies
    with qtbot.waitSignal(voltage.neurons_changed) as blocker:
        qtbot.keyClick(voltage.neuron_edit, Qt.Key.Key_Return)
    assert blocker.args == [[1, 3]]
    voltage.redraw_now()
    shown = visible_curves(voltage)
    assert voltage.shown_ids() == [1, 3]
    np.testing.assert_allclose(shown[0].getData()[1], V[:, 1])
    np.testing.assert_allclose(shown[1].getData()[1], V[:, 3])

    voltage.set_threshold(None)
    voltage.redraw_now()
    assert not voltage.threshold_line.isVisible()


def test_bad_picker_text_shows_error_and_keeps_selection(voltage):
    voltage.set_traces(*traces())
    voltage.set_neuron_spec("0-2")
    assert voltage.picked_neurons == [0, 1, 2]
    voltage.set_neuron_spec("0-2,x")
    assert "Neuron picker: 'x' is not a neuron id or range" in voltage.error_text
    assert voltage.picked_neurons == [0, 1, 2]  # previous selection kept
    voltage.set_neuron_spec("0-2,4")
    assert voltage.error_text == ""
    assert voltage.picked_neurons == [0, 1, 2, 4]


def test_typing_shows_error_live(voltage, qtbot):
    qtbot.keyClicks(voltage.neuron_edit, "0-")
    assert "'0-' is not a neuron id or range" in voltage.error_text
    qtbot.keyClicks(voltage.neuron_edit, "3")
    assert voltage.error_text == ""


def test_population_size_bounds_picker(voltage):
    voltage.set_population_size(3)
    voltage.set_neuron_spec("2-5")
    assert "has 3 neurons" in voltage.error_text


def test_unrecorded_picked_neurons_are_noted(voltage):
    voltage.set_traces(*traces())
    voltage.set_neuron_spec("1,8-9")
    voltage.redraw_now()
    assert voltage.shown_ids() == [1]
    assert "not recorded: 8-9" in voltage.note_label.text()


def test_trace_count_is_capped(voltage):
    ids = list(range(MAX_TRACES + 10))
    voltage.set_traces(*traces(ids=ids))
    voltage.redraw_now()
    assert len(visible_curves(voltage)) == MAX_TRACES
    assert f"showing first {MAX_TRACES}" in voltage.note_label.text()


def test_shape_mismatch_raises(voltage):
    with pytest.raises(ValueError, match="shape"):
        voltage.set_traces(np.arange(10), np.zeros((10, 3)), [0, 1])


def test_csv_round_trip(voltage, tmp_path):
    t, V, ids = traces()
    voltage.set_traces(t, V, ids)
    voltage.set_neuron_spec("0,2")
    path = tmp_path / "v.csv"
    voltage.export_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["t_ms", "v_0", "v_2"]
    data = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(data[:, 0], t)
    np.testing.assert_array_equal(data[:, 1:], V[:, [0, 2]])
