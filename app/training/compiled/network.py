"""The compiled network: what a compiler returns, run with evaluate / predict.

A compiler builds one of these around an engine simulator. Per-algorithm work
(what a training batch does) lives in the compiler's subclass; what every compiled
network offers a user (mlGeNN's signatures, metrics, callbacks, timers) lives here,
weights in :mod:`.weights`, data checks and batching in :mod:`.batching`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from app.model import Network, Population
from app.model.errors import bad_arg

from ..callbacks import BatchProgressBar, CallbackList
from ..data.errors import DatasetError
from ..encoding import IntegrateFireEncoder
from ..engine.cpu import CPUSimulator
from ..engine.layout import Layout
from ..genn_compat import ConnectionPopulations, GeNNModelTimers
from ..metrics import Metric, get_metric
from .batching import DataBatching
from .weights import WeightAccess


def _default_callbacks() -> list:
    return [BatchProgressBar()]


class CompiledNetwork(WeightAccess, DataBatching):
    """A network ready to run; use as a context manager like mlGeNN's."""

    def __init__(self, network: Network, layout: Layout, sim: CPUSimulator, dt: float,
                 example_timesteps: int, batch_size: int, communicator: Any = None,
                 reset_vars: bool = True, reset_in_syn: bool = False, zero_step: int = -1,
                 rng_seed: int = 0) -> None:
        self.network = network
        self.layout = layout
        self.sim = sim
        self.dt = float(dt)
        self.example_timesteps = int(example_timesteps)
        self.batch_size = int(batch_size)  # over all ranks, as given to the compiler
        self.communicator = communicator
        if self.batch_size % self.num_ranks:
            raise bad_arg("compiler", "batch_size", batch_size,
                          f"a multiple of the number of MPI ranks ({self.num_ranks}): "
                          "batch_size is the total over all ranks, as in mlGeNN")
        self.reset_vars = reset_vars
        self.reset_in_syn = reset_in_syn
        self.zero_step = zero_step
        self.rng_seed = rng_seed
        self.inputs = [p for p in network.populations if p.neuron.is_input]
        self.outputs = [p for p in network.populations if p.neuron.readout is not None]
        self.encoders = {
            p.name: IntegrateFireEncoder(p, layout.v_init[layout.pop_slice(p.name)],
                                         self.batch_size // self.num_ranks)
            for p in self.inputs if type(p.neuron).__name__ == "IntegrateFireInput"}
        #: callbacks run before the user's in every ``train`` (mlGeNN's base callbacks)
        self.base_train_callbacks: list = []
        self._open = False
        if communicator is not None and self.num_ranks > 1:
            self._sync_parameters()

    def _sync_parameters(self) -> None:
        """Give every rank rank 0's initial weights, delays and biases."""
        for name in ("weights", "delays", "bias"):
            arr = getattr(self.layout, name, None)
            if isinstance(arr, np.ndarray) and arr.size:
                self.communicator.broadcast(arr, 0)
        for kernel in self.layout.kernels.values():
            self.communicator.broadcast(kernel, 0)
        if hasattr(self.sim, "refresh_weights"):
            self.sim.refresh_weights()

    # ----- context -----------------------------------------------------------------------
    def __enter__(self) -> CompiledNetwork:
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._open = False
        for conn in self.network.connections:
            if self._present(conn.name) is not None:
                continue  # rewired (Deep R): see save_connectivity
            table = self.layout.tables[conn.name]
            if table.kernel_index is not None and conn.name not in self.layout.kernels:
                continue  # untied convolution: per-synapse weights have no kernel form
            weight = conn.connectivity.weight_from_trained(self.get_weights(conn))
            if weight is not None:
                conn.connectivity.weight = weight

    @property
    def is_root(self) -> bool:
        """True on the process that prints and writes checkpoints."""
        return self.communicator is None or self.communicator.rank == 0

    @property
    def rank(self) -> int:
        """This process's index among the ranks (0 without a communicator)."""
        return 0 if self.communicator is None else self.communicator.rank

    @property
    def num_ranks(self) -> int:
        """Number of data-parallel processes (1 without a communicator)."""
        return 1 if self.communicator is None else self.communicator.num_ranks

    @property
    def rank_batch_size(self) -> int:
        """Examples one rank simulates per batch: batch_size / num_ranks."""
        return self.batch_size // self.num_ranks

    def _reduce(self, value: float) -> float:
        """Sum a scalar over ranks."""
        if self.communicator is None or self.num_ranks == 1:
            return value
        return float(self.communicator.reduce_sum(np.array([value], np.float64))[0])

    def get_kernel_times(self) -> dict[str, float]:
        """Seconds spent per kernel (filled when kernel_profiling=True)."""
        return dict(self.sim.profiler.seconds)

    @property
    def genn_model(self) -> GeNNModelTimers:
        """mlGeNN's ``compiled_net.genn_model``: GeNN's kernel timers answered by our
        engine's (see :class:`GeNNModelTimers` for which phase each name reports)."""
        return GeNNModelTimers(self)

    @property
    def connection_populations(self) -> ConnectionPopulations:
        """mlGeNN's ``{Connection: synapse group}``: ``[conn].vars["g"]`` has
        ``pull_from_device()``, ``view`` (numpy, writable) and ``push_to_device()``."""
        return ConnectionPopulations(self)

    def _timed(self, name: str, start: float) -> None:
        """Add the seconds since ``start`` to the engine's profiler under ``name``."""
        self.sim.profiler.add(name, start)

    def _empty_outputs(self) -> dict[str, np.ndarray]:
        """Readouts of a rank whose share of a (short last) batch is empty."""
        return {p.name: self.sim.readout(p.name)[:0].copy() for p in self.outputs}

    def _run_forward(self, x: dict[str, Any], idx: np.ndarray, cbl: CallbackList,
                     example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """``_forward``, or empty readouts when this rank has no examples in the batch."""
        if len(idx) == 0:
            return self._empty_outputs()
        return self._forward(x, idx, cbl, example_ids)

    def _make_metrics(self, metrics: Any) -> dict[Population, Metric]:
        if isinstance(metrics, dict):
            out = {}
            for k, v in metrics.items():
                pop = k if isinstance(k, Population) else self.network.get_population(k)
                out[pop] = get_metric(v)
            return out
        return {p: get_metric(metrics) for p in self.outputs}

    # ----- running -----------------------------------------------------------------------
    def _begin_trial(self) -> None:
        """Reset state at the start of a batch (InferenceCompiler semantics)."""
        t0 = time.perf_counter()
        if hasattr(self.sim, "begin_trial"):  # resets done by the next trial's kernel
            self.sim.begin_trial(self.reset_vars, self.reset_in_syn)
        else:
            if self.reset_vars:
                self.sim.reset_neurons()
            self.sim.reset_readouts()
            if self.reset_in_syn:
                self.sim.reset_in_syn()
        if self.reset_vars:
            for enc in self.encoders.values():
                enc.reset()
        self._timed("reset", t0)

    def _forward(self, x: dict[str, Any], idx: np.ndarray, cbl: CallbackList,
                 example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        n_active = len(idx)
        self._begin_trial()
        rv, rs = cbl.recording_requests()
        self._inputs_staged(self._stage_inputs(x, idx, rv))
        step_cb = cbl if (cbl.has("on_timestep_begin") or cbl.has("on_timestep_end")) else None
        rec = self.sim.run_trial(n_active, self.zero_step, rv, rs, step_cb)
        for key in rec.var_keys:
            enc = self.encoders.get(key[0])
            if enc is not None and enc.history is not None and key[1].lower() == "v":
                rec.values[:, :, rec.var_slices[key]] = enc.history
        if rv or rs:
            starts = {p.name: int(self.layout.pop_slice(p.name).start)
                      for p in self.network.populations}
            cbl.on_recording(rec, example_ids, starts, self.dt)
        self._last_recording = rec
        return {p.name: self.sim.readout(p.name)[:n_active] for p in self.outputs}

    def _stage_inputs(self, x: dict[str, Any], idx: np.ndarray,
                      record: list[tuple[str, str]] = ()) -> int:
        """Give the engine batch ``idx`` of every input; returns the largest number of
        input events of one example. Spike lists are staged once and cached by the
        engine (``set_inputs_indexed``); inputs encoded per batch are staged each time."""
        if hasattr(self.sim, "set_inputs_indexed") and not self.encoders:
            return self.sim.set_inputs_indexed(x, idx)
        return self.sim.set_inputs(self._batch_inputs(x, idx, record), len(idx)) or 0

    def _inputs_staged(self, max_events: int) -> None:
        """Called after a batch's inputs are staged with the largest number of input
        events of one example (EventProp sizes its event tape from it)."""

    def _metric_pred(self, pop_name: str, out: dict[str, np.ndarray]) -> np.ndarray:
        """What metrics and losses compare with the labels: the readout, or a per-step
        history where the compiled network keeps one (per-timestep MSE targets)."""
        return out[pop_name]

    def predict(self, x: Any, outputs: Population | Sequence[Population],
                callbacks: Sequence | None = None) -> tuple[dict[Population, np.ndarray], dict]:
        """Readouts of ``outputs`` (an output population or a sequence of them) for every
        example (with MPI: of each of this rank's own examples, as mlGeNN); returns
        ``(predictions, callback data)`` as mlGeNN does, predictions keyed by the
        populations given."""
        xd = self._pop_dict(x, self.inputs, "x")
        wanted = list(outputs) if isinstance(outputs, Sequence) else [outputs]
        names = {p.name for p in self.outputs}
        for o in wanted:
            if not isinstance(o, Population) or o.name not in names:
                raise bad_arg("predict", "outputs", getattr(o, "name", o),
                              f"output populations of this network: {sorted(names)}")
        n = self._check_data(xd, None)
        callbacks = _default_callbacks() if callbacks is None else callbacks
        num_batches = (n + self.batch_size - 1) // self.batch_size
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches,
                           num_epochs=1)
        cbl.on_test_begin()
        outs: dict[str, list] = {o.name: [] for o in wanted}
        for b, idx in enumerate(self._batches(n)):
            cbl.on_batch_begin(b)
            o = self._run_forward(xd, idx, cbl, idx.tolist())
            for k in outs:
                outs[k].append(np.copy(o[k]))
            cbl.on_batch_end(b, {})
        cbl.on_test_end({})
        result = {o: np.concatenate(outs[o.name]) for o in wanted}
        return result, cbl.get_data()

    def evaluate(self, x: Any, y: Any, metrics: Any = "sparse_categorical_accuracy",
                 callbacks: Sequence | None = None) -> tuple[dict, dict]:
        """Run every example once and return (metrics per output, callback data)."""
        xd = self._pop_dict(x, self.inputs, "x")
        yd = self._pop_dict(y, self.outputs, "y")
        n = self._check_data(xd, yd)
        callbacks = _default_callbacks() if callbacks is None else callbacks
        num_batches = self._num_batches(n)
        mets = self._make_metrics(metrics)
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches,
                           num_epochs=1)
        cbl.on_test_begin()
        cbl.on_epoch_begin(0)
        for b, idx in enumerate(self._batches(n, num_batches=num_batches)):
            cbl.on_batch_begin(b)
            out = self._run_forward(xd, idx, cbl, idx.tolist())
            for pop, m in mets.items():
                m.update(np.asarray(yd[pop.name])[idx], self._metric_pred(pop.name, out),
                         self.communicator)
            cbl.on_batch_end(b, mets)
        cbl.on_epoch_end(0, mets)
        cbl.on_test_end(mets)
        return mets, cbl.get_data()

    def evaluate_batch_iter(self, inputs: Any, outputs: Any, data: Iterable,
                            num_batches: int | None = None,
                            metrics: Any = "sparse_categorical_accuracy",
                            callbacks: Sequence | None = None) -> tuple[dict, dict]:
        """Evaluate batches from an iterator yielding (x, y) per batch."""
        in_pops = [inputs] if isinstance(inputs, Population) else list(inputs)
        out_pops = [outputs] if isinstance(outputs, Population) else list(outputs)
        callbacks = _default_callbacks() if callbacks is None else callbacks
        mets = self._make_metrics(metrics)
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches or 0,
                           num_epochs=1)
        cbl.on_test_begin()
        cbl.on_epoch_begin(0)
        seen = 0
        for b, (bx, by) in enumerate(data):
            if num_batches is not None and b >= num_batches:
                break
            bx = bx if isinstance(bx, (list, tuple)) and len(in_pops) > 1 else [bx]
            by = by if isinstance(by, (list, tuple)) and len(out_pops) > 1 else [by]
            xd = {p.name: v for p, v in zip(in_pops, bx, strict=True)}
            yd = {p.name: np.asarray(v) for p, v in zip(out_pops, by, strict=True)}
            nb = self._check_data(xd, yd)
            if nb > self.rank_batch_size:
                raise DatasetError(
                    f"batch {b} has {nb} examples; batch_size is {self.batch_size}"
                    + (f" over {self.num_ranks} ranks, {self.rank_batch_size} per rank"
                       if self.num_ranks > 1 else ""))
            cbl.on_batch_begin(b)
            mine = np.arange(nb)
            out = self._run_forward(xd, mine, cbl, [seen + int(i) for i in mine])
            for pop, m in mets.items():
                m.update(yd[pop.name][mine], self._metric_pred(pop.name, out),
                         self.communicator)
            cbl.on_batch_end(b, mets)
            seen += nb
        cbl.on_epoch_end(0, mets)
        cbl.on_test_end(mets)
        return mets, cbl.get_data()
