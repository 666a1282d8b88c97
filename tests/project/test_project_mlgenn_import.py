"""mlGeNN script import: read with ``ast`` (never run), map what has an
equivalent, list the rest; every bundled example survives export + import."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app.cli import main
from app.project.examples import examples, load_example
from app.project.io import dumps, load_project, loads
from app.project.mlgenn_export import export_mlgenn_script
from app.project.mlgenn_import import import_mlgenn_file, import_mlgenn_source


def _without_positions(d: dict) -> dict:
    for p in d["populations"]:
        p.pop("position")
    return d


@pytest.mark.parametrize("key", [ex.key for ex in examples()])
def test_every_example_round_trips_through_an_mlgenn_script(key: str) -> None:
    """Same document after export + import (positions are laid out anew, so they
    are left out; ids, names, params, compiler, dataset and training all match)."""
    project = load_example(key)
    result = import_mlgenn_source(export_mlgenn_script(project))
    assert result.unmapped == []
    assert _without_positions(result.project.to_dict()) == \
        _without_positions(project.to_dict())


def test_round_trip_of_connectivity_variety_and_delay_learning() -> None:
    from tests.project.test_project_mlgenn_export import _variety

    project = _variety()
    result = import_mlgenn_source(export_mlgenn_script(project))
    assert result.unmapped == []
    assert _without_positions(result.project.to_dict()) == \
        _without_positions(project.to_dict())


SEQUENTIAL = '''
"""Yin-Yang, written by hand in mlGeNN's example style."""
import numpy as np

from ml_genn import InputLayer, Layer, SequentialNetwork
from ml_genn.callbacks import Checkpoint
from ml_genn.compilers import EventPropCompiler
from ml_genn.compilers.event_prop_compiler import default_params
from ml_genn.connectivity import Dense
from ml_genn.initializers import Normal
from ml_genn.losses import RelativeMeanSquareError
from ml_genn.neurons import LeakyIntegrateFire, SpikeInput
from ml_genn.optimisers import Adam
from ml_genn.synapses import Exponential

NUM_INPUT = 4
NUM_HIDDEN = 100
BATCH_SIZE = 256
EXAMPLE_TIME = 30.0
DT = 0.01

network = SequentialNetwork(default_params)
with network:
    input = InputLayer(SpikeInput(max_spikes=BATCH_SIZE * NUM_INPUT), NUM_INPUT,
                       record_spikes=True)
    hidden = Layer(Dense(Normal(mean=1.5, sd=0.78)),
                   LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None),
                   NUM_HIDDEN, Exponential(5.0))
    output = Layer(Dense(Normal(mean=0.93, sd=0.1)),
                   LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0, tau_refrac=None,
                                      readout="first_spike_time"),
                   3, Exponential(5.0))

compiler = EventPropCompiler(example_timesteps=int(np.ceil(EXAMPLE_TIME / DT)),
                             losses=RelativeMeanSquareError(5.0 * 0.2),
                             optimiser=Adam(0.003, 0.9, 0.99), batch_size=BATCH_SIZE,
                             softmax_temperature=0.5, ttfs_alpha=0.1, dt=DT)
compiled_net = compiler.compile(network)
with compiled_net:
    metrics, cb_data = compiled_net.train({input: spikes}, {output: labels},
                                          num_epochs=7, shuffle=False,
                                          callbacks=[Checkpoint("x")])
'''


def test_sequential_script_with_constants_and_default_params() -> None:
    result = import_mlgenn_source(SEQUENTIAL)
    p = result.project
    assert p.name == "Yin-Yang, written by hand in mlGeNN's example style."
    assert [(q.name, q.model, q.size) for q in p.populations] == [
        ("input", "SpikeInput", 4), ("hidden", "LeakyIntegrateFire", 100),
        ("output", "LeakyIntegrateFire", 3)]
    inp, hid, out = p.populations
    assert inp.params["max_spikes"] == 1024 and inp.record_spikes
    # EventProp's default_params fill what the script leaves out
    assert hid.params["relative_reset"] is False and hid.params["scale_i"] is True
    assert hid.params["tau_refrac"] is None and out.readout == "first_spike_time"
    assert [(p.population(c.source).name, p.population(c.target).name)
            for c in p.connections] == [("input", "hidden"), ("hidden", "output")]
    c0 = p.connections[0]
    assert c0.weight == {"type": "Normal", "mean": 1.5, "sd": 0.78}
    assert c0.synapse == {"type": "Exponential", "tau": 5.0, "scale_i": True}
    cp = p.compiler
    assert cp.type == "EventPropCompiler"
    assert cp.params["example_timesteps"] == 3000 and cp.params["batch_size"] == 256
    assert cp.params["dt"] == 0.01 and cp.params["softmax_temperature"] == 0.5
    assert cp.loss == {"type": "RelativeMeanSquareError", "delta": 1.0}
    assert cp.optimiser == {"type": "Adam", "alpha": 0.003, "beta1": 0.9, "beta2": 0.99,
                            "epsilon": 1e-8}
    assert p.training.num_epochs == 7 and p.training.shuffle is False
    # layout: left to right along the chain
    xs = [q.position[0] for q in p.populations]
    assert xs[0] < xs[1] < xs[2]
    # the only thing not mapped is where the data come from
    assert len(result.unmapped) == 1 and "dataset" in result.unmapped[0]
    # the document is valid: it survives save/load
    assert loads(dumps(p)).to_dict() == p.to_dict()


UNMAPPABLE = '''
import numpy as np
import ml_genn as mg
from ml_genn import Connection, Network, Population
from ml_genn.compilers import EPropCompiler
from ml_genn.connectivity import Conv2D, Dense
from ml_genn.neurons import IntegrateFire, LeakyIntegrate, LeakyIntegrateFire, SpikeInput

open("SHOULD_NOT_EXIST.txt", "w").write("the script ran")
w = np.load("weights.npy")
net = Network()
with net:
    a = Population(SpikeInput(), (28, 28), record_spike_events=True)
    b = Population(LeakyIntegrateFire(v_thresh=np.random.rand()), 10, name="hid")
    odd = Population(IntegrateFire(), 5)
    out = mg.Population(LeakyIntegrate(readout="sum_var", bogus=1), 2)
    Connection(a, b, Conv2D(w, 3))
    Connection(b, out, Dense(w))
    Connection(b, odd, Dense(1.0))
    for i in range(3):
        pass
stray = Population(SpikeInput(), 3)
compiler = EPropCompiler(1000, "sparse_categorical_crossentropy", communicator=None,
                         batch_size=-4)
'''


def test_unmappable_things_are_listed_and_nothing_runs(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = import_mlgenn_source(UNMAPPABLE)
    assert not (tmp_path / "SHOULD_NOT_EXIST.txt").exists()
    p = result.project
    assert [q.name for q in p.populations] == ["a", "hid", "odd", "out"]
    assert p.populations[0].size == 784
    assert p.populations[1].params["v_thresh"] == 1.0  # random: a question, not a number
    assert p.unresolved == {f"population:{p.populations[1].id}:v_thresh": "np.random.rand()"}
    assert p.populations[3].readout == "sum_var"  # attribute-style mg.Population works
    assert p.compiler.type == "EPropCompiler"
    assert p.compiler.params["example_timesteps"] == 1000 and p.compiler.params["batch_size"] == 1
    assert [c.connectivity["type"] for c in p.connections] == ["Conv2D", "Dense", "Dense"]
    notes = "\n".join(result.unmapped)
    for expected in ("record_spike_events", "flattened to 784", "np.random.rand()",
                     "bogus=1", "Conv2D without conv_size", "weight 'w'",
                     "for i in range(3)", "batch_size=-4", "Population outside", "dataset"):
        assert expected in notes, expected
    assert all(n.startswith("line ") for n in result.unmapped[:-1])
    assert loads(dumps(p)).to_dict() == p.to_dict()


def test_not_python_raises_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        import_mlgenn_source("with network:\n  Population(\n")


def test_cli_export_mlgenn_then_import(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from app.project.examples import EXAMPLES_DIR

    src = EXAMPLES_DIR / "shd_eventprop.ssproj"
    script = tmp_path / "shd.py"
    assert main(["export", str(src), "--to", "mlgenn", "-o", str(script)]) == 0
    assert "from ml_genn import" in script.read_text()
    out = tmp_path / "back.ssproj"
    assert main(["import", str(script), "-o", str(out)]) == 0
    back = load_project(out)
    assert _without_positions(back.to_dict()) == \
        _without_positions(load_project(src).to_dict())
    # a script with unmapped parts still imports, and lists them
    odd = tmp_path / "odd.py"
    odd.write_text(textwrap.dedent(UNMAPPABLE))
    capsys.readouterr()
    assert main(["import", str(odd), "-o", str(tmp_path / "odd.ssproj")]) == 0
    assert "could not be mapped" in capsys.readouterr().out
    bad = tmp_path / "bad.py"
    bad.write_text("def (:\n")
    assert main(["import", str(bad), "-o", str(tmp_path / "bad.ssproj")]) == 2
    assert not (tmp_path / "bad.ssproj").exists()


def test_file_name_names_an_untitled_import(tmp_path: Path) -> None:
    script = tmp_path / "my_net.py"
    script.write_text("from ml_genn import Network\nnetwork = Network()\n")
    result = import_mlgenn_file(script)
    assert result.project.name == "my_net"
    assert any("no compiler" in n for n in result.unmapped)
    assert any("no populations" in n for n in result.unmapped)
