"""A Deep R run resumed from a checkpoint continues exactly as the uninterrupted run:
the rewired synapse structure, labels and rewiring draws are part of the checkpoint."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.model import Connection, Network, Population
from app.model.connectivity import Dense, FixedProbability
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.training.callbacks import Checkpoint
from app.training.compilers import EPropCompiler
from app.training.compilers.eprop import default_params
from app.training.data.spikes import preprocess_spikes
from app.training.optimisers import Adam
from app.training.serialisers import Numpy

EPOCHS = 3


def _net() -> tuple:
    net = Network(default_params)
    with net:
        i = Population(SpikeInput(max_spikes=100), 20, name="inp")
        h = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0), 30,
                       name="hid")
        r = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 2, name="out")
        c = Connection(i, h, FixedProbability(0.3, Normal(sd=0.001)), name="inp_hid")
        Connection(h, r, Dense(Normal(sd=0.3)), name="hid_out")
    return net, i, r, c


def _data() -> tuple[list, np.ndarray]:
    rng = np.random.default_rng(0)
    x = [preprocess_spikes(rng.uniform(0, 18, 40), rng.integers(0, 20, 40), 20)
         for _ in range(4)]
    return x, np.array([1, 0, 1, 0])


def _compiler(c: Connection) -> EPropCompiler:
    return EPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=2,
                         deep_r_conns=[c], deep_r_l1_strength=0.5,
                         deep_r_record_rewirings={c: "rw"})


def _final(cn, c: Connection) -> tuple[np.ndarray, np.ndarray]:
    sl = cn.layout.conn_slice(c.name)
    return cn.deep_r.active_mask(c.name).copy(), cn.layout.weights[sl].copy()


@pytest.fixture(scope="module")
def uninterrupted() -> dict:
    net, i, r, c = _net()
    x, y = _data()
    with _compiler(c).compile(net) as cn:
        start = cn.deep_r.active_mask(c.name).copy()
        _, cb = cn.train({i: x}, {r: y}, num_epochs=EPOCHS, shuffle=True, callbacks=[])
        mask, w = _final(cn, c)
    return {"start": start, "mask": mask, "weights": w, "rw": cb["rw"]}


def _resume(tmp_path: Path, restore: bool) -> tuple[np.ndarray, np.ndarray, list]:
    ser = Numpy(tmp_path / "ckpt")
    net, i, r, c = _net()
    x, y = _data()
    with _compiler(c).compile(net) as cn:
        cn.train({i: x}, {r: y}, num_epochs=1, shuffle=True, callbacks=[Checkpoint(ser)])
    net, i, r, c = _net()
    net.load((0,), ser)
    with _compiler(c).compile(net) as cn:
        if restore:
            cn.load_optimiser_state((0,), ser)
        _, cb = cn.train({i: x}, {r: y}, num_epochs=EPOCHS - 1, start_epoch=1, shuffle=True,
                         callbacks=[])
        mask, w = _final(cn, c)
    return mask, w, cb["rw"]


def test_resumed_deep_r_run_equals_the_uninterrupted_one(uninterrupted: dict,
                                                          tmp_path: Path) -> None:
    # the run really rewires, after the checkpoint too, so a lost structure would show
    assert not np.array_equal(uninterrupted["mask"], uninterrupted["start"])
    assert sum(n for n, _ in uninterrupted["rw"][2:]) > 0
    mask, w, rw = _resume(tmp_path, restore=True)
    assert rw == uninterrupted["rw"][2:]
    np.testing.assert_array_equal(mask, uninterrupted["mask"])
    np.testing.assert_array_equal(w, uninterrupted["weights"])


def test_weights_alone_do_not_resume_a_deep_r_run(uninterrupted: dict,
                                                   tmp_path: Path) -> None:
    # what a checkpoint held before: the present weights land in the original structure
    mask, _, _ = _resume(tmp_path, restore=False)
    assert not np.array_equal(mask, uninterrupted["mask"])


def test_a_checkpoint_without_deep_r_state_is_refused(tmp_path: Path) -> None:
    # e.g. one written before checkpoints held Deep R's structure
    ser = Numpy(tmp_path / "old")
    net, i, r, c = _net()
    x, y = _data()
    with _compiler(c).compile(net) as cn:
        cn.train({i: x}, {r: y}, num_epochs=1, callbacks=[Checkpoint(ser)])
    for f in (tmp_path / "old").glob("0-deep_r*"):
        f.unlink()
    net, i, r, c = _net()
    with _compiler(c).compile(net) as cn, pytest.raises(KeyError, match="no Deep R"):
        cn.load_optimiser_state((0,), ser)
