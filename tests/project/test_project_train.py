"""Headless training of a project file and storing its trained weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from app.project.build import build_network
from app.project.examples import load_example
from app.project.export import export_file
from app.project.io import load_project, save_project, weights_path
from app.project.train import train_file


def test_train_file_saves_weights_that_reload(tmp_path: Path) -> None:
    project = load_example("yin_yang_eventprop")
    project.training.max_examples = 16
    project.compiler.params["batch_size"] = 8
    path = save_project(project, tmp_path / "yy.ssproj")
    result = train_file(path, num_epochs=1, save_weights=True)
    assert result.metric == "accuracy" and 0.0 <= result.value <= 1.0
    assert set(result.weights) == {c.id for c in project.connections}
    assert weights_path(path).is_file()
    again = load_project(path)
    cid = project.connections[0].id
    assert again.weights[cid].shape == (5, 200)
    np.testing.assert_array_equal(again.weights[cid], result.weights[cid])
    _, _, conns = build_network(again)
    np.testing.assert_array_equal(conns[cid].connectivity.weight, again.weights[cid])
    script = export_file(path, tmp_path / "yy.py")
    assert "yy.weights.npz" in script.read_text()
