"""Command line: ``spike-studio`` opens the editor; subcommands run headless.

- ``spike-studio train [PROJECT] [--example KEY] [--epochs N] [--limit N] [--mpi N]``
  (``--mpi N`` runs N data-parallel processes with ``mpirun``; on a cluster start
  ``spike-studio train PROJECT --distributed`` with ``mpirun``/``srun`` yourself)
- ``spike-studio export PROJECT [--to python|mlgenn] -o script.py``
- ``spike-studio import SCRIPT -o PROJECT.ssproj`` reads an mlGeNN script (never runs it)
- ``spike-studio examples`` lists the bundled example projects.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from time import perf_counter

DEFAULT_EXAMPLE = "yin_yang_eventprop"


def _load(project_path: str | None, example: str | None) -> tuple[object, Path | None]:
    from app.project.examples import EXAMPLES_DIR, load_example
    from app.project.io import load_project

    if project_path:
        return load_project(project_path), Path(project_path).resolve().parent
    return load_example(example or DEFAULT_EXAMPLE), EXAMPLES_DIR


def mpirun_command(num_ranks: int, argv: list[str], mpirun: str | None = None) -> list[str]:
    """``mpirun -n N python -m app ARGV`` on this machine: ``--oversubscribe`` (OpenMPI
    counts physical cores as slots and refuses more ranks than those otherwise),
    ``--bind-to none`` when N exceeds the cores, ``--allow-run-as-root`` as root."""
    exe = mpirun or shutil.which("mpirun")
    if exe is None:
        raise FileNotFoundError("--mpi needs mpirun (Debian/Ubuntu: apt-get install "
                                "openmpi-bin libopenmpi-dev) and pip install "
                                "'spike-studio[mpi]'")
    cmd = [exe, "-n", str(num_ranks), "--oversubscribe"]
    if num_ranks > (os.cpu_count() or 1):
        cmd += ["--bind-to", "none"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + [sys.executable, "-m", "app", *argv]


def _launch_mpi(args: argparse.Namespace) -> int:
    """Re-run this ``train`` command as ``--distributed`` ranks under mpirun."""
    if args.mpi < 1:
        raise ValueError(f"--mpi must be at least 1, got {args.mpi}")
    argv = ["train"] + ([args.project] if args.project else [])
    for flag in ("example", "epochs", "limit"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag}", str(value)]
    if args.progress:
        argv.append("--progress")
    argv.append("--distributed")
    env = dict(os.environ)
    # share the cores between ranks instead of every rank starting one thread per core
    env.setdefault("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.mpi)))
    cmd = mpirun_command(args.mpi, argv)
    print("running: " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, env=env)


def cmd_train(args: argparse.Namespace) -> int:
    """Train a project (or a bundled example) headless and print per-epoch metrics."""
    if getattr(args, "mpi", None) is not None:
        return _launch_mpi(args)
    if not getattr(args, "distributed", False):
        return _train(args, None)
    from app.training.communicators import MPI

    comm = MPI()
    try:
        return _train(args, comm)
    except Exception as exc:  # one rank failing must stop the others
        if comm.num_ranks > 1:
            comm.abort(f"{type(exc).__name__}: {exc}")
        raise


def _train(args: argparse.Namespace, communicator: object) -> int:
    from app.project.build import build, limit_dataset
    from app.training.callbacks import BatchProgressBar

    root = communicator is None or communicator.rank == 0
    say = print if root else (lambda *a, **k: None)
    project, base = _load(args.project, args.example)
    built = build(project, base)
    if communicator is not None:
        built.compiler.communicator = communicator
    if args.limit:
        built.dataset = limit_dataset(built.dataset, args.limit)
    epochs = args.epochs if args.epochs is not None else project.training.num_epochs
    x, y = built.train_data()
    tx, ty = built.test_data()
    num_train = len(next(iter(x.values())))
    if communicator is not None:
        # mlGeNN's contract: each rank trains on its own part of the data (every N-th
        # example, so without shuffling the batches are those of one process)
        from app.training.communicators import shard

        r, n = communicator.rank, communicator.num_ranks
        x, y, tx, ty = (shard(d, r, n) for d in (x, y, tx, ty))
    ranks = "" if communicator is None else f" on {communicator.num_ranks} MPI rank(s)"
    say(f"Training '{project.name}' with {type(built.compiler).__name__} for {epochs} "
        f"epoch(s) on {num_train} examples{ranks}")
    start = perf_counter()
    with built.compiler.compile(built.network) as cn:
        for epoch in range(epochs):
            cbs = [BatchProgressBar()] if args.progress else []
            metrics, _ = cn.train(x, y, num_epochs=1, start_epoch=epoch,
                                  shuffle=project.training.shuffle, callbacks=cbs)
            res = metrics[built.output].result
            say(f"epoch {epoch}: {type(metrics[built.output]).__name__} {res:.4f} "
                f"loss {cn.epoch_loss:.4f} ({perf_counter() - start:.1f} s)", flush=True)
        test_metrics, _ = cn.evaluate(tx, ty, callbacks=[])
        # flushed: under mpirun, output still buffered when MPI finalises can be lost
        say(f"test {type(test_metrics[built.output]).__name__}: "
            f"{test_metrics[built.output].result:.4f}", flush=True)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a Python (Spike Studio or mlGeNN) script that rebuilds and trains the project."""
    if getattr(args, "to", "python") == "mlgenn":
        from app.project.mlgenn_export import export_mlgenn_file

        out = export_mlgenn_file(args.project, args.output)
    else:
        from app.project.export import export_file

        out = export_file(args.project, args.output)
    print(f"wrote {out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Read an mlGeNN script (with ``ast``, never running it) into a project file."""
    from app.project.mlgenn_import import import_to_project_file

    try:
        out, unmapped = import_to_project_file(args.script, args.output)
    except SyntaxError as exc:
        print(f"spike-studio: error: {args.script} is not valid Python: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    if unmapped:
        print(f"{len(unmapped)} thing(s) could not be mapped:")
        for item in unmapped:
            print(f"  - {item}")
    return 0


def cmd_examples(args: argparse.Namespace) -> int:
    """List the bundled examples."""
    from app.project.examples import examples

    for ex in examples():
        print(f"{ex.key:30s} {ex.title}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the main window."""
    from app.editor import run_gui

    return int(run_gui([args.project] if args.project else []) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spike-studio`` console script."""
    ap = argparse.ArgumentParser(prog="spike-studio", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train a project headless")
    t.add_argument("project", nargs="?", help="project file (.ssproj); default: an example")
    t.add_argument("--example", help=f"bundled example key (default {DEFAULT_EXAMPLE})")
    t.add_argument("--epochs", type=int, help="override the project's number of epochs")
    t.add_argument("--limit", type=int, help="use only the first N training/test examples")
    t.add_argument("--progress", action="store_true", help="show a progress bar per epoch")
    t.add_argument("--mpi", type=int, metavar="N",
                   help="train data-parallel on N processes (runs mpirun; needs OpenMPI and "
                        "spike-studio[mpi]); each process trains on every N-th example and "
                        "the batch size is the total over all N")
    t.add_argument("--distributed", action="store_true",
                   help="this process is one rank of an MPI job started by mpirun/srun")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("export", help="export a project as a Python script")
    e.add_argument("project")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--to", choices=("python", "mlgenn"), default="python",
                   help="python: Spike Studio's own library (default); mlgenn: an mlGeNN script")
    e.set_defaults(func=cmd_export)
    i = sub.add_parser("import", help="import an mlGeNN script as a project (never runs it)")
    i.add_argument("script")
    i.add_argument("-o", "--output", required=True, help="project file to write (.ssproj)")
    i.set_defaults(func=cmd_import)
    x = sub.add_parser("examples", help="list bundled example projects")
    x.set_defaults(func=cmd_examples)
    g = sub.add_parser("gui", help="open the editor (the default)")
    g.add_argument("project", nargs="?")
    g.set_defaults(func=cmd_gui)
    args = ap.parse_args(argv)
    if args.command is None:
        args = ap.parse_args(["gui", *([] if argv is None else argv)])
    from app.project.errors import ProjectError

    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, ProjectError) as exc:
        print(f"spike-studio: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
