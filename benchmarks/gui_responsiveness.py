"""GUI responsiveness while training: the longest GUI-thread stall and raster redraws.

Run with ``python benchmarks/gui_responsiveness.py`` (offscreen by default).

1. **Stall**: the real main window opens the Yin-Yang example (limited to
   ``--examples`` examples and ``--epochs`` epochs so it runs about 20 s) and
   trains it through the real worker process, while the plots update live.  A
   5 ms ``QTimer`` records the gap between its ticks on the GUI thread; the
   longest gap minus 5 ms is the longest stall (target: under 50 ms); the
   window first idles ``--warmup`` s so its first paint is not counted.  Also
   printed: the 99th percentile gap, how many gaps exceeded 50 ms, and the
   longest message drain of the Qt adapter.
2. **Raster redraw**: the window's raster plot gets 1e4, 1e5 and 1e6 random
   spikes (1000 neurons, 1 s); ``update`` is ``redraw_now()`` (data into the
   plot items), ``paint`` renders the plot (``grab``), ``total`` both, median
   of ``--repeats`` after a warm-up (target: total under 16 ms at 1e5).
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


def measure_stall(args: argparse.Namespace) -> dict[str, float]:
    """Train the Yin-Yang example from the window; record 5 ms timer gaps."""
    import tempfile

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.editor.main_window import MainWindow
    from app.project.examples import EXAMPLES_DIR

    app = QApplication.instance()
    window = MainWindow(autosave=False)
    window.show()
    QMessageBox.question = lambda *a, **k: QMessageBox.StandardButton.Discard  # type: ignore
    errors: list = []
    window.show_error = lambda *a, **k: errors.append(a)  # type: ignore[method-assign]
    window.open_example(EXAMPLES_DIR / "yin_yang_eventprop.ssproj")

    def shrink(p) -> None:  # noqa: ANN001
        p.training.max_examples = args.examples
        p.training.num_epochs = args.epochs
        p.compiler.params["batch_size"] = args.batch_size

    window.ctl.edit("limit data", shrink)
    tmp = Path(tempfile.mkdtemp(prefix="gui_bench_"))
    window.save_to(tmp / "yy.ssproj")
    window.docks["Plots"].widget().setCurrentIndex(1)  # raster visible while training
    rc = window.run_controller
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    samples: list[float] = []
    rc.adapter.message.connect(
        lambda m: samples.append(m["samples_per_s"]) if m["kind"] == "batch_metrics" else None)
    warm = time.perf_counter() + args.warmup  # first layout and paint are not training
    while time.perf_counter() < warm:
        app.processEvents()
        time.sleep(0.005)
    t0 = time.perf_counter()
    rc.train(**({} if args.nice is None else {"nice": args.nice}))
    last[0] = time.perf_counter()
    timer.start()
    deadline = t0 + args.max_seconds
    while rc.client.running and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    duration = time.perf_counter() - t0
    if rc.client.running:
        rc.client.stop()
        while rc.client.running:
            app.processEvents()
            time.sleep(0.01)
    window.run_controller.shutdown()
    gaps_ms = sorted(g * 1000 for g in gaps[1:]) or [0.0]
    result = {
        "seconds": duration,
        "ticks": len(gaps_ms),
        "longest_gap_ms": gaps_ms[-1],
        "longest_stall_ms": max(0.0, gaps_ms[-1] - 5.0),
        "p99_gap_ms": gaps_ms[int(0.99 * (len(gaps_ms) - 1))],
        "gaps_over_50ms": sum(g > 50.0 for g in gaps_ms),
        "longest_drain_ms": rc.adapter.longest_drain_s * 1000,
        "messages": rc.client.messages_received,
        "samples_per_s": samples[-1] if samples else float("nan"),
        "state": rc.client.state,
        "errors": len(errors),
        "window": window,
    }
    return result


def measure_raster(window, counts: list[int], repeats: int) -> list[tuple[int, float, float]]:  # noqa: ANN001
    """(spikes, update ms, paint ms) on the window's raster plot."""
    import numpy as np

    plot = window.docks["Plots"].widget().raster
    rng = np.random.default_rng(0)
    out = []
    for n in counts:
        times = rng.uniform(0, 1000.0, n).astype(np.float32)
        ids = rng.integers(0, 1000, n).astype(np.int32)
        plot.set_spikes(times, ids, 1000, 1000.0, population="bench")
        plot.set_current_population("bench")
        ups, paints = [], []
        for i in range(repeats + 1):
            plot.mark_dirty()
            t0 = time.perf_counter()
            plot.redraw_now()
            t1 = time.perf_counter()
            plot.graphics.grab()
            t2 = time.perf_counter()
            if i:
                ups.append((t1 - t0) * 1000)
                paints.append((t2 - t1) * 1000)
        out.append((n, statistics.median(ups), statistics.median(paints)))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nice", type=int, default=None,
                        help="worker priority increment (default: the editor's)")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds of idle GUI first")
    parser.add_argument("--counts", default="1e4,1e5,1e6")
    args = parser.parse_args(argv)

    from app.plots._compat import protect_singleton_refcounts

    protect_singleton_refcounts()
    from PySide6.QtWidgets import QApplication

    from app.editor.runs import WORKER_NICE

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841
    stall = measure_stall(args)
    print(f"GUI thread while training Yin-Yang ({args.examples} examples x {args.epochs} "
          f"epochs, batch {args.batch_size}; platform {os.environ['QT_QPA_PLATFORM']}):")
    print(f"  load average (1 min)    {os.getloadavg()[0]:8.2f}    on {os.cpu_count()} CPUs, "
          f"worker nice {WORKER_NICE if args.nice is None else args.nice}")
    print(f"  training wall time      {stall['seconds']:8.1f} s   (ended: {stall['state']}, "
          f"{stall['errors']} error dialogs)")
    print(f"  5 ms timer ticks        {stall['ticks']:8d}")
    print(f"  longest stall           {stall['longest_stall_ms']:8.1f} ms  (target < 50)")
    print(f"  99th percentile gap     {stall['p99_gap_ms']:8.1f} ms")
    print(f"  gaps over 50 ms         {stall['gaps_over_50ms']:8d}")
    print(f"  longest message drain   {stall['longest_drain_ms']:8.1f} ms")
    print(f"  messages received       {stall['messages']:8d}")
    print(f"  training samples/s      {stall['samples_per_s']:8.0f}")
    counts = [int(float(c)) for c in args.counts.split(",")]
    rows = measure_raster(stall["window"], counts, args.repeats)
    print("\nRaster redraw in the window (median ms):")
    print(f"  {'spikes':>9} {'update':>8} {'paint':>8} {'total':>8}")
    for n, up, paint in rows:
        print(f"  {n:>9.0e} {up:8.2f} {paint:8.2f} {up + paint:8.2f}")
    sys.stdout.flush()
    os._exit(0)  # skip Qt/NodeGraphQt teardown at exit (see tests/conftest.py)


if __name__ == "__main__":
    sys.exit(main())
