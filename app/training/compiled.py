"""Compiled networks: batching, the train / evaluate / predict loops and callbacks.

A compiler builds one of these around an engine simulator. Per-algorithm work
(what a training batch does) lives in the compiler's subclass; everything a
user sees (mlGeNN's signatures, metrics, callbacks, checkpoints) lives here.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.model import Connection, Network, Population
from app.model.errors import bad_arg

from .callbacks import BatchProgressBar, CallbackList
from .data.errors import DatasetError
from .data.spikes import PreprocessedSpikes
from .data.validation import LateSpikeWarning, validate_spike_dataset
from .encoding import IntegrateFireEncoder
from .engine.cpu import CPUSimulator
from .engine.layout import Layout
from .genn_compat import ConnectionPopulations, GeNNModelTimers
from .metrics import Metric, get_metric
from .optimisers import Optimiser
from .serialisers import Serialiser, get_serialiser


class TrainingError(RuntimeError):
    """Training cannot continue (NaN, buffer overflow with strict checking, ...)."""


@dataclass
class Trainable:
    """A trained array (a view into the engine's arrays) with its gradient and optimiser state."""

    name: str
    kind: str  # "weight", "delay", "bias"
    param: np.ndarray
    grad: np.ndarray
    optimiser: Optimiser
    state: dict = field(default_factory=dict)
    clamp: tuple[float, float] | None = None


def _default_callbacks() -> list:
    return [BatchProgressBar()]


class CompiledNetwork:
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

    def _present(self, name: str) -> np.ndarray | None:
        """Which synapse slots of a Deep R connection hold a synapse (None otherwise)."""
        deep_r = getattr(self, "deep_r", None)
        return None if deep_r is None else deep_r.active_mask(name)

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

    # ----- weights -----------------------------------------------------------------------
    def _conn(self, conn: Connection | str) -> Connection:
        name = conn if isinstance(conn, str) else conn.name
        if name not in self.layout.conn_index:
            raise KeyError(f"no connection named {name!r} in this network")
        return self.layout.connections[self.layout.conn_index[name]]

    def get_weights(self, conn: Connection | str) -> np.ndarray:
        """Current weights: [pre, post] for Dense, per synapse otherwise (for a Deep R
        connection: its present synapses, ordered by pre then post)."""
        name = self._conn(conn).name
        present = self._present(name)
        if present is not None:
            return self.layout.weights[self.layout.conn_slice(name)][present].copy()
        return self.layout.get_weights(name)

    def set_weights(self, conn: Connection | str, weights: np.ndarray) -> None:
        """Overwrite a connection's weights (same shape as get_weights)."""
        c = self._conn(conn)
        kernel = self.layout.kernels.get(c.name)
        if kernel is not None:
            w = np.asarray(weights, np.float32).reshape(-1)
            if w.shape[0] != kernel.shape[0]:
                raise bad_arg(f"set_weights('{c.name}')", "weights", np.shape(weights),
                              f"the kernel of shape {self.layout.tables[c.name].kernel_shape}"
                              " is required")
            kernel[:] = w
            self.layout.sync_kernels([c.name])
            return
        sl = self.layout.conn_slice(c.name)
        present = self._present(c.name)
        w = np.asarray(weights, np.float32).reshape(-1)
        need = sl.stop - sl.start if present is None else int(present.sum())
        if w.shape[0] != need:
            raise bad_arg(f"set_weights('{c.name}')", "weights", np.shape(weights),
                          f"{need} values are required")
        if present is None:
            self.layout.weights[sl] = w
        else:
            self.layout.weights[sl][present] = w

    def get_delays(self, conn: Connection | str) -> np.ndarray:
        """Current per-synapse delays in steps."""
        c = self._conn(conn)
        d = self.layout.delays[self.layout.conn_slice(c.name)].copy()
        if c.connectivity.is_dense_layout:
            return d.reshape(c.source.num_neurons, c.target.num_neurons)
        return d

    def save(self, keys: tuple = (), serialiser: str | Serialiser = "numpy") -> None:
        """Serialise every connection's weights and delays (and trained biases)."""
        ser = get_serialiser(serialiser)
        for c in self.layout.connections:
            ser.serialise(tuple(keys) + (c.name, "g"), self.get_weights(c))
            if self.layout.tables[c.name].delay.any() or c.max_delay_steps is not None:
                ser.serialise(tuple(keys) + (c.name, "d"), self.get_delays(c))
        for p in self.outputs:
            if hasattr(p.neuron, "bias"):
                ser.serialise(tuple(keys) + (p.name, "Bias"),
                              self.layout.bias[self.layout.pop_slice(p.name)].copy())

    def save_connectivity(self, keys: tuple = (), serialiser: str | Serialiser = "numpy") -> None:
        """Serialise the synapse structure (pre/post indices per synapse) and the weights."""
        ser = get_serialiser(serialiser)
        for c in self.layout.connections:
            table = self.layout.tables[c.name]
            present = self._present(c.name)
            if present is not None:
                flat = np.flatnonzero(present)
                pre = (flat // c.target.num_neurons).astype(np.int32)
                post = (flat % c.target.num_neurons).astype(np.int32)
            else:
                pre = np.repeat(np.arange(c.source.num_neurons, dtype=np.int32),
                                np.diff(table.row_ptr).astype(np.int64))
                post = table.post.astype(np.int32)
            ser.serialise(tuple(keys) + (c.name, "pre_ind"), pre)
            ser.serialise(tuple(keys) + (c.name, "post_ind"), post)
        self.save(keys, ser)

    # ----- data --------------------------------------------------------------------------
    def _pop_dict(self, data: Any, pops: list[Population], what: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            if len(pops) == 1:
                return {pops[0].name: data}
            raise bad_arg("train/evaluate", what, type(data).__name__,
                          f"a dict {{population: data}} for {[p.name for p in pops]}")
        out = {}
        for k, v in data.items():
            name = k.name if isinstance(k, Population) else k
            if name not in {p.name for p in pops}:
                raise bad_arg("train/evaluate", what, name,
                              f"keys must be {'input' if what == 'x' else 'output'} populations: "
                              f"{[p.name for p in pops]}")
            out[name] = v
        missing = [p.name for p in pops if p.name not in out]
        if missing:
            raise bad_arg("train/evaluate", what, sorted(out), f"data for {missing} is missing")
        return out

    def _batch_inputs(self, x: dict[str, Any], idx: np.ndarray,
                      record: list[tuple[str, str]] = ()) -> dict[str, Any]:
        """One batch of every input, value inputs (IntegrateFireInput) encoded as spikes
        (keeping their voltages when ``record`` asks for them)."""
        out = {}
        for k, v in x.items():
            if k in self.encoders:
                keep = any(pop == k and var.lower() == "v" for pop, var in record)
                out[k] = self.encoders[k].encode(np.asarray(v)[idx], self.example_timesteps,
                                                 self.dt, keep)
            elif not isinstance(v, np.ndarray) or v.dtype == object:
                out[k] = [v[i] for i in idx]
            else:
                out[k] = v[idx]
        return out

    def _check_data(self, x: dict[str, Any], y: dict[str, Any] | None) -> int:
        sizes = {name: len(v) for name, v in x.items()}
        if y is not None:
            sizes.update({f"labels of {name}": len(v) for name, v in y.items()})
        if len(set(sizes.values())) != 1:
            raise DatasetError(f"inputs and labels have different numbers of examples: {sizes}")
        n = next(iter(sizes.values()))
        for name, v in x.items():
            pop = self.network.get_population(name)
            if name in self.encoders:
                self.encoders[name].values(np.asarray(v)[:1])
                continue
            if isinstance(v, np.ndarray) and not isinstance(v.flat[0] if v.size else None,
                                                           PreprocessedSpikes) \
                    and type(pop.neuron).__name__ == "PoissonInput":
                if v.reshape(len(v), -1).shape[1] % pop.num_neurons:
                    raise DatasetError(f"input '{name}': each example has "
                                       f"{v.reshape(len(v), -1).shape[1]} values but the "
                                       f"population has {pop.num_neurons} neurons")
                continue
            # The same example list is usually passed every epoch; its spikes were checked
            # already (the check costs ~0.1 ms per example). Labels are checked below.
            key = (name, id(v), len(v), id(v[0]) if len(v) else 0, id(v[-1]) if len(v) else 0)
            validated = self.__dict__.setdefault("_validated_inputs", {})
            if key in validated and validated[key] is v:
                continue
            labels = None
            num_classes = None
            if y is not None and len(self.outputs) == 1:
                yy = np.asarray(y[self.outputs[0].name])
                if yy.ndim == 1:
                    labels = yy
                    num_classes = self.outputs[0].num_neurons
            late = validate_spike_dataset(list(v), labels, pop.num_neurons, num_classes,
                                          self.example_timesteps, self.dt,
                                          late_spikes="count")
            if late is not None:
                where = f"input '{name}'" + (f" on MPI rank {self.rank}"
                                             if self.num_ranks > 1 else "")
                warnings.warn(late.describe(where, self.example_timesteps, self.dt),
                              LateSpikeWarning, stacklevel=3)
            if len(validated) > 16:
                validated.clear()
            validated[key] = v
        if y is not None:
            for name, v in y.items():
                arr = np.asarray(v)
                pop = self.network.get_population(name)
                if arr.ndim == 1:
                    if not np.issubdtype(arr.dtype, np.integer):
                        raise DatasetError(f"labels of '{name}' must be integers, got {arr.dtype}")
                    if arr.size and (arr.min() < 0 or arr.max() >= pop.num_neurons):
                        raise DatasetError(
                            f"labels of '{name}' must be in [0, {pop.num_neurons}), found "
                            f"{arr.min()}..{arr.max()}: the output population is too small or "
                            "the labels are wrong")
                elif arr.ndim == 3:
                    if arr.shape[1:] != (self.example_timesteps, pop.num_neurons):
                        raise DatasetError(
                            f"targets of '{name}' have shape {arr.shape[1:]} per batch; "
                            f"expected (example_timesteps={self.example_timesteps}, "
                            f"{pop.num_neurons})")
                elif arr.ndim == 2:
                    if arr.shape[1] != pop.num_neurons:
                        raise DatasetError(f"targets of '{name}' have {arr.shape[1]} columns; "
                                           f"the population has {pop.num_neurons} neurons")
                else:
                    raise DatasetError(f"labels of '{name}' have shape {arr.shape}; expected "
                                       "(examples,) labels or (examples, T, outputs) targets")
        return n

    def _num_batches(self, n: int) -> int:
        """Batches per pass over this rank's ``n`` examples, agreed by all ranks (the
        largest count; a rank with fewer examples idles through the rest)."""
        b = self.rank_batch_size
        mine = (n + b - 1) // b
        if self.num_ranks == 1:
            return mine
        counts = np.zeros(self.num_ranks, np.int64)
        counts[self.rank] = mine
        return int(self.communicator.reduce_sum(counts).max())

    def _total(self, n: int) -> int:
        """Examples over all ranks."""
        return n if self.num_ranks == 1 else int(round(self._reduce(float(n))))

    def _batches(self, n: int, order: np.ndarray | None = None,
                 num_batches: int | None = None) -> Iterable[np.ndarray]:
        """Indices into this rank's own examples for each batch: ``batch_size //
        num_ranks`` of them per batch, as each mlGeNN rank batches the data it is given;
        empty for the batches a rank has no examples left for."""
        idx = np.arange(n) if order is None else order
        b = self.rank_batch_size
        for k in range(self._num_batches(n) if num_batches is None else num_batches):
            yield idx[k * b:(k + 1) * b]

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
        self.sim.set_inputs(self._batch_inputs(x, idx, rv), n_active)
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


class CompiledInferenceNetwork(CompiledNetwork):
    """What ``InferenceCompiler.compile`` returns (mlGeNN's class of the same name)."""

    def evaluate_batch(self, x: Any, y: Any, metrics: Any = "sparse_categorical_accuracy",
                       callbacks: Sequence | None = None) -> tuple[dict, dict]:
        """Evaluate one batch (at most ``batch_size`` examples); no progress bar by default."""
        xd = self._pop_dict(x, self.inputs, "x")
        n = len(next(iter(xd.values())))
        if n > self.batch_size:
            raise DatasetError(f"evaluate_batch got {n} examples; batch_size is "
                               f"{self.batch_size}")
        return self.evaluate(x, y, metrics, [] if callbacks is None else callbacks)


class CompiledTrainingNetwork(CompiledNetwork):
    """A network compiled for training: adds ``train`` and the optimiser step."""

    def __init__(self, *args: Any, optimiser: Optimiser, trainables: list[Trainable],
                 losses: dict[str, Any], deep_r: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimiser = optimiser
        self.trainables = trainables
        self.losses = losses
        #: Deep R rewiring (``compilers.deep_r.DeepR``) of some connections, or None
        self.deep_r = deep_r if deep_r else None
        if self.deep_r is not None:
            self.base_train_callbacks += self.deep_r.callbacks()
        self.last_loss: float | None = None
        for t in trainables:
            t.state = t.optimiser.new_state(t.param.shape)

    @property
    def optimisers(self) -> list[tuple[Optimiser, list[Trainable]]]:
        """mlGeNN's ``compiled_network.optimisers``: ``(optimiser, what it trains)``
        pairs, the weight optimiser first (custom callbacks read or set e.g.
        ``optimiser.alpha`` through it)."""
        pairs: list[tuple[Optimiser, list[Trainable]]] = []
        for t in self.trainables:
            for opt, group in pairs:
                if opt is t.optimiser:
                    group.append(t)
                    break
            else:
                pairs.append((t.optimiser, [t]))
        return pairs

    def _train_batch(self, x: dict[str, Any], y: dict[str, Any], idx: np.ndarray,
                     cbl: CallbackList, example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """Forward + gradient of one batch, leaving gradients in ``trainables``."""
        raise NotImplementedError

    def save_optimiser_state(self, keys: tuple = (),
                             serialiser: str | Serialiser = "numpy") -> None:
        """Serialise every trainable's optimiser moments and the engine state that carries
        across trials, so a resumed run continues exactly."""
        ser = get_serialiser(serialiser)
        for t in self.trainables:
            for k, arr in t.state.items():
                ser.serialise(tuple(keys) + (f"{t.name}.{t.kind}", f"opt_{k}"), arr)
        for name in getattr(self.sim, "CARRIED_STATE", ()):
            ser.serialise(tuple(keys) + ("engine.state", name), getattr(self.sim, name))

    def load_optimiser_state(self, keys: tuple = (),
                             serialiser: str | Serialiser = "numpy") -> None:
        """Restore optimiser moments and carried engine state saved by
        ``save_optimiser_state`` (or a Checkpoint)."""
        data = get_serialiser(serialiser).deserialise_all(keys)
        for t in self.trainables:
            entry = data.get(f"{t.name}.{t.kind}", {})
            for k, arr in t.state.items():
                if f"opt_{k}" not in entry:
                    raise KeyError(f"checkpoint {keys!r} has no optimiser state '{k}' for the "
                                   f"{t.kind}s of '{t.name}'")
                saved = entry[f"opt_{k}"]
                if saved.shape != arr.shape:
                    raise ValueError(f"optimiser state '{k}' of '{t.name}' has shape "
                                     f"{saved.shape}; the compiled network needs {arr.shape}")
                arr[...] = saved
        for name, arr in data.get("engine.state", {}).items():
            target = getattr(self.sim, name, None)
            if isinstance(target, np.ndarray) and target.shape == arr.shape:
                target[...] = arr
        if hasattr(self.sim, "refresh_weights"):
            self.sim.refresh_weights()

    def optimise(self, step: int) -> None:
        """Apply one optimiser step to every trainable, refusing NaN/inf gradients."""
        for t in self.trainables:
            if not np.all(np.isfinite(t.param)):
                raise TrainingError(f"the {t.kind}s of '{t.name}' contain NaN/inf before "
                                    f"training step {step}: reinitialise or reload them")
        if self.communicator is not None:
            t0 = time.perf_counter()
            self._reduce_gradients()
            self._timed("gradient_reduce", t0)
        if self.deep_r is not None:
            self.deep_r.before_step(self)
        t0 = time.perf_counter()
        for t in self.trainables:
            if not np.all(np.isfinite(t.grad)):
                raise TrainingError(
                    f"NaN/inf in the {t.kind} gradient of '{t.name}' at training step {step}: "
                    "lower the learning rate, check the input scaling, or add regularisation")
            t.optimiser.step(t.param, t.grad, t.state, step)
            if t.clamp is not None:
                np.clip(t.param, t.clamp[0], t.clamp[1], out=t.param)
            if not np.all(np.isfinite(t.param)):
                raise TrainingError(f"the {t.kind}s of '{t.name}' became NaN/inf at training "
                                    f"step {step}: lower the learning rate")
            t.grad[:] = 0
        if self.layout.kernels:
            self.layout.sync_kernels()
        self._timed("optimiser", t0)
        if self.deep_r is not None:
            self.deep_r.after_step(self)

    def _reduce_gradients(self) -> None:
        """Sum every gradient over ranks in one Allreduce (one latency, not one per array)."""
        if not self.trainables:
            return
        flat = np.concatenate([t.grad.reshape(-1) for t in self.trainables])
        flat = self.communicator.reduce_sum(flat)
        at = 0
        for t in self.trainables:
            t.grad[...] = flat[at:at + t.grad.size].reshape(t.grad.shape)
            at += t.grad.size

    def _idle_train_batch(self) -> dict[str, np.ndarray]:
        """A training batch in which this rank has no examples (a short last batch
        split over ranks): no gradient, but the same collectives as ``_train_batch``."""
        return self._empty_outputs()

    def _shuffle_order(self, n: int, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.rng_seed, epoch]).permutation(n)

    def train(self, x: Any, y: Any, num_epochs: int, start_epoch: int = 0, shuffle: bool = True,
              metrics: Any = "sparse_categorical_accuracy",
              callbacks: Sequence | None = None,
              validation_callbacks: Sequence | None = None,
              validation_split: float = 0.0, validation_x: Any = None,
              validation_y: Any = None) -> tuple:
        """Train like mlGeNN; returns (metrics, cb_data) or, with validation,
        (metrics, val_metrics, cb_data, val_cb_data)."""
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise bad_arg("train", "num_epochs", num_epochs, "a non-negative integer")
        if not 0.0 <= validation_split < 1.0:
            raise bad_arg("train", "validation_split", validation_split, "a number in [0, 1)")
        xd = self._pop_dict(x, self.inputs, "x")
        yd = {k: np.asarray(v) for k, v in self._pop_dict(y, self.outputs, "y").items()}
        n = self._check_data(xd, yd)
        vx = vy = None
        if validation_x is not None or validation_y is not None:
            if validation_x is None or validation_y is None:
                raise bad_arg("train", "validation_x/validation_y", "only one given",
                              "give both or neither")
            vx = self._pop_dict(validation_x, self.inputs, "validation_x")
            vy = {k: np.asarray(v) for k, v in
                  self._pop_dict(validation_y, self.outputs, "validation_y").items()}
            self._check_data(vx, vy)
        elif validation_split > 0.0:
            n_val = int(round(n * validation_split))
            n_train = n - n_val
            vx = {k: v[n_train:] for k, v in xd.items()}
            vy = {k: v[n_train:] for k, v in yd.items()}
            xd = {k: v[:n_train] for k, v in xd.items()}
            yd = {k: v[:n_train] for k, v in yd.items()}
            n = n_train
        callbacks = _default_callbacks() if callbacks is None else callbacks
        callbacks = list(self.base_train_callbacks) + list(callbacks)
        validation_callbacks = (_default_callbacks() if validation_callbacks is None
                                else validation_callbacks)
        num_batches = self._num_batches(n)
        n_total = self._total(n)
        train_mets = self._make_metrics(metrics)
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches,
                           num_epochs=num_epochs)
        val_mets = vcbl = None
        if vx is not None:
            n_val = len(next(iter(vx.values())))
            num_val_batches = self._num_batches(n_val)
            n_val_total = self._total(n_val)
            val_mets = self._make_metrics(metrics)
            vcbl = CallbackList(validation_callbacks, compiled_network=self,
                                num_batches=num_val_batches, num_epochs=num_epochs)
        cbl.on_train_begin()
        if vcbl is not None:
            vcbl.on_test_begin()
        step = num_batches * start_epoch
        for epoch in range(start_epoch, start_epoch + num_epochs):
            for m in train_mets.values():
                m.reset()
            cbl.on_epoch_begin(epoch)
            order = self._shuffle_order(n, epoch) if shuffle else None
            loss_sum = 0.0
            for b, idx in enumerate(self._batches(n, order, num_batches)):
                cbl.on_batch_begin(b)
                if len(idx):
                    out = self._train_batch(xd, yd, idx, cbl, idx.tolist())
                else:
                    out = self._idle_train_batch()
                self.optimise(step)
                step += 1
                for pop, m in train_mets.items():
                    m.update(yd[pop.name][idx], self._metric_pred(pop.name, out),
                             self.communicator)
                lp = self.outputs[0]
                if len(idx):
                    self.last_loss = self.losses[lp.name].value(
                        yd[lp.name][idx], self._metric_pred(lp.name, out))
                    loss_sum += self.last_loss * len(idx)
                cbl.on_batch_end(b, train_mets)
            self.epoch_loss = self._reduce(loss_sum) / max(n_total, 1)
            cbl.on_epoch_end(epoch, train_mets)
            if vcbl is not None:
                for m in val_mets.values():
                    m.reset()
                vcbl.on_epoch_begin(epoch)
                vloss = 0.0
                for b, idx in enumerate(self._batches(n_val, num_batches=num_val_batches)):
                    vcbl.on_batch_begin(b)
                    out = self._run_forward(vx, idx, vcbl, idx.tolist())
                    for pop, m in val_mets.items():
                        m.update(vy[pop.name][idx], self._metric_pred(pop.name, out),
                                 self.communicator)
                    lp = self.outputs[0]
                    if len(idx):
                        vloss += self.losses[lp.name].value(
                            vy[lp.name][idx], self._metric_pred(lp.name, out)) * len(idx)
                    vcbl.on_batch_end(b, val_mets)
                self.val_epoch_loss = self._reduce(vloss) / max(n_val_total, 1)
                vcbl.on_epoch_end(epoch, val_mets)
        cbl.on_train_end(train_mets)
        if vcbl is not None:
            vcbl.on_test_end(val_mets)
            return train_mets, val_mets, cbl.get_data(), vcbl.get_data()
        return train_mets, cbl.get_data()
