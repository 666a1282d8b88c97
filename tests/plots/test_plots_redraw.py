"""Redraw policy: setters only mark dirty; a ~25 Hz timer coalesces redraws."""

import time

import numpy as np
import pytest

from app.plots import REDRAW_INTERVAL_MS, CurvesPlot, RasterPlot


def test_many_appends_coalesce_into_one_redraw(qtbot):
    raster = RasterPlot()
    qtbot.addWidget(raster)
    raster.show()
    qtbot.waitExposed(raster)
    qtbot.waitUntil(lambda: not raster.is_dirty, timeout=1000)  # initial theme redraw
    start = raster.redraw_count

    for i in range(200):
        raster.append_spikes([float(i)], [i % 10], n_neurons=10, t_max_ms=200.0)
    # setters alone never redraw
    assert raster.redraw_count == start
    assert raster.is_dirty

    qtbot.waitUntil(lambda: raster.redraw_count > start, timeout=1000)
    qtbot.wait(3 * REDRAW_INTERVAL_MS)  # nothing else pending: no further redraws
    assert raster.redraw_count == start + 1
    assert raster.curve.getData()[0].size == 400


def test_redraw_rate_is_bounded(qtbot):
    curves = CurvesPlot()
    qtbot.addWidget(curves)
    curves.show()
    qtbot.waitExposed(curves)
    start = curves.redraw_count
    t0 = time.perf_counter()
    step = 0
    while step < 80:  # a point every ~5 ms
        curves.add_point("run", "batch/loss", step, 1.0 / (step + 1))
        step += 1
        qtbot.wait(5)
    qtbot.waitUntil(lambda: not curves.is_dirty, timeout=5000)
    elapsed_ms = (time.perf_counter() - t0) * 1000.0
    redraws = curves.redraw_count - start
    # at most one redraw per interval of the time that really passed (a loaded machine
    # stretches the waits), plus slack for the last one; far fewer than points
    assert 1 <= redraws <= elapsed_ms // REDRAW_INTERVAL_MS + 3
    assert redraws < step / 3


def test_hidden_widget_defers_redraw_until_shown(qtbot):
    raster = RasterPlot()
    qtbot.addWidget(raster)
    raster.set_spikes([1.0], [0], 1, 10.0)
    qtbot.wait(3 * REDRAW_INTERVAL_MS)
    assert raster.redraw_count == 0 and raster.is_dirty
    raster.show()
    qtbot.waitUntil(lambda: raster.redraw_count == 1, timeout=1000)
    assert not raster.is_dirty


def test_redraw_now_is_immediate(qtbot):
    raster = RasterPlot()
    qtbot.addWidget(raster)
    raster.set_spikes(np.arange(5.0), np.arange(5), 5, 10.0)
    raster.redraw_now()
    assert not raster.is_dirty
    assert raster.curve.getData()[0].size == 10


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_theme_changes_background_and_foreground(qtbot, theme):
    from app.plots.base import THEMES

    raster = RasterPlot(theme="dark" if theme == "light" else "light")
    qtbot.addWidget(raster)
    raster.set_theme(theme)
    expected = THEMES[theme]
    assert raster.theme == theme
    assert raster.graphics.backgroundBrush().color().name() == expected.background
    axis = raster.plot.getAxis("left")
    assert axis.pen().color().name() == expected.foreground
    assert raster.curve.opts["pen"].color().name() == expected.ticks


def test_unknown_theme_raises(qtbot):
    raster = RasterPlot()
    qtbot.addWidget(raster)
    with pytest.raises(ValueError, match="unknown theme"):
        raster.set_theme("purple")
