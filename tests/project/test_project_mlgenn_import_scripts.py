"""The mlGeNN importer on scripts written the way mlGeNN users write them (these
scripts are written for this test): names defined anywhere before use, data-derived
sizes, convolutions, integrate-and-fire networks with .npy weights, callbacks and
per-epoch loops. Nothing may vanish: every default used is named with its line."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.project.build import build
from app.project.errors import ProjectError
from app.project.io import dumps, loads
from app.project.mlgenn_import import import_mlgenn_file, import_mlgenn_source
from app.project.validate import validate_project

REF = Path("/work/ref/ml_genn/examples")


def _read(src: str, **kw):
    return import_mlgenn_source(textwrap.dedent(src), **kw)


def test_names_defined_inside_the_network_block_and_branches_are_resolved():
    r = _read('''
        import numpy as np
        from ml_genn import InputLayer, Layer, SequentialNetwork
        from ml_genn.connectivity import Dense, FixedProbability
        from ml_genn.initializers import Normal, Uniform
        from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
        from ml_genn.compilers import EPropCompiler
        from ml_genn.compilers.eprop_compiler import default_params

        N_IN, KEEP, QUICK = 50, 0.3, False
        n_hid = 2 * 40
        if QUICK:
            n_hid = 8
        else:
            tau = 15.0
        net = SequentialNetwork(default_params)
        with net:
            inp = InputLayer(SpikeInput(), N_IN)
            w_in = Normal(sd=1.0 / np.sqrt(N_IN))
            conn = Dense(w_in) if KEEP == 1.0 else FixedProbability(KEEP, w_in)
            cell = LeakyIntegrateFire(tau_mem=tau, tau_refrac=5.0)
            hid = Layer(conn, cell, n_hid)
            w_out = Uniform(min=-0.1, max=0.1)
            out = Layer(Dense(w_out), LeakyIntegrate(readout="sum_var"), 4)
        compiler = EPropCompiler(example_timesteps=60, losses="sparse_categorical_crossentropy")
        ''')
    p = r.project
    assert [q.size for q in p.populations] == [50, 80, 4]
    assert p.populations[1].params["tau_mem"] == 15.0
    c1, c2 = p.connections
    assert c1.connectivity == {"type": "FixedProbability", "p": 0.3,
                               "allow_self_connections": False, "delay": 0}
    assert c1.weight == {"type": "Normal", "mean": 0.0, "sd": pytest.approx(1 / np.sqrt(50))}
    assert c2.weight == {"type": "Uniform", "min": -0.1, "max": 0.1}
    assert not [n for n in r.unmapped if "weight" in n or "Normal(0, 1)" in n]


def test_data_derived_sizes_stay_questions_until_set():
    r = _read('''
        from ml_genn import Network, Population, Connection
        from ml_genn.connectivity import Dense
        from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
        from ml_genn.compilers import EventPropCompiler
        from my_lab import load_recordings

        recordings, classes = load_recordings("session3")
        n_channels = recordings.shape[1]
        net = Network()
        with net:
            a = Population(SpikeInput(), n_channels)
            b = Population(LeakyIntegrateFire(), 64)
            c = Population(LeakyIntegrate(readout="avg_var"), len(classes))
            Connection(a, b, Dense(0.1))
            Connection(b, c, Dense(0.1))
        steps = int(recordings.duration / 1.0)
        compiler = EventPropCompiler(example_timesteps=steps, losses="mean_square_error")
        ''')
    p = r.project
    a, b, c = p.populations
    assert (a.size, b.size, c.size) == (1, 64, 1)
    assert set(p.unresolved) == {f"population:{a.id}:size", f"population:{c.id}:size",
                                 "compiler::example_timesteps"}
    assert "recordings.shape[1]" in p.unresolved[f"population:{a.id}:size"]
    assert "load_recordings" in p.unresolved[f"population:{a.id}:size"]
    notes = "\n".join(r.unmapped)
    assert "size of 'a' is computed from data" in notes and "line 12:" in notes
    assert "example_timesteps is computed from the data" in notes
    issues = [i.message for i in validate_project(p)]
    assert sum("computes" in m for m in issues) == 3
    with pytest.raises(ProjectError, match="not set yet"):
        build(p, with_data=False)
    assert loads(dumps(p)).unresolved == p.unresolved  # saved with the project


def test_known_dataset_facts_give_sizes_and_the_data_source():
    r = _read('''
        import numpy as np
        from tonic.datasets import SHD
        from ml_genn import Network, Population, Connection
        from ml_genn.connectivity import Dense
        from ml_genn.neurons import LeakyIntegrate, AdaptiveLeakyIntegrateFire, SpikeInput
        from ml_genn.compilers import EPropCompiler

        data = SHD(save_to="/data", train=True)
        n_in = int(np.prod(data.sensor_size))
        net = Network()
        with net:
            x = Population(SpikeInput(), n_in * 2)
            h = Population(AdaptiveLeakyIntegrateFire(tau_refrac=5.0), 128)
            y = Population(LeakyIntegrate(readout="sum_var"), len(data.classes))
            Connection(x, h, Dense(0.01))
            Connection(h, y, Dense(0.01))
        compiler = EPropCompiler(example_timesteps=1400, losses="sparse_categorical_crossentropy")
        ''')
    p = r.project
    assert [q.size for q in p.populations] == [1400, 128, 20]
    assert p.unresolved == {}
    assert p.dataset.source == "file" and p.dataset.format == "shd"
    assert any("size of 'x' = 1400 from SHD" in m for m in r.mapped)
    assert any("choose the SHD .h5 file" in n for n in r.unmapped)


def test_convolution_network_with_inferred_shapes():
    r = _read('''
        import mnist
        from ml_genn import InputLayer, Layer, SequentialNetwork
        from ml_genn.connectivity import AvgPool2D, Conv2D, Dense
        from ml_genn.initializers import Normal
        from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
        from ml_genn.synapses import Exponential
        from ml_genn.compilers import EventPropCompiler
        from ml_genn.compilers.event_prop_compiler import default_params
        from ml_genn.utils.data import linear_latency_encode_data

        spikes = linear_latency_encode_data(mnist.train_images(), 18.0, 2.0)
        net = SequentialNetwork(default_params)
        with net:
            i = InputLayer(SpikeInput(), (28, 28, 1))
            k = Normal(sd=2.0)
            c = Layer(Conv2D(k, 16, 5, conv_padding="same"), LeakyIntegrateFire(tau_refrac=None),
                      synapse=Exponential(5.0))
            pl = Layer(AvgPool2D(2, flatten=True), LeakyIntegrateFire(tau_refrac=None),
                       synapse=Exponential(5.0))
            o = Layer(Dense(Normal(sd=0.1)), LeakyIntegrate(readout="avg_var"), 10,
                      Exponential(5.0))
        compiler = EventPropCompiler(example_timesteps=20, losses="sparse_categorical_crossentropy")
        ''')
    p = r.project
    assert [(q.size, q.shape) for q in p.populations] == [
        (784, [28, 28, 1]), (28 * 28 * 16, [28, 28, 16]), (14 * 14 * 16, None), (10, None)]
    conv = p.connections[0].connectivity
    assert conv == {"type": "Conv2D", "filters": 16, "conv_size": [5, 5], "flatten": False,
                    "conv_strides": [1, 1], "conv_padding": "same", "delay": 0}
    assert p.connections[0].weight == {"type": "Normal", "mean": 0.0, "sd": 2.0}
    assert p.dataset.name == "mnist5k_latency" and p.dataset.params["encoding"] == "linear"
    assert r.unmapped == []
    assert validate_project(p) == []


def test_integrate_fire_network_reads_its_npy_weights(tmp_path):
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(12, 7)).astype(np.float32)
    w2 = rng.normal(size=(7, 3)).astype(np.float32)
    np.save(tmp_path / "w_a.npy", w1)
    np.save(tmp_path / "w_b.npy", w2)
    script = tmp_path / "converted.py"
    script.write_text(textwrap.dedent('''
        import numpy as np
        from ml_genn import InputLayer, Layer, SequentialNetwork
        from ml_genn.compilers import InferenceCompiler
        from ml_genn.connectivity import Dense
        from ml_genn.neurons import IntegrateFire, IntegrateFireInput

        net = SequentialNetwork()
        with net:
            x = InputLayer(IntegrateFireInput(v_thresh=3.0), 12)
            Layer(Dense(weight=np.load("w_a.npy")), IntegrateFire(v_thresh=3.0))
            y = Layer(Dense(np.load("w_b.npy")), IntegrateFire(v_thresh=3.0,
                                                                readout="spike_count"))
        compiler = InferenceCompiler(evaluate_timesteps=50, batch_size=16)
        '''))
    r = import_mlgenn_file(script)
    p = r.project
    assert [q.model for q in p.populations] == ["IntegrateFireInput", "IntegrateFire",
                                                "IntegrateFire"]
    assert [q.size for q in p.populations] == [12, 7, 3]
    np.testing.assert_array_equal(p.weights[p.connections[0].id], w1)
    np.testing.assert_array_equal(p.weights[p.connections[1].id], w2)
    assert p.compiler.type == "InferenceCompiler" and p.compiler.timesteps == 50
    network = build(p, with_data=False).network
    assert network.connections[0].connectivity.weight.shape == (12, 7)
    # without the script's folder the arrays cannot be read: said so, not guessed
    blind = import_mlgenn_source(script.read_text())
    assert any("w_a.npy" in n and "Normal(0, 1) used" in n for n in blind.unmapped)
    assert blind.project.unresolved  # sizes from the weights are unknown


def test_callbacks_schedules_and_epoch_loops():
    r = _read('''
        import numpy as np
        from ml_genn import Network, Population, Connection
        from ml_genn.callbacks import (Callback, Checkpoint, OptimiserParamSchedule,
                                       SpikeRecorder, VarRecorder)
        from ml_genn.compilers import EventPropCompiler
        from ml_genn.connectivity import Dense
        from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
        from ml_genn.optimisers import Adam
        from ml_genn.serialisers import Numpy
        from ml_genn.synapses import Exponential

        EPOCHS = 12

        class Warmup(Callback):
            def on_batch_begin(self, batch):
                pass

        net = Network()
        with net:
            a = Population(SpikeInput(), 5)
            b = Population(LeakyIntegrateFire(), 9)
            c = Population(LeakyIntegrate(readout="avg_var"), 2)
            Connection(a, b, Dense(0.5), Exponential(5.0))
            Connection(b, c, Dense(0.5), Exponential(5.0))
        compiler = EventPropCompiler(example_timesteps=30, losses="sparse_categorical_crossentropy",
                                     optimiser=Adam(0.01))
        cn = compiler.compile(net)
        decay = lambda epoch, alpha: 0.02 * 0.95 ** epoch
        with cn:
            cbs = ["batch_progress_bar", Checkpoint(Numpy("ck")), SpikeRecorder(b, key="s"),
                   VarRecorder(c, "v", key="v"), OptimiserParamSchedule("alpha", decay),
                   Warmup()]
            for e in range(EPOCHS):
                x = np.roll(np.arange(5), e)
                cn.train({a: x}, {c: x}, start_epoch=e, num_epochs=1, callbacks=cbs)
        ''')
    p = r.project
    assert p.training.lr_schedule == {"type": "exponential", "factor": 0.95}
    assert p.compiler.optimiser["alpha"] == 0.02
    assert p.populations[1].record_spikes
    assert p.training.num_epochs == 12
    notes = "\n".join(r.unmapped)
    assert "custom callback Warmup" in notes and "on_batch_begin" in notes
    assert "per-epoch loop" in notes and "np.roll" in notes
    told = "\n".join(r.mapped)
    for expected in ("Checkpoint", "SpikeRecorder(b)", "VarRecorder(c)", "0.01 becomes 0.02",
                     "batch_progress_bar"):
        assert expected in told, expected


def test_step_schedule_in_a_def_and_unknown_schedules_are_listed():
    r = _read('''
        from ml_genn import Network, Population, Connection
        from ml_genn.callbacks import OptimiserParamSchedule
        from ml_genn.compilers import EPropCompiler
        from ml_genn.connectivity import Dense
        from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput

        net = Network()
        with net:
            a = Population(SpikeInput(), 3)
            b = Population(LeakyIntegrateFire(tau_refrac=5.0), 4)
            c = Population(LeakyIntegrate(readout="var"), 1)
            Connection(a, b, Dense(0.5))
            Connection(b, c, Dense(0.5))
        compiler = EPropCompiler(example_timesteps=10, losses="mean_square_error")
        cn = compiler.compile(net)

        def halve(epoch, alpha):
            if epoch != 0 and (epoch % 50) == 0:
                return alpha * 0.5
            else:
                return alpha

        def wobble(epoch, alpha):
            return alpha * (1 + 0.1 * (epoch % 2))

        with cn:
            cn.train({a: []}, {c: []}, num_epochs=200,
                     callbacks=[OptimiserParamSchedule("alpha", halve),
                                OptimiserParamSchedule("alpha", wobble)])
        ''')
    assert any("OptimiserParamSchedule" in n and "stays constant" in n for n in r.unmapped)
    # the mappable one is kept (the unmappable one is listed, not applied)
    assert r.project.training.lr_schedule == {"type": "step", "factor": 0.5, "every": 50}
    assert r.project.training.num_epochs == 200


@pytest.mark.skipif(not REF.is_dir(), reason="no ml_genn checkout at /work/ref/ml_genn")
def test_mlgenns_own_examples_import_as_sensible_projects():
    """The 15 example scripts of an ml_genn checkout (when one is there)."""
    scripts = sorted(REF.glob("eprop/*.py")) + sorted(REF.glob("event_prop/*.py")) \
        + [REF / "simple_mnist.py"]
    assert len(scripts) == 15
    for script in scripts:
        r = import_mlgenn_file(script)
        p = r.project
        assert len(p.populations) >= 3 and len(p.connections) >= 2, script.name
        assert all(q.size > 1 for q in p.populations if
                   f"population:{q.id}:size" not in p.unresolved), script.name
        assert not any(k.endswith(":size") for k in p.unresolved), script.name
        assert all(n.startswith(("line ", "data", "dataset")) for n in r.unmapped), script.name
        saved, original = loads(dumps(p)).to_dict(), p.to_dict()
        saved.pop("weights"), original.pop("weights")  # dumps leaves the arrays out
        assert saved == original, script.name
    conv = import_mlgenn_file(REF / "event_prop" / "latency_mnist_conv.py").project
    assert conv.connections[0].connectivity["type"] == "Conv2D"
    assert conv.populations[1].size == 25 * 25 * 32
    simple = import_mlgenn_file(REF / "simple_mnist.py").project
    assert len(simple.weights) == 2 and simple.populations[0].model == "IntegrateFireInput"
