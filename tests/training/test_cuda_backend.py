"""The cuda backend (numba-cuda): parity with the CPU engine under the CUDA simulator,
its errors, and that nothing of it is imported when it is not used.

numba reads NUMBA_ENABLE_CUDASIM when ``numba.cuda`` is first imported, and the CPU
tests in this process import numba, so the parity cases run in a subprocess with the
variable set (``cuda_parity_cases.py``, one run of each of its two case groups for the
whole module).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES_SCRIPT = Path(__file__).with_name("cuda_parity_cases.py")
WORKER_SCRIPT = Path(__file__).with_name("cuda_worker_case.py")
TOL = 1e-5  # relative, against the CPU engine (the bound)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def parity() -> dict:
    """Every parity case's results (and, as "worker", the Train-path run of
    ``cuda_worker_case.py``); the e-prop cases, the rest and the worker run in three
    simulator processes side by side (the simulator is single-threaded)."""
    pytest.importorskip("numba_cuda", reason="numba-cuda (the 'cuda' extra) is not installed")
    cmds = [[str(CASES_SCRIPT), "--group", "other"], [str(CASES_SCRIPT), "--group", "eprop"],
            [str(WORKER_SCRIPT)]]
    procs = [subprocess.Popen([sys.executable, *cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=_env(NUMBA_ENABLE_CUDASIM="1"), cwd=ROOT) for cmd in cmds]
    out: dict = {}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        line = next((ln for ln in stdout.splitlines()
                     if ln.startswith(("CUDA_PARITY_JSON ", "CUDA_WORKER_JSON "))), None)
        assert line is not None, f"parity script failed:\n{stdout[-3000:]}\n{stderr[-3000:]}"
        res = json.loads(line.split(" ", 1)[1])
        out.update(res if line.startswith("CUDA_PARITY") else {"worker": res})
    return out


def _ok(res: dict) -> dict:
    assert "error" not in res, res.get("error")
    return res


@pytest.mark.parametrize("case", ["forward_eventprop", "forward_eprop", "forward_eprop_carry",
                                  "alif_forward"])
def test_forward_spikes_identical_and_values_match_cpu(parity, case):
    res = _ok(parity[case])
    assert res["n_spikes"] > 0
    assert res["spikes_identical"]
    for key, val in res.items():
        if key.startswith("rel_"):
            assert val <= TOL, (key, val)


@pytest.mark.parametrize("case", ["forward_eventprop", "forward_eprop", "forward_eprop_carry"])
def test_forward_matches_mlgenn_fixtures(parity, case):
    """The same bounds the CPU engine's parity tests use against mlGeNN."""
    res = _ok(parity[case])
    refs = {k: v for k, v in res.items() if k.startswith("ref_")}
    assert refs
    for key, val in refs.items():
        assert val <= 1e-5, (key, val)


@pytest.mark.parametrize("case", ["grad_eventprop_sce", "grad_eventprop_ttfs", "batch_training",
                                  "batch_mse_reg"])
def test_eventprop_gradients_and_adam_match_cpu(parity, case):
    res = _ok(parity[case])
    assert res["grad_nonzero"]
    for key in ("grad", "readout", "weights", "loss"):
        assert res[key] <= TOL, (key, res[key])
    if "lambda" in res:
        assert res["lambda"] <= TOL


@pytest.mark.parametrize("case", ["grad_eventprop_sce", "grad_eventprop_ttfs"])
def test_eventprop_gradients_match_mlgenn_fixtures(parity, case):
    res = _ok(parity[case])
    assert res["ref_grad"] < 1e-3
    if "ref_lambda" in res:
        assert res["ref_lambda"] < 1e-3


def test_nothing_of_cuda_is_imported_by_the_cpu_path():
    code = (
        "import sys, numpy as np\n"
        "import app.training\n"
        "from app.model import Connection, Network, Population\n"
        "from app.model.connectivity import Dense\n"
        "from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput\n"
        "from app.model.synapses import Exponential\n"
        "from app.training.compilers import EventPropCompiler, eventprop\n"
        "net = Network(eventprop.default_params)\n"
        "with net:\n"
        "    i = Population(SpikeInput(), 3, name='i')\n"
        "    h = Population(LeakyIntegrateFire(), 4, name='h')\n"
        "    o = Population(LeakyIntegrate(readout='sum_var'), 2, name='o')\n"
        "    Connection(i, h, Dense(np.ones((3, 4), np.float32)), Exponential(5.0))\n"
        "    Connection(h, o, Dense(np.ones((4, 2), np.float32)), Exponential(5.0))\n"
        "cn = EventPropCompiler(5, 'sparse_categorical_crossentropy').compile(net)\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('numba.cuda', 'numba_cuda',"
        " 'cuda.', 'app.training.engine.cuda.sim', 'app.training.engine.cuda.kernels')))\n"
        "print('LOADED', bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=300, cwd=ROOT)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr


def test_backend_argument_is_checked():
    from app.model.errors import ModelError
    from app.training.compilers import EventPropCompiler, InferenceCompiler

    with pytest.raises(ModelError, match="backend.*'cpu'.*'cuda'"):
        EventPropCompiler(10, "sparse_categorical_crossentropy", backend="gpu")
    with pytest.raises(ModelError, match="backend"):
        InferenceCompiler(10, backend="tpu")


def test_unsupported_features_are_named():
    """Delays, convolution kernels and Poisson inputs: the error names them and the fix."""
    import numpy as np

    from app.model import Connection, Network, Population
    from app.model.connectivity import Dense
    from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, PoissonInput, SpikeInput
    from app.training.engine.cuda.support import unsupported_features
    from app.training.engine.layout import build_layout

    net = Network()
    with net:
        i = Population(SpikeInput(), 3, name="i")
        q = Population(PoissonInput(), 3, name="q")
        h = Population(LeakyIntegrateFire(), 4, name="h")
        o = Population(LeakyIntegrate(readout="sum_var"), 2, name="o")
        Connection(i, h, Dense(np.ones((3, 4), np.float32), delay=2), max_delay_steps=3)
        Connection(q, h, Dense(np.ones((3, 4), np.float32)))
        Connection(h, o, Dense(np.ones((4, 2), np.float32)))
    problems = unsupported_features(build_layout(net, 1.0, np.random.default_rng(0)))
    assert any("delays" in p for p in problems)
    assert any("PoissonInput" in p for p in problems)


def test_training_features_refused_on_cuda():
    from app.model.errors import ModelError
    from app.training.compilers.base import check_cuda_training

    with pytest.raises(ModelError, match="delay learning.*backend='cpu'"):
        check_cuda_training("EventPropCompiler", delay_learning=True)
    check_cuda_training("EventPropCompiler")  # nothing used: fine


@pytest.mark.parametrize("sim", ["0", "1"])
def test_backend_picker_offers_cuda_only_with_a_device(sim):
    """The window's backend list (worker.genn_backend.available_backends) has the cuda
    engine when numba-cuda finds a device: the simulator counts as one, this machine's
    missing GPU does not."""
    pytest.importorskip("numba_cuda", reason="numba-cuda (the 'cuda' extra) is not installed")
    code = ("from app.worker.genn_backend import available_backends\n"
            "from app.training.engine import available_backends as engine_backends\n"
            "print('NAMES', [n for n, _ in available_backends()], engine_backends())\n")
    env = _env(NUMBA_ENABLE_CUDASIM=sim)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT).stdout
    from numba import cuda  # noqa: PLC0415  (this process: the real driver, no simulator)

    has_device = sim == "1" or cuda.is_available()
    assert ("'cuda'" in out.split("NAMES", 1)[1]) == has_device, out


@pytest.mark.parametrize("case", ["eprop_sce", "eprop_mse", "eprop_alif_sce", "eprop_alif_mse",
                                  "eprop_batch_training"])
def test_eprop_matches_cpu(parity, case):
    """Every e-prop fixture case (LIF/ALIF, SCE/MSE, two gradient blocks per trial) and a
    batch-2 run through EPropCompiler with device Adam (LIF + ALIF, sparse, recurrent,
    input -> output): spikes identical, voltages and gradients within 1e-5."""
    res = _ok(parity[case])
    assert res["n_spikes"] > 0
    assert res["spikes_identical"]
    assert res["grad_nonzero"]
    for key, val in res.items():
        if key.startswith("rel_") or key in ("grad", "readout", "weights", "loss"):
            assert val <= TOL, (key, val)
    if "ref_grad" in res:  # the mlGeNN fixture's gradient of sample 0
        assert res["ref_grad"] <= 1e-5


def test_worker_trains_eprop_on_cuda_like_cpu(parity):
    """The Train path (the worker process the window starts) with backend='cuda' on a tiny
    e-prop project: the same messages, rasters, losses and final weights as on the CPU."""
    res = parity["worker"]
    assert res["finished"], res["error"]
    assert res["kinds_cuda"] == res["kinds_cpu"]
    assert res["kinds_cuda"].count("batch_metrics") == 2
    assert res["hidden_spikes"] > 0 and res["rasters_equal"]
    assert res["losses_cuda"] == pytest.approx(res["losses_cpu"], rel=TOL)
    assert res["weights_rel"] <= TOL


def test_eprop_cuda_refuses_what_it_lacks():
    """Deep R, MPI and non-Adam optimisers on e-prop's cuda backend: named, with the fix."""
    from app.model.errors import ModelError
    from app.training.compilers.base import check_cuda_training
    from app.training.optimisers import Adam

    with pytest.raises(ModelError, match="Deep R.*backend='cpu'"):
        check_cuda_training("EPropCompiler", deep_r=True)
    with pytest.raises(ModelError, match="Adam only.*backend='cpu'"):
        check_cuda_training("EPropCompiler", optimiser=object())
    check_cuda_training("EPropCompiler", optimiser=Adam())


def test_project_schema_offers_cuda_for_every_compiler():
    from app.project.schema import COMPILERS

    def choices(name: str) -> tuple:
        return next(p for p in COMPILERS[name].params if p.name == "backend").choices

    for name in ("EventPropCompiler", "InferenceCompiler", "EPropCompiler"):
        assert choices(name) == ("cpu", "cuda"), name


def test_gpu_benchmark_exits_cleanly_without_a_device():
    pytest.importorskip("numba_cuda", reason="numba-cuda (the 'cuda' extra) is not installed")
    env = _env(CUDA_VISIBLE_DEVICES="")  # hide any GPU: the no-device path
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py")],
                         capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "No GPU benchmark" in out.stdout and "--simulator" in out.stdout
