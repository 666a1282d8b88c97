"""The optional GeNN backend, against the real mlGeNN 2.3.1 and pygenn 5.4.0.

Only the check of which backends are offered uses a stand-in (it must see
both "installed" and "missing" on one machine); every claim about what GeNN
does runs the real libraries and skips where they are not installed.
"""
from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.project import schema
from app.project.examples import examples, load_example
from app.worker import genn_backend as gb
from app.worker.protocol import PLOT_KINDS, WorkerSpec

EXAMPLE_KEYS = [ex.key for ex in examples()]
#: Examples per bundled project: SHD e-prop keeps an eligibility trace per synapse
#: (245k synapses) and runs ~4 s per example on GeNN's single-threaded CPU backend.
EXAMPLES_ON_GENN = {"shd_eprop": 2}


@pytest.fixture
def real_genn() -> None:
    """Skip (cleanly) where ml_genn or pygenn is not installed."""
    pytest.importorskip("ml_genn")
    pytest.importorskip("pygenn")


def test_genn_is_offered_only_when_ml_genn_and_pygenn_import(monkeypatch) -> None:
    names = [n for n, _ in gb.available_backends()]
    assert names[0] == "cpu"
    assert (gb.GENN_BACKEND in names) == gb.genn_available()
    real = gb.importlib.import_module

    def fake_import(name: str, *a: Any) -> Any:
        if name.split(".")[0] in ("ml_genn", "pygenn"):
            return types.ModuleType(name)
        return real(name, *a)

    gb.genn_kind.cache_clear()
    monkeypatch.setattr(gb.importlib, "import_module", fake_import)
    try:
        assert gb.genn_kind() == gb.CUDA_KIND
        assert ("genn", "GeNN (CUDA)") in gb.available_backends()
    finally:
        gb.genn_kind.cache_clear()
        monkeypatch.setattr(gb.importlib, "import_module", real)


def test_the_installed_wheels_are_the_cpu_backend(real_genn) -> None:
    assert gb.genn_kind() == gb.CPU_KIND
    assert ("genn", "GeNN (CPU)") in gb.available_backends()


def test_cpu_backend_batch_size_one_is_shown_before_training() -> None:
    p = load_example("shd_eventprop")
    cpu = " ".join(gb.genn_warnings(p, gb.CPU_KIND))
    assert "batch size 1" in cpu and "32" in cpu
    cuda = " ".join(gb.genn_warnings(p, gb.CUDA_KIND))
    assert "batch size 1" not in cuda and "loss" in cuda


def test_document_maps_to_real_mlgenn_objects(real_genn) -> None:
    from ml_genn.losses import RelativeMeanSquareError
    from ml_genn.readouts import FirstSpikeTime

    p = load_example("yin_yang_eventprop")
    trained = np.random.default_rng(1).normal(size=(200, 3)).astype(np.float32)
    p.weights[p.connections[1].id] = trained
    built = gb.build_genn(p, gb.CPU_KIND)
    for q in p.populations:
        pop = built.populations[q.id]
        assert type(pop.neuron).__name__ == q.model and pop.name == q.name
        assert pop.shape == (q.size,) and pop.record_spikes
        for k, v in q.params.items():
            assert getattr(pop.neuron, k) == v, (q.name, k)
    assert isinstance(built.populations["p3"].neuron.readout, FirstSpikeTime)
    c0, c1 = (built.connections[c.id] for c in p.connections)
    assert c0.source() is built.populations["p1"] and c0.target() is built.populations["p2"]
    w0 = c0.connectivity.weight
    assert type(w0).__name__ == "Normal" and (w0.mean, w0.sd) == (1.5, 0.78)
    np.testing.assert_array_equal(c1.connectivity.weight, trained)  # trained weights win
    assert c0.synapse.scale_i is True
    comp = built.compiler
    assert type(comp).__name__ == "EventPropCompiler"
    assert comp.batch_size == 1 and comp.genn_kwargs == {"backend": gb.CPU_KIND}
    for k, v in p.compiler.params.items():
        if k not in schema.not_in_mlgenn(p.compiler.type) and k != "batch_size":
            assert getattr(comp, k) == v, k
    assert comp.losses == "sparse_categorical_crossentropy"
    assert comp._optimiser.beta2 == 0.999
    # the example's first-spike loss is ours: GeNN trains with mlGeNN's, and says so
    assert any("ttfs_loss='exponential'" in w for w in gb.genn_warnings(p, gb.CPU_KIND))
    p.compiler.loss = {"type": "RelativeMeanSquareError", "delta": 1.0}
    assert isinstance(gb.build_genn(p, gb.CPU_KIND).compiler.losses, RelativeMeanSquareError)


def busy_shd(path: Path, n: int, seed: int = 0) -> Path:
    """A file with SHD's layout (700 channels, 20 classes) and ~25 spikes per ms in the
    first 0.6 s, enough to make the examples' hidden neurons spike."""
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for k in range(n):
            times[k] = np.sort(rng.uniform(0.0, 0.6, 15000)).astype(np.float32)
            units[k] = rng.integers(0, 700, 15000).astype(np.uint16)
        f.create_dataset("labels", data=rng.integers(0, 20, n).astype(np.uint16))
    return path


def _small(key: str, tmp_path: Path, n: int = 24) -> Any:
    p = load_example(key)
    p.training.max_examples = EXAMPLES_ON_GENN.get(key, n)
    p.training.num_epochs = 1
    if p.dataset.source == "file":
        p.dataset.path = str(busy_shd(tmp_path / "shd.h5", p.training.max_examples))
    return p


@pytest.mark.parametrize("key", EXAMPLE_KEYS)
def test_every_example_trains_to_the_end_on_genn(key: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 real_genn) -> None:
    p = _small(key, tmp_path)
    rng = np.random.default_rng(0)
    w_start = {}  # known starting weights, drawn from each connection's own initializer
    for c in p.connections:
        shape = (p.population(c.source).size, p.population(c.target).size)
        w_start[c.id] = rng.normal(c.weight["mean"], c.weight["sd"], shape).astype(np.float32)
    p.weights.update(w_start)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    spec = WorkerSpec(project_json="", run_dir=str(run_dir), run="r", sample_every=5,
                      min_sample_interval_s=0.0)  # the batch pattern, however fast
    sent: list[dict] = []
    checks: list[tuple[int, int]] = []
    res = gb.train_on_genn(p, spec, sent.append, check=lambda e, b: checks.append((e, b)))
    from app.project.build import load_dataset

    n = len(load_dataset(p).train_spikes)  # the pattern task has a single example
    assert {m["kind"] for m in sent} <= set(PLOT_KINDS)
    batches = [m for m in sent if m["kind"] == "batch_metrics"]
    assert [m["batch"] for m in batches] == list(range(n)) and checks == [(0, b) for b in range(n)]
    assert batches[-1]["fraction"] == pytest.approx(1.0) and batches[-1]["samples_per_s"] > 0
    regression = res.metric == "mean_square_error"
    key_metric = "mse" if regression else "accuracy"
    assert all(m[key_metric] is not None and m["loss"] is None for m in batches)
    epochs = [m for m in sent if m["kind"] == "epoch_metrics"]
    assert [m["epoch"] for m in epochs] == [0] and epochs[0][key_metric] == res.value
    assert res.value is not None and (res.value > 0 if regression else 0 <= res.value <= 1)
    # rasters, voltages and weights of batch 0 and every 5th batch
    t_max = p.compiler.timesteps * float(p.compiler.params["dt"])
    rasters = [m for m in sent if m["kind"] == "raster"]
    assert {m["population"] for m in rasters} == {q.name for q in p.populations}
    assert len(rasters) == len(p.populations) * len(range(0, n, 5))
    assert any(len(m["times"]) for m in rasters if m["population"] == "input")
    for m in rasters:
        assert len(m["times"]) == len(m["ids"]) and m["t_max"] == pytest.approx(t_max)
        assert np.all((m["ids"] >= 0) & (m["ids"] < m["n"]))
        assert np.all((m["times"] >= 0) & (m["times"] < t_max))
    volts = [m for m in sent if m["kind"] == "voltage"]
    assert volts and volts[0]["population"] == "hidden"
    assert volts[0]["V"].shape == (len(volts[0]["t"]), 8) and np.ptp(volts[0]["V"]) > 0
    assert {m["connection"] for m in sent if m["kind"] == "weights"} == \
        {c.name for c in p.connections}
    # trained: every connection's starting weights moved; saved with the run
    assert any(len(m["times"]) for m in rasters if m["population"] == "hidden")
    assert set(res.weights) == set(w_start)
    for c in p.connections:
        assert not np.array_equal(res.weights[c.id], w_start[c.id]), c.name
    for c in p.connections:
        saved = np.load(run_dir / "weights" / f"final-{c.name}-g.npy")
        np.testing.assert_array_equal(saved, res.weights[c.id])
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["epochs_done"] == 1
    assert json.loads((run_dir / "metrics.json").read_text())["epoch"][0][key_metric] == \
        pytest.approx(res.value)
    # GeNN's generated code is in the run folder, nothing in the current directory
    assert (run_dir / "genn" / f"{gb.MODEL_NAME}{p.compiler.type}_CODE").is_dir()
    assert res.code_dir == run_dir / "genn"
    assert list(cwd.iterdir()) == []


def test_without_a_run_folder_the_code_goes_to_a_temporary_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_genn) -> None:
    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 4
    monkeypatch.chdir(tmp_path)
    res = gb.train_on_genn(p, WorkerSpec(project_json="", num_epochs=1), lambda m: None)
    assert res.code_dir is None and res.value is not None
    assert list(tmp_path.iterdir()) == []


def test_stop_raised_by_the_check_ends_the_run_and_frees_mlgenn(tmp_path: Path,
                                                                real_genn) -> None:
    from ml_genn.compilers.compiled_network import CompiledNetwork

    class Stop(Exception):
        pass

    def check(epoch: int, batch: int) -> None:
        if batch == 2:
            raise Stop()

    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 8
    sent: list[dict] = []
    with pytest.raises(Stop):
        gb.train_on_genn(p, WorkerSpec(project_json="", num_epochs=1), sent.append, check)
    assert [m["batch"] for m in sent if m["kind"] == "batch_metrics"] == [0, 1, 2]
    assert CompiledNetwork._context is None  # a next run may open a compiled network


def test_validation_split_streams_validation_metrics(tmp_path: Path, real_genn) -> None:
    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 12
    p.training.validation_split = 0.25
    sent: list[dict] = []
    history: dict[str, list] = {"batch": [], "epoch": []}
    gb.train_on_genn(p, WorkerSpec(project_json="", num_epochs=2), sent.append,
                     history=history)
    assert len([m for m in sent if m["kind"] == "batch_metrics"]) == 2 * 9
    vals = [m for m in sent if m["kind"] == "epoch_metrics" and "val_accuracy" in m]
    assert [m["epoch"] for m in vals] == [0, 1]
    assert all(0.0 <= m["val_accuracy"] <= 1.0 for m in vals)
    assert [set(r) >= {"accuracy", "val_accuracy"} for r in history["epoch"]] == [True, True]


def test_worker_process_trains_on_genn_and_streams_to_the_plots(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_genn) -> None:
    """The real worker process (spawned), chosen backend "genn": the plots' messages, the
    trained weights in ``finished``, GeNN's code in the run folder, nothing in the cwd."""
    from app.worker import TrainingClient

    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 12
    p.training.num_epochs = 2
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    client = TrainingClient()
    run_dir = client.start_training(p, None, root=tmp_path / "runs", backend="genn",
                                    sample_every=4)
    msgs = client.wait(180)
    assert msgs[-1]["kind"] == "finished", msgs[-1]
    kinds = [m["kind"] for m in msgs]
    assert kinds.count("batch_metrics") == 24 and kinds.count("epoch_metrics") == 2
    assert {"raster", "voltage", "weights"} <= set(kinds)
    final = msgs[-1]["weights"]
    assert final["c1"].shape == (5, 200) and final["c2"].shape == (200, 3)
    assert msgs[-1]["metric"] == "sparse_categorical_accuracy"
    assert 0.0 <= msgs[-1]["value"] <= 1.0
    assert (run_dir / "genn" / f"{gb.MODEL_NAME}EventPropCompiler_CODE").is_dir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    assert list(cwd.iterdir()) == []
    # Evaluate with GeNN chosen runs the forward pass on our engine (bit-identical to
    # mlGeNN's): it must evaluate, never train
    client.start_evaluation(p, None, mode="evaluate", backend="genn")
    msgs = client.wait(60)
    assert [m["kind"] for m in msgs if m["kind"] in ("evaluation", "batch_metrics")] == \
        ["evaluation"]


def test_per_timestep_mse_on_genn_equals_our_engines(real_genn) -> None:
    """The pattern task's targets are per timestep, which mlGeNN's MeanSquareError
    refuses; the backend scores every step's output voltage instead.  From the same
    weights, one trial on GeNN and on our engine give the same whole-trial error."""
    from app.project.build import build

    p = load_example("pattern_eprop")
    rng = np.random.default_rng(3)
    for c in p.connections:
        shape = (p.population(c.source).size, p.population(c.target).size)
        p.weights[c.id] = rng.normal(0.0, c.weight["sd"], shape).astype(np.float32)
    res = gb.train_on_genn(p, WorkerSpec(project_json="", num_epochs=1), lambda m: None)
    built = build(p, None)
    x, y = built.train_data()
    with built.compiler.compile(built.network) as cn:
        mets, _ = cn.train(x, y, num_epochs=1, shuffle=False, callbacks=[],
                           metrics="mean_square_error")
        ours = float(np.mean(cn.last_squared_error[built.output.name]))
    assert res.metric == "mean_square_error" and res.value > 1.0
    print(f"whole-trial MSE: GeNN {res.value!r}, ours {ours!r}, "
          f"our metric {mets[built.output].result!r}")
    assert res.value == pytest.approx(ours, rel=1e-5)
    # our own metric (what the worker streams) is that same whole-trial number
    assert mets[built.output].result == pytest.approx(res.value, rel=1e-5)
