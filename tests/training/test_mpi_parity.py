"""MPI data-parallel training: 2 ranks == 1 process with the same total batch size.

Each rank trains on its own part of the data (``shard``: every 2nd example), as
mlGeNN's MPI scripts do; ``batch_size`` is the total over the ranks. Without
shuffling that is exactly the batches of one process.

The tests launch this file under ``mpirun -n 2`` (it is also the worker script:
``python test_mpi_parity.py TASK OUT [MODE]``). They need OpenMPI and mpi4py
(``apt-get install openmpi-bin libopenmpi-dev``, ``pip install -e '.[mpi]'``)
and fail, not skip, when either is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
N_EXAMPLES = 65  # rank 0 gets 33 examples, rank 1 32: rank 1 idles through the 5th batch
BATCH = 16
MISSING = ("MPI tests need OpenMPI and mpi4py: apt-get install -y openmpi-bin "
           "libopenmpi-dev && pip install -e '.[mpi]'")


def mpirun_command(n: int, *args: str) -> list[str]:
    """``mpirun -n N python THIS_FILE ARGS`` with the flags a shared or root machine needs."""
    exe = shutil.which("mpirun")
    if exe is None:
        pytest.fail(MISSING + " (no mpirun on PATH)")
    cmd = [exe, "-n", str(n), "--oversubscribe", "--bind-to", "none"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + [sys.executable, str(Path(__file__).resolve()), *args]


def mpi_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NUMBA_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module", autouse=True)
def require_mpi() -> None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.fail(MISSING + " (mpi4py is not installed)")
    if shutil.which("mpirun") is None:
        pytest.fail(MISSING + " (no mpirun on PATH)")


# ----- the tasks (run both in-process and under mpirun) ------------------------------------
def _data(n: int, n_in: int, seed: int = 0) -> tuple[list, np.ndarray]:
    from app.training.data import preprocess_spikes

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    spikes = []
    for y in labels:
        half = n_in // 2
        early = np.arange(half) + half * y
        late = np.arange(half) + half * (1 - y)
        times = np.concatenate([rng.uniform(1, 4, half), rng.uniform(12, 16, half)])
        spikes.append(preprocess_spikes(times, np.concatenate([early, late]), n_in))
    return spikes, labels.astype(np.int64)


def _eventprop(communicator: object) -> tuple:
    from app.model import InputLayer, Layer, SequentialNetwork
    from app.model.connectivity import Dense
    from app.model.initializers import Normal
    from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from app.model.synapses import Exponential
    from app.training.compilers import EventPropCompiler, eventprop
    from app.training.optimisers import Adam

    net = SequentialNetwork(eventprop.default_params)
    with net:
        inp = InputLayer(SpikeInput(), 10)
        Layer(Dense(Normal(mean=0.8, sd=0.4)), LeakyIntegrateFire(tau_mem=20.0), 16,
              Exponential(5.0))
        out = Layer(Dense(Normal(mean=0.0, sd=0.5)), LeakyIntegrate(readout="avg_var"), 2,
                    Exponential(5.0))
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01),
                             batch_size=BATCH, reg_lambda_upper=1e-3, reg_nu_upper=2,
                             communicator=communicator)
    return net, inp, out, comp, 10


def _eprop(communicator: object) -> tuple:
    from app.model import Connection, Network, Population
    from app.model.connectivity import Dense
    from app.model.initializers import Normal
    from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from app.training.compilers.eprop import EPropCompiler, default_params
    from app.training.optimisers import Adam

    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), 10, name="inp")
        hid = Population(LeakyIntegrateFire(v_thresh=0.6, tau_refrac=5.0), 12, name="hid")
        out = Population(LeakyIntegrate(readout="sum_var"), 2, name="out")
        Connection(inp, hid, Dense(Normal(0.5, 1.0)), synapse="delta", name="in_hid")
        Connection(hid, hid, Dense(Normal(0.0, 0.1)), synapse="delta", name="hid_hid")
        Connection(hid, out, Dense(Normal(0.0, 0.3)), synapse="delta", name="hid_out")
    comp = EPropCompiler(20, "sparse_categorical_crossentropy", optimiser=Adam(0.01),
                         batch_size=BATCH, communicator=communicator)
    return net, inp, out, comp, 10


TASKS = {"eventprop": _eventprop, "eprop": _eprop}


def run_task(task: str, communicator: object = None, mode: str = "ok",
             out_dir: str | None = None) -> dict[str, np.ndarray]:
    """One epoch of training, then evaluate and predict on this rank's part of the data;
    returns weights and metrics. With ``out_dir``, also a checkpoint (to
    ``out_dir/ckpt<rank>``) and a progress bar."""
    from app.training.callbacks import BatchProgressBar, Callback, Checkpoint
    from app.training.communicators import shard
    from app.training.serialisers import Numpy

    net, inp, out, comp, n_in = TASKS[task](communicator)
    x, y = _data(N_EXAMPLES, n_in)
    rank = 0 if communicator is None else communicator.rank
    if communicator is not None:
        x, y = shard(x, rank, communicator.num_ranks), shard(y, rank, communicator.num_ranks)

    class Fail(Callback):
        def on_batch_begin(self, batch: int) -> None:
            if batch == 2 and rank == 1:
                if mode == "die":
                    os.kill(os.getpid(), signal.SIGKILL)
                elif mode == "hang":
                    time.sleep(3600)
                elif mode == "raise":
                    raise RuntimeError("deliberate failure on rank 1")

    callbacks: list = [Fail()] if mode != "ok" else []
    if out_dir is not None:
        callbacks += [Checkpoint(Numpy(Path(out_dir) / f"ckpt{rank}")), BatchProgressBar()]
    with comp.compile(net) as cn:
        mets, _ = cn.train({inp: x}, {out: y}, num_epochs=1, shuffle=False,
                           callbacks=callbacks)
        ev, _ = cn.evaluate({inp: x}, {out: y}, callbacks=[])
        pred = cn.predict({inp: x}, out, callbacks=[])[0][out]
        res = {f"w_{c.name}": cn.get_weights(c) for c in net.connections}
        res["train_acc"] = np.array(mets[out].result)
        res["loss"] = np.array(cn.epoch_loss)
        res["eval_acc"] = np.array(ev[out].result)
        res["pred"] = pred
    return res


def _worker(task: str, out_dir: str, mode: str = "ok", timeout: str = "") -> None:
    from app.training.communicators import MPI

    comm = MPI(timeout=float(timeout)) if timeout else MPI()
    res = run_task(task, comm, mode, out_dir)
    np.savez(Path(out_dir) / f"rank{comm.rank}.npz", **res)


# ----- tests -------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["eventprop", "eprop"])
def test_two_ranks_match_one_process(task: str, tmp_path: Path) -> None:
    proc = subprocess.run(mpirun_command(2, task, str(tmp_path)), env=mpi_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # rank 0 alone writes checkpoints and draws the progress bar
    assert any((tmp_path / "ckpt0").iterdir())
    assert not (tmp_path / "ckpt1").exists()
    assert (proc.stdout + proc.stderr).count(f"| 0/{-(-N_EXAMPLES // BATCH)} ") == 1
    ref = run_task(task)
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)]
    for key, everything in ref.items():
        for r, got in enumerate(ranks):
            # each rank predicts its own examples
            want = everything[r::2] if key == "pred" else everything
            if key.startswith("w_"):
                assert np.any(want != 0)
                scale = max(float(np.max(np.abs(want))), 1e-6)
                err = float(np.max(np.abs(got[key] - want)))
                assert err <= 1e-5 * scale, f"rank {r} {key}: max diff {err}"
            else:
                np.testing.assert_allclose(got[key], want, rtol=1e-5, atol=1e-6,
                                           err_msg=f"rank {r} {key}")
    # the epoch did move the weights, so the equality is not trivial
    net, _inp, _out, comp, _n = TASKS[task](None)
    with comp.compile(net) as cn:
        for c in net.connections:
            assert np.max(np.abs(cn.get_weights(c) - ref[f"w_{c.name}"])) > 1e-3


def _failing_run(mode: str, tmp_path: Path, timeout: str) -> tuple[int, str, float]:
    start = time.monotonic()
    proc = subprocess.run(mpirun_command(2, "eventprop", str(tmp_path), mode, timeout),
                          env=mpi_env(), capture_output=True, text=True, timeout=240)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def test_a_killed_rank_stops_the_job(tmp_path: Path) -> None:
    rc, out, took = _failing_run("die", tmp_path, "30")
    assert rc != 0
    assert took < 200
    assert ("exited on signal 9" in out or "waited more than" in out), out[-3000:]
    assert not (tmp_path / "rank0.npz").exists()


def test_a_hanging_rank_times_out_with_a_clear_message(tmp_path: Path) -> None:
    rc, out, took = _failing_run("hang", tmp_path, "5")
    assert rc != 0
    assert "MPI rank 0/2: Allreduce waited more than 5 s" in out, out[-3000:]
    assert took < 200


def test_an_exception_on_one_rank_aborts_all(tmp_path: Path) -> None:
    rc, out, took = _failing_run("raise", tmp_path, "120")
    assert rc != 0
    assert "deliberate failure on rank 1" in out, out[-3000:]
    assert "MPI rank 1/2: RuntimeError" in out
    assert took < 100


if __name__ == "__main__":
    _worker(*sys.argv[1:])
