"""A/B of the per-slot EventProp trial kernel: two or more checkouts' kernels on one
captured batch, in one process, one thread, calls alternating.

``ab_compare.py`` times whole training runs, whose run-to-run spread on a shared
machine (+-5-20 %) hides changes of a few per cent. Here the training task of
``tasks.py`` runs ``--passes`` passes with this checkout's engine, the next
``train_trial`` call's arguments are captured, and each checkout's
``kernels.py``/``eventprop_kernels.py``/``layout.py`` (copied into a temporary
package, compiled without numba's cache) runs that same call in turn, every array
restored before each call. Prints each kernel's min and median microseconds per
batch slot and the largest gradient difference from the first. The arrays come
from this checkout's layout, so the checkouts compared must share ``train_trial``'s
arguments and the layout's column constants (compare a change of the kernels' code,
not of their interface).

Swap the order of the checkouts and run again: the first kernel of a rotation was
~3 % faster in both orders in session 6 (BENCHMARKS.md).

    git archive HEAD~1 | tar -x -C /tmp/before
    python benchmarks/kernel_ab.py /tmp/before . --task shd --passes 30 --reps 40
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILES = ("kernels.py", "eventprop_kernels.py", "layout.py")


def copy_kernels(checkout: Path, dest: Path, name: str) -> None:
    """The checkout's kernel modules as package ``name`` under ``dest``, uncached."""
    pkg = dest / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for f in FILES:
        src = checkout / "app" / "training" / "engine" / f
        text = src.read_text().replace("cache=True", "cache=False")
        (pkg / f).write_text(text)


def capture(task_key: str, passes: int) -> list:
    """The arguments of one ``train_trial`` call after ``passes`` training passes."""
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    import tasks

    import app.training.engine.cpu as cpu

    task = tasks.make_task(task_key)
    run, _cn, _ = tasks.studio_runner(task, "eventprop")
    for _ in range(passes):
        run()
    got: list = []
    orig = cpu.EK.train_trial

    def spy(*a):
        if not got:  # the pass's first call only: copying every call's arrays is waste
            got.append([x.copy() if isinstance(x, np.ndarray) else x for x in a])
        return orig(*a)
    cpu.EK.train_trial = spy
    try:
        run()
    finally:
        cpu.EK.train_trial = orig
    if not got:
        raise SystemExit(f"task {task_key!r} never called the per-slot train_trial kernel "
                         "(lockstep batch?); use a task that runs per slot")
    return got[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkouts", nargs="+", type=Path)
    ap.add_argument("--task", default="shd")
    ap.add_argument("--passes", type=int, default=3, help="training passes before capture")
    ap.add_argument("--reps", type=int, default=20, help="calls per kernel")
    args = ap.parse_args()
    import numba

    a = capture(args.task, args.passes)
    numba.set_num_threads(1)
    a[3] = 1  # n_chunks: one thread, all slots
    tmp = Path(tempfile.mkdtemp(prefix="kernel_ab_"))
    try:
        mods = {}
        for k, c in enumerate(args.checkouts):
            copy_kernels(c.resolve(), tmp, f"kab{k}")
        sys.path.insert(0, str(tmp))
        for k, c in enumerate(args.checkouts):
            mods[str(c)] = importlib.import_module(f"kab{k}.eventprop_kernels")
        first = next(iter(mods.values()))
        names = first.train_trial.py_func.__code__.co_varnames[
            :first.train_trial.py_func.__code__.co_argcount]
        grad = a[names.index("grad")]
        slots = a[names.index("V")].shape[0]
        snap = [x.copy() if isinstance(x, np.ndarray) else None for x in a]

        def restore() -> None:
            for x, y in zip(a, snap, strict=True):
                if y is not None:
                    x[...] = y
        grads, times = {}, {k: [] for k in mods}
        for k, m in mods.items():
            restore()
            m.train_trial(*a)  # compile
            restore()
            m.train_trial(*a)
            grads[k] = grad - snap[names.index("grad")]
        for _ in range(args.reps):
            for k, m in mods.items():
                restore()
                t0 = time.perf_counter()
                m.train_trial(*a)
                times[k].append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = next(iter(mods))
    print(f"{args.task}, {args.passes} passes in, {slots} slots, one thread, "
          f"{args.reps} alternating calls each")
    for k in mods:
        us = np.array(times[k]) / slots * 1e6
        d = np.abs(grads[k] - grads[base]).max()
        print(f"  {k}: min {us.min():8.1f}  median {np.median(us):8.1f} us per slot;  "
              f"max |grad - first| {d:.3g} (max |grad| {np.abs(grads[base]).max():.3g})")


if __name__ == "__main__":
    main()
