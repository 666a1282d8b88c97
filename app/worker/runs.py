"""Training runs on disk (no Qt): ``<project folder>/runs/<timestamp>/``.

A run folder holds::

    settings.json         what was run: mode, epochs, backend, seed, the project document
    project.weights.npz   the document's weights when the run started (may be absent)
    status.json           running / finished / stopped / failed / crashed, last checkpoint
    metrics.json          batch and epoch history; metrics.csv / batch_metrics.csv the same
    checkpoints/          <epoch>-<connection>-g.npy (app.training.serialisers.Numpy)
    optimiser/            <epoch>-<trainable>-<param|state key>.npy (exact resume)
    weights/              final-<connection>-g.npy when the run finished

The worker writes checkpoints, metrics and status; the client creates the
folder and marks a run ``crashed`` when its process died.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RUNS_DIR = "runs"
EPOCH_FIELDS = ["epoch", "loss", "accuracy", "mse", "val_loss", "val_accuracy", "val_mse",
                "seconds"]
BATCH_FIELDS = ["step", "epoch", "batch", "loss", "accuracy", "mse", "samples_per_s"]


def runs_root(project_path: str | os.PathLike[str] | None, project_name: str = "Untitled"
              ) -> Path:
    """Where a project's runs live: next to the project file, or in the state folder."""
    if project_path is not None:
        return Path(project_path).resolve().parent / RUNS_DIR
    from app.project.io import state_dir

    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in project_name) or "Untitled"
    return state_dir() / RUNS_DIR / safe


def _write_text(path: Path, text: str) -> None:
    """Atomic small-file write (temp file + replace)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as JSON (NaN written as null)."""
    _write_text(path, json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def read_json(path: Path, default: Any = None) -> Any:
    """Parse a JSON file, or ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def new_run_dir(root: Path) -> Path:
    """Create ``root/<YYYYmmdd-HHMMSS>[-n]`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise OSError(f"cannot create a run folder in {root}")


def save_start(run_dir: Path, settings: dict[str, Any], weights: dict[str, np.ndarray]) -> None:
    """Write settings.json, the starting weights and an initial status."""
    write_json(run_dir / "settings.json", settings)
    if weights:
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v, np.float32) for k, v in weights.items()})
        (run_dir / "project.weights.npz").write_bytes(buf.getvalue())
    update_status(run_dir, status="starting", created=time.time())


def load_start_weights(run_dir: Path) -> dict[str, np.ndarray]:
    """The document weights a run started from."""
    path = Path(run_dir) / "project.weights.npz"
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def update_status(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into status.json (atomic)."""
    path = Path(run_dir) / "status.json"
    status = read_json(path, {}) or {}
    status.update(fields)
    status["updated"] = time.time()
    write_json(path, status)
    return status


def write_history(run_dir: Path, history: dict[str, list[dict[str, Any]]]) -> None:
    """metrics.json plus metrics.csv (per epoch) and batch_metrics.csv (per batch)."""
    write_json(run_dir / "metrics.json", history)
    for name, rows, fields in (("metrics.csv", history.get("epoch", []), EPOCH_FIELDS),
                               ("batch_metrics.csv", history.get("batch", []), BATCH_FIELDS)):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
        _write_text(run_dir / name, buf.getvalue())


def read_history(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The metrics history of a run (empty lists when none was written yet)."""
    data = read_json(Path(run_dir) / "metrics.json", {}) or {}
    return {"batch": list(data.get("batch", [])), "epoch": list(data.get("epoch", []))}


def checkpoint_epochs(run_dir: Path) -> list[int]:
    """Epochs with a complete checkpoint (weights and optimiser state), ascending."""
    run_dir = Path(run_dir)
    done = (read_json(run_dir / "status.json", {}) or {}).get("checkpoints", [])
    return sorted(int(e) for e in done
                  if any((run_dir / "checkpoints").glob(f"{int(e)}-*.npy")))


@dataclass
class RunInfo:
    """One run as the runs panel lists it."""

    path: Path
    name: str
    status: str
    mode: str
    epochs_done: int
    num_epochs: int
    last_checkpoint: int | None
    message: str


def list_runs(root: Path) -> list[RunInfo]:
    """Every run under ``root``, newest first."""
    out = []
    if not Path(root).is_dir():
        return out
    for d in sorted(Path(root).iterdir(), reverse=True):
        if not (d / "settings.json").is_file():
            continue
        settings = read_json(d / "settings.json", {}) or {}
        status = read_json(d / "status.json", {}) or {}
        cps = checkpoint_epochs(d)
        out.append(RunInfo(d, d.name, str(status.get("status", "unknown")),
                           str(settings.get("mode", "train")),
                           int(status.get("epochs_done", 0)),
                           int(settings.get("start_epoch", 0)) + int(settings.get("num_epochs", 0)),
                           cps[-1] if cps else None, str(status.get("message", ""))))
    return out
