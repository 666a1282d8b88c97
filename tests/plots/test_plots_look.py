"""Readable plots: SI tick labels, no scale factor in axis titles, small
legends, all four plots at once, a raster that spans the whole trial."""
from __future__ import annotations

import numpy as np
import pytest

from app.plots import PlotsPanel
from app.plots.axes import format_ticks


@pytest.fixture
def panel(qtbot):
    widget = PlotsPanel()
    widget.resize(900, 330)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.mark.parametrize("values,spacing,expected", [
    ([0.0, 0.2, 0.4], 0.2, ["0.0", "0.2", "0.4"]),
    ([0.0, 0.25, 0.5], 0.25, ["0.00", "0.25", "0.50"]),
    ([0, 10, 20], 10, ["0", "10", "20"]),
    ([1.0982, 1.0984, 1.0986], 0.0002, ["1.0982", "1.0984", "1.0986"]),
    ([0, 5000, 10000, 15000], 5000, ["0", "5k", "10k", "15k"]),
    ([0, 2e6, 4e6], 2e6, ["0", "2M", "4M"]),
    ([-0.004, -0.002, 0.0, 0.002], 0.002, ["-4m", "-2m", "0", "2m"]),
    ([2e-6, 4e-6], 2e-6, ["2µ", "4µ"]),
    ([0.0, 2.5, 5.0], 2.5, ["0.0", "2.5", "5.0"]),
    ([1e-17, 0.5], 0.5, ["0.0", "0.5"]),
    ([-1e-17, 0.5], 0.5, ["0.0", "0.5"]),
])
def test_format_ticks(values, spacing, expected):
    assert format_ticks(values, spacing) == expected


def _tick_texts(plot) -> list[str]:
    out = []
    for axis_name in ("left", "bottom"):
        axis = plot.getAxis(axis_name)
        lo, hi = plot.viewRange()[0 if axis_name == "bottom" else 1]
        for spacing, values in axis.tickValues(lo, hi, 300):
            out += axis.tickStrings(values, 1.0, spacing)
    return out


def test_flat_loss_has_short_ticks_and_no_scale_in_the_title(panel):
    """A loss stuck at ln 3 (noise 1e-15) gave ticks like '1.098612308502200'."""
    rng = np.random.default_rng(0)
    for step in range(40):
        panel.update_from_message({"kind": "batch_metrics", "run": "r", "epoch": 0,
                                   "batch": step, "loss": float(np.log(3) + rng.normal(0, 1e-15)),
                                   "accuracy": 0.333 + 1e-4 * step})
    panel.curves.redraw_now()
    for plot in (panel.curves.loss_plot, panel.curves.accuracy_plot):
        plot.autoRange()
        texts = _tick_texts(plot)
        assert texts and max(len(t) for t in texts) <= 7, texts
        label = plot.getAxis("left").labelString()
        assert "x0" not in label and "×" not in label and "(" not in label, label


def test_big_and_small_values_get_si_prefixes(panel):
    w = panel.weights
    w.set_weights("c", np.random.default_rng(1).normal(0, 2e-3, 5000))
    w.redraw_now()
    w.plot.autoRange()
    texts = _tick_texts(w.plot)
    assert any(t.endswith("m") for t in texts), texts
    assert "(" not in w.plot.getAxis("bottom").labelString()


def test_voltage_legend_is_small(panel):
    v = panel.voltage
    panel.setCurrentWidget(v)
    t = np.arange(300) * 0.1
    v.set_traces(t, np.random.default_rng(2).normal(0, 0.3, (300, 8)), list(range(8)))
    v.redraw_now()
    legend = v.legend.boundingRect()
    view = v.plot.getViewBox().boundingRect()
    assert legend.width() <= 0.35 * view.width(), (legend, view)
    assert legend.height() <= 0.3 * view.height(), (legend, view)


def test_voltage_axis_label_is_not_cut(panel):
    v = panel.voltage
    panel.setCurrentWidget(v)
    v.redraw_now()
    axis = v.plot.getAxis("left")
    label = axis.label  # drawn rotated: its width runs along the axis height
    assert label.boundingRect().width() <= axis.boundingRect().height(), \
        (label.boundingRect(), axis.boundingRect())


def test_run_list_legend_takes_little_width(panel):
    panel.update_from_message({"kind": "batch_metrics", "run": "20261130-231532", "epoch": 0,
                               "batch": 0, "loss": 1.0, "accuracy": 0.5})
    panel.curves.redraw_now()
    assert panel.curves.run_list.width() <= 0.2 * panel.curves.width()


def test_grid_shows_all_four_plots_at_once(panel, qtbot):
    panel.resize(1000, 600)
    panel.set_layout("grid")
    qtbot.wait(50)
    assert panel.count() == 1
    assert all(p.isVisible() for p in panel.plots())
    assert all(p.more_button.isVisible() and not p.png_button.isVisible()
               for p in panel.plots())
    # narrow enough for the plots dock of a 1366x768 window
    assert panel.minimumSizeHint().width() <= 900
    panel.set_layout("tabs")
    assert panel.count() == 4 and panel.currentWidget() is panel.curves
    assert panel.curves.png_button.isVisibleTo(panel.curves)


def test_clear_all_forgets_every_plot(panel):
    panel.update_from_message({"kind": "batch_metrics", "run": "r", "epoch": 0, "batch": 0,
                               "loss": 1.0, "accuracy": 0.5})
    panel.update_from_message({"kind": "raster", "population": "hidden",
                               "times": np.array([1.0]), "ids": np.array([0]), "n": 3,
                               "t_max": 10.0})
    panel.update_from_message({"kind": "voltage", "population": "hidden",
                               "t": np.arange(3.0), "V": np.zeros((3, 1)), "ids": [0],
                               "v_thresh": 1.0})
    panel.update_from_message({"kind": "weights", "connection": "c", "values": np.ones(4)})
    panel.curves.redraw_now()
    panel.curves.loss_plot.autoRange()
    panel.clear_all()
    assert panel.curves.runs() == []
    (x0, x1), (y0, y1) = panel.curves.loss_plot.viewRange()
    assert (x0, x1, y0, y1) == (0.0, 1.0, 0.0, 1.0)
    assert panel.raster.current_population() is None
    assert panel.raster.spikes("hidden")[0].size == 0
    assert panel.voltage.shown_ids() == [] and panel.voltage.threshold is None
    assert panel.weights.connections() == []


def test_raster_spans_the_whole_trial(panel):
    r = panel.raster
    panel.setCurrentWidget(r)
    r.set_spikes([23.0, 26.5], [3, 40], 100, 30.0, population="hidden")
    r.redraw_now()
    r.plot.autoRange()
    (x0, x1), (y0, y1) = r.plot.viewRange()
    assert x0 <= 0.0 and x1 >= 30.0
    assert y0 <= 0.0 and y1 >= 99.0
