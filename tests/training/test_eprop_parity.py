"""e-prop kernel against mlGeNN's fixtures (grad_eprop_{sce,mse,alif_sce,alif_mse}.npz).

Per-step hidden/output state and spikes must match to float32 rounding; the
gradients (DeltaG, DeltaBias) of every batch, with state carried across
trials, to relative error < 1e-3 (in practice < 1e-6; the block gradient sums
in another order than mlGeNN's step-by-step recursion), in both forms of the
gradient's block products.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.training.data import preprocess_spikes
from app.training.engine import eprop_kernels as EK
from app.training.engine.eprop_sim import EPropSimulator
from app.training.engine.layout import build_layout
from app.training.optimisers import Adam

CASES = ["sce", "mse", "alif_sce", "alif_mse"]
CONNS = ["in_hid", "hid_hid", "hid_out"]


def fixtures_dir() -> Path:
    """tests/fixtures, or SPIKE_STUDIO_FIXTURES when set."""
    env = os.environ.get("SPIKE_STUDIO_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "fixtures"


def load_case(case: str) -> dict:
    path = fixtures_dir() / f"grad_eprop_{case}.npz"
    if not path.exists():
        pytest.fail(f"fixture {path} is missing: tests/fixtures holds grad_eprop_*.npz "
                    "(SPIKE_STUDIO_FIXTURES, if set, replaces it)")
    d = np.load(path)
    return {k: d[k] for k in d.files}


def build_network(d: dict) -> tuple[Network, dict]:
    """The fixture's 5 -> 20 recurrent (A)LIF -> 3 LI network with its initial weights."""
    cfg = json.loads(str(d["config"]))
    hp, op = cfg["populations"]["hid"], cfg["populations"]["out"]
    net = Network()
    with net:
        inp = Population(SpikeInput(max_spikes=100), cfg["populations"]["in"]["n"], name="in")
        if hp["type"] == "AdaptiveLeakyIntegrateFire":
            nrn = AdaptiveLeakyIntegrateFire(v_thresh=hp["v_thresh"], tau_mem=hp["tau_mem"],
                                             tau_refrac=hp["tau_refrac"], beta=hp["beta"],
                                             tau_adapt=hp["tau_adapt"])
        else:
            nrn = LeakyIntegrateFire(v_thresh=hp["v_thresh"], tau_mem=hp["tau_mem"],
                                     tau_refrac=hp["tau_refrac"])
        hid = Population(nrn, hp["n"], name="hid")
        out = Population(LeakyIntegrate(tau_mem=op["tau_mem"], readout=op["readout"]),
                         op["n"], name="out")
        Connection(inp, hid, Dense(d["W_in_hid"]), name="in_hid")
        Connection(hid, hid, Dense(d["W_hid_hid"]), name="hid_hid")
        Connection(hid, out, Dense(d["W_hid_out"]), name="hid_out")
    return net, cfg


def sample_spikes(d: dict, k: int):
    sel = d["input_spike_sample"] == k
    return preprocess_spikes(d["input_spike_times"][sel], d["input_spike_ids"][sel], 5)


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-30))


def run(case: str, prefix: str, n_batches: int, record: bool, form: str = "auto"):
    """Train batch by batch (batch size 1) with the run's Adam; yield per-batch results.

    ``form``: how the gradient's block products run (a row add per spike or BLAS GEMMs).
    """
    d = load_case(case)
    net, cfg = build_network(d)
    sce = "sce" in case
    hp = cfg["populations"]["hid"]
    lay = build_layout(net, 1.0, np.random.default_rng(0))
    T = int(d["example_timesteps"])
    ro = EK.RD_SUM if cfg["populations"]["out"]["readout"] == "sum_var" else EK.RD_VAR
    sim = EPropSimulator(lay, 1, float(d["dt"]), T,
                         {"out": EK.LOSS_SCE if sce else EK.LOSS_MSE}, {"out": ro},
                         hp["tau_mem"], hp.get("tau_adapt"), 500.0, 0.001, 10.0, True,
                         gradient=form)
    opt = cfg["optimisers"][prefix]
    adam = Adam(opt["alpha"], opt["beta1"], opt["beta2"], opt["epsilon"])
    states = {c: adam.new_state((lay.conn_slice(c).stop - lay.conn_slice(c).start,))
              for c in CONNS}
    out_sl = lay.pop_slice("out")
    bstate = adam.new_state((3,))
    rv = [("hid", "V"), ("hid", "E"), ("hid", "RefracTime"), ("out", "V"), ("out", "E"),
          ("out", "DeltaBias")]
    if "alif" in case:
        rv.append(("hid", "A"))
    if sce:
        rv.append(("out", "VSoftmax"))
    for k in range(n_batches):
        sim.reset_readouts()
        sim.set_inputs({"in": [sample_spikes(d, k)]}, 1)
        sim.set_labels({"out": (d["labels"] if sce else d["targets"])[k:k + 1]}, 1)
        rec = sim.run_trial(1, True, rv if record else None, ["hid"] if record else None)
        readout = sim.readout("out")[0]
        g, db = sim.take_gradients()
        yield d, lay, k, rec, g, db[out_sl], readout
        for c in CONNS:
            sl = lay.conn_slice(c)
            adam.step(lay.weights[sl], g[sl], states[c], k)
        adam.step(lay.bias[out_sl], db[out_sl].copy(), bstate, k)
        sim.refresh_weights()


@pytest.mark.parametrize("case", CASES)
def test_per_step_state_and_spikes_match_mlgenn(case: str) -> None:
    """Batches 0 and 1 of the main run (batch 1 on Adam-updated weights and bias)."""
    for d, _lay, k, rec, _g, _db, _ro in run(case, "main", 2, record=True):
        for (pop, var), sl in rec.var_slices.items():
            got = rec.values[0][:, sl]
            ref = d[f"main_{pop}_{var}"][k]
            tol = 1e-6 if k == 0 else 1e-5  # batch 1: weights of order 1e2..1e5
            err = np.max(np.abs(got - ref))
            assert err <= tol * max(1.0, float(np.max(np.abs(ref)))), (case, k, pop, var, err)
        sel = d["main_hid_spike_batch"] == k
        ref_spikes = sorted(zip(np.rint(d["main_hid_spike_times"][sel]).astype(int).tolist(),
                                d["main_hid_spike_ids"][sel].tolist(), strict=True))
        got_spikes = sorted(zip(rec.spike_steps[0].tolist(),
                                (rec.spike_ids[0] - 5).tolist(), strict=True))
        assert got_spikes == ref_spikes, (case, k)
        assert len(ref_spikes) > 50


@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_mlgenn(case: str, form: str) -> None:
    """DeltaG/DeltaBias of sample 0 and of the main run's batch 1 (after an Adam step)."""
    for d, lay, k, _rec, g, db, readout in run(case, "main", 2, record=False, form=form):
        for c in CONNS:
            got = g[lay.conn_slice(c)].reshape(d[f"W_{c}"].shape)
            assert rel_err(got, d[f"main_grad_{c}_pre_opt"][k]) < 1e-3, (case, k, c)
            if k == 0:
                assert rel_err(got, d[f"grad_{c}_sample0"]) < 1e-5, (case, c)
        assert rel_err(db, d["main_grad_out_bias_pre_opt"][k]) < 1e-3
        if k == 0:
            assert rel_err(db, d["grad_out_bias_sample0"]) < 1e-5
        key = "VSoftmaxSum" if "sce" in case else "V"
        ref = d[f"main_out_{key}_batch_end"][k]
        assert np.max(np.abs(readout - ref)) <= 1e-5 * max(1.0, float(np.max(np.abs(ref))))


@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("case", CASES)
def test_gradients_with_carried_state_match_mlgenn(case: str, form: str) -> None:
    """The a0 run (Adam alpha=0): clean per-batch gradients at W0 with state carried over."""
    for d, lay, k, _rec, g, db, _ro in run(case, "a0", 3, record=False, form=form):
        for c in CONNS:
            got = g[lay.conn_slice(c)].reshape(d[f"W_{c}"].shape)
            assert rel_err(got, d[f"a0_grad_{c}_pre_opt"][k]) < 1e-5, (case, k, c)
        assert rel_err(db, d["a0_grad_out_bias_pre_opt"][k]) < 1e-5, (case, k)


def test_adam_step0_reproduces_weights_after_batch0() -> None:
    """Adam at step 0 (e-prop's first update) on our gradient gives W/Bias_after_batch0."""
    for d, lay, k, _rec, g, db, _ro in run("sce", "main", 1, record=False):
        assert k == 0
        adam = Adam(1e6, 0.9, 0.999, 1e6)
        for c in CONNS:
            w = lay.weights[lay.conn_slice(c)].copy()
            adam.step(w, g[lay.conn_slice(c)], adam.new_state(w.shape), 0)
            ref = d[f"W_{c}_after_batch0"].reshape(-1)
            assert not np.allclose(ref, d[f"W_{c}_before"].reshape(-1))
            assert np.max(np.abs(w - ref)) < 1e-5 * max(1.0, float(np.max(np.abs(ref)))), c
        b = np.zeros(3, np.float32)
        adam.step(b, db.copy(), adam.new_state((3,)), 0)
        assert np.max(np.abs(b - d["out_Bias_after_batch0"])) < 1e-4
