"""Command line: ``spike-studio`` opens the editor (``spike-studio FILE.ssproj`` opens
that project in it); subcommands run headless.

- ``spike-studio train [PROJECT] [--example KEY] [--epochs N] [--limit N] [--data FILE]
  [--mpi N]``
  (``--mpi N`` runs N data-parallel processes with ``mpirun``; on a cluster start
  ``spike-studio train PROJECT --distributed`` with ``mpirun``/``srun`` yourself)
- ``spike-studio export PROJECT [--to python|mlgenn|nir] -o script.py`` (``nir``: a NIR graph)
- ``spike-studio import SCRIPT -o PROJECT.ssproj`` reads an mlGeNN script (never runs it)
  or a ``.nir`` graph
- ``spike-studio examples`` lists the bundled example projects.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter

from app.worker.mpi_launch import mpirun_command

DEFAULT_EXAMPLE = "yin_yang_eventprop"


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("spike-studio")
    except (ImportError, PackageNotFoundError):
        return "unknown"


def _at_least(minimum: int):
    """argparse type: an integer >= ``minimum`` (so ``--epochs 0`` is refused)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def _load(project_path: str | None, example: str | None) -> tuple[object, Path | None]:
    from app.project.examples import EXAMPLES_DIR, examples, load_example
    from app.project.io import load_project

    if project_path:
        return load_project(project_path), Path(project_path).resolve().parent
    try:
        return load_example(example or DEFAULT_EXAMPLE), EXAMPLES_DIR
    except KeyError:
        keys = ", ".join(e.key for e in examples())
        raise ValueError(f"no example called {example!r}; the examples are: {keys}") from None


def _bind_data(project: object, data: str | None, test_data: str | None) -> None:
    """``--data``/``--test-data``: train on these files (SHD ``.h5`` or spikes ``.npz``)."""
    if data is None and test_data is None:
        return
    ds = project.dataset
    if data is not None:
        fmt = "npz" if Path(data).suffix == ".npz" else "shd"
        if ds.source != "file":
            ds.source, ds.name, ds.params, ds.test_path = "file", "", {}, ""
        ds.format, ds.path = fmt, str(Path(data).resolve())
    if test_data is not None:
        if ds.source != "file":
            raise ValueError("--test-data needs a training file too (--data PATH)")
        ds.test_path = str(Path(test_data).resolve())


def _not_ready_message(exc: Exception, project: object) -> str:
    """NotReadyError's list, with how to fix a missing data file from here."""
    text = str(exc)
    if any(i.field in ("dataset.path", "dataset.source") for i in getattr(exc, "issues", [])):
        fmt = getattr(project.dataset, "format", "") or "shd"
        example = "shd_train.h5 --test-data shd_test.h5" if fmt == "shd" else "train.npz"
        text += (f"\ngive the data on the command line: spike-studio train ... --data {example}"
                 + (" (the Spiking Heidelberg Digits files, from the Zenke lab's website)"
                    if fmt == "shd" else ""))
    return text


class _CompileNotice:
    """Callback: the first batch compiles the simulation kernels (about 30 s on a
    first run, then loaded from numba's cache); say so, with a ticking progress
    line, when it takes more than a moment, and time it apart from the epoch.

    It times from the first epoch's start to the first batch's end, so its batch
    hook may run after the engine call that trained the batch (``metrics_only``:
    fused passes keep their speed under the CLI)."""

    DELAY_S = 1.5
    metrics_only = True

    def __init__(self, say) -> None:
        self.say = say
        self.seconds = 0.0
        self._done = None
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int) -> None:
        if self._done is not None or self.seconds:
            return
        import threading

        self._t0 = perf_counter()
        self._done = threading.Event()
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        if self._done.wait(self.DELAY_S):
            return
        tty = sys.stdout.isatty()
        self.say("compiling the simulation kernels (first run only: later runs load them "
                 "from the cache)...", flush=True)
        while not self._done.wait(1.0):
            if tty:
                self.say(f"\r  compiling... {perf_counter() - self._t0:.0f} s", end="",
                         flush=True)
        if tty:
            self.say("")

    def on_batch_end(self, batch: int, metrics: object) -> None:
        if self._done is not None and not self._done.is_set():
            self.seconds = perf_counter() - self._t0
            self._done.set()
            if self.seconds > self.DELAY_S:
                self.say(f"kernels ready after {self.seconds:.1f} s", flush=True)


def _launch_mpi(args: argparse.Namespace) -> int:
    """Re-run this ``train`` command as ``--distributed`` ranks under mpirun."""
    if args.mpi < 1:
        raise ValueError(f"--mpi must be at least 1, got {args.mpi}")
    argv = ["train"] + ([args.project] if args.project else [])
    for flag in ("example", "epochs", "limit", "data", "test_data"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
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
    from app.project.build import build, limit_dataset, schedule_callbacks
    from app.project.errors import NotReadyError
    from app.project.train import _metric_name
    from app.project.validate import require_ready
    from app.training.callbacks import BatchProgressBar

    root = communicator is None or communicator.rank == 0
    say = print if root else (lambda *a, **k: None)
    project, base = _load(args.project, args.example)
    _bind_data(project, getattr(args, "data", None), getattr(args, "test_data", None))
    try:
        for warning in require_ready(project, base):
            say(f"warning: {warning.field}: {warning.message}")
    except NotReadyError as exc:
        raise ValueError(_not_ready_message(exc, project)) from None
    built = build(project, base)
    if communicator is not None:
        built.compiler.communicator = communicator
    if args.limit:
        built.dataset = limit_dataset(built.dataset, args.limit)
    epochs = args.epochs if args.epochs is not None else project.training.num_epochs
    metric = _metric_name(project)
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
    notice = _CompileNotice(say)
    with built.compiler.compile(built.network) as cn:
        for epoch in range(epochs):
            cbs = ([notice] + ([BatchProgressBar()] if args.progress else [])
                   + schedule_callbacks(project))
            compiling = notice.seconds
            start = perf_counter()
            metrics, _ = cn.train(x, y, num_epochs=1, start_epoch=epoch, metrics=metric,
                                  shuffle=project.training.shuffle, callbacks=cbs)
            # per-epoch time, without the kernel compilation reported on its own line
            # (the editor's MPI runs parse this line: keep its shape)
            compiled = notice.seconds - compiling if notice.seconds > notice.DELAY_S else 0.0
            seconds = perf_counter() - start - compiled
            res = metrics[built.output].result
            say(f"epoch {epoch}: {type(metrics[built.output]).__name__} {res:.4f} "
                f"loss {cn.epoch_loss:.4f} ({seconds:.1f} s)", flush=True)
        if len(next(iter(tx.values()))):
            # flushed: under mpirun, output still buffered when MPI finalises can be lost
            test_metrics, _ = cn.evaluate(tx, ty, metrics=metric, callbacks=[])
            say(f"test {type(test_metrics[built.output]).__name__}: "
                f"{test_metrics[built.output].result:.4f}", flush=True)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a Python (Spike Studio or mlGeNN) script that rebuilds and trains the project."""
    if getattr(args, "to", "python") == "nir":
        from app.project.nir_export import export_nir_file

        out, notes = export_nir_file(args.project, args.output)
        print(f"wrote {out}" + (f"\n{len(notes)} thing(s) NIR cannot express:" if notes else ""))
        print("".join(f"  - {n}\n" for n in notes), end="")
        return 0
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
    from app.project.io import save_project
    from app.project.mlgenn_import import import_mlgenn_file
    from app.project.nir_import import import_nir_file

    nir = Path(args.script).suffix.lower() == ".nir"
    try:
        result = (import_nir_file if nir else import_mlgenn_file)(args.script)
    except SyntaxError as exc:
        print(f"spike-studio: error: {args.script} is not valid Python: {exc}", file=sys.stderr)
        return 2
    out = save_project(result.project, args.output)
    unmapped = result.unmapped
    print(f"wrote {out}")
    mapped = getattr(result, "mapped", [])
    if mapped:
        print(f"{len(mapped)} thing(s) mapped to Spike Studio's equivalents:")
        for item in mapped:
            print(f"  - {item}")
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
    """Open the main window (with the project file given, if any)."""
    if args.project and not Path(args.project).is_file():
        raise FileNotFoundError(f"{args.project}: no such project file")
    from app.editor import run_gui

    return int(run_gui([args.project] if args.project else []) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spike-studio`` console script."""
    ap = argparse.ArgumentParser(prog="spike-studio", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = ap.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train a project headless")
    t.add_argument("project", nargs="?", help="project file (.ssproj); default: an example")
    t.add_argument("--example", help=f"bundled example key (default {DEFAULT_EXAMPLE})")
    t.add_argument("--epochs", type=_at_least(1),
                   help="override the project's number of epochs")
    t.add_argument("--limit", type=_at_least(1),
                   help="use only the first N training/test examples")
    t.add_argument("--data", metavar="PATH",
                   help="train on this file (SHD .h5 or spikes .npz) instead of the project's")
    t.add_argument("--test-data", metavar="PATH", help="test on this file (with --data)")
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
    e.add_argument("--to", choices=("python", "mlgenn", "nir"), default="python",
                   help="python: Spike Studio's own library (default); mlgenn: an mlGeNN "
                        "script; nir: a NIR graph with the weights")
    e.set_defaults(func=cmd_export)
    i = sub.add_parser("import", help="import an mlGeNN script (never run) or a .nir graph "
                                      "as a project")
    i.add_argument("script")
    i.add_argument("-o", "--output", required=True, help="project file to write (.ssproj)")
    i.set_defaults(func=cmd_import)
    x = sub.add_parser("examples", help="list bundled example projects")
    x.set_defaults(func=cmd_examples)
    g = sub.add_parser("gui", help="open the editor (the default)")
    g.add_argument("project", nargs="?")
    g.set_defaults(func=cmd_gui)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] not in sub.choices and (argv[0].endswith(".ssproj")
                                                or Path(argv[0]).is_file()):
        argv = ["gui", *argv]  # spike-studio FILE.ssproj opens that project in the editor
    args = ap.parse_args(argv)
    if args.command is None:
        args = ap.parse_args(["gui", *argv])
    from app.project.errors import ProjectError

    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, ProjectError) as exc:
        print(f"spike-studio: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
