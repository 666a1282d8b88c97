"""The optional GeNN backend: offered only when ml_genn and pygenn import; the
document -> mlGeNN mapping and the streaming callback are tested with
stand-ins; real GeNN training is skipped where GeNN is absent."""
from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from app.project.examples import load_example
from app.worker import genn_backend as gb
from app.worker.protocol import PLOT_KINDS


class _Rec:
    """Records constructor arguments; usable as a context manager."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __enter__(self) -> _Rec:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False


def _stub_modules() -> dict[str, types.ModuleType]:
    mods = {}
    for name in ("ml_genn", "ml_genn.compilers", "ml_genn.connectivity",
                 "ml_genn.initializers", "ml_genn.losses", "ml_genn.neurons",
                 "ml_genn.optimisers", "ml_genn.synapses"):
        m = types.ModuleType(name)
        m.__getattr__ = lambda attr: type(attr, (_Rec,), {})  # type: ignore[attr-defined]
        mods[name] = m
    return mods


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


def test_cpu_backend_batch_size_one_is_shown_before_training() -> None:
    p = load_example("shd_eventprop")
    cpu = " ".join(gb.genn_warnings(p, gb.CPU_KIND))
    assert "batch size 1" in cpu and "32" in cpu
    cuda = " ".join(gb.genn_warnings(p, gb.CUDA_KIND))
    assert "batch size 1" not in cuda and "Voltage" in cuda


def test_document_maps_to_mlgenn_objects_with_every_argument() -> None:
    p = load_example("yin_yang_eventprop")
    p.weights[p.connections[1].id] = np.full((100, 3), 0.25)
    built = gb.build_genn(p, gb.CPU_KIND, ml=_stub_modules())
    assert [pop.kwargs["name"] for pop in built.populations.values()] == \
        [q.name for q in p.populations]
    for q in p.populations:
        rec = built.populations[q.id]
        neuron = rec.args[0]
        assert type(neuron).__name__ == q.model
        assert {k: v for k, v in neuron.kwargs.items() if k != "readout"} == q.params
        assert neuron.kwargs.get("readout") == q.readout
        assert rec.args[1] == q.size and rec.kwargs["record_spikes"] is True
    c0, c1 = (built.connections[c.id] for c in p.connections)
    assert c0.args[0] is built.populations["p1"] and c0.args[1] is built.populations["p2"]
    w0 = c0.args[2].kwargs["weight"]
    assert type(w0).__name__ == "Normal" and w0.kwargs == {"mean": 1.5, "sd": 0.78}
    assert np.all(c1.args[2].kwargs["weight"] == 0.25)  # trained weights win
    assert c0.args[3].kwargs == {"tau": 5.0, "scale_i": True}
    comp = built.compiler
    assert type(comp).__name__ == "EventPropCompiler"
    assert comp.kwargs["batch_size"] == 1 and comp.kwargs["backend"] == gb.CPU_KIND
    for k, v in p.compiler.params.items():
        if k not in ("backend", "batch_size"):
            assert comp.kwargs[k] == v, k
    assert comp.kwargs["losses"].args == (1.0,)
    assert comp.kwargs["optimiser"].kwargs["beta2"] == 0.99
    cuda = gb.build_genn(p, gb.CUDA_KIND, ml=_stub_modules())
    assert cuda.compiler.kwargs["batch_size"] == 512


def test_stream_callback_sends_the_plots_messages() -> None:
    sent: list[dict] = []
    checks: list[tuple] = []
    pop = object()
    genn_pop = types.SimpleNamespace(num_neurons=5, spike_recording_data=[
        (np.array([3001.0, 3002.5]), np.array([1, 4]))])
    pulls: list[int] = []
    cn = types.SimpleNamespace(num_recording_timesteps=100, neuron_populations={pop: genn_pop},
                               genn_model=types.SimpleNamespace(
                                   pull_recording_buffers_from_device=lambda: pulls.append(1)))
    s = gb.GeNNStream(sent.append, "r1", {"hidden": pop}, dt=1.0, example_timesteps=100,
                      sample_every=2, check=lambda e, b: checks.append((e, b)))
    s.set_params(data={}, compiled_network=cn, num_batches=3, num_epochs=1)
    s.on_train_begin()
    s.on_epoch_begin(0)
    metric = types.SimpleNamespace(result=0.5, total=8)
    for b in range(3):
        metric.total = 8 * (b + 1)
        s.on_batch_end(b, {"out": metric})
    s.on_epoch_end(0, {"out": metric})
    kinds = [m["kind"] for m in sent]
    assert kinds == ["batch_metrics", "raster", "batch_metrics", "batch_metrics", "raster",
                     "epoch_metrics"]
    assert set(kinds) <= set(PLOT_KINDS)
    assert sent[0]["accuracy"] == 0.5 and sent[3]["fraction"] == 1.0
    raster = sent[1]
    np.testing.assert_allclose(raster["times"], [1.0, 2.5])
    assert list(raster["ids"]) == [1, 4] and raster["n"] == 5 and raster["t_max"] == 100.0
    assert checks == [(0, 0), (0, 1), (0, 2)] and len(pulls) == 2


@pytest.mark.skipif(not gb.genn_available(), reason="ml_genn and pygenn are not installed")
def test_one_epoch_on_genn_matches_our_engine_within_noise() -> None:
    from app.project.build import build, limit_dataset

    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 1024
    p.compiler.params["batch_size"] = 32 if gb.genn_kind() == gb.CUDA_KIND else 1
    sent: list[dict] = []
    genn_acc = gb.train_on_genn(p, None, sent.append, num_epochs=1)
    assert any(m["kind"] == "epoch_metrics" for m in sent)
    built = build(p, None)
    built.dataset = limit_dataset(built.dataset, 1024)
    x, y = built.train_data()
    with built.compiler.compile(built.network) as cn:
        mets, _ = cn.train(x, y, num_epochs=1, shuffle=p.training.shuffle, callbacks=[])
    ours = mets[built.output].result
    assert abs(genn_acc - ours) < 0.1, (genn_acc, ours)
