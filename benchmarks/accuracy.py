"""Test accuracy of the bundled examples over several seeds (mean +- sd).

Each setup is a bundled project (``resources/examples/*.ssproj``) trained the way
Run > Train trains it in the window: the project is built (``app.project.build``),
compiled with its own compiler and trained with its own epochs, batch size,
shuffling and learning-rate schedule; then its test split is evaluated with the
trained network (what Run > Evaluate does). Only the seed changes between runs: the
compiler's ``rng_seed`` (initial weights and shuffling order); the data split is the
project's own. The reported number is the test accuracy after the last epoch (no
checkpoint is picked by its test accuracy).

    python benchmarks/accuracy.py yin_yang_eventprop --seeds 0 1 2 3 4 \\
        --out benchmarks/results/accuracy
    python benchmarks/accuracy.py --summary benchmarks/results/accuracy/*.json
    python benchmarks/accuracy.py --table benchmarks/results/accuracy/*.json
    python benchmarks/accuracy.py --markdown benchmarks/results/accuracy/*.json \\
        --readme README.md

Every run writes one JSON file per seed (setup, per-epoch curve, wall time, machine
load); ``--summary`` prints mean +- sd per setup from such files, ``--table`` the
README's "Examples and results" rows and ``--markdown`` that whole section (the rows
and each setup's exact settings). ``--curve`` also evaluates the held-out splits
after every epoch (learning curves, e.g. to show overfitting).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.project.document import Project  # noqa: E402
from app.project.examples import EXAMPLES_DIR  # noqa: E402
from app.project.io import load_project  # noqa: E402

#: setup name -> (bundled project file, what the README calls it)
SETUPS: dict[str, tuple[str, str]] = {
    "yin_yang_eventprop": ("yin_yang_eventprop.ssproj", "Yin-Yang, EventProp"),
    "mnist5k_eventprop": ("mnist5k_latency_eventprop.ssproj", "latency MNIST-5k, EventProp"),
    "mnist5k_eprop": ("mnist5k_latency_eprop.ssproj", "latency MNIST-5k, e-prop"),
}


@dataclass
class Summary:
    """Mean and sample standard deviation (ddof=1) of a list of accuracies."""

    n: int
    mean: float
    sd: float

    def text(self, scale: float = 100.0) -> str:
        """``mean ± sd`` in percent (sd 0 for a single value)."""
        return f"{scale * self.mean:.1f} ± {scale * self.sd:.1f}"


def summarise(values: Sequence[float]) -> Summary:
    """Mean +- sample standard deviation; one value has sd 0."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("no values to summarise")
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return Summary(len(vals), statistics.fmean(vals), sd)


def load_setup(name_or_path: str) -> tuple[str, Project]:
    """A setup name of SETUPS or a path to any .ssproj file -> (name, project)."""
    if name_or_path in SETUPS:
        return name_or_path, load_project(EXAMPLES_DIR / SETUPS[name_or_path][0])
    path = Path(name_or_path)
    if path.suffix == ".ssproj" and path.is_file():
        return path.stem, load_project(path)
    raise SystemExit(f"unknown setup {name_or_path!r}: give one of {sorted(SETUPS)} or a "
                     ".ssproj file")


def apply_overrides(project: Project, overrides: Sequence[str]) -> Project:
    """``section.key=value`` settings (sections: compiler, optimiser, dataset, training;
    values parsed as JSON, else kept as text), for ablations such as
    ``dataset.augment_copies=0``. Returns a changed copy."""
    project = project.copy()
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot:
            raise SystemExit(f"--set {item!r}: write section.key=value")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        target = {"compiler": project.compiler.params, "optimiser": project.compiler.optimiser,
                  "dataset": project.dataset.params}.get(section)
        if section == "training":
            if not hasattr(project.training, name):
                raise SystemExit(f"--set {item!r}: training has no field {name!r}")
            setattr(project.training, name, value)
        elif target is None:
            raise SystemExit(f"--set {item!r}: section must be compiler, optimiser, dataset "
                             "or training")
        else:
            target[name] = value
    return project


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def describe(project: Project) -> dict[str, str]:
    """The exact setup of a project, one line per aspect (network, data, training)."""
    from app.training.data import BUILTIN_DATASETS

    comp = project.compiler
    p = comp.params
    pops = []
    for pop in project.populations:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in pop.params.items()
                           if k in ("v_thresh", "tau_mem", "tau_refrac", "tau_adapt", "beta"))
        ro = f", readout {pop.readout}" if pop.readout else ""
        pops.append(f"{pop.name} {pop.size} {pop.model}({params}){ro}")
    conns = []
    for c in project.connections:
        w = ", ".join(f"{k}={_fmt(v)}" for k, v in c.weight.items() if k != "type")
        syn = c.synapse.get("type", "")
        tau = f"({_fmt(c.synapse['tau'])} ms)" if "tau" in c.synapse else ""
        conns.append(f"{c.name}: {c.connectivity['type']} {c.weight['type']}({w}) {syn}{tau}")
    ds = project.dataset
    if ds.source == "builtin":
        info = BUILTIN_DATASETS[ds.name]
        kwargs = {**info.default_kwargs, **ds.params}
        data = f"{info.name} ({ds.name}) " + ", ".join(f"{k}={_fmt(v)}"
                                                       for k, v in kwargs.items())
    else:
        data = f"{ds.source} {ds.format} {ds.path}"
    loss = comp.loss or {}
    loss_text = loss.get("type", "none") + "".join(
        f" delta={loss['delta']}" for _ in [0] if "delta" in loss)
    out_pop = project.output_population()
    keys = ["reg_lambda_upper", "reg_lambda_lower", "reg_nu_upper"]
    keys = [k for k in keys if p.get(k)] + ["tau_reg", "c_reg", "f_target",
                                            "reset_in_syn_between_batches"]
    if out_pop is not None and out_pop.readout == "first_spike_time":
        keys = ["ttfs_loss", "softmax_temperature", "ttfs_alpha", "ttfs_tau1", *keys]
    extras = [f"{k}={_fmt(p[k])}" for k in keys if k in p]
    opt = comp.optimiser or {}
    opt_text = opt.get("type", "none") + "(" + ", ".join(
        f"{k}={_fmt(v)}" for k, v in opt.items() if k != "type") + ")"
    sched = project.training.lr_schedule
    sched_text = "constant" if sched is None else (
        f"alpha0 * {sched['factor']}**epoch" if sched["type"] == "exponential"
        else f"alpha * {sched['factor']} every {sched['every']} epochs")
    info_c = comp.info
    steps = p[info_c.timesteps_arg]
    return {
        "network": "; ".join(pops) + " | " + "; ".join(conns),
        "data": data,
        "compiler": f"{comp.type}, dt {_fmt(p['dt'])} ms, {steps} steps "
                    f"({_fmt(steps * p['dt'])} ms), batch {p['batch_size']}",
        "loss": loss_text + (f" ({', '.join(extras)})" if extras else ""),
        "optimiser": f"{opt_text}, learning rate {sched_text}",
        "training": f"{project.training.num_epochs} epochs, shuffle "
                    f"{project.training.shuffle}",
    }


def run_seed(project: Project, seed: int, *, epochs: int | None = None,
             max_examples: int | None = None, curve: bool = False,
             log: Any = print) -> dict[str, Any]:
    """Train ``project`` with ``rng_seed = seed`` as Run > Train does and evaluate its
    test split (and validation split, where the dataset has one)."""
    from app.project.build import build, schedule_callbacks
    from app.worker.process import _metric_name

    project = project.copy()
    project.compiler.params["rng_seed"] = int(seed)
    if max_examples is not None:
        project.training.max_examples = int(max_examples)
    num_epochs = int(epochs if epochs is not None else project.training.num_epochs)
    load0 = os.getloadavg()
    t_build = time.perf_counter()
    built = build(project, None)
    x, y = built.train_data()
    tx, ty = built.test_data()
    ds = built.dataset
    has_val = getattr(ds, "validation_spikes", None) is not None and len(ds.validation_spikes)
    vx = {built.input: ds.validation_spikes} if has_val else None
    vy = {built.output: ds.validation_labels} if has_val else None
    metric = _metric_name(project)
    rows: list[dict[str, Any]] = []
    with built.compiler.compile(built.network) as cn:
        t0 = time.perf_counter()
        log(f"  seed {seed}: built in {t0 - t_build:.1f} s; {len(ds.train_spikes)} train, "
            f"{len(ds.test_spikes)} test examples")
        for epoch in range(num_epochs):
            mets, _ = cn.train(x, y, num_epochs=1, start_epoch=epoch,
                               shuffle=project.training.shuffle, metrics=metric,
                               callbacks=schedule_callbacks(project))
            row: dict[str, Any] = {"epoch": epoch, "train_running": float(
                mets[built.output].result), "loss": float(cn.epoch_loss),
                "wall_s": time.perf_counter() - t0}
            if curve or epoch == num_epochs - 1:
                te, _ = cn.evaluate(tx, ty, metrics=metric, callbacks=[])
                row["test"] = float(te[built.output].result)
                if has_val:
                    ve, _ = cn.evaluate(vx, vy, metrics=metric, callbacks=[])
                    row["validation"] = float(ve[built.output].result)
            rows.append(row)
            held = "".join(f" {k} {100 * row[k]:.2f}%" for k in ("validation", "test")
                           if k in row)
            log(f"  seed {seed} epoch {epoch}: train {100 * row['train_running']:.2f}% "
                f"loss {row['loss']:.4f}{held} ({row['wall_s']:.0f} s)")
        wall = time.perf_counter() - t0
        tr, _ = cn.evaluate(x, y, metrics=metric, callbacks=[])
    last = rows[-1]
    return {
        "seed": int(seed), "test": last["test"], "validation": last.get("validation"),
        "train": float(tr[built.output].result), "epochs": num_epochs,
        "n_train": len(ds.train_spikes), "n_test": len(ds.test_spikes),
        "wall_s": wall, "load_before": load0, "load_after": os.getloadavg(),
        "curve": rows,
    }


def _code_version() -> str:
    """The commit the run's code is at (``+changes`` when the training code, the bundled
    projects or this script differ from it), or ``unknown`` outside a git checkout."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "app", "resources", "benchmarks/accuracy.py"],
                               cwd=ROOT, text=True, capture_output=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _result_files(paths: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            out.append(json.load(f))
    return out


def _by_setup(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(results, key=lambda r: (r["setup_name"], r["seed"])):
        groups.setdefault(r["setup_name"], []).append(r)
    return groups


def summary_lines(results: list[dict[str, Any]]) -> list[str]:
    """Mean +- sd, per-seed values, wall time and load per setup."""
    lines = []
    for name, runs in _by_setup(results).items():
        s = summarise([r["test"] for r in runs])
        per_seed = ", ".join(f"{100 * r['test']:.1f}" for r in runs)
        wall = statistics.fmean(r["wall_s"] for r in runs)
        loads = [r["load_before"][0] for r in runs] + [r["load_after"][0] for r in runs]
        lines.append(f"{name}: test {s.text()} % over {s.n} seeds "
                     f"(seeds {[r['seed'] for r in runs]}: {per_seed}); "
                     f"train {summarise([r['train'] for r in runs]).text()} %; "
                     f"{wall / 60:.1f} min per seed, load {min(loads):.1f}-{max(loads):.1f}")
        for k, v in runs[0]["setup"].items():
            lines.append(f"    {k}: {v}")
    return lines


def table_rows(results: list[dict[str, Any]]) -> list[str]:
    """Markdown rows (example | setup | test accuracy) for the README."""
    rows = ["| example | setup | test accuracy (mean ± sd) | per seed | time per seed |",
            "|---|---|---|---|---|"]
    for name, runs in _by_setup(results).items():
        s = summarise([r["test"] for r in runs])
        setup = runs[0]["setup"]
        file, title = SETUPS.get(name, (f"{name}.ssproj", name))
        per_seed = ", ".join(f"{100 * r['test']:.1f}" for r in runs)
        wall = statistics.fmean(r["wall_s"] for r in runs)
        rows.append(f"| `{file}` ({title}) | {setup['compiler']}; {setup['training']}; "
                    f"{_split_text(runs[0])} | "
                    f"**{s.text()} %** ({s.n} seeds) | {per_seed} | {wall / 60:.1f} min |")
    return rows


def _split_text(run: dict[str, Any]) -> str:
    """``N train / M test``, naming the augmented copies in N where there are some."""
    match = re.search(r"augment_copies=(\d+)", run["setup"]["data"])
    copies = int(match.group(1)) if match else 0
    n = run["n_train"]
    if copies:
        return (f"{n // (copies + 1)} train images + {copies} augmented copies of each "
                f"({n} examples) / {run['n_test']} test")
    return f"{n} train / {run['n_test']} test"


def markdown_lines(results: list[dict[str, Any]]) -> list[str]:
    """The README's results section body: the table (``table_rows``), then each
    setup's exact settings and the machine and load the runs saw."""
    lines = table_rows(results) + [""]
    for name, runs in _by_setup(results).items():
        file, title = SETUPS.get(name, (f"{name}.ssproj", name))
        setup = runs[0]["setup"]
        loads = [r["load_before"][0] for r in runs] + [r["load_after"][0] for r in runs]
        lines.append(f"- **{title}** (`resources/examples/{file}`, seeds "
                     f"{', '.join(str(r['seed']) for r in runs)}; "
                     f"{runs[0].get('machine', '?')}, load {min(loads):.1f}-{max(loads):.1f}"
                     + "".join(f", code {c}" for c in sorted({str(r.get("code")) for r in runs
                                                             if r.get("code")}))
                     + "):")
        for key in ("network", "data", "compiler", "loss", "optimiser", "training"):
            lines.append(f"  {key}: {setup[key]}.")
        val = [r["validation"] for r in runs if r.get("validation") is not None]
        extra = (f" Validation {summarise(val).text()} %." if len(val) == len(runs) else "")
        train = summarise([r["train"] for r in runs]).text()
        lines.append(f"  Train accuracy after training {train} %.{extra} "
                     f"{runs[0]['n_train']} training / {runs[0]['n_test']} test examples; "
                     "the accuracy after the last epoch is reported.")
    return lines


README_BEGIN = "<!-- accuracy.py --markdown -->\n"
README_END = "<!-- end accuracy.py --markdown -->"


def write_readme_section(path: Path, text: str) -> None:
    """Replace what lies between the README's two markers with ``text``."""
    readme = path.read_text(encoding="utf-8")
    if README_BEGIN not in readme or README_END not in readme:
        raise SystemExit(f"{path} has no {README_BEGIN.strip()} ... {README_END} markers")
    head, rest = readme.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    path.write_text(head + README_BEGIN + text + "\n" + README_END + tail, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("setup", nargs="?", help=f"one of {sorted(SETUPS)} or a .ssproj file")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=None, help="override the project's epochs")
    ap.add_argument("--max-examples", type=int, default=None,
                    help="use at most this many examples per split (quick checks)")
    ap.add_argument("--curve", action="store_true",
                    help="evaluate the held-out splits after every epoch")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="change a setting for an ablation (e.g. dataset.augment_copies=0); "
                         "the results are named after the setup and the changes")
    ap.add_argument("--out", default=None, help="folder for one JSON file per seed")
    ap.add_argument("--summary", nargs="+", metavar="JSON", help="summarise result files")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="README rows from result files")
    ap.add_argument("--markdown", nargs="+", metavar="JSON",
                    help="the README's results section (table and exact setups) from "
                         "result files")
    ap.add_argument("--readme", metavar="PATH",
                    help="with --markdown: also put it between the README's markers")
    args = ap.parse_args(argv)
    if args.summary:
        print("\n".join(summary_lines(_result_files(args.summary))))
        return 0
    if args.table:
        print("\n".join(table_rows(_result_files(args.table))))
        return 0
    if args.markdown:
        text = "\n".join(markdown_lines(_result_files(args.markdown)))
        if args.readme:
            write_readme_section(Path(args.readme), text)
        print(text)
        return 0
    if not args.setup:
        ap.error("give a setup (or --summary / --table / --markdown)")
    name, project = load_setup(args.setup)
    if args.set:
        project = apply_overrides(project, args.set)
        name += "+" + "+".join(args.set)
    setup = describe(project)
    if args.epochs is not None:
        setup["training"] = setup["training"].replace(
            f"{project.training.num_epochs} epochs", f"{args.epochs} epochs")
    print(f"{name} on {platform.node()} ({os.cpu_count()} CPUs)")
    for k, v in setup.items():
        print(f"  {k}: {v}")
    results = []
    for seed in args.seeds:
        r = run_seed(project, seed, epochs=args.epochs, max_examples=args.max_examples,
                     curve=args.curve)
        r.update(setup_name=name, setup=setup, max_examples=args.max_examples,
                 machine=f"{platform.node()}, {os.cpu_count()} CPUs", code=_code_version())
        results.append(r)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            stem = "".join(c if c.isalnum() or c in "+-_." else "_" for c in name)
            with open(Path(args.out) / f"{stem}_seed{seed}.json", "w", encoding="utf-8") as f:
                json.dump(r, f, indent=1)
        print(f"  seed {seed}: test {100 * r['test']:.2f}%  train {100 * r['train']:.2f}%"
              f"  ({r['wall_s'] / 60:.1f} min, load {r['load_before'][0]:.1f} -> "
              f"{r['load_after'][0]:.1f})", flush=True)
    print("\n".join(summary_lines(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
