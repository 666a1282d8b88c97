"""The engine's fast paths keep SpikeInput semantics and count their work."""

from __future__ import annotations

import numpy as np

from app.model import Connection, Network, Population
from app.model.connectivity import Dense, FixedProbability
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.compilers import EventPropCompiler
from app.training.compilers.eventprop import default_params
from app.training.data import preprocess_spikes
from app.training.engine.cpu import _dense_connections, _fanout
from app.training.engine.staging import InputStager, stage_examples


def _reference_steps(times: np.ndarray, dt: np.float32, T: int) -> list[int]:
    """The cursor rule of SpikeInput, one neuron, step by step."""
    out, c = [], 0
    for step in range(T):
        t = np.float32(step) * dt
        if c < len(times) and t >= times[c]:
            out.append(step)
            c += 1
    return out


def test_staged_input_events_follow_the_step_rule() -> None:
    dt = np.float32(0.1)
    T = 50
    per_neuron = [np.array([0.0, 0.0, 0.05, 0.3, 0.30000001], np.float32),
                  np.array([0.2, np.nan, 0.4], np.float32),
                  np.array([], np.float32),
                  np.array([4.95, 5.0, 7.0], np.float32)]
    times = np.concatenate(per_neuron)
    ends = np.cumsum([len(x) for x in per_neuron])
    off, ev_s, ev_g = stage_examples(ends.astype(np.int64), times, np.zeros(1, np.int64),
                                     np.zeros(1, np.int64), len(per_neuron), dt, T, 1)
    got = list(zip(ev_s[off[0]:off[1]].tolist(), ev_g[off[0]:off[1]].tolist(), strict=True))
    want = sorted((s, g) for g, x in enumerate(per_neuron) for s in _reference_steps(x, dt, T))
    assert got == want


def test_staged_examples_are_cached_and_restaged_when_replaced_between_epochs() -> None:
    dt, T = np.float32(1.0), 10
    xs = [preprocess_spikes(np.array([float(k), 3.0], np.float32), np.array([0, 1]), 2)
          for k in range(4)]
    st = InputStager(dt, T, n_chunks=2)
    ptr = np.zeros((4, 1), np.int64)
    hi = np.zeros((4, 1), np.int64)

    def batch(examples: list, idx: list[int]) -> list[list[tuple[int, int]]]:
        most = st.fill([(0, "in", examples, 2)], np.array(idx), ptr, hi)
        out = [list(zip(st.ev_s[ptr[b, 0]:hi[b, 0]].tolist(),
                        st.ev_n[ptr[b, 0]:hi[b, 0]].tolist(), strict=True))
               for b in range(len(idx))]
        assert most == max(len(o) for o in out)
        return out

    assert batch(xs, [2, 0]) == [[(2, 0), (3, 1)], [(0, 0), (3, 1)]]
    assert len(st.cache) == 1
    xs[0] = preprocess_spikes(np.array([5.0], np.float32), np.array([1]), 2)
    st.new_pass()  # the next epoch sees the replaced example
    assert batch(xs, [0, 3]) == [[(5, 1)], [(3, 0), (3, 1)]]
    assert len(st.cache) == 1


def test_counters_and_dense_detection() -> None:
    net = Network(default_params)
    with net:
        i = Population(SpikeInput(), 6)
        h = Population(LeakyIntegrateFire(tau_mem=20.0), 5)
        o = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), 2)
        Connection(i, h, Dense(1.0), Exponential(5.0))
        Connection(h, o, FixedProbability(0.5, 0.5), Exponential(5.0))
    comp = EventPropCompiler(20, "sparse_categorical_crossentropy", batch_size=2)
    cn = comp.compile(net)
    lay = cn.layout
    assert _dense_connections(lay).tolist() == [1, 0]
    fan = _fanout(lay)
    assert fan[:6].tolist() == [5] * 6
    x = [preprocess_spikes(np.array([1.0, 2.0, 3.0], np.float32), np.array([0, 1, 5]), 6),
         preprocess_spikes(np.array([4.0], np.float32), np.array([2]), 6)]
    with cn:
        cn.sim.counters.reset()
        cn.train({i: x}, {o: np.array([0, 1])}, num_epochs=1, callbacks=[])
        c = cn.sim.counters
        assert c.trials == 2
        assert c.neuron_updates == 2 * 20 * 7
        # every input spike reaches its 5 hidden targets, plus hidden spikes' fan-out
        assert c.syn_events_fwd >= 4 * 5
        assert c.syn_events_bwd > 0
        r = c.rates()
        assert r["syn_events_per_s"] > 0 and r["neuron_updates_per_s"] > 0


def test_a_list_edited_between_calls_is_restaged() -> None:
    from app.training.compilers import InferenceCompiler

    net = Network(default_params)
    with net:
        i = Population(SpikeInput(), 3)
        h = Population(LeakyIntegrateFire(tau_mem=20.0), 4)
        o = Population(LeakyIntegrate(tau_mem=20.0, readout="avg_var"), 2)
        Connection(i, h, Dense(10.0), Exponential(5.0))
        Connection(h, o, Dense(1.0), Exponential(5.0))
    xs = [preprocess_spikes(np.array([1.0, 2.0], np.float32), np.array([0, 1]), 3),
          preprocess_spikes(np.array([3.0], np.float32), np.array([2]), 3)]
    other = preprocess_spikes(np.array([0.0, 0.0, 0.0], np.float32), np.array([0, 1, 2]), 3)
    comp = InferenceCompiler(20, batch_size=2, reset_in_syn_between_batches=True)
    with comp.compile(net) as cn:
        before = cn.predict({i: xs}, o)[0][o].copy()
        xs[0] = other  # the same list object, one example replaced
        after = cn.predict({i: xs}, o)[0][o]
        alone = cn.predict({i: [other, xs[1]]}, o)[0][o]
    assert not np.array_equal(before[0], after[0])
    np.testing.assert_array_equal(after, alone)
