"""Checkpoint serialisers. ``Numpy`` writes one ``.npy`` per array under a folder.

File names are ``<key1>-<key2>-...-<object>-<var>.npy``; ``deserialise_all``
reads back every array whose name starts with the given keys. Loading uses
``allow_pickle=False``: opening a checkpoint never runs code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.model.errors import bad_arg

VAR_NAMES = {"g": "weight", "d": "delay", "Bias": "bias"}


class Serialiser:
    """Base class."""

    def serialise(self, keys: tuple, data: np.ndarray) -> None:
        raise NotImplementedError

    def deserialise_all(self, keys: tuple) -> dict:
        raise NotImplementedError


class Numpy(Serialiser):
    """Store arrays as ``.npy`` files in ``path`` (created on demand), written atomically."""

    def __init__(self, path: str | os.PathLike = "checkpoints") -> None:
        self.path = Path(path)

    def _name(self, keys: tuple) -> Path:
        return self.path / ("-".join(str(k) for k in keys) + ".npy")

    def serialise(self, keys: tuple, data: np.ndarray) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        final = self._name(keys)
        tmp = final.with_suffix(".tmp.npy")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(data), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def deserialise(self, keys: tuple) -> np.ndarray:
        return np.load(self._name(keys), allow_pickle=False)

    def deserialise_all(self, keys: tuple) -> dict:
        """{object name: {var: array}} for every file saved under ``keys``."""
        prefix = "-".join(str(k) for k in keys)
        prefix = prefix + "-" if prefix else ""
        out: dict[str, dict[str, np.ndarray]] = {}
        if not self.path.is_dir():
            raise FileNotFoundError(f"checkpoint folder '{self.path}' does not exist")
        for f in sorted(self.path.glob("*.npy")):
            stem = f.name[:-4]
            if not stem.startswith(prefix) or stem.endswith(".tmp"):
                continue
            rest = stem[len(prefix):].rsplit("-", 1)
            if len(rest) != 2:
                continue
            obj, var = rest
            out.setdefault(obj, {})[VAR_NAMES.get(var, var)] = np.load(f, allow_pickle=False)
        if not out:
            raise FileNotFoundError(f"no checkpoint with keys {keys!r} in '{self.path}'")
        return out


def get_serialiser(value: str | Serialiser) -> Serialiser:
    """Turn ``"numpy"`` or a Serialiser into a Serialiser."""
    if isinstance(value, Serialiser):
        return value
    if value == "numpy":
        return Numpy()
    raise bad_arg("save/load", "serialiser", value, "allowed: 'numpy' or Numpy(path)")
