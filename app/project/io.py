"""Reading and writing project files: atomic saves, sidecar weights, autosave."""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.project.document import Project, parse_project_with_weight_keys
from app.project.errors import ProjectError, WeightsFileError

PROJECT_SUFFIX = ".ssproj"
MAX_FILE_BYTES = 64 * 1024 * 1024


def weights_path(project_path: str | os.PathLike[str]) -> Path:
    """Sidecar weights file of a project: ``name.ssproj`` -> ``name.weights.npz``."""
    p = Path(project_path)
    return p.with_name(p.stem + ".weights.npz")


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def current_umask() -> int:
    """The process's file-creation mask (read without changing it where the OS
    tells, else by setting it back at once)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder,
    fsync, then ``os.replace`` (the old file stays intact on any failure).

    The file keeps the mode of the one it replaces (a 0644 file stays 0644); a
    new file gets the usual ``0666 & ~umask``.  The folder must exist: a typo in
    a path is reported, not created (:class:`FileNotFoundError`).
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {target.name}: the folder {target.parent} does "
                                "not exist; create it or choose another folder")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def dumps(project: Project) -> str:
    """The JSON text of a project without its weights (for clipboards, logs)."""
    data = project.to_dict()
    data["weights"] = None
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def project_from_dict(data: Any, weights: dict[str, np.ndarray] | None = None) -> Project:
    """Rebuild a project from ``Project.to_dict()`` output plus weight arrays
    (what a worker process receives)."""
    if isinstance(data, dict):
        data = dict(data)
        data["weights"] = None
    project = _from_raw(data, None)
    for key, arr in (weights or {}).items():
        try:
            project.connection(key)
        except KeyError:
            raise ProjectError(f"no connection with id {key!r}", "weights") from None
        project.weights[key] = np.asarray(arr, dtype=np.float32)
    return project


def save_project(project: Project, path: str | os.PathLike[str]) -> Path:
    """Save atomically; trained weights go to the sidecar ``.weights.npz``.

    Returns the path written.  The weights file is written first so that a
    JSON on disk never references weights that are not there yet.
    """
    path = Path(path)
    wpath = weights_path(path)
    data = project.to_dict()
    if project.weights:
        import io as _io
        buf = _io.BytesIO()
        np.savez(buf, **{k: np.asarray(v, dtype=np.float32) for k, v in project.weights.items()})
        atomic_write_bytes(wpath, buf.getvalue())
        data["weights"] = {"file": wpath.name, "keys": sorted(project.weights)}
    else:
        data["weights"] = None
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def loads(text: str | bytes) -> Project:
    """Parse project JSON text (no weights)."""
    return _from_raw(_decode(text), None)


def _decode(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"file is not UTF-8 text ({exc.reason})") from None

    def _no_constants(name: str) -> Any:
        raise ProjectError(f"{name} is not allowed in a project file")

    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ProjectError("file is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(f"not valid JSON: {exc.msg} at line {exc.lineno} column "
                           f"{exc.colno}") from None


def _from_raw(data: Any, base: Path | None, without_weights: bool = False) -> Project:
    if isinstance(data, dict) and "weights" in data:
        data = dict(data)
        w = data["weights"]
        if w is None:
            data["weights"] = []
            wfile = None
        elif isinstance(w, dict):
            if set(w) - {"file", "keys"} or "file" not in w or "keys" not in w:
                raise ProjectError("must be {\"file\": ..., \"keys\": [...]} or null", "weights")
            wfile = w["file"]
            if (not isinstance(wfile, str) or not wfile or "/" in wfile or "\\" in wfile
                    or wfile in (".", "..") or not wfile.endswith(".npz")):
                raise ProjectError("must be a bare .npz file name next to the project",
                                   "weights.file")
            data["weights"] = w["keys"]
        elif isinstance(w, list):
            wfile = None
        else:
            raise ProjectError("must be {\"file\": ..., \"keys\": [...]} or null", "weights")
    else:
        wfile = None
    try:
        project, keys = parse_project_with_weight_keys(data)
    except RecursionError:
        raise ProjectError("file is nested too deeply") from None
    if keys and not without_weights:
        if base is None or wfile is None:
            raise ProjectError("weights are stored next to a project file; open the file",
                               "weights.file")
        project.weights = _load_weights(base / wfile, keys, project)
    return project


_OPEN_WITHOUT = ("; the network itself is intact: open it without trained weights "
                 "(the connections start from their initial weights)")


def _load_weights(path: Path, keys: list[str], project: Project) -> dict[str, np.ndarray]:
    """The sidecar's arrays; :class:`WeightsFileError` for anything wrong with it."""
    if not path.is_file():
        raise WeightsFileError(f"trained weights file {path.name} is missing{_OPEN_WITHOUT}",
                               "weights.file")
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for i, key in enumerate(keys):
                if key not in npz.files:
                    raise WeightsFileError(f"{path.name} has no array {key!r}{_OPEN_WITHOUT}",
                                           f"weights.keys[{i}]")
                arr = npz[key]
                if arr.dtype.kind not in "fiu" or arr.ndim not in (1, 2):
                    raise WeightsFileError(f"array {key!r} in {path.name} must be a numeric "
                                           f"1-D or 2-D array{_OPEN_WITHOUT}",
                                           f"weights.keys[{i}]")
                if not np.all(np.isfinite(arr)):
                    raise WeightsFileError(f"array {key!r} in {path.name} contains NaN or "
                                           f"inf{_OPEN_WITHOUT}", f"weights.keys[{i}]")
                out[key] = np.asarray(arr, dtype=np.float32)
    except ProjectError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightsFileError(f"cannot read {path.name}: {exc}{_OPEN_WITHOUT}",
                               "weights.file") from None
    return out


def load_project(path: str | os.PathLike[str], *, without_weights: bool = False) -> Project:
    """Open a project file (and its sidecar weights).

    Raises :class:`ProjectError` naming the bad field for anything wrong; the
    file is only parsed, never executed.  A missing or corrupt weights sidecar
    raises its subclass :class:`WeightsFileError`: catch it and open again with
    ``without_weights=True`` to get the network with no trained weights (saving
    it then writes a project without a sidecar).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectError(f"file is too large ({size} bytes)")
        raw = path.read_bytes()
    except ProjectError:
        raise
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _from_raw(_decode(raw), path.parent, without_weights)


# ---------------------------------------------------------------------------
# autosave and crash recovery
# ---------------------------------------------------------------------------
def state_dir() -> Path:
    """Folder for autosaves: $SPIKE_STUDIO_STATE_DIR or the XDG state folder."""
    env = os.environ.get("SPIKE_STUDIO_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "spike-studio"


@dataclass
class Recovery:
    """An autosave left behind by a session that did not close cleanly."""

    path: Path  # the autosave file
    original: str  # project path it belongs to ("" for an unsaved project)
    saved_at: float  # time.time() of the autosave
    name: str


def autosave_dir() -> Path:
    """Where autosave files live."""
    return state_dir() / "autosave"


def write_autosave(project: Project, original: str | os.PathLike[str] | None,
                   session: str) -> Path:
    """Autosave ``project`` for the session id ``session`` (atomic)."""
    directory = autosave_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{session}{PROJECT_SUFFIX}"
    save_project(project, path)
    meta = {"original": str(original or ""), "saved_at": time.time(), "name": project.name,
            "pid": os.getpid()}
    atomic_write_bytes(path.with_suffix(".meta.json"), json.dumps(meta).encode())
    return path


def discard_autosave(session_or_path: str | os.PathLike[str]) -> None:
    """Remove an autosave (by session id or by its path) and its sidecars."""
    p = Path(session_or_path)
    if p.suffix != PROJECT_SUFFIX:
        p = autosave_dir() / f"{p.name}{PROJECT_SUFFIX}"
    for f in (p, p.with_suffix(".meta.json"), weights_path(p)):
        with contextlib.suppress(OSError):
            f.unlink()


def find_recoveries(exclude_session: str | None = None) -> list[Recovery]:
    """Autosaves on disk (newest first), except the running session's own."""
    directory = autosave_dir()
    if not directory.is_dir():
        return []
    found: list[Recovery] = []
    for f in directory.glob(f"*{PROJECT_SUFFIX}"):
        if exclude_session is not None and f.stem == exclude_session:
            continue
        meta: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            m = json.loads(f.with_suffix(".meta.json").read_text())
            if isinstance(m, dict):
                meta = m
        saved = meta.get("saved_at")
        found.append(Recovery(
            f, str(meta.get("original", "")),
            float(saved) if isinstance(saved, int | float) else f.stat().st_mtime,
            str(meta.get("name", f.stem))))
    found.sort(key=lambda r: r.saved_at, reverse=True)
    return found
