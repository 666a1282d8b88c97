"""Survival: kill -9 mid-epoch, resume matching an uninterrupted run, NaN, buffer
overflow and out-of-memory reported with the population or connection named."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from app.project.examples import load_example
from app.worker import TrainingClient, runs
from app.worker.protocol import FAULT_ENV


def small_project(epochs: int = 2, examples: int = 64, batch: int = 16):
    """The Yin-Yang example cut down to a few batches."""
    p = load_example("yin_yang_eventprop")
    p.training.max_examples = examples
    p.training.num_epochs = epochs
    p.training.shuffle = True
    p.compiler.params["batch_size"] = batch
    return p


def final_weights(run_dir: Path) -> dict[str, np.ndarray]:
    return {n: np.load(run_dir / "weights" / f"final-{n}-g.npy")
            for n in ("input_hidden", "hidden_output")}


def test_kill_mid_epoch_keeps_checkpoint_and_resume_matches_uninterrupted(
        tmp_path: Path) -> None:
    project = small_project()
    # mlGeNN's behaviour: synaptic input carries from trial to trial, so the resumed
    # run must get that engine state back from the checkpoint too
    project.compiler.params["reset_in_syn_between_batches"] = False
    client = TrainingClient()
    full_dir = client.start_training(project, None, root=tmp_path / "a")
    assert client.wait(90)[-1]["kind"] == "finished"
    expected = final_weights(full_dir)

    run_dir = client.start_training(project, None, root=tmp_path / "b")
    msgs: list[dict] = []
    t_end = time.monotonic() + 60
    while not any(m["kind"] == "paused" for m in msgs) and time.monotonic() < t_end:
        got = client.poll()
        msgs += got
        if any(m["kind"] == "checkpoint" and m["epoch"] == 0 for m in got):
            client.pause()  # parks the worker at the end of a batch of epoch 1
        time.sleep(0.005)
    paused = [m for m in msgs if m["kind"] == "paused"][0]
    assert paused["epoch"] == 1
    os.kill(client.pid, signal.SIGKILL)
    rest = client.wait(20)
    crash = rest[-1]
    assert crash["kind"] == "crashed" and client.state == "crashed"
    assert "SIGKILL" in crash["message"] and "epoch 0" in crash["message"]
    assert crash["last_checkpoint"] == 0
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "crashed" and status["checkpoints"] == [0]
    assert runs.checkpoint_epochs(run_dir) == [0]
    assert (run_dir / "checkpoints" / "0-input_hidden-g.npy").is_file()

    assert client.resume_run(run_dir) == 0
    resumed = client.wait(90)
    assert resumed[-1]["kind"] == "finished", resumed[-1]
    assert [m["epoch"] for m in resumed if m["kind"] == "epoch_metrics"] == [1]
    got = final_weights(run_dir)
    for name, w in expected.items():
        np.testing.assert_allclose(got[name], w, rtol=0, atol=1e-6, err_msg=name)
    hist = runs.read_history(run_dir)
    assert [r["epoch"] for r in hist["epoch"]] == [0, 1]
    assert json.loads((run_dir / "status.json").read_text())["resumed"] == [0]


def _error(project, tmp_path: Path) -> dict:
    client = TrainingClient()
    run_dir = client.start_training(project, None, root=tmp_path)
    msgs = client.wait(60)
    err = msgs[-1]
    assert err["kind"] == "error" and client.state == "failed", err
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and status["message"] == err["message"]
    assert "Traceback" in err["traceback"]
    return err


def test_nan_weight_in_the_document_names_the_connection(tmp_path: Path) -> None:
    p = small_project(epochs=1)
    shape = (p.populations[0].size, p.populations[1].size)
    w = np.random.default_rng(0).normal(1.5, 0.78, shape).astype(np.float32)
    w[2, 7] = np.nan
    p.weights["c1"] = w
    err = _error(p, tmp_path)  # the model layer refuses it while building
    assert err["error_type"] == "ProjectError" and "NaN" in err["message"]
    assert err["where"]["connection"] == "input_hidden"


def test_nan_during_training_names_the_connection(tmp_path: Path) -> None:
    p = small_project(epochs=2)
    p.compiler.optimiser["alpha"] = 1e38  # the first Adam step blows the weights up
    err = _error(p, tmp_path)
    assert err["error_type"] == "TrainingError" and "NaN" in err["message"]
    assert err["where"] == {"connection": "input_hidden"}


def test_strict_buffer_overflow_names_the_population(tmp_path: Path) -> None:
    p = small_project(epochs=1)
    p.compiler.params["max_spikes"] = 1
    p.compiler.params["strict_buffer_checking"] = True
    err = _error(p, tmp_path)
    assert err["error_type"] == "TrainingError" and "overflow" in err["message"]
    assert err["where"]["population"] in ("hidden", "output", "input")
    assert f"'{err['where']['population']}'" in err["message"]


def test_out_of_memory_names_population_and_connection(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "memory_error@0:1")
    err = _error(small_project(epochs=1), tmp_path)
    assert err["error_type"] == "MemoryError"
    assert "out of memory in epoch 0, batch 1" in err["message"]
    assert err["where"] == {"population": "hidden", "connection": "input_hidden"}
    assert "batch_size" in err["message"]


def test_stuck_worker_is_killed_after_the_grace_period(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "hang@0:1")  # batch 1 never ends
    client = TrainingClient()
    run_dir = client.start_training(small_project(epochs=1), None, root=tmp_path)
    msgs: list[dict] = []
    t_end = time.monotonic() + 60
    while not any(m["kind"] == "batch_metrics" for m in msgs) and time.monotonic() < t_end:
        msgs += client.poll()
        time.sleep(0.01)
    t0 = time.monotonic()
    client.stop(grace_s=1.0)
    end = client.wait(20)[-1]
    assert end["kind"] == "stopped" and end.get("killed") is True
    assert "killed" in end["message"] and 1.0 <= time.monotonic() - t0 < 10.0
    assert not client.process.is_alive() and client.state == "stopped"
    assert json.loads((run_dir / "status.json").read_text())["status"] == "stopped"


def test_bad_document_is_an_error_not_a_crash(tmp_path: Path) -> None:
    p = small_project(epochs=1)
    p.dataset.source = "none"
    client = TrainingClient()
    client.start_training(p, None, root=tmp_path)
    err = client.wait(60)[-1]
    assert err["kind"] == "error" and "dataset" in err["message"]


def test_runs_helpers_round_trip(tmp_path: Path) -> None:
    d = runs.new_run_dir(tmp_path)
    d2 = runs.new_run_dir(tmp_path)
    assert d != d2 and d.parent == tmp_path
    runs.save_start(d, {"mode": "train", "num_epochs": 3}, {"c1": np.ones((2, 2))})
    runs.write_history(d, {"batch": [{"step": 0, "epoch": 0, "batch": 0, "loss": float("nan")}],
                           "epoch": [{"epoch": 0, "loss": 0.5, "accuracy": None}]})
    assert runs.read_history(d)["batch"][0]["loss"] is None  # NaN stored as null
    assert (d / "metrics.csv").read_text().splitlines()[1].startswith("0,0.5,")
    np.testing.assert_array_equal(runs.load_start_weights(d)["c1"], np.ones((2, 2)))
    assert runs.checkpoint_epochs(d) == []
    names = [r.name for r in runs.list_runs(tmp_path)]
    assert names == [d.name]  # d2 has no settings.json: not a run
    assert runs.runs_root(tmp_path / "p.ssproj") == tmp_path.resolve() / "runs"
