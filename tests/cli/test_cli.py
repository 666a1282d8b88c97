"""The spike-studio command line: headless train, export and examples."""

from __future__ import annotations

from app.cli import main
from app.project.examples import load_example
from app.project.io import save_project


def test_train_uses_the_projects_epochs_and_prints_metrics(tmp_path, capsys):
    project = load_example("mnist5k_latency_eventprop")
    project.training.num_epochs = 2
    path = tmp_path / "p.ssproj"
    save_project(project, path)
    assert main(["train", str(path), "--limit", "64"]) == 0
    out = capsys.readouterr().out
    assert "for 2 epoch(s)" in out
    assert "epoch 0:" in out and "epoch 1:" in out and "epoch 2:" not in out
    assert "test SparseCategoricalAccuracy" in out


def test_export_and_examples_commands(tmp_path, capsys):
    script = tmp_path / "s.py"
    assert main(["export", "resources/examples/yin_yang_eventprop.ssproj", "-o",
                 str(script)]) == 0
    compile(script.read_text(), str(script), "exec")
    assert main(["examples"]) == 0
    assert "yin_yang_eventprop" in capsys.readouterr().out


def test_bad_project_path_is_a_clear_error(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.ssproj")]) == 2
    assert "error" in capsys.readouterr().err
