"""Project document: round trips, field-naming errors, atomic save, weights, autosave."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.project import document, io
from app.project.document import Project, new_connection, new_population, parse_project
from app.project.errors import ProjectError
from app.project.examples import EXAMPLES_DIR, examples, load_example


def small_project() -> Project:
    p = Project(name="small")
    a = new_population(p, "SpikeInput", 4, "inp")
    p.populations.append(a)
    b = new_population(p, "LeakyIntegrateFire", 8, "hid", tau_refrac=2.0)
    p.populations.append(b)
    c = new_population(p, "LeakyIntegrate", 3, "out", readout="sum_var")
    p.populations.append(c)
    p.connections.append(new_connection(p, a.id, b.id))
    p.connections.append(new_connection(p, b.id, b.id))
    p.connections.append(new_connection(p, b.id, c.id, synapse={"type": "Exponential"}))
    return p


def test_roundtrip_through_json_keeps_everything(tmp_path: Path) -> None:
    p = small_project()
    path = io.save_project(p, tmp_path / "a.ssproj")
    q = io.load_project(path)
    assert q.same_as(p)
    assert q.connections[1].is_recurrent
    assert q.connections[2].synapse == {"type": "Exponential", "tau": 5.0, "scale_i": False}
    assert json.loads(path.read_text())["schema_version"] == 1


def test_every_example_loads_and_roundtrips(tmp_path: Path) -> None:
    keys = {e.key for e in examples()}
    assert keys == {"yin_yang_eventprop", "mnist5k_latency_eventprop", "pattern_eprop",
                    "shd_eprop", "shd_eventprop", "mnist5k_latency_eprop"}
    for key in keys:
        p = load_example(key)
        q = io.load_project(io.save_project(p, tmp_path / f"{key}.ssproj"))
        assert q.same_as(p), key
    yy = load_example("yin_yang_eventprop")
    assert [x.size for x in yy.populations] == [5, 200, 3]
    assert yy.populations[2].readout == "first_spike_time"
    assert yy.compiler.params["dt"] == 0.05
    assert yy.compiler.params["example_timesteps"] == 600
    assert yy.compiler.params["ttfs_loss"] == "exponential"
    assert yy.dataset.params == {"dt": 0.05, "bias": True, "input_time": 15.0}
    assert load_example("shd_eprop").dataset.format == "shd"
    assert load_example("shd_eprop").dataset.path == ""


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["populations"][2].__setitem__("size", 0), "populations[2].size"),
    (lambda d: d["populations"][1].__setitem__("size", "ten"), "populations[1].size"),
    (lambda d: d["populations"][1]["params"].__setitem__("tau_mem", -1.0),
     "populations[1].params.tau_mem"),
    (lambda d: d["populations"][1]["params"].__setitem__("bogus", 1),
     "populations[1].params.bogus"),
    (lambda d: d["populations"][0].__setitem__("model", "Izhikevich"), "populations[0].model"),
    (lambda d: d["populations"][2].__setitem__("readout", "mean"), "populations[2].readout"),
    (lambda d: d["connections"][0].__setitem__("target", "p99"), "connections[0].target"),
    (lambda d: d["connections"][1]["connectivity"].__setitem__("type", "Toeplitz"),
     "connections[1].connectivity.type"),
    (lambda d: d["connections"][0]["weight"].__setitem__("sd", -2.0), "connections[0].weight.sd"),
    (lambda d: d["populations"][1].__setitem__("id", "p1"), "populations[1].id"),
    (lambda d: d["populations"][1].__setitem__("name", "2bad name"), "populations[1].name"),
    (lambda d: d["compiler"]["params"].__setitem__("batch_size", 0), "compiler.params.batch_size"),
    (lambda d: d["compiler"].__setitem__("type", "FewSpikeCompiler"), "compiler.type"),
    (lambda d: d["dataset"].__setitem__("name", "cifar"), "dataset.name"),
    (lambda d: d["training"].__setitem__("num_epochs", 1.5), "training.num_epochs"),
    (lambda d: d.__setitem__("schema_version", 99), "schema_version"),
    (lambda d: d.pop("populations"), "populations"),
    (lambda d: d.__setitem__("format", "other"), "format"),
    (lambda d: d.__setitem__("weights", {"file": "../../etc/x.npz", "keys": []}),
     "weights.file"),
])
def test_bad_fields_are_named(tmp_path: Path, mutate, field: str) -> None:
    d = load_example("pattern_eprop").to_dict()
    d["dataset"] = {"source": "builtin", "name": "pattern"}
    mutate(d)
    path = tmp_path / "bad.ssproj"
    path.write_text(json.dumps(d))
    with pytest.raises(ProjectError) as info:
        io.load_project(path)
    assert info.value.field == field, str(info.value)


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.ssproj"
    bad.write_text("{nope")
    with pytest.raises(ProjectError, match="not valid JSON"):
        io.load_project(bad)
    bad.write_text('{"format": "spike-studio-project", "schema_version": NaN}')
    with pytest.raises(ProjectError, match="NaN"):
        io.load_project(bad)
    with pytest.raises(ProjectError, match="cannot read"):
        io.load_project(tmp_path / "missing.ssproj")


def test_migrations_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    d = load_example("pattern_eprop").to_dict()
    d["schema_version"] = 0
    d["title"] = d.pop("name")  # a pretend older field name

    def v0_to_v1(data: dict) -> dict:
        data["name"] = data.pop("title")
        return data

    with pytest.raises(ProjectError, match="no migration"):
        parse_project(dict(d))
    monkeypatch.setitem(document.MIGRATIONS, 0, v0_to_v1)
    assert parse_project(d).name == "Pattern recognition e-prop"


def test_weights_go_to_sidecar_and_come_back(tmp_path: Path) -> None:
    p = small_project()
    w = np.arange(32, dtype=np.float32).reshape(4, 8)
    p.weights[p.connections[0].id] = w
    path = io.save_project(p, tmp_path / "w.ssproj")
    side = io.weights_path(path)
    assert side.name == "w.weights.npz" and side.is_file()
    raw = json.loads(path.read_text())
    assert raw["weights"] == {"file": "w.weights.npz", "keys": [p.connections[0].id]}
    q = io.load_project(path)
    np.testing.assert_array_equal(q.weights[p.connections[0].id], w)
    # a pickled object array in the sidecar is refused, never unpickled
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(side, "wb") as fh:
        np.savez(fh, **{p.connections[0].id: np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ProjectError) as info:
        io.load_project(path)
    assert info.value.field in ("weights.file", "weights.keys[0]")
    side.unlink()
    with pytest.raises(ProjectError, match="missing"):
        io.load_project(path)


def test_atomic_save_leaves_old_file_when_writing_fails(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.ssproj"
    p = small_project()
    io.save_project(p, path)
    before = path.read_bytes()
    p.name = "changed"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        io.save_project(p, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["a.ssproj"]  # no temp files left


def test_autosave_and_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIKE_STUDIO_STATE_DIR", str(tmp_path / "state"))
    assert io.find_recoveries() == []
    p = small_project()
    io.write_autosave(p, "/home/u/net.ssproj", "sessA")
    io.write_autosave(Project(name="other"), None, "sessB")
    found = io.find_recoveries(exclude_session="sessB")
    assert [r.original for r in found] == ["/home/u/net.ssproj"]
    assert io.load_project(found[0].path).same_as(p)
    io.discard_autosave("sessA")
    assert [r.name for r in io.find_recoveries()] == ["other"]


def test_examples_dir_has_only_projects() -> None:
    assert all(f.suffix == ".ssproj" for f in EXAMPLES_DIR.iterdir())
