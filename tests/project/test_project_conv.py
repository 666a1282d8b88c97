"""Convolution/pooling and integrate-and-fire in project documents: validation, shape
inference, training, trained kernels, exports both ways and the way back in."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.project.build import build, build_network
from app.project.document import (
    Project,
    drop_resolved,
    new_compiler,
    new_connection,
    new_population,
    parse_project,
)
from app.project.errors import ProjectError
from app.project.export import write_script
from app.project.io import dumps, loads
from app.project.mlgenn_export import export_mlgenn_script
from app.project.mlgenn_import import import_mlgenn_source
from app.project.shapes import apply_inferred_shapes
from app.project.train import train_project
from app.project.validate import validate_project
from tests.project.test_project_export import run_script


def _add(p: Project, item):
    (p.populations if hasattr(item, "model") else p.connections).append(item)
    return item


def _conv_project() -> Project:
    """Digits (8x8x1 latency) -> Conv2D 3x3 'same' -> AvgPool2D -> Dense, EventProp."""
    p = Project(name="conv digits")
    p.compiler = new_compiler("EventPropCompiler")
    p.compiler.params.update(example_timesteps=20, batch_size=16)
    inp = new_population(p, "SpikeInput", 64, name="pixels")
    inp.shape = [8, 8, 1]
    p.populations.append(inp)
    lif = {"relative_reset": False, "integrate_during_refrac": False, "scale_i": True}
    conv = _add(p, new_population(p, "LeakyIntegrateFire", 1, name="conv", **lif))
    pool = _add(p, new_population(p, "LeakyIntegrateFire", 1, name="pool", v_thresh=0.5,
                                  **lif))
    out = _add(p, new_population(p, "LeakyIntegrate", 10, name="out", readout="avg_var",
                                 scale_i=True))
    syn = {"type": "Exponential", "tau": 5.0, "scale_i": True}
    _add(p, new_connection(p, inp.id, conv.id, connectivity="Conv2D", filters=4,
                           conv_size=[3, 3], conv_padding="same", synapse=syn,
                           weight={"type": "Normal", "mean": 1.5, "sd": 1.0}))
    _add(p, new_connection(p, conv.id, pool.id, connectivity="AvgPool2D", flatten=True,
                           synapse=syn))
    _add(p, new_connection(p, pool.id, out.id, synapse=syn,
                           weight={"type": "Normal", "mean": 0.0, "sd": 0.3}))
    p.dataset.source, p.dataset.name = "builtin", "digits_latency"
    p.training.num_epochs, p.training.max_examples = 1, 64
    assert apply_inferred_shapes(p) == [conv.id, pool.id]
    return p


def test_connectivity_targets_get_their_shapes_and_documents_round_trip():
    p = _conv_project()
    conv, pool = p.populations[1], p.populations[2]
    assert (conv.size, conv.shape) == (256, [8, 8, 4])
    assert (pool.size, pool.shape) == (64, None)  # flattened
    p.connections[0].connectivity["filters"] = 2  # an edit propagates down the chain
    assert apply_inferred_shapes(p) == [conv.id, pool.id]
    assert (conv.shape, pool.size) == ([8, 8, 2], 32)
    back = loads(dumps(p))
    assert back.to_dict() == p.to_dict()
    assert back.connections[0].connectivity["conv_size"] == [3, 3]
    assert validate_project(p) == []


@pytest.mark.parametrize("mutate,field,msg", [
    (lambda d: d["populations"][0].__setitem__("shape", [8, 8, 2]), "populations[0].shape",
     "size is 64"),
    (lambda d: d["populations"][0].__setitem__("shape", [8, 0, 1]), "populations[0].shape",
     "positive whole numbers"),
    (lambda d: d["connections"][0]["connectivity"].__setitem__("conv_size", [3]),
     "connections[0].connectivity.conv_size", "[height, width]"),
    (lambda d: d["connections"][0]["connectivity"].__setitem__("conv_padding", "full"),
     "connections[0].connectivity.conv_padding", "one of"),
    (lambda d: d["training"].__setitem__("lr_schedule", {"type": "step", "factor": 0.5}),
     "training.lr_schedule", "exactly"),
    (lambda d: d.__setitem__("unresolved", {"population:nope:size": "len(x)"}),
     "unresolved.population:nope:size", "no value"),
])
def test_bad_fields_are_named(mutate, field, msg):
    d = _conv_project().to_dict()
    mutate(d)
    with pytest.raises(ProjectError) as info:
        parse_project(d)
    assert info.value.field == field and msg in info.value.message


def test_a_wrong_hand_written_size_is_refused_with_the_fix():
    p = _conv_project()
    p.populations[1].shape, p.populations[1].size = None, 100
    with pytest.raises(ProjectError, match=r"output shape is \(8, 8, 4\)"):
        build_network(p)


def test_conv_project_trains_and_keeps_its_trained_kernel(tmp_path):
    p = _conv_project()
    result = train_project(p, tmp_path)
    assert 0.0 <= result.value <= 1.0
    kernel = result.weights[p.connections[0].id]
    assert kernel.shape == (3, 3, 1, 4)
    assert p.connections[1].id not in result.weights  # pooling has no weights to keep
    assert result.weights[p.connections[2].id].shape == (64, 10)
    p.weights.update(result.weights)
    net, _, conns = build_network(p)
    np.testing.assert_array_equal(conns[p.connections[0].id].connectivity.weight, kernel)


def test_unresolved_values_block_training_until_set():
    p = _conv_project()
    key = f"population:{p.populations[0].id}:size"
    p.unresolved[key] = "int(np.prod(dataset.sensor_size))"
    issues = [i for i in validate_project(p) if "computes the size" in i.message]
    assert issues and issues[0].target == p.populations[0].id
    with pytest.raises(ProjectError, match="not set yet"):
        build(p, with_data=False)
    before = p.copy()
    p.populations[0].size = 64  # unchanged value: still open
    drop_resolved(before, p)
    assert key in p.unresolved
    p.populations[0].size, p.populations[0].shape = 100, None
    drop_resolved(before, p)
    assert p.unresolved == {}


def test_exported_python_script_trains_the_conv_project(tmp_path):
    p = _conv_project()
    p.training.lr_schedule = {"type": "exponential", "factor": 0.9}
    script = write_script(p, tmp_path / "conv.py")
    src = script.read_text()
    assert "Conv2D(weight=Normal(mean=1.5, sd=1.0), filters=4, conv_size=[3, 3]" in src
    assert "AvgPool2D(pool_size=[2, 2], flatten=True" in src and "(8, 8, 1)" in src
    assert "OptimiserParamSchedule(\"alpha\", alpha_schedule)" in src
    result = run_script(script, "--epochs", "1", "--max-examples", "32")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"Train accuracy = [0-9.]+%", result.stdout)


def _if_project() -> Project:
    p = Project(name="converted")
    p.compiler = new_compiler("InferenceCompiler")
    inp = _add(p, new_population(p, "IntegrateFireInput", 16, name="values", v_thresh=2.0))
    inp.shape = [4, 4, 1]
    hid = _add(p, new_population(p, "IntegrateFire", 1, name="features", v_thresh=1.5))
    out = _add(p, new_population(p, "IntegrateFire", 3, name="out", readout="spike_count"))
    _add(p, new_connection(p, inp.id, hid.id, connectivity="Conv2D", filters=2,
                           conv_size=[2, 2], conv_strides=[2, 2],
                           weight={"type": "Constant", "value": 0.5}))
    _add(p, new_connection(p, hid.id, out.id, connectivity="AvgPoolDense2D", pool_size=[2, 2],
                           weight={"type": "Uniform", "min": 0.0, "max": 1.0}))
    apply_inferred_shapes(p)
    return p


@pytest.mark.parametrize("make", [_conv_project, _if_project])
def test_mlgenn_export_imports_back_to_the_same_document(make):
    p = make()
    p.training.lr_schedule = {"type": "step", "factor": 0.7, "every": 3}
    if p.compiler.type == "InferenceCompiler":
        p.training.lr_schedule = None
    src = export_mlgenn_script(p)
    assert "(8, 8, 1)" in src or "(4, 4, 1)" in src
    result = import_mlgenn_source(src)
    assert result.unmapped == []
    got, want = result.project.to_dict(), p.to_dict()
    for d in (got, want):
        for q in d["populations"]:
            q.pop("position")
    assert got == want


def test_mlgenn_export_of_a_conv_network_builds_with_the_real_mlgenn(tmp_path, monkeypatch):
    """Conv2D -> Dense (mlGeNN 2.3.1's AvgPool2D snippet does not build on pygenn 5.4,
    and its EventProp cannot build AvgPool2D at all on the CPU backend)."""
    pytest.importorskip("ml_genn")
    p = _conv_project()
    pool = p.populations.pop(2)
    p.connections = [c for c in p.connections if pool.id not in (c.source, c.target)]
    p.connections[0].connectivity["flatten"] = True
    _add(p, new_connection(p, p.populations[1].id, p.populations[2].id,
                           synapse=dict(p.connections[0].synapse)))
    apply_inferred_shapes(p)
    assert validate_project(p) == []
    p.dataset.source, p.dataset.name = "none", ""
    p.compiler.params["batch_size"] = 1
    src = export_mlgenn_script(p)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(src)
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "net.py"], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Network compiled" in run.stdout


def test_integrate_fire_input_cannot_take_a_spike_dataset():
    p = _if_project()
    p.dataset.source, p.dataset.name = "builtin", "digits_latency"
    assert any("takes input values" in i.message for i in validate_project(p))


def test_schema_connectivity_matches_the_library_signatures():
    import inspect

    from app.model import connectivity as lib
    from app.project import schema

    for kind, params in schema.CONNECTIVITY.items():
        sig = list(inspect.signature(getattr(lib, kind)).parameters)
        names = [p.name for p in params]
        expected = [n for n in sig if n != "weight" and n != "p"
                    and n != "allow_self_connections" and n != "conv_strides"
                    or (kind != "AvgPoolConv2D" and n == "conv_strides")]
        if kind == "FixedProbability":
            continue
        assert names == expected, kind
    assert Path(lib.__file__).exists()
