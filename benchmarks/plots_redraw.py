"""Raster redraw benchmark: how long one redraw of ``RasterPlot`` takes.

Run with ``python benchmarks/plots_redraw.py`` (offscreen by default).  For
1e4, 1e5 and 1e6 random spikes (1000 neurons, 1 s) it times, median of
``--repeats`` runs after one warm-up:

* ``update``: ``redraw_now()`` - pushing stored data into the plot items
  (tick coordinates or binning);
* ``paint``: rendering the plot area to an image (``QWidget.grab``) right
  after that, which is what the screen then has to do (line segments are
  generated lazily here);
* ``total``: both; the target is < 16 ms at 1e5 spikes.

``paint`` of an empty plot is printed as a baseline (axes, grid, frame).
``--drawlines`` turns off the raster's numpy tick paint (``TickCurve``) so
pyqtgraph's ``QPainter.drawLines`` path can be compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.plots.raster import RasterPlot, TickCurve  # noqa: E402


def time_redraw(plot: RasterPlot, repeats: int) -> tuple[float, float]:
    """Median seconds of (update, paint) over ``repeats`` runs after a warm-up."""
    updates: list[float] = []
    paints: list[float] = []
    for i in range(repeats + 1):
        plot.mark_dirty()
        t0 = time.perf_counter()
        plot.redraw_now()
        t1 = time.perf_counter()
        plot.graphics.grab()
        t2 = time.perf_counter()
        if i:  # the first run is a warm-up
            updates.append(t1 - t0)
            paints.append(t2 - t1)
    return statistics.median(updates), statistics.median(paints)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--t-max", type=float, default=1000.0)
    parser.add_argument("--size", default="1000x400", help="plot widget size WxH")
    parser.add_argument("--counts", default="1e4,1e5,1e6")
    parser.add_argument("--drawlines", action="store_true",
                        help="paint ticks with QPainter.drawLines, not the numpy image path")
    args = parser.parse_args(argv)
    if args.drawlines:
        TickCurve.max_fast_rows = -1

    app = QApplication.instance() or QApplication([])
    width, height = (int(v) for v in args.size.lower().split("x"))
    plot = RasterPlot()
    plot.resize(width, height)
    plot.show()
    app.processEvents()
    rng = np.random.default_rng(0)

    plot.set_spikes([], [], args.neurons, args.t_max)
    _, empty_paint = time_redraw(plot, args.repeats)

    print(f"platform={app.platformName()} widget={width}x{height} "
          f"neurons={args.neurons} t_max={args.t_max:g} ms repeats={args.repeats} "
          f"max_ticks={plot.max_ticks:,} tick paint={'drawLines' if args.drawlines else 'numpy'}")
    print(f"empty plot paint: {empty_paint * 1e3:.2f} ms")
    header = f"{'spikes':>10} {'mode':>10} {'update ms':>10} {'paint ms':>10} {'total ms':>10}"
    print(header)
    print("-" * len(header))
    for count in (int(float(c)) for c in args.counts.split(",")):
        times = rng.uniform(0.0, args.t_max, count)
        ids = rng.integers(0, args.neurons, count)
        plot.set_spikes(times, ids, args.neurons, args.t_max)
        update, paint = time_redraw(plot, args.repeats)
        print(f"{count:>10,} {plot.mode:>10} {update * 1e3:>10.2f} {paint * 1e3:>10.2f} "
              f"{(update + paint) * 1e3:>10.2f}")
    plot.close()
    plot.deleteLater()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
