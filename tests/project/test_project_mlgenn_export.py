"""mlGeNN script export: the script compiles, imports only ml_genn/numpy/stdlib,
and its calls and arguments match the document (checked on the AST, no mlGeNN
needed).  A recording stand-in for ``ml_genn`` runs the data-loading code
quickly (it proves what the script feeds mlGeNN, not what mlGeNN does); the
real mlGeNN runs every bundled example's script (skipped where it is not
installed)."""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.project import schema
from app.project.document import Project, new_compiler, new_connection, new_population
from app.project.examples import examples, load_example
from app.project.mlgenn_export import (
    export_mlgenn_script,
    sidecar_path,
    var_name,
    write_mlgenn_script,
)
from app.training.data import load_builtin_dataset, save_npz_spikes

EXAMPLE_KEYS = [ex.key for ex in examples()]
STDLIB = {"argparse", "importlib", "os", "math", "sys"}


# ---------------------------------------------------------------------------
# AST helpers
# ---------------------------------------------------------------------------
def _consts(tree: ast.Module) -> dict[str, Any]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def _val(node: ast.AST, consts: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    return ast.literal_eval(node)


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == name]


def _kw(call: ast.Call, consts: dict[str, Any]) -> dict[str, Any]:
    return {k.arg: _val(k.value, consts) for k in call.keywords
            if not isinstance(k.value, ast.Call | ast.List)}


def _literal_kw(call: ast.Call, consts: dict[str, Any]) -> dict[str, Any]:
    """The keywords whose values are literals or module constants."""
    out = {}
    for k in call.keywords:
        try:
            out[k.arg] = _val(k.value, consts)
        except ValueError:
            continue
    return out


def _kw_node(call: ast.Call, key: str) -> ast.AST:
    return next(k.value for k in call.keywords if k.arg == key)


def check_script_matches(project: Project, src: str) -> ast.Module:
    """Every call/argument of the script against the document."""
    compile(src, "<export>", "exec")
    tree = ast.parse(src)
    consts = _consts(tree)
    # imports: only ml_genn, numpy and the standard library at module level
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in {"numpy"} | STDLIB for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert node.module.split(".")[0] == "ml_genn", node.module
    nested = [n for f in tree.body if isinstance(f, ast.FunctionDef) for n in ast.walk(f)
              if isinstance(n, ast.Import | ast.ImportFrom)]
    assert all(a.name == "h5py" for n in nested for a in n.names)
    # populations
    pops = _calls(tree, "Population")
    assert len(pops) == len(project.populations)
    by_name = {}
    for call, p in zip(pops, project.populations, strict=True):
        neuron = call.args[0]
        assert isinstance(neuron, ast.Call) and neuron.func.id == p.model
        kw = _kw(neuron, consts)
        assert kw.pop("readout", None) == p.readout
        assert kw == p.params  # every parameter, in full
        assert _val(call.args[1], consts) == p.size
        assert _kw(call, consts)["name"] == p.name
        assert _kw(call, consts).get("record_spikes", False) == p.record_spikes
        by_name[var_name(p.name)] = p.id
    # connections
    conns = _calls(tree, "Connection")
    assert len(conns) == len(project.connections)
    for call, c in zip(conns, project.connections, strict=True):
        assert by_name[call.args[0].id] == c.source
        assert by_name[call.args[1].id] == c.target
        conn = call.args[2]
        assert conn.func.id == c.connectivity["type"]
        ckw = _kw(conn, consts)
        ckw.pop("weight", None)
        assert ckw == {k: v for k, v in c.connectivity.items() if k != "type"}
        w = _kw_node(conn, "weight")
        if c.weight["type"] == "Constant":
            assert ast.literal_eval(w) == c.weight["value"]
        else:
            assert w.func.id == c.weight["type"]
            assert _kw(w, consts) == {k: v for k, v in c.weight.items() if k != "type"}
        syn = call.args[3]
        assert syn.func.id == c.synapse["type"]
        assert _kw(syn, consts) == {k: v for k, v in c.synapse.items() if k != "type"}
        kw = _kw(call, consts)
        assert kw["name"] == c.name
        assert kw.get("max_delay_steps") == c.max_delay_steps
    # compiler: every argument
    spec = project.compiler
    comp = _calls(tree, spec.type)
    assert len(comp) == 1
    kw = _kw(comp[0], consts)
    expected = {k: v for k, v in spec.params.items() if k != "backend"}
    assert {k: v for k, v in kw.items() if k != "losses"} == expected
    if spec.info.has_losses:
        loss = _kw_node(comp[0], "losses")
        if spec.loss["type"] == "RelativeMeanSquareError":
            assert loss.func.id == "RelativeMeanSquareError"
            assert ast.literal_eval(loss.args[0]) == spec.loss["delta"]
        else:
            assert ast.literal_eval(loss) == spec.loss["type"]
        opt = _kw_node(comp[0], "optimiser")
        assert opt.func.id == spec.optimiser["type"]
        assert _kw(opt, consts) == {k: v for k, v in spec.optimiser.items() if k != "type"}
    # train loop
    t = project.training
    assert consts["NUM_EPOCHS"] == t.num_epochs and consts["SHUFFLE"] == t.shuffle
    assert consts["SEED"] == t.seed and consts["MAX_EXAMPLES"] == t.max_examples
    if project.dataset.source != "none":
        method = "evaluate" if spec.type == "InferenceCompiler" else "train"
        loops = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and n.func.attr == method]
        assert len(loops) == 1
        inp, out = project.input_population(), project.output_population()
        assert by_name[loops[0].args[0].keys[0].id] == inp.id
        assert by_name[loops[0].args[1].keys[0].id] == out.id
        if method == "train":
            assert _literal_kw(loops[0], consts)["num_epochs"] == t.num_epochs
            assert _literal_kw(loops[0], consts)["validation_split"] == t.validation_split
    return tree


@pytest.mark.parametrize("key", EXAMPLE_KEYS)
def test_every_example_exports_a_matching_mlgenn_script(key: str) -> None:
    project = load_example(key)
    check_script_matches(project, export_mlgenn_script(project))


def _variety() -> Project:
    """FixedProbability/OneToOne, Uniform/Constant weights, Poisson input, delays."""
    p = Project(name="variety")
    a = new_population(p, "PoissonInput", 8, name="def", signed_spikes=True)
    p.populations.append(a)
    b = new_population(p, "AdaptiveLeakyIntegrateFire", 8, tau_adapt=900.0, tau_refrac=2.0)
    b.record_spikes = True
    p.populations.append(b)
    c = new_population(p, "LeakyIntegrate", 8, readout="max_var", bias=0.5)
    p.populations.append(c)
    c1 = new_connection(p, a.id, b.id, connectivity="FixedProbability", p=0.25,
                        allow_self_connections=True, delay=3,
                        weight={"type": "Uniform", "min": -0.5, "max": 0.5})
    c1.max_delay_steps = 20
    p.connections.append(c1)
    p.connections.append(new_connection(p, b.id, b.id, connectivity="FixedProbability",
                                        weight={"type": "Constant", "value": 0.1}))
    p.connections.append(new_connection(p, b.id, c.id, connectivity="OneToOne",
                                        synapse={"type": "Exponential", "tau": 7.5}))
    p.compiler = new_compiler("EventPropCompiler")
    p.compiler.delay_optimiser = {"type": "Adam", "alpha": 0.1, "beta1": 0.9, "beta2": 0.999,
                                  "epsilon": 1e-8}
    p.compiler.delay_learn_conns = [c1.id]
    p.compiler.loss = {"type": "mean_square_error"}
    return p


def test_variety_of_connectivity_initializers_and_delay_learning() -> None:
    p = _variety()
    src = export_mlgenn_script(p)
    tree = check_script_matches(p, src)
    assert "def_pop = Population(" in src  # keyword names are renamed
    comp = _calls(tree, "EventPropCompiler")[0]
    dl = _kw_node(comp, "delay_learn_conns")
    assert [e.id for e in dl.elts] == [var_name(p.connections[0].name)]
    assert _kw_node(comp, "delay_optimiser").func.id == "Adam"
    # no dataset: compiles the network and says so
    assert ".train(" not in src and "no dataset" in src


def test_inference_compiler_evaluates_and_has_no_default_params() -> None:
    p = load_example("yin_yang_eventprop")
    p.compiler = new_compiler("InferenceCompiler")
    src = export_mlgenn_script(p)
    check_script_matches(p, src)
    assert "default_params" not in src and "network = Network()" in src
    assert "losses=" not in src and ".train(" not in src


# ---------------------------------------------------------------------------
# run the data-loading code against a recording stand-in for ml_genn
# ---------------------------------------------------------------------------
STUB = '''
import sys, types
from app.training.data import generate_yin_yang_dataset, preprocess_spikes
RECORD = {}
class _Obj:
    def __init__(self, *a, **k):
        self.a, self.k = a, k
    def __enter__(self):
        return self
    def __exit__(self, *e):
        return False
    def compile(self, network):
        return _Obj()
    def train(self, x, y, **k):
        RECORD["x"], RECORD["y"], RECORD["k"] = list(x.values())[0], list(y.values())[0], k
        return {list(y)[0]: types.SimpleNamespace(result=0.5)}, {}
    evaluate = train
def _mod(name, **attrs):
    m = types.ModuleType(name)
    m.__getattr__ = lambda n: _Obj
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m
    return m
for n in ["ml_genn", "ml_genn.callbacks", "ml_genn.compilers", "ml_genn.connectivity",
          "ml_genn.initializers", "ml_genn.losses", "ml_genn.metrics", "ml_genn.neurons",
          "ml_genn.optimisers", "ml_genn.synapses", "ml_genn.utils"]:
    _mod(n)
_mod("ml_genn.compilers.event_prop_compiler", default_params={})
_mod("ml_genn.compilers.eprop_compiler", default_params={})
_mod("ml_genn.utils.data", preprocess_spikes=preprocess_spikes,
     generate_yin_yang_dataset=generate_yin_yang_dataset)
'''


def _run_with_stub(script: Path, *args: str) -> dict[str, Any]:
    """Run an exported script with the stand-in (command line ``args``); returns what
    train/evaluate got."""
    ns: dict[str, Any] = {}
    saved = {k: v for k, v in sys.modules.items() if k.startswith("ml_genn")}
    argv = sys.argv
    sys.argv = [str(script), *args]
    try:
        exec(compile(STUB, "<stub>", "exec"), ns)  # noqa: S102 - test-only stand-in
        code = compile(script.read_text(), str(script), "exec")
        exec(code, {"__name__": "__main__", "__file__": str(script)})  # noqa: S102
    finally:
        sys.argv = argv
        for k in [k for k in sys.modules if k.startswith("ml_genn")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return ns["RECORD"]


def _same_spikes(a: list, b: list) -> None:
    assert len(a) == len(b)
    for s, t in zip(a, b, strict=True):
        np.testing.assert_array_equal(s.end_spikes, t.end_spikes)
        np.testing.assert_allclose(s.spike_times, t.spike_times)


def test_yin_yang_script_generates_spike_studios_training_split(tmp_path: Path) -> None:
    p = load_example("yin_yang_eventprop")
    p.training.max_examples = 300
    script = write_mlgenn_script(p, tmp_path / "yy.py")
    rec = _run_with_stub(script)
    ref = load_builtin_dataset("yin_yang", **p.dataset.params)
    _same_spikes(rec["x"], ref.train_spikes[:300])
    np.testing.assert_array_equal(rec["y"], ref.train_labels[:300])
    assert rec["k"]["num_epochs"] == 50 and rec["k"]["shuffle"] is False


def test_pattern_script_reproduces_the_task(tmp_path: Path) -> None:
    p = load_example("pattern_eprop")
    rec = _run_with_stub(write_mlgenn_script(p, tmp_path / "pattern.py"))
    ref = load_builtin_dataset("pattern", **p.dataset.params)
    _same_spikes(rec["x"], ref.train_spikes)
    np.testing.assert_allclose(rec["y"], ref.train_labels, rtol=1e-6)
    # per-timestep targets: every step's output voltage is compared, not the last readout
    assert type(rec["k"]["metrics"]).__name__ == "StepMeanSquareError"
    assert [type(c).__name__ for c in rec["k"]["callbacks"]] == ["str", "StepVoltage"]


def test_image_dataset_goes_to_a_sidecar_the_script_reads(tmp_path: Path) -> None:
    p = load_example("mnist5k_latency_eventprop")
    p.dataset.name = "digits_latency"
    p.populations[0].size = 64
    p.training.max_examples = 50
    script = write_mlgenn_script(p, tmp_path / "digits.py")
    assert sidecar_path(script).is_file()
    rec = _run_with_stub(script)
    ref = load_builtin_dataset("digits_latency")
    _same_spikes(rec["x"], ref.train_spikes[:50])
    np.testing.assert_array_equal(rec["y"], ref.train_labels[:50])


def test_npz_file_dataset_is_loaded_from_its_path(tmp_path: Path) -> None:
    p = load_example("shd_eprop")
    p.populations[0].size = 5
    rng = np.random.default_rng(0)
    from app.training.data import preprocess_spikes
    spikes = [preprocess_spikes(rng.uniform(0, 50, 7), rng.integers(0, 5, 7), 5)
              for _ in range(4)]
    save_npz_spikes(tmp_path / "train.npz", spikes, np.array([0, 1, 2, 3]))
    p.dataset.format, p.dataset.path = "npz", "train.npz"
    (tmp_path / "proj").mkdir()
    project_path = tmp_path / "x.ssproj"
    script = write_mlgenn_script(p, tmp_path / "proj" / "npz.py", project_path)
    assert str(tmp_path / "train.npz") in script.read_text()
    rec = _run_with_stub(script)
    _same_spikes(rec["x"], spikes)
    np.testing.assert_array_equal(rec["y"], [0, 1, 2, 3])


def test_shd_script_needs_a_data_file_when_the_project_has_none(tmp_path: Path) -> None:
    script = write_mlgenn_script(load_example("shd_eventprop"), tmp_path / "shd.py")
    with pytest.raises(SystemExit, match="DATA_FILE"):
        _run_with_stub(script)


# ---------------------------------------------------------------------------
# the real mlGeNN, where it is installed
# ---------------------------------------------------------------------------
HAVE_MLGENN = (importlib.util.find_spec("ml_genn") is not None
               and importlib.util.find_spec("pygenn") is not None)


#: Examples per script on the real mlGeNN: GeNN compiles each script's C++ code (a few
#: seconds), and SHD e-prop runs ~4 s per example on GeNN's single-threaded CPU backend.
REAL_EXAMPLES = {"shd_eprop": 2}


@pytest.mark.skipif(not HAVE_MLGENN, reason="ml_genn and pygenn are not installed")
@pytest.mark.parametrize("key", EXAMPLE_KEYS)
def test_exported_script_runs_with_mlgenn(key: str, tmp_path: Path) -> None:
    """Every bundled example's script trains on the real mlGeNN from the command line;
    a batch size above 1 falls back to 1 (with one line saying so) on the CPU backend."""
    from tests.project.test_project_mlgenn_genn_backend import busy_shd

    p = load_example(key)
    if p.dataset.source == "file":
        p.dataset.path = str(busy_shd(tmp_path / "shd.h5", 4))
    script = write_mlgenn_script(p, tmp_path / f"{key}.py")
    n = REAL_EXAMPLES.get(key, 3)
    env = {**os.environ, "PYTHONPATH": ""}  # the script needs ml_genn only, not the app
    run = subprocess.run([sys.executable, str(script), "--epochs", "1", "--max-examples",
                          str(n), "--batch-size", "4"], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout.splitlines()
    cuda = importlib.util.find_spec("pygenn.cuda_backend") is not None
    fallback = [line for line in out if "batch size 1 instead of 4" in line]
    assert len(fallback) == (0 if cuda else 1), run.stdout[-2000:]
    result = [line for line in out if line.startswith("Train ")]
    assert len(result) == 1, run.stdout[-2000:]
    value = float(result[0].split("=")[1].strip().rstrip("%"))
    if p.compiler.loss["type"] == "mean_square_error":
        assert result[0].startswith("Train MSE") and 0.0 < value < 1e4
    else:
        assert result[0].startswith("Train accuracy") and 0.0 <= value <= 100.0
    # GeNN's generated code stays in the folder the script ran from
    assert (tmp_path / f"{key}{p.compiler.type}_CODE").is_dir()


def test_command_line_overrides_the_project_settings(tmp_path: Path) -> None:
    p = load_example("yin_yang_eventprop")
    script = write_mlgenn_script(p, tmp_path / "yy.py")
    rec = _run_with_stub(script, "--epochs", "2", "--max-examples", "5", "--batch-size", "1")
    assert rec["k"]["num_epochs"] == 2 and len(rec["x"]) == 5 and len(rec["y"]) == 5
    rec = _run_with_stub(script)  # no options: the project's settings
    assert rec["k"]["num_epochs"] == p.training.num_epochs
    assert len(rec["x"]) == 5000


def test_schema_tables_cover_what_the_exporter_writes() -> None:
    """A neuron parameter added to the schema shows up in the script."""
    p = load_example("shd_eprop")
    src = export_mlgenn_script(p)
    for param in schema.model_params("AdaptiveLeakyIntegrateFire"):
        assert f"{param.name}=" in textwrap.dedent(src)
