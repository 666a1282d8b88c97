"""Shared helpers for training tests: locate and load mlGeNN reference fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(os.environ.get("SPIKE_STUDIO_FIXTURES",
                               Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"))


@pytest.fixture
def load_fixture():
    """Return a loader: name -> (npz dict, config dict). Missing fixtures fail, never skip."""

    def load(name: str) -> tuple[dict, dict]:
        path = FIXTURES / f"{name}.npz"
        assert path.is_file(), (f"reference fixture {path} is missing; set "
                                "SPIKE_STUDIO_FIXTURES to the folder holding the mlGeNN fixtures")
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
        return data, json.loads(str(data["config"]))

    return load
