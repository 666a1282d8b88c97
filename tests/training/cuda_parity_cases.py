"""CUDA backend against the CPU engine, run under numba-cuda's simulator.

Run by ``test_cuda_backend.py`` in a subprocess with NUMBA_ENABLE_CUDASIM=1
(numba reads it when ``numba.cuda`` is first imported, so it must be set before
any import). Prints one JSON object: per case, the largest relative differences
of the cuda backend from the CPU engine (and from mlGeNN's fixtures where the
case has them) and whether the spikes are identical. Networks and trials are
small: the simulator runs every GPU thread as a Python thread.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import Dense, FixedProbability
from app.model.initializers import Normal
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.model.synapses import Exponential
from app.training.callbacks import CallbackList, SpikeRecorder, VarRecorder
from app.training.compilers import EventPropCompiler, InferenceCompiler, eventprop
from app.training.data import preprocess_spikes
from app.training.losses import RelativeMeanSquareError
from app.training.optimisers import Adam

FIXTURES = Path(os.environ.get("SPIKE_STUDIO_FIXTURES")
                or Path(__file__).resolve().parents[1] / "fixtures")


def _load(name: str) -> dict:
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def _inputs(d: dict, n_in: int) -> list:
    out = []
    for k in np.unique(d["input_spike_sample"]):
        s = d["input_spike_sample"] == k
        out.append(preprocess_spikes(d["input_spike_times"][s], d["input_spike_ids"][s], n_in))
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) if b.size else 0.0


def _sce_network(d: dict) -> Network:
    net = Network(eventprop.default_params)
    with net:
        inp = Population(SpikeInput(max_spikes=100), 5, name="in")
        hid = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 20, name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), 3, name="out")
        Connection(inp, hid, Dense(d["W_in_hid"]), Exponential(5.0), name="in_hid")
        Connection(hid, out, Dense(d["W_hid_out"]), Exponential(5.0), name="hid_out")
    return net


def _eprop_network(d: dict) -> Network:
    net = Network()
    with net:
        inp = Population(SpikeInput(), 5, name="in")
        hid = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=5.0), 20,
                         name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 3, name="out")
        Connection(inp, hid, Dense(d["W_in_hid"]), name="in_hid")
        Connection(hid, hid, Dense(d["W_hid_hid"]), name="hid_hid")
        Connection(hid, out, Dense(d["W_hid_out"]), name="hid_out")
    return net


def _record(net: Network, comp_args: dict, x: list, labels: np.ndarray, variables: list,
            backend: str) -> dict:
    """Evaluate with recordings on one backend: {key: stacked values}, spikes, readout."""
    pops = {p.name: p for p in net.populations}
    recs = [VarRecorder(pops[p], v, key=f"{p}.{v}") for p, v in variables]
    recs.append(SpikeRecorder(pops["hid"], key="spikes"))
    comp = InferenceCompiler(backend=backend, **comp_args)
    with comp.compile(net) as cn:
        _, data = cn.evaluate({pops["in"]: x}, {pops["out"]: labels}, callbacks=recs)
        pred = cn.predict({pops["in"]: x}, pops["out"], callbacks=[])[0][pops["out"]]
    out = {f"{p}.{v}": np.stack(data[f"{p}.{v}"]) for p, v in variables}
    out["readout"] = pred
    out["spikes"] = [sorted(zip(t.tolist(), i.tolist(), strict=True))
                     for t, i in zip(data["spikes"][0], data["spikes"][1], strict=True)]
    return out


def _compare_forward(cpu: dict, gpu: dict, ref: dict | None = None) -> dict:
    res = {"spikes_identical": cpu["spikes"] == gpu["spikes"],
           "n_spikes": int(sum(len(s) for s in cpu["spikes"]))}
    for k in cpu:
        if k != "spikes":
            res[f"rel_{k}"] = _rel(gpu[k], cpu[k])
    if ref is not None:
        for k, v in ref.items():
            res[f"ref_{k}"] = _rel(gpu[k], v)
    return res


def case_forward_eventprop() -> dict:
    d = _load("forward_eventprop")
    args = {"evaluate_timesteps": 60, "reset_in_syn_between_batches": True, "batch_size": 3}
    x, y = _inputs(d, 5), d["labels"].astype(np.int64)
    vars_ = [("hid", "V"), ("out", "V")]
    cpu = _record(_sce_network(d), args, x, y, vars_, "cpu")
    gpu = _record(_sce_network(d), args, x, y, vars_, "cuda")
    return _compare_forward(cpu, gpu, {"hid.V": d["hid_V"], "out.V": d["out_V"],
                                       "readout": d["readout"]})


def case_forward_eprop(carry: bool) -> dict:
    d = _load("forward_eprop")
    args = {"evaluate_timesteps": 60, "reset_vars_between_batches": not carry}
    x, y = _inputs(d, 5), d["labels"].astype(np.int64)
    vars_ = [("hid", "V"), ("hid", "RefracTime"), ("out", "V")]
    cpu = _record(_eprop_network(d), args, x, y, vars_, "cpu")
    gpu = _record(_eprop_network(d), args, x, y, vars_, "cuda")
    sfx = "_carry" if carry else ""
    return _compare_forward(cpu, gpu, {"hid.V": d["hid_V" + sfx],
                                       "hid.RefracTime": d["hid_RefracTime" + sfx],
                                       "out.V": d["out_V" + sfx]})


def _train(net: Network, comp_args: dict, x: list, labels: np.ndarray, batches: list,
           backend: str, lambdas: bool = False) -> dict:
    """Train batch by batch: per batch the gradients, readouts and lambdas, and the
    weights after every optimiser step."""
    comp = EventPropCompiler(backend=backend, **comp_args)
    cn = comp.compile(net)
    cn.record_lambdas = ["hid", "out"] if lambdas else []
    out: dict = {"grads": [], "readouts": [], "lambdas": [], "weights": [], "loss": []}
    with cn:
        for k, idx in enumerate(batches):
            o = cn._train_batch({cn.inputs[0].name: x}, {cn.outputs[0].name: labels},
                                np.asarray(idx), CallbackList([]), list(idx))
            out["grads"].append([t.gradient() for t in cn.trainables])
            out["readouts"].append(o[cn.outputs[0].name].copy())
            out["loss"].append(cn._batch_loss(cn.outputs[0].name, labels[idx], o))
            if lambdas:
                out["lambdas"].append(cn.last_lambdas.copy())
            cn.optimise(k)
            out["weights"].append([cn.get_weights(c) for c in cn.layout.connections])
    return out


def _compare_training(cpu: dict, gpu: dict) -> dict:
    res = {"grad": max(_rel(g, c) for gb, cb in zip(gpu["grads"], cpu["grads"], strict=True)
                       for g, c in zip(gb, cb, strict=True)),
           "readout": max(_rel(g, c) for g, c in zip(gpu["readouts"], cpu["readouts"],
                                                      strict=True)),
           "weights": max(_rel(g, c) for wb, cb in zip(gpu["weights"], cpu["weights"],
                                                        strict=True)
                          for g, c in zip(wb, cb, strict=True)),
           "loss": _rel(gpu["loss"], cpu["loss"]),
           "grad_nonzero": bool(all(np.abs(g).max() > 0 for gb in cpu["grads"] for g in gb))}
    if cpu["lambdas"]:
        res["lambda"] = max(_rel(g, c) for g, c in zip(gpu["lambdas"], cpu["lambdas"],
                                                       strict=True))
    return res


def case_grad_eventprop_sce() -> dict:
    """The fixture's gradients and adjoints, one example per batch, Adam alpha=0."""
    d = _load("grad_eventprop_sce")
    x, y = _inputs(d, 5), d["labels"].astype(np.int64)
    args = {"example_timesteps": 60, "losses": "sparse_categorical_crossentropy",
            "optimiser": Adam(0.0, epsilon=1e6), "max_spikes": 500}
    cpu = _train(_sce_network(d), args, x, y, [[0], [1]], "cpu", lambdas=True)
    gpu = _train(_sce_network(d), args, x, y, [[0], [1]], "cuda", lambdas=True)
    res = _compare_training(cpu, gpu)
    lam = gpu["lambdas"][0][0]  # batch 0, slot 0: (T, 2 x neurons)
    res["ref_lambda"] = max(_rel(lam[:, 0:40:2], d["s3_hid_LambdaV"][1]),
                            _rel(lam[:, 1:40:2], d["s3_hid_LambdaI"][1]),
                            _rel(lam[:, 40::2], d["s3_out_LambdaV"][1]))
    res["ref_grad"] = max(_rel(gpu["grads"][b][0].reshape(5, 20),
                               d["s3a0_grad_in_hid_pre_opt"][b + 1]) for b in range(2))
    return res


def case_grad_eventprop_ttfs() -> dict:
    """First-spike-time readout of a LIF output, relative MSE, dt=0.1 (2 examples)."""
    d = _load("grad_eventprop_ttfs")

    def net() -> Network:
        n = Network(eventprop.default_params)
        with n:
            inp = Population(SpikeInput(), 4, name="in")
            hid = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 30, name="hid")
            out = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0,
                                                readout="first_spike_time"), 3, name="out")
            Connection(inp, hid, Dense(d["W_in_hid"]), Exponential(5.0), name="in_hid")
            Connection(hid, out, Dense(d["W_hid_out"]), Exponential(5.0), name="hid_out")
        return n

    x, y = _inputs(d, 4), d["labels"].astype(np.int64)
    args = {"example_timesteps": 300, "losses": RelativeMeanSquareError(1.0),
            "optimiser": Adam(0.0, epsilon=1e6), "max_spikes": 500, "dt": 0.1,
            "softmax_temperature": 0.5, "ttfs_alpha": 0.1}
    cpu = _train(net(), args, x, y, [[0], [1]], "cpu")
    gpu = _train(net(), args, x, y, [[0], [1]], "cuda")
    res = _compare_training(cpu, gpu)
    res["ref_grad"] = max(_rel(gpu["grads"][b][0].reshape(4, 30),
                               d["a0_grad_in_hid_pre_opt"][b + 1]) for b in range(2))
    return res


def _mixed_network(seed: int, readout: str = "max_var") -> tuple[Network, list, np.ndarray]:
    """Sparse and recurrent: FixedProbability input, recurrent hidden LIF, a max_var
    readout by default; random input spikes (seeded)."""
    rng = np.random.default_rng(seed)
    net = Network(eventprop.default_params)
    with net:
        inp = Population(SpikeInput(max_spikes=200), 12, name="in")
        hid = Population(LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 24, name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout=readout), 4, name="out")
        Connection(inp, hid, FixedProbability(0.5, Normal(0.8, 0.3)), Exponential(5.0),
                   name="in_hid")
        Connection(hid, hid, Dense(rng.normal(0.0, 0.1, (24, 24)).astype(np.float32)),
                   Exponential(5.0), name="hid_hid")
        Connection(hid, out, Dense(rng.normal(0.0, 0.5, (24, 4)).astype(np.float32)),
                   Exponential(5.0), name="hid_out")
    x = []
    for _ in range(4):
        n = int(rng.integers(20, 40))
        x.append(preprocess_spikes(np.sort(rng.uniform(0, 40, n)).astype(np.float32),
                                   rng.integers(0, 12, n), 12))
    return net, x, rng.integers(0, 4, 4)


def case_batch_training() -> dict:
    """Batch size 2 with a real Adam step, sparse + recurrent + max_var, two batches."""
    res = {}
    outs = {}
    for backend in ("cpu", "cuda"):
        net, x, y = _mixed_network(3)
        args = {"example_timesteps": 40, "losses": "sparse_categorical_crossentropy",
                "optimiser": Adam(0.01), "batch_size": 2, "max_spikes": 100}
        outs[backend] = _train(net, args, x, y.astype(np.int64), [[0, 1], [2, 3]], backend)
    res.update(_compare_training(outs["cpu"], outs["cuda"]))
    return res


def case_batch_mse_reg() -> dict:
    """Per-timestep MSE (the host-driven backward path) with spike regularisation, batch 2."""
    outs = {}
    for backend in ("cpu", "cuda"):
        net, x, _ = _mixed_network(5, "var")
        rng = np.random.default_rng(1)
        y = rng.normal(0, 0.2, (4, 30, 4)).astype(np.float32)
        args = {"example_timesteps": 30, "losses": "mean_square_error",
                "optimiser": Adam(0.01), "batch_size": 2, "max_spikes": 100,
                "reg_lambda_upper": 1e-3, "reg_nu_upper": 2.0}
        outs[backend] = _train(net, args, x, y, [[0, 1], [2, 3]], backend)
    return _compare_training(outs["cpu"], outs["cuda"])


def _eprop_fixture_network(d: dict) -> tuple[Network, dict]:
    """The e-prop fixtures' 5 -> 20 recurrent (A)LIF -> 3 LI network."""
    cfg = json.loads(str(d["config"]))
    hp, op = cfg["populations"]["hid"], cfg["populations"]["out"]
    net = Network()
    with net:
        inp = Population(SpikeInput(max_spikes=100), 5, name="in")
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


def _eprop_fixture_run(case: str, backend: str, n_batches: int) -> dict:
    """The e-prop fixture's main run (batch size 1, Adam between batches, state carried
    over) on one backend's e-prop simulator with 2 gradient blocks per trial: per batch
    the recorded variables, hidden spikes, readout and gradients."""
    from app.training.engine import eprop_kernels as EPK
    from app.training.engine import get_eprop_backend
    from app.training.engine.layout import build_layout

    d = _load(f"grad_eprop_{case}")
    net, cfg = _eprop_fixture_network(d)
    sce = "sce" in case
    hp = cfg["populations"]["hid"]
    lay = build_layout(net, 1.0, np.random.default_rng(0), tie_kernels=False)
    T = int(d["example_timesteps"])
    ro = EPK.RD_SUM if cfg["populations"]["out"]["readout"] == "sum_var" else EPK.RD_VAR
    sim = get_eprop_backend(backend)(
        lay, 1, float(d["dt"]), T, {"out": EPK.LOSS_SCE if sce else EPK.LOSS_MSE},
        {"out": ro}, hp["tau_mem"], hp.get("tau_adapt"), 500.0, 0.001, 10.0, True,
        block_steps=30)
    opt = cfg["optimisers"]["main"]
    adam = Adam(opt["alpha"], opt["beta1"], opt["beta2"], opt["epsilon"])
    conns = ["in_hid", "hid_hid", "hid_out"]
    states = {c: adam.new_state((lay.conn_slice(c).stop - lay.conn_slice(c).start,))
              for c in conns}
    out_sl = lay.pop_slice("out")
    bstate = adam.new_state((3,))
    rv = [("hid", "V"), ("hid", "E"), ("hid", "RefracTime"), ("out", "V"), ("out", "E"),
          ("out", "DeltaBias")] + ([("hid", "A")] if "alif" in case else [])
    rv += [("out", "VSoftmax")] if sce else []
    res: dict = {"values": [], "spikes": [], "grads": [], "readout": []}
    x = _inputs(d, 5)
    for k in range(n_batches):
        sim.reset_readouts()
        sim.set_inputs({"in": [x[k]]}, 1)
        sim.set_labels({"out": (d["labels"] if sce else d["targets"])[k:k + 1]}, 1)
        rec = sim.run_trial(1, True, rv, ["hid"])
        res["values"].append(rec.values[0].copy())
        res["spikes"].append(sorted(zip(rec.spike_steps[0].tolist(), rec.spike_ids[0].tolist(),
                                        strict=True)))
        res["readout"].append(sim.readout("out")[0])
        g, db = sim.take_gradients()
        res["grads"].append(np.concatenate([g, db[out_sl]]))
        for c in conns:
            sl = lay.conn_slice(c)
            adam.step(lay.weights[sl], g[sl], states[c], k)
        adam.step(lay.bias[out_sl], db[out_sl].copy(), bstate, k)
        sim.refresh_weights()
    res["ref_grad0"] = np.concatenate([d[f"grad_{c}_sample0"].reshape(-1) for c in conns]
                                      + [d["grad_out_bias_sample0"]])
    return res


def case_eprop_fixture(case: str) -> dict:
    """An e-prop fixture case on both backends: spikes, recorded variables, readout and
    gradients of the first batch (the simulator is slow; carried state, Adam steps and
    batch > 1 are in ``case_eprop_batch_training``)."""
    cpu = _eprop_fixture_run(case, "cpu", 1)
    gpu = _eprop_fixture_run(case, "cuda", 1)
    return {"spikes_identical": cpu["spikes"] == gpu["spikes"],
            "n_spikes": int(sum(len(s) for s in cpu["spikes"])),
            "rel_values": max(_rel(g, c) for g, c in zip(gpu["values"], cpu["values"],
                                                         strict=True)),
            "rel_readout": max(_rel(g, c) for g, c in zip(gpu["readout"], cpu["readout"],
                                                          strict=True)),
            "grad": max(_rel(g, c) for g, c in zip(gpu["grads"], cpu["grads"], strict=True)),
            "grad_nonzero": bool(all(np.abs(g).max() > 0 for g in cpu["grads"])),
            "ref_grad": _rel(gpu["grads"][0], gpu["ref_grad0"])}


def _eprop_mixed_network(seed: int) -> tuple[Network, list, np.ndarray]:
    """LIF (recurrent, sparse input) and ALIF hidden populations, an input -> output
    connection, a sum_var output; random input spikes (seeded)."""
    from app.training.compilers import eprop

    rng = np.random.default_rng(seed)
    net = Network(eprop.default_params)
    with net:
        inp = Population(SpikeInput(), 10, name="in")
        lif = Population(LeakyIntegrateFire(v_thresh=0.6, tau_mem=20.0, tau_refrac=3.0), 12,
                         name="hid")
        alif = Population(AdaptiveLeakyIntegrateFire(v_thresh=0.6, tau_mem=20.0,
                                                     tau_refrac=3.0, tau_adapt=100.0,
                                                     beta=0.05), 8, name="alif")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="sum_var"), 3, name="out")
        Connection(inp, lif, FixedProbability(0.6, Normal(0.5, 0.3)), name="in_hid")
        Connection(inp, alif, Dense(rng.normal(0.4, 0.3, (10, 8)).astype(np.float32)),
                   name="in_alif")
        Connection(lif, lif, Dense(rng.normal(0.0, 0.2, (12, 12)).astype(np.float32)),
                   name="hid_hid")
        Connection(lif, out, Dense(rng.normal(0.0, 0.5, (12, 3)).astype(np.float32)),
                   name="hid_out")
        Connection(alif, out, Dense(rng.normal(0.0, 0.5, (8, 3)).astype(np.float32)),
                   name="alif_out")
        Connection(inp, out, Dense(rng.normal(0.0, 0.2, (10, 3)).astype(np.float32)),
                   name="in_out")
    x = []
    for _ in range(4):
        n = int(rng.integers(30, 50))
        x.append(preprocess_spikes(np.sort(rng.uniform(0, 20, n)).astype(np.float32),
                                   rng.integers(0, 10, n), 10))
    return net, x, rng.integers(0, 3, 4)


def case_eprop_batch_training() -> dict:
    """e-prop through EPropCompiler, batch size 2, two batches with real Adam steps on
    weights and output biases (device Adam on cuda), state carried between batches."""
    from app.training.compilers import EPropCompiler

    outs = {}
    for backend in ("cpu", "cuda"):
        net, x, y = _eprop_mixed_network(11)
        comp = EPropCompiler(20, "sparse_categorical_crossentropy", Adam(0.01), batch_size=2,
                             c_reg=0.01, backend=backend)
        cn = comp.compile(net)
        pops = {p.name: p for p in net.populations}
        out: dict = {"grads": [], "readouts": [], "weights": [], "loss": [], "spikes": [],
                     "v": [], "lambdas": []}
        with cn:
            for k, idx in enumerate([[0, 1], [2, 3]]):
                cbl = CallbackList([VarRecorder(pops["hid"], "V"), VarRecorder(pops["alif"], "V"),
                                    SpikeRecorder(pops["hid"]), SpikeRecorder(pops["alif"])])
                o = cn._train_batch({"in": x}, {"out": y}, np.asarray(idx), cbl, list(idx))
                rec = cn._last_recording
                out["v"].append(rec.values.copy())
                out["spikes"].append([sorted(zip(s.tolist(), i.tolist(), strict=True))
                                      for s, i in zip(rec.spike_steps, rec.spike_ids,
                                                      strict=True)])
                out["grads"].append([t.gradient() for t in cn.trainables])
                out["readouts"].append(o["out"].copy())
                out["loss"].append(cn._batch_loss("out", y[idx], o))
                cn.optimise(k)
                out["weights"].append([t.param.copy() for t in cn.trainables])
        outs[backend] = out
    cpu, gpu = outs["cpu"], outs["cuda"]
    res = _compare_training(cpu, gpu)
    res["spikes_identical"] = cpu["spikes"] == gpu["spikes"]
    res["n_spikes"] = int(sum(len(s) for b in cpu["spikes"] for s in b))
    res["rel_v"] = max(_rel(g, c) for g, c in zip(gpu["v"], cpu["v"], strict=True))
    return res


def case_alif_forward() -> dict:
    """Adaptive LIF with refractoriness, relative reset and integration during the
    refractory time, forward only (batch 2)."""
    rng = np.random.default_rng(7)
    data = {}
    for backend in ("cpu", "cuda"):
        net = Network()
        with net:
            inp = Population(SpikeInput(), 8, name="in")
            hid = Population(AdaptiveLeakyIntegrateFire(v_thresh=0.6, tau_mem=20.0,
                                                        tau_refrac=3.0, relative_reset=True,
                                                        integrate_during_refrac=True,
                                                        tau_adapt=50.0, beta=0.1),
                             16, name="hid")
            out = Population(LeakyIntegrate(tau_mem=10.0, readout="avg_var_exp_weight"), 3,
                             name="out")
            Connection(inp, hid, Dense(np.random.default_rng(7).normal(
                0.5, 0.3, (8, 16)).astype(np.float32)), name="in_hid")
            Connection(hid, out, Dense(np.random.default_rng(8).normal(
                0, 0.5, (16, 3)).astype(np.float32)), Exponential(5.0), name="hid_out")
        r = np.random.default_rng(7)
        x = [preprocess_spikes(np.sort(r.uniform(0, 30, 30)).astype(np.float32),
                               r.integers(0, 8, 30), 8) for _ in range(2)]
        data[backend] = _record(net, {"evaluate_timesteps": 40, "batch_size": 2}, x,
                                np.zeros(2, np.int64),
                                [("hid", "V"), ("hid", "A"), ("hid", "RefracTime"),
                                 ("out", "V")], backend)
    del rng
    return _compare_forward(data["cpu"], data["cuda"])


CASES = {
    "forward_eventprop": case_forward_eventprop,
    "forward_eprop": lambda: case_forward_eprop(False),
    "forward_eprop_carry": lambda: case_forward_eprop(True),
    "grad_eventprop_sce": case_grad_eventprop_sce,
    "grad_eventprop_ttfs": case_grad_eventprop_ttfs,
    "batch_training": case_batch_training,
    "batch_mse_reg": case_batch_mse_reg,
    "alif_forward": case_alif_forward,
    "eprop_sce": lambda: case_eprop_fixture("sce"),
    "eprop_mse": lambda: case_eprop_fixture("mse"),
    "eprop_alif_sce": lambda: case_eprop_fixture("alif_sce"),
    "eprop_alif_mse": lambda: case_eprop_fixture("alif_mse"),
    "eprop_batch_training": case_eprop_batch_training,
}


def main(names: list[str]) -> None:
    """Run the named cases (all when none; ``--group eprop`` / ``--group other``: the
    e-prop cases / the rest, so the test can run the two groups side by side)."""
    if names[:1] == ["--group"]:
        eprop = names[1] == "eprop"
        names = [n for n in CASES if n.startswith("eprop_") == eprop]
    out = {}
    for name in names or list(CASES):
        try:
            out[name] = CASES[name]()
        except Exception as exc:  # reported to the test, which fails with the message
            import traceback

            out[name] = {"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}
    print("CUDA_PARITY_JSON " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
