"""The real worker process: streamed messages, run folder, stop/pause, evaluate/predict."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from app.project.examples import load_example
from app.worker import TrainingClient, runs


def small_project(epochs: int = 2, examples: int = 64, batch: int = 16):
    """The Yin-Yang example cut down to a few batches."""
    p = load_example("yin_yang_eventprop")
    p.training.max_examples = examples
    p.training.num_epochs = epochs
    p.training.shuffle = True
    p.compiler.params["batch_size"] = batch
    return p


def kinds(msgs: list[dict], kind: str) -> list[dict]:
    return [m for m in msgs if m["kind"] == kind]


def test_training_streams_everything_and_records_the_run(tmp_path: Path) -> None:
    project = small_project()
    project.training.validation_split = 0.25  # 48 training + 16 validation examples
    client = TrainingClient()
    run_dir = client.start_training(project, None, root=tmp_path / "runs", sample_every=2)
    msgs = client.wait(90)
    assert msgs[0]["kind"] == "started" and msgs[0]["pid"] != 0
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    assert client.state == "finished" and not client.running
    batches = kinds(msgs, "batch_metrics")
    assert [m["step"] for m in batches] == list(range(6))
    assert all(np.isfinite(m["loss"]) and 0.0 <= m["accuracy"] <= 1.0 for m in batches)
    last = batches[-1]
    assert last["fraction"] == pytest.approx(1.0) and last["eta_s"] == pytest.approx(0.0)
    assert last["samples_per_s"] > 0 and last["num_batches"] == 3
    epochs = [m for m in kinds(msgs, "epoch_metrics") if "loss" in m]
    assert [m["epoch"] for m in epochs] == [0, 1]
    vals = [m for m in kinds(msgs, "epoch_metrics") if "val_loss" in m]
    assert [m["epoch"] for m in vals] == [0, 1]
    assert all(0.0 <= m["val_accuracy"] <= 1.0 and np.isfinite(m["val_loss"]) for m in vals)
    rasters = kinds(msgs, "raster")
    assert {m["population"] for m in rasters} == {"input", "hidden", "output"}
    assert any(len(m["times"]) > 0 for m in rasters if m["population"] == "input")
    for m in rasters:
        assert len(m["times"]) == len(m["ids"])
        assert np.all((m["ids"] >= 0) & (m["ids"] < m["n"]))
        assert np.all(m["times"] <= m["t_max"])
    volts = kinds(msgs, "voltage")
    assert volts and volts[0]["population"] == "hidden" and volts[0]["v_thresh"] == 1.0
    assert volts[0]["V"].shape == (len(volts[0]["t"]), 8) and volts[0]["ids"] == list(range(8))
    assert np.isfinite(volts[0]["V"]).all() and np.ptp(volts[0]["V"]) > 0
    weights = {m["connection"]: m for m in kinds(msgs, "weights")}
    assert set(weights) == {"input_hidden", "hidden_output"}
    n_in, n_hid, n_out = (pop.size for pop in project.populations)
    assert weights["input_hidden"]["count"] == n_in * n_hid
    assert weights["input_hidden"]["std"] > 0
    assert [m["epoch"] for m in kinds(msgs, "checkpoint")] == [0, 1]
    final = msgs[-1]["weights"]
    assert final["c1"].shape == (n_in, n_hid) and final["c2"].shape == (n_hid, n_out)
    # the run on disk
    assert run_dir.parent == tmp_path / "runs"
    settings = json.loads((run_dir / "settings.json").read_text())
    assert settings["num_epochs"] == 2 and settings["project"]["name"] == "Yin-Yang EventProp"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["checkpoints"] == [0, 1]
    hist = runs.read_history(run_dir)
    assert [r["epoch"] for r in hist["epoch"]] == [0, 1] and len(hist["batch"]) == 6
    assert hist["epoch"][1]["val_accuracy"] == pytest.approx(vals[1]["val_accuracy"])
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[1]["loss"]) == pytest.approx(epochs[1]["loss"])
    assert (run_dir / "checkpoints" / "1-input_hidden-g.npy").is_file()
    np.testing.assert_array_equal(np.load(run_dir / "weights" / "final-input_hidden-g.npy"),
                                  final["c1"])
    listed = runs.list_runs(tmp_path / "runs")
    assert [(r.name, r.status, r.epochs_done, r.last_checkpoint) for r in listed] == \
        [(run_dir.name, "finished", 2, 1)]


def test_pause_holds_and_stop_ends_within_one_batch(tmp_path: Path) -> None:
    client = TrainingClient()
    client.start_training(small_project(epochs=200, batch=8), None, root=tmp_path)
    msgs: list[dict] = []
    t_end = time.monotonic() + 60
    while not kinds(msgs, "batch_metrics") and time.monotonic() < t_end:
        msgs += client.poll()
        time.sleep(0.01)
    client.pause()
    while not kinds(msgs, "paused") and time.monotonic() < t_end:
        msgs += client.poll()
        time.sleep(0.01)
    paused = kinds(msgs, "paused")[0]
    assert client.state == "paused"
    time.sleep(0.5)
    during = client.poll()
    assert kinds(during, "batch_metrics") == []  # nothing trains while paused
    client.resume()
    more: list[dict] = []
    while len(kinds(more, "batch_metrics")) < 3 and time.monotonic() < t_end:
        more += client.poll()
        time.sleep(0.005)
    assert kinds(more, "resumed")[0]["batch"] == paused["batch"]
    t_stop = time.monotonic()
    client.stop()
    rest = client.wait(30)
    took = time.monotonic() - t_stop
    stopped = rest[-1]
    assert stopped["kind"] == "stopped" and client.state == "stopped"
    everything = msgs + during + more + rest
    last_batch = kinds(everything, "batch_metrics")[-1]
    # the stop is honoured at the end of the batch that was running: no batch after it
    assert (stopped["epoch"], stopped["batch"]) == (last_batch["epoch"], last_batch["batch"])
    assert took < 5.0
    assert len(kinds(everything, "batch_metrics")) < 200 * 8
    status = json.loads((client.run_dir / "status.json").read_text())
    assert status["status"] == "stopped"


def test_evaluate_and_predict_on_the_test_split(tmp_path: Path) -> None:
    project = small_project(examples=48)
    client = TrainingClient()
    client.start_evaluation(project, None, mode="evaluate")
    msgs = client.wait(60)
    ev = kinds(msgs, "evaluation")
    assert len(ev) == 1 and ev[0]["n"] == 48 and 0.0 <= ev[0]["accuracy"] <= 1.0
    assert msgs[-1]["kind"] == "finished" and client.state == "finished"
    client.start_evaluation(project, None, mode="predict")
    msgs = client.wait(60)
    assert msgs[-1]["kind"] == "finished"
    pred = kinds(msgs, "predictions")
    assert len(pred) == 1 and pred[0]["predicted"].shape == (48,)
    assert set(np.unique(pred[0]["predicted"])) <= {0, 1, 2}
    # same weights, same data: predicting agrees with evaluating
    assert pred[0]["accuracy"] == pytest.approx(ev[0]["accuracy"])
    from app.project.build import build

    labels = build(project).dataset.test_labels
    np.testing.assert_array_equal(pred[0]["labels"], labels)


def test_eprop_regression_streams_mse(tmp_path: Path) -> None:
    p = load_example("pattern_eprop")
    p.training.num_epochs = 2
    client = TrainingClient()
    run_dir = client.start_training(p, None, root=tmp_path, sample_every=1)
    msgs = client.wait(90)
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    batch = kinds(msgs, "batch_metrics")[0]
    assert batch["accuracy"] is None and batch["mse"] >= 0.0
    rows = kinds(msgs, "epoch_metrics")
    assert [r["epoch"] for r in rows] == [0, 1]
    assert all(r["mse"] >= 0.0 and r["accuracy"] is None for r in rows)
    saved = runs.read_history(run_dir)["epoch"]
    assert [r["mse"] for r in saved] == pytest.approx([r["mse"] for r in rows])
    assert kinds(msgs, "voltage")[0]["population"] == "hidden"


def test_close_during_training_ends_the_worker_and_marks_the_run(tmp_path: Path) -> None:
    client = TrainingClient()
    run_dir = client.start_training(small_project(epochs=200, batch=8), None, root=tmp_path)
    msgs: list[dict] = []
    t_end = time.monotonic() + 60
    while not kinds(msgs, "batch_metrics") and time.monotonic() < t_end:
        msgs += client.poll()
        time.sleep(0.01)
    client.close()
    assert not client.process.is_alive() and not client.running
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "stopped" and "window closed" in status["message"]


def test_sampled_neurons_change_while_training(tmp_path: Path) -> None:
    client = TrainingClient()
    client.start_training(small_project(epochs=200, batch=8), None, root=tmp_path,
                          sample_every=1)
    msgs: list[dict] = []
    t_end = time.monotonic() + 60
    while not kinds(msgs, "voltage") and time.monotonic() < t_end:
        msgs += client.poll()
        time.sleep(0.01)
    assert kinds(msgs, "voltage")[0]["ids"] == list(range(8))
    assert client.set_sampling(voltage_neurons=[3, 5])
    while not any(m["ids"] == [3, 5] for m in kinds(msgs, "voltage")) \
            and time.monotonic() < t_end:
        msgs += client.poll()
        time.sleep(0.01)
    changed = [m for m in kinds(msgs, "voltage") if m["ids"] == [3, 5]]
    assert changed and changed[0]["V"].shape[1] == 2
    client.stop()
    assert client.wait(30)[-1]["kind"] == "stopped"
