"""The spike-studio command line: headless train, export, import and examples, its
refusals and messages, and the file-level guarantees it relies on."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

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


# ---- issue 13: each refusal and message of the command line -------------------------


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--epochs", "-1"], ["--limit", "-5"],
                                  ["--limit", "0"]])
def test_epochs_and_limit_below_one_are_refused(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {args[0]}: must be at least 1, got {args[1]}" in err


def test_unknown_example_lists_the_valid_keys(capsys):
    assert main(["train", "--example", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no example called 'nope'" in err
    for key in ("yin_yang_eventprop", "pattern_eprop", "shd_eventprop"):
        assert key in err


def _fake_shd(path: Path, n: int = 6) -> Path:
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for k in range(n):
            m = int(rng.integers(20, 60))
            times[k] = np.sort(rng.uniform(0.0, 0.5, m)).astype(np.float32)
            units[k] = rng.integers(0, 700, m).astype(np.uint16)
        f.create_dataset("labels", data=rng.integers(0, 20, n).astype(np.uint16))
    return path


def test_shd_example_without_data_says_how_to_give_it(tmp_path, capsys):
    assert main(["train", "--example", "shd_eventprop"]) == 2
    err = capsys.readouterr().err
    assert "dataset.path" in err and "--data shd_train.h5 --test-data shd_test.h5" in err
    data = _fake_shd(tmp_path / "shd_train.h5")
    assert main(["train", "--example", "shd_eventprop", "--data", str(data), "--epochs", "1",
                 "--limit", "4"]) == 0
    assert "epoch 0:" in capsys.readouterr().out


def test_eprop_regression_reports_its_mse(capsys):
    assert main(["train", "--example", "pattern_eprop", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "epoch 0: MeanSquareError" in out and "test MeanSquareError" in out
    assert "SparseCategoricalAccuracy" not in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("spike-studio ")


def test_a_project_file_argument_opens_it_in_the_editor(tmp_path, monkeypatch):
    import app.editor

    opened: list[list[str]] = []
    monkeypatch.setattr(app.editor, "run_gui", lambda paths=None: opened.append(paths) or 0)
    path = tmp_path / "p.ssproj"
    save_project(load_example("yin_yang_eventprop"), path)
    assert main([str(path)]) == 0
    assert main([]) == 0
    assert main(["gui", str(path)]) == 0
    assert opened == [[str(path)], [], [str(path)]]
    assert main([str(tmp_path / "missing.ssproj")]) == 2  # a clear error, no window


def test_epoch_times_are_per_epoch_not_cumulative(monkeypatch, capsys):
    import itertools
    import re

    import app.cli

    clock = itertools.count(0.0, 10.0)  # every reading of the clock is 10 s later
    monkeypatch.setattr(app.cli, "perf_counter", lambda: next(clock))
    assert main(["train", "--example", "yin_yang_eventprop", "--epochs", "3",
                 "--limit", "32"]) == 0
    times = [float(t) for t in re.findall(r"epoch \d: .*\((\d+\.\d) s", capsys.readouterr().out)]
    assert len(times) == 3 and times[1] == times[2] == 10.0, times


def test_first_batch_compiling_kernels_is_announced_with_progress(monkeypatch, capsys):
    import time

    from app.cli import _CompileNotice

    notice = _CompileNotice(print)
    monkeypatch.setattr(_CompileNotice, "DELAY_S", 0.05)
    notice.on_epoch_begin(0)
    time.sleep(0.3)  # a first batch that compiles for a while
    notice.on_batch_end(0, None)
    notice.on_batch_end(1, None)
    notice.on_epoch_begin(1)
    notice.on_batch_end(0, None)
    out = capsys.readouterr().out
    assert out.count("compiling the simulation kernels") == 1
    assert "kernels ready after 0." in out and notice.seconds >= 0.25


def test_export_into_a_missing_folder_fails_without_creating_it(tmp_path, capsys):
    out = tmp_path / "nonexistent" / "dir" / "x.py"
    assert main(["export", "resources/examples/yin_yang_eventprop.ssproj", "-o",
                 str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nonexistent").exists()


def test_import_of_a_project_file_is_refused(tmp_path, capsys):
    out = tmp_path / "x.ssproj"
    assert main(["import", "resources/examples/yin_yang_eventprop.ssproj", "-o",
                 str(out)]) == 2
    assert "is a Spike Studio project, not an mlGeNN script" in capsys.readouterr().err
    assert not out.exists()
