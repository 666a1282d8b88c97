"""Exported scripts rebuild and train every bundled example (subprocess)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.project.examples import load_example
from app.project.export import export_script, write_script

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=900, env=env, cwd=script.parent)


RUNS = {
    "yin_yang_eventprop": ["--max-examples", "32", "--batch-size", "16"],
    "mnist5k_latency_eventprop": ["--max-examples", "32", "--batch-size", "16"],
    "shd_eventprop": ["--max-examples", "8", "--batch-size", "4"],
    "pattern_eprop": [],
    "shd_eprop": ["--max-examples", "2", "--batch-size", "2"],
}


@pytest.mark.parametrize("key", sorted(RUNS))
def test_exported_example_trains_one_epoch(key: str, tmp_path: Path, fake_shd) -> None:
    project = load_example(key)
    script = write_script(project, tmp_path / f"{key}.py")
    args = ["--epochs", "1", *RUNS[key]]
    if project.dataset.source == "file":
        no_data = run_script(script, *args)
        assert no_data.returncode != 0 and "--data" in no_data.stderr
        args += ["--data", str(fake_shd(tmp_path / "shd_train.h5"))]
    result = run_script(script, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"Train (accuracy|MSE) = ([-0-9.e+]+)", result.stdout)
    assert match, result.stdout
    value = float(match.group(2))
    assert np.isfinite(value)
    if match.group(1) == "accuracy":
        assert 0.0 <= value <= 100.0


def test_export_mentions_every_argument_and_compiles() -> None:
    for key in ("yin_yang_eventprop", "pattern_eprop", "shd_eprop"):
        project = load_example(key)
        src = export_script(project)
        compile(src, key, "exec")
        for name, value in project.compiler.params.items():
            if name != "batch_size":
                assert f"{name}={value!r}" in src, (key, name)
        for pop in project.populations:
            assert f"name={pop.name!r}" in src
        for conn in project.connections:
            assert f"name={conn.name!r}" in src


def test_export_uses_trained_weights(tmp_path: Path) -> None:
    from app.project.io import save_project, weights_path

    project = load_example("yin_yang_eventprop")
    shape = (project.populations[0].size, project.populations[1].size)
    project.weights[project.connections[0].id] = np.ones(shape, np.float32)
    path = save_project(project, tmp_path / "yy.ssproj")
    src = export_script(project, weights_path(path))
    assert "allow_pickle=False" in src
    assert f"weights[{project.connections[0].id!r}]" in src
    assert "Normal(mean=0.93, sd=0.1)" in src  # the untrained connection keeps its initializer
