"""CurvesPlot (EMA smoothing, runs) and WeightHistogram."""

import csv

import numpy as np
import pytest

from app.plots.curves import CurvesPlot, ema_smooth, split_series
from app.plots.weights import WeightHistogram, weight_histogram


def test_ema_matches_hand_computation():
    # weight 0.5: last = 0.5, 1.25, 2.125; debias 0.5, 0.75, 0.875
    np.testing.assert_allclose(ema_smooth([1.0, 2.0, 3.0], 0.5), [1.0, 5 / 3, 2.125 / 0.875])
    # weight 0.9 on [4, 0]: last = 0.4, 0.36; debias 0.1, 0.19
    np.testing.assert_allclose(ema_smooth([4.0, 0.0], 0.9), [4.0, 0.36 / 0.19])


def test_ema_edge_cases():
    y = np.array([3.0, 1.0, 4.0])
    np.testing.assert_array_equal(ema_smooth(y, 0.0), y)
    out = ema_smooth([1.0, np.nan, 3.0], 0.5)
    assert np.isnan(out[1])  # passed through, does not poison later values
    np.testing.assert_allclose(out[[0, 2]], ema_smooth([1.0, 3.0], 0.5))
    with pytest.raises(ValueError):
        ema_smooth(y, 1.0)


def test_split_series():
    assert split_series("epoch/val_loss") == ("epoch", "val_loss")
    with pytest.raises(ValueError, match="should look like"):
        split_series("loss")


@pytest.fixture
def curves(qtbot):
    widget = CurvesPlot(smoothing=0.6)
    widget.resize(800, 360)
    qtbot.addWidget(widget)
    return widget


def test_incremental_smoothing_equals_full(curves):
    ys = [1.0 / (i + 1) for i in range(30)]
    for i, y in enumerate(ys[:10]):
        curves.add_point("a", "batch/loss", i, y)
    curves.redraw_now()
    for i, y in enumerate(ys[10:], start=10):
        curves.add_point("a", "batch/loss", i, y)
    curves.redraw_now()
    np.testing.assert_allclose(curves.smoothed_data("a", "batch/loss"), ema_smooth(ys, 0.6))
    smooth_item = curves._runs["a"]["batch/loss"].smooth_item
    np.testing.assert_allclose(smooth_item.getData()[1], ema_smooth(ys, 0.6))
    # moving the slider recomputes with the new weight
    curves.smoothing_slider.setValue(90)
    assert curves.smoothing == pytest.approx(0.9)
    np.testing.assert_allclose(curves.smoothed_data("a", "batch/loss"), ema_smooth(ys, 0.9))


def test_runs_overlay_visibility_and_clear(curves):
    for run in ("a", "b"):
        for i in range(5):
            curves.add_point(run, "batch/loss", i, i)
            curves.add_point(run, "batch/accuracy", i, i / 10)
        curves.add_point(run, "epoch/val_loss", 0, 1.0)
    curves.redraw_now()
    assert curves.runs() == ["a", "b"]
    a_loss = curves._runs["a"]["batch/loss"]
    b_loss = curves._runs["b"]["batch/loss"]
    assert a_loss.smooth_item in curves.loss_plot.items
    assert curves._runs["a"]["batch/accuracy"].smooth_item in curves.accuracy_plot.items
    assert a_loss.smooth_item.opts["pen"].color() != b_loss.smooth_item.opts["pen"].color()
    # epoch series are hidden while the x axis shows batches
    assert not curves._runs["a"]["epoch/val_loss"].smooth_item.isVisible()

    curves.set_run_visible("a", False)
    curves.redraw_now()
    assert not a_loss.smooth_item.isVisible() and b_loss.smooth_item.isVisible()
    assert curves.run_list.item(0).checkState().name == "Unchecked"
    curves.run_list.item(0).setCheckState(curves.run_list.item(1).checkState())  # user ticks
    assert curves.is_run_visible("a")

    curves.set_granularity("epoch")
    curves.redraw_now()
    assert curves._runs["a"]["epoch/val_loss"].smooth_item.isVisible()
    assert not a_loss.smooth_item.isVisible()

    curves.clear_run("a")
    curves.redraw_now()
    assert curves.runs() == ["b"]
    assert a_loss.smooth_item not in curves.loss_plot.items
    assert curves.run_list.count() == 1


def test_bad_series_name_rejected(curves):
    with pytest.raises(ValueError):
        curves.add_point("a", "minute/loss", 0, 1.0)


def test_curves_csv_round_trip(curves, tmp_path):
    for i in range(4):
        curves.add_point("run 1", "batch/loss", i, 2.0 - i * 0.25)
    curves.add_point("run 2", "epoch/val_accuracy", 0, 0.5)
    path = tmp_path / "curves.csv"
    curves.export_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["run", "series", "x", "y", "y_smoothed"]
    assert [r[:2] for r in rows[1:]] == [["run 1", "batch/loss"]] * 4 + [
        ["run 2", "epoch/val_accuracy"]
    ]
    y = [float(r[3]) for r in rows[1:5]]
    assert y == [2.0, 1.75, 1.5, 1.25]
    np.testing.assert_allclose([float(r[4]) for r in rows[1:5]], ema_smooth(y, 0.6))


def test_weight_histogram_function():
    edges, counts = weight_histogram(np.array([0.0, 1.0, 1.0, np.nan]), max_bins=100)
    assert counts.sum() == 3 and edges[0] == 0.0 and edges[-1] == 1.0
    edges, counts = weight_histogram(np.full(5, 2.0))
    assert counts.sum() == 5 and edges[0] < 2.0 < edges[-1]


def test_weight_histogram_widget(qtbot, tmp_path):
    widget = WeightHistogram()
    qtbot.addWidget(widget)
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(40, 25))
    widget.set_weights("in->hid", w1)
    widget.set_weights("hid->out", np.arange(10.0))
    widget.redraw_now()
    assert widget.connections() == ["in->hid", "hid->out"]
    assert widget.current_connection() == "in->hid"
    x, y = widget.bars.getData()
    assert y.sum() == 1000
    with qtbot.waitSignal(widget.connection_changed) as blocker:
        widget.connection_combo.setCurrentText("hid->out")
    assert blocker.args == ["hid->out"]
    widget.redraw_now()
    assert widget.bars.getData()[1].sum() == 10
    assert "n=10" in widget.stats_label.text()

    path = tmp_path / "w.csv"
    widget.export_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["bin_left", "bin_right", "count"]
    edges, counts = widget.histogram()
    assert [int(r[2]) for r in rows[1:]] == counts.tolist()
    np.testing.assert_array_equal([float(r[0]) for r in rows[1:]], edges[:-1])
