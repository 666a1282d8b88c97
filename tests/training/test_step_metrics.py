"""Per-timestep regression targets are scored over the whole trial, the same way on
both engines and on the GeNN backend: the mean over examples of the mean over steps
and outputs of (V at step t - target t)^2, V taken after step t's update."""
from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, Network, Population
from app.model.connectivity import Dense
from app.model.initializers import Normal
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.model.synapses import Exponential
from app.training.callbacks import Callback, VarRecorder
from app.training.compilers import EPropCompiler, EventPropCompiler, eprop, eventprop
from app.training.data import pattern_recognition_task
from app.training.optimisers import Adam

T = 120


def _task(examples: int = 3) -> tuple[list, np.ndarray]:
    spikes, targets = pattern_recognition_task(seed=1, trial_steps=T, freq=(10.0, 15.0),
                                               in_active_interval=20, in_active_isi=5)
    rng = np.random.default_rng(0)
    ys = targets + rng.normal(0.0, 0.3, (examples,) + targets.shape[1:]).astype(np.float32)
    return spikes * examples, ys.astype(np.float32)


def _net(engine: str) -> tuple[Network, Population, Population]:
    params = eprop.default_params if engine == "eprop" else eventprop.default_params
    syn = {} if engine == "eprop" else {"synapse": Exponential(5.0)}
    net = Network(params)
    with net:
        inp = Population(SpikeInput(), 20, name="inp")
        refrac = 5.0 if engine == "eprop" else None
        hid = Population(LeakyIntegrateFire(v_thresh=0.61, tau_mem=20.0, tau_refrac=refrac),
                         32, name="hid")
        out = Population(LeakyIntegrate(tau_mem=20.0, readout="var"), 3, name="out")
        Connection(inp, hid, Dense(Normal(0.0, 1.0 / np.sqrt(20))), **syn)
        Connection(hid, out, Dense(Normal(0.0, 1.0 / np.sqrt(32))), **syn)
    return net, inp, out


def _compiler(engine: str, batch: int):
    if engine == "eprop":
        return EPropCompiler(T, "mean_square_error", optimiser=Adam(0.003), batch_size=batch)
    return EventPropCompiler(T, "mean_square_error", optimiser=Adam(0.003), batch_size=batch)


class _BatchErrors(Callback):
    """The metric's running result and the network's own whole-trial error per batch."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, float]] = []
        self.cn = None
        self._sum = 0.0
        self._n = 0

    def set_params(self, compiled_network=None, **kwargs) -> None:
        self.cn = compiled_network

    def on_epoch_begin(self, epoch: int) -> None:
        self._sum, self._n = 0.0, 0

    def on_batch_end(self, batch: int, metrics) -> None:
        err = self.cn.last_squared_error["out"]
        self._sum += float(err.sum())
        self._n += len(err)
        self.rows.append((metrics[self.cn.outputs[0]].result, self._sum / self._n,
                          self.cn.last_loss))


@pytest.mark.parametrize("engine", ["eprop", "eventprop"])
def test_evaluate_scores_every_step_of_the_trial(engine: str) -> None:
    x, y = _task()
    net, inp, out = _net(engine)
    with _compiler(engine, 2).compile(net) as cn:
        mets, cb = cn.evaluate({inp: x}, {out: y}, metrics="mean_square_error",
                               callbacks=[VarRecorder(out, "V", key="v")])
        v = np.stack(cb["v"])  # (examples, T, outputs): V after every step
        readout, _ = cn.predict({inp: x}, out, callbacks=[])
    assert v.shape == y.shape
    whole = float(np.mean((v.astype(np.float64) - y) ** 2))
    last = float(np.mean((readout[out].astype(np.float64) - y[:, -1]) ** 2))
    assert mets[out].result == pytest.approx(whole, rel=1e-6)
    assert abs(whole - last) > 0.05 * whole  # the last step alone is another number


def test_eprop_training_metric_and_loss_are_the_whole_trial_error() -> None:
    x, y = _task(4)
    net, inp, out = _net("eprop")
    rec = _BatchErrors()
    with _compiler("eprop", 2).compile(net) as cn:
        mets, _ = cn.train({inp: x}, {out: y}, num_epochs=2, shuffle=False,
                           metrics="mean_square_error", callbacks=[rec])
    assert len(rec.rows) == 4
    for metric, kernel, _loss in rec.rows:
        # the metric and the kernel's own per-step error sum are the same number
        assert metric == pytest.approx(kernel, rel=1e-5)
    # the reported loss is the last batch's whole-trial error (equal sized batches)
    last_batch = 2 * rec.rows[-1][1] - rec.rows[-2][1]
    assert rec.rows[-1][2] == pytest.approx(last_batch, rel=1e-4)
    assert mets[out].result == pytest.approx(rec.rows[-1][0])
