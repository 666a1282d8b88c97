"""Shared helpers for training tests: locate and load mlGeNN reference fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(os.environ.get("SPIKE_STUDIO_FIXTURES")
                or Path(__file__).resolve().parents[1] / "fixtures")


@pytest.fixture
def load_fixture():
    """Return a loader: name -> (npz dict, config dict). Missing fixtures fail, never skip."""

    def load(name: str) -> tuple[dict, dict]:
        path = FIXTURES / f"{name}.npz"
        assert path.is_file(), (f"reference fixture {path} is missing: tests/fixtures "
                                "holds them (SPIKE_STUDIO_FIXTURES, if set, replaces it)")
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
        return data, json.loads(str(data["config"]))

    return load
