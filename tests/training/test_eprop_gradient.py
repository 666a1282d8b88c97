"""The block gradient (engine/eprop_gradient.py) against the per-synapse e-prop recursion.

The reference below is mlGeNN's step-by-step synapse update (SPEC.md, e-prop
section), written in float64 numpy over every synapse, fed with the per-step
neuron values the simulator records (the values a step's synapse update reads
are those recorded at the end of the previous step). It covers what the
5 -> 20 -> 3 fixtures do not: mixed LIF and ALIF populations, sparse and
one-to-one connectivity, an input -> output connection, a batch, state
carried across trials, and block lengths of 1 step, a few steps and a whole
trial.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, Network, Population
from app.model.connectivity import Dense, FixedProbability, OneToOne
from app.model.initializers import Normal
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.training.compilers.eprop import default_params
from app.training.data import preprocess_spikes
from app.training.engine import eprop_kernels as EK
from app.training.engine.eprop_sim import EPropSimulator
from app.training.engine.layout import build_layout

T, B, TRIALS = 40, 2, 2
TAU_MEM, TAU_ADAPT, BETA = 20.0, 200.0, 0.3
TAU_REG, C_REG, F_TARGET = 500.0, 0.5, 10.0
HIDDEN = ("lif", "alif")


def network() -> Network:
    net = Network(default_params)
    with net:
        inp = Population(SpikeInput(), 12, name="inp")
        lif = Population(LeakyIntegrateFire(v_thresh=0.3, tau_mem=TAU_MEM, tau_refrac=3.0),
                         9, name="lif")
        alif = Population(AdaptiveLeakyIntegrateFire(v_thresh=0.3, tau_mem=TAU_MEM,
                                                     tau_refrac=3.0, tau_adapt=TAU_ADAPT,
                                                     beta=BETA), 7, name="alif")
        out = Population(LeakyIntegrate(tau_mem=TAU_MEM, readout="sum_var"), 3, name="out")
        Connection(inp, lif, Dense(Normal(0.3, 0.5)), name="inp_lif")
        Connection(inp, alif, FixedProbability(0.6, Normal(0.3, 0.5)), name="inp_alif")
        Connection(lif, alif, Dense(Normal(0.0, 0.3)), name="lif_alif")
        Connection(alif, alif, FixedProbability(0.5, Normal(0.0, 0.3)), name="alif_alif")
        Connection(lif, lif, OneToOne(Normal(0.0, 0.3)), name="lif_lif")
        Connection(lif, out, Dense(Normal(0.0, 0.5)), name="lif_out")
        Connection(alif, out, Dense(Normal(0.0, 0.5)), name="alif_out")
        Connection(inp, out, Dense(Normal(0.0, 0.2)), name="inp_out")
    return net


def spikes(seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(B):
        steps, ids = np.nonzero(rng.random((T, 12)) < 0.25)
        out.append(preprocess_spikes(steps.astype(np.float32), ids, 12))
    return out


def simulate(block_steps: int, form: str = "sparse"):
    """Two trials with carried state; per trial the gradients and the recorded values."""
    lay = build_layout(network(), 1.0, np.random.default_rng(7))
    sim = EPropSimulator(lay, B, 1.0, T, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM},
                            TAU_MEM, TAU_ADAPT, TAU_REG, C_REG, F_TARGET, True,
                            block_steps=block_steps, gradient=form)
    rv = [(p, v) for p in ("inp", *HIDDEN) for v in ("ZFilter",)]
    rv += [(p, v) for p in HIDDEN for v in ("Psi", "E", "FAvg")] + [("out", "E")]
    grads, recs = [], []
    for trial in range(TRIALS):
        sim.reset_readouts()
        sim.set_inputs({"inp": spikes(trial)}, B)
        sim.set_labels({"out": np.array([trial % 3, 2])}, B)
        rec = sim.run_trial(B, True, rv, ["lif", "alif"])
        grads.append(sim.take_gradients()[0])
        recs.append({k: rec.values[:, :, sl] for k, sl in rec.var_slices.items()})
    n_spikes = sum(int(s.shape[0]) for s in rec.spike_steps)
    assert sim.block_forms[form] == TRIALS * -(-T // sim.block)
    return lay, grads, recs, n_spikes


def reference(lay, recs) -> list[dict[str, np.ndarray]]:
    """mlGeNN's per-synapse recursion over both trials, per connection dense [pre, post]."""
    alpha = np.float64(np.float32(np.exp(-1.0 / TAU_MEM)))
    rho = np.float64(np.float32(np.exp(-1.0 / TAU_ADAPT)))
    ft = F_TARGET / 1000.0

    def series(pop: str, var: str) -> np.ndarray:
        """(B, TRIALS*T, n) values read by each step: recorded at the end of the previous."""
        v = np.concatenate([r[(pop, var)] for r in recs], axis=1).astype(np.float64)
        return np.concatenate([np.zeros_like(v[:, :1]), v[:, :-1]], axis=1)

    z = {p: series(p, "ZFilter") for p in ("inp", *HIDDEN)}
    psi = {p: series(p, "Psi") for p in HIDDEN}
    L = {p: series(p, "E") for p in HIDDEN}
    reg = {p: (series(p, "FAvg") - ft) * C_REG for p in HIDDEN}
    e_out = series("out", "E")
    out = [dict() for _ in range(TRIALS)]
    for c in lay.connections:
        src, dst = c.source.name, c.target.name
        n_pre, n_post = c.source.num_neurons, c.target.num_neurons
        ef = np.zeros((B, n_pre, n_post))
        eps = np.zeros((B, n_pre, n_post))
        g = np.zeros((B, n_pre, n_post))
        for n in range(TRIALS * T):
            zz = z[src][:, n, :, None]
            if dst == "out":
                g += zz * e_out[:, n, None, :]
            else:
                p = psi[dst][:, n, None, :]
                if dst == "alif":
                    e = p * (zz - BETA * eps)
                    eps = p * zz + (rho - p * BETA) * eps
                else:
                    e = zz * p
                ef = alpha * ef + e
                g += ef * L[dst][:, n, None, :] + reg[dst][:, n, None, :] * e
            if (n + 1) % T == 0:
                out[n // T][c.name] = g.sum(axis=0)
                g = np.zeros_like(g)
    return out


def per_synapse(lay, name: str, dense: np.ndarray) -> np.ndarray:
    tab = lay.tables[name]
    pre = np.repeat(np.arange(tab.row_ptr.shape[0] - 1), np.diff(tab.row_ptr))
    return dense[pre, tab.post]


@pytest.mark.parametrize("block_steps, form", [(1, "sparse"), (6, "sparse"), (T, "sparse"),
                                               (1, "dense"), (7, "dense"), (T, "dense")])
def test_block_gradient_matches_per_synapse_recursion(block_steps: int, form: str) -> None:
    """Both forms of the block products (a row add per spike, BLAS GEMMs)."""
    lay, grads, recs, n_spikes = simulate(block_steps, form)
    assert n_spikes > 20  # the hidden neurons are active, so every term is exercised
    ref = reference(lay, recs)
    for trial in range(TRIALS):
        for c in lay.connections:
            want = per_synapse(lay, c.name, ref[trial][c.name])
            got = grads[trial][lay.conn_slice(c.name)]
            scale = float(np.max(np.abs(want)))
            assert scale > 0, (trial, c.name)
            err = float(np.max(np.abs(got - want))) / scale
            assert err < 2e-6, (block_steps, form, trial, c.name, err)


def test_block_length_is_spread_over_the_trial_and_validated() -> None:
    lay = build_layout(network(), 1.0, np.random.default_rng(7))
    args = (lay, B, 1.0, 100, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM}, TAU_MEM, TAU_ADAPT,
            TAU_REG, C_REG, F_TARGET, True)
    assert EPropSimulator(*args, block_steps=30).block == 25  # 4 blocks of 25, not 30+30+30+10
    assert EPropSimulator(*args, block_steps=500).block == 100
    with pytest.raises(ValueError, match="block_steps"):
        EPropSimulator(*args, block_steps=0)


def test_auto_form_follows_the_spike_rate() -> None:
    """BLAS products for busy blocks, a row add per spike for sparse ones."""
    lay = build_layout(network(), 1.0, np.random.default_rng(7))
    sim = EPropSimulator(lay, B, 1.0, T, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM},
                            TAU_MEM, TAU_ADAPT, TAU_REG, C_REG, F_TARGET, True, block_steps=10)
    sim.set_labels({"out": np.array([0, 1])}, B)
    sim.set_inputs({"inp": spikes(0)}, B)  # 25 % of the inputs spike per step
    sim.run_trial(B, True)
    assert sim.block_forms == {"sparse": 0, "dense": 4}
    sim.reset_state()
    silent = preprocess_spikes(np.zeros(0, np.float32), np.zeros(0, np.int64), 12)
    sim.set_inputs({"inp": [silent] * B}, B)
    sim.run_trial(B, True)
    assert sim.block_forms == {"sparse": 4, "dense": 4}
    with pytest.raises(ValueError, match="gradient"):
        EPropSimulator(lay, B, 1.0, T, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM}, TAU_MEM,
                          TAU_ADAPT, TAU_REG, C_REG, F_TARGET, True, gradient="gemm")


def test_zero_synapse_state_restarts_only_those_synapses() -> None:
    """Deep R's new synapses start with zero eligibility traces; the others keep theirs."""
    lay = build_layout(network(), 1.0, np.random.default_rng(7))
    sim = EPropSimulator(lay, B, 1.0, T, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM}, TAU_MEM,
                         TAU_ADAPT, TAU_REG, C_REG, F_TARGET, True)
    sim.EF[:] = 1.0
    sim.EPSA[:] = 2.0
    sl = lay.conn_slice("inp_lif")
    chosen = np.arange(sl.start, sl.stop)[[0, 5, 17]]
    sim.zero_synapse_state(np.concatenate([chosen, [lay.conn_slice("lif_out").start]]))
    tab = lay.tables["inp_lif"]
    pre = np.repeat(np.arange(12), np.diff(tab.row_ptr))[[0, 5, 17]]
    post = tab.post[[0, 5, 17]]
    rows = sim.work_pos[lay.pop_slice("inp").start + pre]
    cols = post  # "lif" holds the first hidden columns
    assert np.all(sim.EF[:, rows, cols] == 0) and np.all(sim.EPSA[:, rows, cols] == 0)
    assert np.count_nonzero(sim.EF == 0) == B * 3
    assert np.count_nonzero(sim.EPSA == 0) == B * 3


@pytest.mark.parametrize("reset_time, second", [(True, [3, 5]), (False, [0, 1])])
def test_input_spike_steps_follow_the_trial_clock(reset_time: bool, second: list) -> None:
    """Input spikes fire at the first step whose start time reaches them, one per neuron
    per step; without resetting time between trials the second trial's clock starts at
    T*dt, so both spikes are already due and fire in steps 0 and 1."""
    lay = build_layout(network(), 1.0, np.random.default_rng(7))
    sim = EPropSimulator(lay, 1, 1.0, 10, {"out": EK.LOSS_SCE}, {"out": EK.RD_SUM}, TAU_MEM,
                         TAU_ADAPT, TAU_REG, C_REG, F_TARGET, True)
    ex = preprocess_spikes(np.array([2.5, 5.0], np.float32), np.array([4, 4]), 12)
    steps = []
    for _ in range(2):
        sim.set_inputs({"inp": [ex]}, 1)
        rec = sim.run_trial(1, True, None, ["inp"], reset_time=reset_time)
        steps.append(rec.spike_steps[0].tolist())
        assert rec.spike_ids[0].tolist() == [4, 4]
    assert steps == [[3, 5], second]
