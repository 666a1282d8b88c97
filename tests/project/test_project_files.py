"""Project files: a broken weights sidecar never locks the user out of the network,
and saves keep the file's permissions while staying atomic."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from app.project.errors import ProjectError, WeightsFileError
from app.project.examples import load_example
from app.project.io import load_project, save_project, weights_path


def _saved_with_weights(tmp_path: Path) -> Path:
    project = load_example("yin_yang_eventprop")
    project.weights["c1"] = np.ones((4, 100), np.float32)
    path = tmp_path / "p.ssproj"
    save_project(project, path)
    return path


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "wrong_key"])
def test_a_bad_sidecar_offers_opening_without_trained_weights(tmp_path: Path,
                                                               damage: str) -> None:
    path = _saved_with_weights(tmp_path)
    side = weights_path(path)
    if damage == "missing":
        side.unlink()
    elif damage == "garbage":
        side.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        side.write_bytes(side.read_bytes()[:40])
    else:
        np.savez(side, other=np.ones((4, 100), np.float32))
    with pytest.raises(WeightsFileError) as exc:
        load_project(path)
    assert isinstance(exc.value, ProjectError) and exc.value.field.startswith("weights.")
    assert "open it without trained weights" in exc.value.message
    project = load_project(path, without_weights=True)
    assert project.weights == {}
    assert [p.size for p in project.populations] == [4, 100, 3]
    assert load_example("yin_yang_eventprop").to_dict() == project.to_dict()


def test_a_bad_project_file_is_not_a_weights_error(tmp_path: Path) -> None:
    path = _saved_with_weights(tmp_path)
    path.write_text("{ not json")
    with pytest.raises(ProjectError) as exc:
        load_project(path, without_weights=True)
    assert not isinstance(exc.value, WeightsFileError)


def test_saves_keep_the_file_mode_and_new_files_get_the_umask(tmp_path):
    project = load_example("yin_yang_eventprop")
    path = tmp_path / "p.ssproj"
    old = os.umask(0o022)
    try:
        save_project(project, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        for mode in (0o640, 0o600, 0o664):
            path.chmod(mode)
            save_project(project, path)
            assert stat.S_IMODE(path.stat().st_mode) == mode
    finally:
        os.umask(old)
    assert not list(tmp_path.glob(".*.tmp"))  # still atomic: no temp file left behind
