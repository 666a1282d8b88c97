"""Deep R in projects: the document keeps it, validation checks it, both exporters
write it, the mlGeNN importer reads it back and the GeNN backend passes it on."""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.project.build import build
from app.project.document import Project, new_compiler, parse_project
from app.project.errors import ProjectError
from app.project.examples import load_example
from app.project.export import export_script
from app.project.io import dumps, loads
from app.project.mlgenn_export import export_mlgenn_script, var_name, write_mlgenn_script
from app.project.mlgenn_import import import_mlgenn_file, import_mlgenn_source
from app.project.validate import validate_project

REF = Path("/work/ref/ml_genn/examples")
HAVE_MLGENN = importlib.util.find_spec("ml_genn") is not None \
    and importlib.util.find_spec("pygenn") is not None


def sparse_project(l1: float = 0.5) -> Project:
    """Yin-Yang with its input layer sparse and rewired by Deep R."""
    p = load_example("yin_yang_eventprop")
    c = p.connections[0]
    c.connectivity = {"type": "FixedProbability", "p": 0.5, "allow_self_connections": False,
                      "delay": 0}
    p.compiler.deep_r_conns = [c.id]
    p.compiler.params["deep_r_l1_strength"] = l1
    return p


def _compiler_call(src: str) -> ast.Call:
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "EventPropCompiler":
            return node
    raise AssertionError("no compiler call")


def test_document_keeps_deep_r_and_names_bad_references() -> None:
    p = sparse_project(0.25)
    back = loads(dumps(p))
    assert back.compiler.deep_r_conns == ["c1"]
    assert back.compiler.params["deep_r_l1_strength"] == 0.25
    plain = load_example("yin_yang_eventprop").to_dict()
    assert "deep_r_conns" not in plain["compiler"]  # files without Deep R are unchanged
    bad = p.to_dict()
    bad["compiler"]["deep_r_conns"] = ["c9"]
    with pytest.raises(ProjectError) as e:
        parse_project(bad)
    assert e.value.field == "compiler.deep_r_conns[0]"
    inference = p.to_dict()
    inference["compiler"] = {**new_compiler("InferenceCompiler").to_dict(),
                             "deep_r_conns": ["c1"]}
    with pytest.raises(ProjectError, match="does not rewire") as e:
        parse_project(inference)
    assert e.value.field == "compiler.deep_r_conns"


def test_validation_refuses_deep_r_on_dense_weights_as_genn_does() -> None:
    p = load_example("yin_yang_eventprop")
    p.compiler.deep_r_conns = ["c1"]  # Dense
    issues = [i for i in validate_project(p) if i.field == "compiler.deep_r_conns"]
    assert len(issues) == 1 and issues[0].target == "c1" and "sparse" in issues[0].message
    assert not [i for i in validate_project(sparse_project())
                if i.field == "compiler.deep_r_conns"]


def test_built_compiler_rewires_the_chosen_connection() -> None:
    built = build(sparse_project(0.25))
    comp = built.compiler
    assert comp.deep_r_conns == [built.connections["c1"]]
    assert comp.deep_r_l1_strength == 0.25
    with comp.compile(built.network) as cn:
        assert cn.deep_r.active_mask("input_hidden") is not None
        assert cn.deep_r.active_mask("hidden_output") is None


def test_spike_studio_export_rewires_and_trains(tmp_path: Path) -> None:
    p = sparse_project()
    src = export_script(p)
    call = _compiler_call(src)
    kw = {k.arg: k.value for k in call.keywords}
    assert [e.id for e in kw["deep_r_conns"].elts] == ["input_hidden"]
    assert ast.literal_eval(kw["deep_r_l1_strength"]) == 0.5
    assert "input_hidden = Connection(" in src
    script = tmp_path / "yy.py"
    script.write_text(src)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.run([sys.executable, str(script), "--epochs", "1", "--max-examples", "8",
                          "--batch-size", "4"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Train accuracy" in run.stdout


def test_mlgenn_export_round_trips_through_the_importer() -> None:
    p = sparse_project(0.125)
    src = export_mlgenn_script(p)
    call = _compiler_call(src)
    kw = {k.arg: k.value for k in call.keywords}
    assert [e.id for e in kw["deep_r_conns"].elts] == [var_name("input_hidden")]
    back = import_mlgenn_source(src).project
    ih = next(c for c in back.connections if c.name == "input_hidden")
    assert back.compiler.deep_r_conns == [ih.id]
    assert back.compiler.params["deep_r_l1_strength"] == 0.125


def test_importer_maps_a_layer_given_to_deep_r_and_lists_what_it_drops() -> None:
    src = """
from ml_genn import InputLayer, Layer, SequentialNetwork
from ml_genn.compilers import EPropCompiler
from ml_genn.connectivity import Dense, FixedProbability
from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
network = SequentialNetwork()
with network:
    inp = InputLayer(SpikeInput(), 20)
    hidden = Layer(FixedProbability(0.1, 0.5), LeakyIntegrateFire(), 30)
    out = Layer(Dense(0.1), LeakyIntegrate(readout="sum_var"), 2)
compiler = EPropCompiler(example_timesteps=20, losses="sparse_categorical_crossentropy",
                         deep_r_conns=[hidden, missing], deep_r_l1_strength=1e-8,
                         deep_r_record_rewirings={hidden: "rewirings"})
"""
    r = import_mlgenn_source(src)
    c = r.project.compiler
    into_hidden = next(x for x in r.project.connections
                       if r.project.population(x.target).name == "hidden")
    assert c.deep_r_conns == [into_hidden.id]
    assert c.params["deep_r_l1_strength"] == 1e-8
    assert any("'missing'" in n and "left out" in n for n in r.unmapped)
    assert any("deep_r_record_rewirings" in n for n in r.unmapped)
    assert any("Deep R rewires hidden" in n or "Deep R rewires inp_hidden" in n
               for n in r.mapped), r.mapped


@pytest.mark.skipif(not (REF / "eprop" / "latency_mnist_deep_r.py").is_file(),
                    reason="no ml_genn checkout at /work/ref/ml_genn")
def test_mlgenns_deep_r_example_imports_with_its_rewiring() -> None:
    r = import_mlgenn_file(REF / "eprop" / "latency_mnist_deep_r.py")
    p = r.project
    assert [p.connection(c).connectivity["type"] for c in p.compiler.deep_r_conns] == \
        ["FixedProbability"]
    assert p.compiler.params["deep_r_l1_strength"] == 1e-8
    assert not [i for i in validate_project(p) if i.field == "compiler.deep_r_conns"]


@pytest.mark.skipif(not HAVE_MLGENN, reason="ml_genn and pygenn are not installed")
def test_genn_backend_and_exported_script_rewire_on_the_real_mlgenn(tmp_path: Path) -> None:
    from app.worker.genn_backend import build_genn

    p = sparse_project(0.25)
    g = build_genn(p)
    conns = [c.name for c in g.compiler.deep_r_conns]
    assert conns == ["input_hidden"] and g.compiler.deep_r_l1_strength == 0.25
    # the exported script trains with Deep R on mlGeNN (GeNN accepts the sparse layer)
    script = write_mlgenn_script(p, tmp_path / "yy.py")
    env = {**os.environ, "PYTHONPATH": ""}
    run = subprocess.run([sys.executable, str(script), "--epochs", "1", "--max-examples", "2",
                          "--batch-size", "1"], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert any(line.startswith("Train accuracy") for line in run.stdout.splitlines())


def test_memory_estimate_counts_every_slot_of_a_rewired_connection() -> None:
    from app.project.memory import estimate_training_memory

    p = sparse_project()
    rewired = estimate_training_memory(p).total
    p.compiler.deep_r_conns = []
    assert rewired > estimate_training_memory(p).total
