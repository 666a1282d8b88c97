"""build(): document -> app.model network, app.training compiler and dataset."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from app.project import schema
from app.project.build import build, build_network
from app.project.document import Project, new_connection, new_population
from app.project.errors import ProjectError
from app.project.examples import load_example
from app.project.validate import validate_project

IGNORED = {"self", "losses", "optimiser", "communicator", "delay_optimiser",
           "delay_learn_conns", "kwargs",
           # connections (compiler.deep_r_conns) and the library's callback-data record
           "deep_r_conns", "deep_r_record_rewirings"}


def test_schema_lists_every_constructor_argument_of_the_library() -> None:
    from app.model import neurons
    from app.training import compilers

    present = [k for k in schema.COMPILERS if hasattr(compilers, k)]
    assert present == list(schema.COMPILERS)
    for key in present:
        sig = inspect.signature(getattr(compilers, key))
        names = {n for n in sig.parameters if n not in IGNORED}
        assert names == {p.name for p in schema.COMPILERS[key].params}, key
        for p in schema.COMPILERS[key].params:
            assert sig.parameters[p.name].default in (p.default, inspect.Parameter.empty), \
                (key, p.name)
    for model in schema.NEURON_MODELS:
        sig = inspect.signature(getattr(neurons, model))
        names = {n for n in sig.parameters if n not in ("self", "readout")}
        assert names == {p.name for p in schema.model_params(model)}, model
        for p in schema.model_params(model):
            assert sig.parameters[p.name].default == p.default, (model, p.name)


def test_build_yin_yang_and_train_briefly() -> None:
    project = load_example("yin_yang_eventprop")
    project.training.max_examples = 16
    project.compiler.params["batch_size"] = 16
    built = build(project)
    network, compiler, dataset = built
    assert [p.name for p in network.populations] == ["input", "hidden", "output"]
    assert network.populations[1].neuron.relative_reset is False
    assert len(dataset.train_spikes) == 16
    assert built.input is network.populations[0]
    x, y = built.train_data()
    with compiler.compile(network) as cn:
        metrics, _ = cn.train(x, y, num_epochs=1, shuffle=False)
    acc = metrics[built.output].result
    assert 0.0 <= acc <= 1.0


def test_trained_weights_are_used_and_shape_checked() -> None:
    project = load_example("yin_yang_eventprop")
    cid = project.connections[0].id
    project.weights[cid] = np.full((5, 200), 0.5, np.float32)
    _, _, conns = build_network(project)
    assert np.array_equal(conns[cid].connectivity.weight, project.weights[cid])
    project.populations[1].size = 50
    with pytest.raises(ProjectError) as info:
        build_network(project)
    assert info.value.field == f"weights.{cid}"
    assert "(5, 50)" in info.value.message


def test_file_dataset_needs_a_path(tmp_path: Path, fake_shd) -> None:
    project = load_example("shd_eventprop")
    with pytest.raises(ProjectError) as info:
        build(project)
    assert info.value.field == "dataset.path"
    project.dataset.path = "shd.h5"
    fake_shd(tmp_path / "shd.h5", n=6)
    built = build(project, tmp_path)
    assert len(built.dataset.train_spikes) == 6
    assert built.dataset.train_spikes[0].end_spikes.shape == (700,)


def test_validation_uses_the_compilers_checks() -> None:
    p = Project()
    a = new_population(p, "SpikeInput", 4, "inp")
    p.populations.append(a)
    h = new_population(p, "AdaptiveLeakyIntegrateFire", 8, "hid")
    p.populations.append(h)
    o = new_population(p, "LeakyIntegrate", 3, "out", readout="sum_var")
    p.populations.append(o)
    p.connections.append(new_connection(p, a.id, h.id, synapse={"type": "Delta"}))
    p.connections.append(new_connection(p, h.id, o.id, synapse={"type": "Delta"}))
    issues = validate_project(p)  # EventProp: ALIF hidden and Delta synapses refused
    targets = {i.target for i in issues}
    assert h.id in targets
    assert any(i.kind == "connection" for i in issues) or h.id in targets
    # the same problems are what compile() refuses
    from app.training.compilers import CompileError

    built = build(p, with_data=False)
    with pytest.raises(CompileError):
        built.compiler.compile(built.network)


def test_examples_validate_clean_except_missing_files() -> None:
    for key in ("yin_yang_eventprop", "mnist5k_latency_eventprop"):
        assert validate_project(load_example(key)) == [], key
    issues = validate_project(load_example("shd_eventprop"))
    assert [i.field for i in issues] == ["dataset.path"]


def test_data_file_summary_and_shape_checks(tmp_path: Path, fake_shd) -> None:
    from app.project.validate import data_file_checks, summarise_data_file

    summary = summarise_data_file(fake_shd(tmp_path / "s.h5", n=5), "shd")
    assert summary.num_examples == 5 and summary.num_inputs == 700
    assert summary.num_classes is not None and summary.num_classes <= 20
    project = load_example("shd_eprop")
    assert data_file_checks(project, summary) == []
    project.populations[0].size = 600
    issues = data_file_checks(project, summary)
    assert [i.target for i in issues] == [project.populations[0].id]
    np.savez(tmp_path / "d.npz", times=np.array([1.0, 250.0]), ids=np.array([0, 3]),
             sample=np.array([0, 1]), labels=np.array([0, 1]))
    s2 = summarise_data_file(tmp_path / "d.npz", "npz")
    assert (s2.num_examples, s2.num_inputs, s2.num_classes, s2.latest_spike_ms) == \
        (2, 4, 2, 250.0)
    project = load_example("mnist5k_latency_eventprop")
    project.dataset.source, project.dataset.format = "file", "npz"
    issues = data_file_checks(project, s2)
    assert [i.field for i in issues] == ["compiler.params.example_timesteps"]
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ProjectError) as info:
        summarise_data_file(tmp_path / "junk.h5", "shd")
    assert info.value.field == "dataset.path"
