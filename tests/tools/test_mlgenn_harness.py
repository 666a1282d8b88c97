"""tools/run_mlgenn_examples.py on small mlGeNN-style scripts written here (not
mlGeNN's own): the import rename from the README's table, the constant
overrides, the dataset stand-ins, MPI runs and the table."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from tools.run_mlgenn_examples import (
    Script,
    import_table,
    markdown,
    rename_module,
    rewrite,
    run_script,
)

MNIST_SCRIPT = '''
import numpy as np
import mnist

from ml_genn import InputLayer, Layer, SequentialNetwork
from ml_genn.callbacks import Callback
from ml_genn.compilers import EventPropCompiler
from ml_genn.connectivity import Dense
from ml_genn.initializers import Normal
from ml_genn.neurons import (LeakyIntegrate, LeakyIntegrateFire,
                             SpikeInput)
from ml_genn.optimisers import Adam
from ml_genn.synapses import Exponential
from ml_genn.utils.data import calc_latest_spike_time, log_latency_encode_data
from ml_genn.compilers.event_prop_compiler import default_params
from pygenn.cuda_backend import DeviceSelect

EPOCHS = 40
NOTE = "ml_genn stays in strings"

class Halve(Callback):
    def set_params(self, compiled_network, **kwargs):
        self.opts = [o for o, _ in compiled_network.optimisers]
    def on_epoch_begin(self, epoch):
        for o in self.opts:
            o.alpha *= 0.9

x = log_latency_encode_data(mnist.train_images(), 20.0, 51)
y = mnist.train_labels()
net = SequentialNetwork(default_params)
with net:
    inp = InputLayer(SpikeInput(max_spikes=32 * 784), 784)
    Layer(Dense(Normal(mean=0.078, sd=0.045)), LeakyIntegrateFire(tau_refrac=None), 64,
          Exponential(5.0))
    out = Layer(Dense(Normal(mean=0.2, sd=0.37)), LeakyIntegrate(readout="avg_var"), 10,
                Exponential(5.0))
steps = int(np.ceil(calc_latest_spike_time(x)))
comp = EventPropCompiler(example_timesteps=steps, losses="sparse_categorical_crossentropy",
                         optimiser=Adam(1e-2), batch_size=32, kernel_profiling=True,
                         device_select_method=DeviceSelect.MANUAL)
with comp.compile(net) as cn:
    metrics, _ = cn.train({inp: x}, {out: y}, num_epochs=EPOCHS, callbacks=[Halve()])
    print(f"Accuracy = {100 * metrics[out].result}%")
    print(f"Neuron update time = {cn.genn_model.neuron_update_time}")
'''

MPI_SCRIPT = '''
import numpy as np
from tonic.datasets import SHD

from ml_genn import Connection, Network, Population
from ml_genn.communicators import MPI
from ml_genn.compilers import EventPropCompiler
from ml_genn.connectivity import Dense
from ml_genn.initializers import Normal
from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from ml_genn.synapses import Exponential
from ml_genn.utils.data import (calc_latest_spike_time, calc_max_spikes,
                                preprocess_tonic_spikes)
from ml_genn.compilers.event_prop_compiler import default_params

NUM_EPOCHS = 30
comm = MPI()
data = SHD(save_to="../data", train=True)
spikes, labels = [], []
for i in range(comm.rank, len(data), comm.num_ranks):
    events, label = data[i]
    spikes.append(preprocess_tonic_spikes(events, data.ordering, data.sensor_size))
    labels.append(label)
net = Network(default_params)
with net:
    inp = Population(SpikeInput(max_spikes=16 * calc_max_spikes(spikes)), 700)
    hid = Population(LeakyIntegrateFire(tau_refrac=None), 32)
    out = Population(LeakyIntegrate(readout="avg_var_exp_weight"), len(data.classes))
    Connection(inp, hid, Dense(Normal(mean=0.03, sd=0.01)), Exponential(5.0))
    Connection(hid, out, Dense(Normal(sd=0.03)), Exponential(5.0))
comp = EventPropCompiler(example_timesteps=int(np.ceil(calc_latest_spike_time(spikes))),
                         losses="sparse_categorical_crossentropy", batch_size=16,
                         communicator=comm)
with comp.compile(net) as cn:
    metrics, _ = cn.train({inp: spikes}, {out: labels}, num_epochs=NUM_EPOCHS,
                          callbacks=[])
# one write per rank: mpirun interleaves the ranks' progress bars with other output
print(f"\\nRANK{comm.rank} TOTAL {metrics[out].total}", flush=True)
'''


def test_the_readme_table_maps_every_mlgenn_module_to_one_of_ours() -> None:
    table = import_table()
    assert table["ml_genn.compilers.event_prop_compiler"] == "app.training.compilers.eventprop"
    assert table["pygenn.cuda_backend"] == "app.training.genn_compat"
    for theirs, ours in table.items():
        module, _, name = ours.rpartition(".")
        try:
            importlib.import_module(ours)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), name), (theirs, ours)
    assert rename_module("ml_genn.utils.data", table) == "app.training.data"
    assert rename_module("ml_genn.compilers.eprop_compiler", table) == \
        "app.training.compilers.eprop"
    assert rename_module("mnist", table) is None


def test_rewrite_touches_only_import_lines_and_listed_constants() -> None:
    src = MNIST_SCRIPT
    new, notes = rewrite(src, import_table(), {"EPOCHS": 2})
    assert notes == ["EPOCHS=2"]
    old_lines, new_lines = src.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert all(a.startswith(("from ml_genn", "from pygenn", "EPOCHS")) for a, _ in changed)
    assert "from app.model.neurons import (LeakyIntegrate, LeakyIntegrateFire," in new
    assert "from app.training.compilers.eventprop import default_params" in new
    assert "from app.training.genn_compat import DeviceSelect" in new
    assert "EPOCHS = 2  # harness (was: EPOCHS = 40)" in new
    assert 'NOTE = "ml_genn stays in strings"' in new
    assert "ml_genn" not in new.replace('"ml_genn stays in strings"', "")
    with pytest.raises(ValueError, match="no rename for module 'ml_genn_x'|not found"):
        rewrite("from ml_genn_x import y\n", import_table(), {"EPOCHS": 1})
    with pytest.raises(ValueError, match="not found"):
        rewrite(src, import_table(), {"MISSING": 1})


def _examples(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "examples" / "event_prop"
    folder.mkdir(parents=True)
    (folder / name).write_text(text, encoding="utf-8")
    return tmp_path / "examples"


def test_harness_runs_a_script_with_the_mnist_stand_in(tmp_path: Path) -> None:
    examples = _examples(tmp_path, "tiny_mnist.py", MNIST_SCRIPT)
    spec = Script("event_prop/tiny_mnist.py", {"EPOCHS": 2},
                  {"MNIST_STUB_TRAIN": "600", "MNIST_STUB_TEST": "100"})
    row = run_script(spec, examples, import_table(), 300.0, tmp_path / "keep")
    out = (tmp_path / "keep" / "event_prop__tiny_mnist.py" / "output.txt").read_text()
    assert row["runs"] == "yes", out[-3000:]
    assert row["learns"] == "yes" and "over 2 epoch(s)" in row["result"], row
    assert "LateSpikeWarning" in row["notes"] and "IgnoredGeNNArgumentWarning" in row["notes"]
    assert "Neuron update time = " in out and "Neuron update time = 0.0\n" not in out
    assert "| `event_prop/tiny_mnist.py` | 1 | EPOCHS=2 | yes | yes |" in markdown([row])


def test_harness_runs_an_mpi_script_on_two_ranks_with_the_shd_stand_in(
        tmp_path: Path) -> None:
    # like the project's other MPI tests this fails, not skips, without OpenMPI/mpi4py
    assert shutil.which("mpirun"), "needs OpenMPI: apt-get install openmpi-bin libopenmpi-dev"
    examples = _examples(tmp_path, "tiny_shd_mpi.py", MPI_SCRIPT)
    spec = Script("event_prop/tiny_shd_mpi.py", {"NUM_EPOCHS": 3},
                  {"SHD_STUB_TRAIN": "96", "SHD_STUB_MS": "40", "SHD_STUB_EVENTS": "80"},
                  ranks=2)
    row = run_script(spec, examples, import_table(), 300.0, tmp_path / "keep")
    out = (tmp_path / "keep" / "event_prop__tiny_shd_mpi.py" / "output.txt").read_text()
    assert row["runs"] == "yes", out[-3000:]
    # each rank took every 2nd example; the metric counts all 96 (summed over ranks)
    assert "RANK0 TOTAL 96" in out and "RANK1 TOTAL 96" in out
    assert "over 3 epoch(s)" in row["result"]
