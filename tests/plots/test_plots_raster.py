"""RasterPlot: tick curve vs binned image, populations, CSV/PNG export."""

import csv

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage

from app.plots.raster import RasterPlot, TickCurve, bin_spikes, tick_coordinates


@pytest.fixture
def raster(qtbot):
    widget = RasterPlot(max_ticks=1000)
    widget.resize(640, 360)
    qtbot.addWidget(widget)
    return widget


def random_spikes(n, n_neurons=50, t_max=100.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, t_max, n), rng.integers(0, n_neurons, n)


def test_tick_coordinates_are_vertical_pairs():
    x, y = tick_coordinates(np.array([1.0, 2.5]), np.array([3, 0]))
    np.testing.assert_allclose(x, [1.0, 1.0, 2.5, 2.5])
    np.testing.assert_allclose(y, [2.6, 3.4, -0.4, 0.4])


def test_tick_coordinates_into_reused_buffers():
    out = (np.full(10, np.nan), np.full(10, np.nan))
    x, y = tick_coordinates(np.array([1.0, 2.5]), np.array([3, 0]), out=out)
    assert np.shares_memory(x, out[0]) and np.shares_memory(y, out[1])
    np.testing.assert_allclose(x, [1.0, 1.0, 2.5, 2.5])
    np.testing.assert_allclose(y, [2.6, 3.4, -0.4, 0.4])


def _grab_array(widget):
    image = widget.graphics.grab().toImage()
    bits = np.frombuffer(image.constBits(), np.uint8)[:image.sizeInBytes()]
    return bits.reshape(image.height(), image.bytesPerLine()).copy()


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize(("n", "n_neurons", "size", "view"), [
    (100_000, 1000, (1000, 400), None),  # sub-pixel ticks, 1-2 rows each
    (5000, 50, (640, 360), None),  # ticks several pixels tall
    (20000, 200, (1000, 400), ((100, 300), (20, 60))),  # zoomed in: clipped ticks
    (3000, 30, (800, 600), ((10, 20), (-1, 8))),  # ~50 px ticks, some cut by the frame
])
def test_fast_tick_paint_is_pixel_identical_to_drawlines(qtbot, monkeypatch, theme, n,
                                                         n_neurons, size, view):
    raster = RasterPlot(theme=theme)
    raster.resize(*size)
    qtbot.addWidget(raster)
    raster.show()
    qtbot.waitExposed(raster)
    raster.set_spikes(*random_spikes(n, n_neurons, 1000.0, seed=n), n_neurons, 1000.0)
    raster.redraw_now()
    if view is not None:
        raster.plot.setRange(xRange=view[0], yRange=view[1], padding=0)
    monkeypatch.setattr(TickCurve, "max_fast_rows", 1000)
    slow_paints = []
    original = pg.PlotCurveItem.paint
    monkeypatch.setattr(pg.PlotCurveItem, "paint",
                        lambda *a: (slow_paints.append(1), original(*a)))
    fast = _grab_array(raster)
    assert not slow_paints  # the numpy path drew the ticks
    monkeypatch.setattr(TickCurve, "max_fast_rows", -1)  # force QPainter.drawLines
    slow = _grab_array(raster)
    assert slow_paints
    assert np.count_nonzero(fast != fast[5, 5]) > 1000  # something was drawn
    np.testing.assert_array_equal(fast, slow)


def test_fast_tick_paint_not_used_for_thick_or_antialiased_pens(raster):
    raster.show()
    raster.set_spikes(*random_spikes(300), 50, 100.0)
    raster.redraw_now()
    calls = []
    raster.curve._draw_ticks_image = lambda *a: calls.append(1) or True
    raster.graphics.grab()
    assert calls
    calls.clear()
    raster.curve.setPen(pg.mkPen("w", width=2))
    raster.graphics.grab()
    raster.curve.setPen(pg.mkPen("w", width=1, cosmetic=True))
    raster.curve.opts["antialias"] = True
    raster.graphics.grab()
    assert not calls


def test_below_threshold_draws_one_pairs_curve_with_2n_points(raster):
    times, ids = random_spikes(800)
    raster.set_spikes(times, ids, 50, 100.0)
    raster.redraw_now()
    curves = [i for i in raster.plot.items if isinstance(i, pg.PlotCurveItem)]
    assert curves == [raster.curve]
    x, y = raster.curve.getData()
    assert x.size == y.size == 2 * 800
    assert raster.curve.opts["connect"] == "pairs"
    np.testing.assert_allclose(x[0::2], times)
    np.testing.assert_allclose((y[0::2] + y[1::2]) / 2, ids)
    assert raster.mode == "ticks"
    assert not raster.image.isVisible()


def test_above_threshold_draws_image_with_all_spikes_counted(raster):
    times, ids = random_spikes(5000)
    times[0] = 100.0  # a spike exactly at t_max is still counted
    raster.set_spikes(times, ids, 50, 100.0)
    raster.redraw_now()
    assert raster.mode == "histogram"
    assert raster.image.isVisible() and not raster.curve.isVisible()
    counts = raster.image.image
    assert counts.shape == (100, 50)  # 1 ms bins x one row per neuron
    assert counts.sum() == 5000
    # per-neuron totals survive the binning
    np.testing.assert_array_equal(counts.sum(axis=0), np.bincount(ids, minlength=50))
    rect = raster.image.mapRectToParent(raster.image.boundingRect())
    assert rect.left() == pytest.approx(0.0) and rect.width() == pytest.approx(100.0)
    assert rect.top() == pytest.approx(-0.5) and rect.height() == pytest.approx(50.0)


def test_bin_spikes_groups_neurons_and_drops_out_of_range():
    times = np.array([0.0, 9.99, 10.0, 5.0, -1.0, 11.0])
    ids = np.array([0, 3, 3, 4, 1, 1])
    counts = bin_spikes(times, ids, n_neurons=4, t_max=10.0, n_time_bins=2, n_id_bins=2)
    # id 4 is outside 4 neurons, t=-1 and t=11 outside the window
    np.testing.assert_array_equal(counts, [[1, 0], [0, 2]])


def test_switches_back_to_ticks_when_spikes_shrink(raster):
    raster.set_spikes(*random_spikes(5000), 50, 100.0)
    raster.redraw_now()
    raster.set_spikes(*random_spikes(10), 50, 100.0)
    raster.redraw_now()
    assert raster.mode == "ticks" and raster.curve.getData()[0].size == 20
    assert raster.image_counts() is None


def test_append_accumulates(raster):
    t1, i1 = random_spikes(300, seed=1)
    t2, i2 = random_spikes(400, seed=2)
    raster.set_spikes(t1, i1, 50, 100.0)
    raster.append_spikes(t2, i2)
    times, ids = raster.spikes()
    np.testing.assert_array_equal(times, np.concatenate([t1, t2]))
    raster.redraw_now()
    assert raster.curve.getData()[0].size == 2 * 700


def test_mismatched_lengths_raise(raster):
    with pytest.raises(ValueError, match="same length"):
        raster.set_spikes([1.0, 2.0], [0], 5, 10.0)


def test_population_picker_switches_data_and_emits(raster, qtbot):
    raster.set_populations(["hidden", "output"])
    raster.set_spikes([1.0, 2.0], [0, 1], 2, 10.0, population="hidden")
    raster.set_spikes([5.0], [0], 1, 10.0, population="output")
    raster.redraw_now()
    assert raster.curve.getData()[0].size == 4
    with qtbot.waitSignal(raster.population_changed) as blocker:
        raster.population_combo.setCurrentText("output")
    assert blocker.args == ["output"]
    raster.redraw_now()
    np.testing.assert_allclose(raster.curve.getData()[0], [5.0, 5.0])
    # keeping the current population when the list is refreshed
    raster.set_populations(["input", "output"])
    assert raster.current_population() == "output"


def test_csv_round_trip(raster, tmp_path):
    times, ids = random_spikes(200)
    raster.set_spikes(times, ids, 50, 100.0)
    path = tmp_path / "raster.csv"
    raster.export_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time_ms", "neuron_id"]
    data = np.array(rows[1:], dtype=float)
    np.testing.assert_array_equal(data[:, 0], times)  # exact: repr round-trips floats
    np.testing.assert_array_equal(data[:, 1].astype(int), ids)


def test_png_export_is_valid_and_sized(raster, tmp_path):
    raster.show()
    raster.set_spikes(*random_spikes(300), 50, 100.0)
    path = tmp_path / "raster.png"
    raster.export_png(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull()
    ratio = raster.graphics.devicePixelRatioF()
    assert image.width() == round(raster.graphics.width() * ratio)
    assert image.height() == round(raster.graphics.height() * ratio)
    assert image.width() > 300  # the plot area of a 640 px wide widget
    # the image is not one flat colour: ticks and axes were drawn
    assert len({image.pixel(x, y) for x in range(0, image.width(), 7)
                for y in range(0, image.height(), 7)}) > 2


def test_png_export_to_missing_folder_raises(raster, tmp_path):
    with pytest.raises(OSError):
        raster.export_png(tmp_path / "no" / "such" / "dir" / "x.png")
