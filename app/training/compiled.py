"""Compiled networks: batching, the train / evaluate / predict loops and callbacks.

A compiler builds one of these around an engine simulator. Per-algorithm work
(what a training batch does) lives in the compiler's subclass; everything a
user sees (mlGeNN's signatures, metrics, callbacks, checkpoints) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.model import Connection, Network, Population
from app.model.errors import bad_arg

from .callbacks import BatchProgressBar, CallbackList
from .communicators import share
from .data.errors import DatasetError
from .data.spikes import PreprocessedSpikes
from .data.validation import validate_spike_dataset
from .engine import optim
from .engine.cpu import CPUSimulator
from .engine.layout import Layout
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
    grad: np.ndarray  # (n,) gradient, or (chunks, n) per-thread partial sums of it
    optimiser: Optimiser
    state: dict = field(default_factory=dict)
    clamp: tuple[float, float] | None = None

    def gradient(self) -> np.ndarray:
        """The accumulated gradient (n,), a copy (partial sums added in chunk order)."""
        if self.grad.ndim == 1:
            return self.grad.copy()
        g = self.grad[0].copy()
        for c in range(1, self.grad.shape[0]):
            g += self.grad[c]
        return g


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
        self._open = False
        if communicator is not None and self.num_ranks > 1:
            self._sync_parameters()

    def _sync_parameters(self) -> None:
        """Give every rank rank 0's initial weights, delays and biases."""
        for name in ("weights", "delays", "bias"):
            arr = getattr(self.layout, name, None)
            if isinstance(arr, np.ndarray) and arr.size:
                self.communicator.broadcast(arr, 0)
        if hasattr(self.sim, "refresh_weights"):
            self.sim.refresh_weights()

    # ----- context -----------------------------------------------------------------------
    def __enter__(self) -> CompiledNetwork:
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._open = False
        for conn in self.network.connections:
            conn.connectivity.weight = self.get_weights(conn)

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

    # ----- weights -----------------------------------------------------------------------
    def _conn(self, conn: Connection | str) -> Connection:
        name = conn if isinstance(conn, str) else conn.name
        if name not in self.layout.conn_index:
            raise KeyError(f"no connection named {name!r} in this network")
        return self.layout.connections[self.layout.conn_index[name]]

    def get_weights(self, conn: Connection | str) -> np.ndarray:
        """Current weights: [pre, post] for Dense, per synapse otherwise."""
        return self.layout.get_weights(self._conn(conn).name)

    def set_weights(self, conn: Connection | str, weights: np.ndarray) -> None:
        """Overwrite a connection's weights (same shape as get_weights)."""
        c = self._conn(conn)
        sl = self.layout.conn_slice(c.name)
        w = np.asarray(weights, np.float32).reshape(-1)
        if w.shape[0] != sl.stop - sl.start:
            raise bad_arg(f"set_weights('{c.name}')", "weights", np.shape(weights),
                          f"{sl.stop - sl.start} values are required")
        self.layout.weights[sl] = w

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
            pre = np.repeat(np.arange(c.source.num_neurons, dtype=np.int32),
                            np.diff(table.row_ptr).astype(np.int64))
            ser.serialise(tuple(keys) + (c.name, "pre_ind"), pre)
            ser.serialise(tuple(keys) + (c.name, "post_ind"), table.post.astype(np.int32))
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

    def _check_data(self, x: dict[str, Any], y: dict[str, Any] | None) -> int:
        sizes = {name: len(v) for name, v in x.items()}
        if y is not None:
            sizes.update({f"labels of {name}": len(v) for name, v in y.items()})
        if len(set(sizes.values())) != 1:
            raise DatasetError(f"inputs and labels have different numbers of examples: {sizes}")
        n = next(iter(sizes.values()))
        for name, v in x.items():
            pop = self.network.get_population(name)
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
            validate_spike_dataset(list(v), labels, pop.num_neurons, num_classes,
                                   self.example_timesteps, self.dt)
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

    def _batches(self, n: int, order: np.ndarray | None = None) -> Iterable[np.ndarray]:
        """Example indices of each batch for this rank (its share with a communicator)."""
        idx = np.arange(n) if order is None else order
        for s in range(0, n, self.batch_size):
            yield self._share(idx[s:s + self.batch_size])

    def _share(self, idx: np.ndarray) -> np.ndarray:
        if self.num_ranks == 1:
            return idx
        return share(idx, self.batch_size, self.rank, self.num_ranks)

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
        if hasattr(self.sim, "begin_trial"):
            self.sim.begin_trial(self.reset_vars, self.reset_in_syn)
            return
        if self.reset_vars:
            self.sim.reset_neurons()
        self.sim.reset_readouts()
        if self.reset_in_syn:
            self.sim.reset_in_syn()

    def _forward(self, x: dict[str, Any], idx: np.ndarray, cbl: CallbackList,
                 example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        n_active = len(idx)
        self._begin_trial()
        if hasattr(self.sim, "set_inputs_indexed"):
            most = self.sim.set_inputs_indexed(x, idx)
        else:
            most = self.sim.set_inputs({k: [v[i] for i in idx] if not isinstance(v, np.ndarray)
                                        or v.dtype == object else v[idx]
                                        for k, v in x.items()}, n_active)
        self._inputs_staged(most or 0)
        rv, rs = cbl.recording_requests()
        step_cb = cbl if (cbl.has("on_timestep_begin") or cbl.has("on_timestep_end")) else None
        rec = self.sim.run_trial(n_active, self.zero_step, rv, rs, step_cb)
        if rv or rs:
            starts = {p.name: int(self.layout.pop_slice(p.name).start)
                      for p in self.network.populations}
            cbl.on_recording(rec, example_ids, starts, self.dt)
        self._last_recording = rec
        return {p.name: self.sim.readout(p.name)[:n_active] for p in self.outputs}

    def _inputs_staged(self, max_events: int) -> None:
        """Called after a batch's inputs are staged with the largest number of input
        events of one example (EventProp sizes its event tape from it)."""

    def _metric_pred(self, pop_name: str, out: dict[str, np.ndarray]) -> np.ndarray:
        """What metrics and losses compare with the labels: the readout, or a per-step
        history where the compiled network keeps one (per-timestep MSE targets)."""
        return out[pop_name]

    def predict(self, x: Any) -> dict[Population, np.ndarray]:
        """Readout of every output population for each example."""
        xd = self._pop_dict(x, self.inputs, "x")
        n = self._check_data(xd, None)
        cbl = CallbackList([], compiled_network=self, num_batches=0, num_epochs=1)
        outs: dict[str, list] = {p.name: [] for p in self.outputs}
        ids: list[np.ndarray] = []
        for idx in self._batches(n):
            o = self._run_forward(xd, idx, cbl, idx.tolist())
            ids.append(idx)
            for k, v in o.items():
                outs[k].append(v)
        result = {p: np.concatenate(outs[p.name]) for p in self.outputs}
        if self.num_ranks > 1:  # gather: every rank fills its rows, then sum over ranks
            mine = np.concatenate(ids)
            for p, v in result.items():
                full = np.zeros((n,) + v.shape[1:], np.float64)
                full[mine] = v
                result[p] = self.communicator.reduce_sum(full).astype(v.dtype)
        return result

    def evaluate(self, x: Any, y: Any, metrics: Any = "sparse_categorical_accuracy",
                 callbacks: Sequence | None = None) -> tuple[dict, dict]:
        """Run every example once and return (metrics per output, callback data)."""
        xd = self._pop_dict(x, self.inputs, "x")
        yd = self._pop_dict(y, self.outputs, "y")
        n = self._check_data(xd, yd)
        callbacks = _default_callbacks() if callbacks is None else callbacks
        num_batches = (n + self.batch_size - 1) // self.batch_size
        mets = self._make_metrics(metrics)
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches,
                           num_epochs=1)
        cbl.on_test_begin()
        cbl.on_epoch_begin(0)
        for b, idx in enumerate(self._batches(n)):
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
            if nb > self.batch_size:
                raise DatasetError(f"batch {b} has {nb} examples; batch_size is "
                                   f"{self.batch_size}")
            cbl.on_batch_begin(b)
            mine = self._share(np.arange(nb))
            out = self._run_forward(xd, mine, cbl, [seen + int(i) for i in mine])
            for pop, m in mets.items():
                m.update(yd[pop.name][mine], self._metric_pred(pop.name, out),
                         self.communicator)
            cbl.on_batch_end(b, mets)
            seen += nb
        cbl.on_epoch_end(0, mets)
        cbl.on_test_end(mets)
        return mets, cbl.get_data()


class CompiledTrainingNetwork(CompiledNetwork):
    """A network compiled for training: adds ``train`` and the optimiser step."""

    def __init__(self, *args: Any, optimiser: Optimiser, trainables: list[Trainable],
                 losses: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimiser = optimiser
        self.trainables = trainables
        self.losses = losses
        self.last_loss: float | None = None
        for t in trainables:
            t.state = t.optimiser.new_state(t.param.shape)

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
        """Apply one optimiser step to every trainable, refusing NaN/inf gradients.

        A trainable's ``grad`` is its gradient, or (chunks, n) per-thread partial
        sums that the step adds up (and zeroes) in the same pass.
        """
        for t in self.trainables:  # a bad parameter explains the bad gradients it causes
            if not optim.all_finite(t.param):
                raise TrainingError(f"the {t.kind}s of '{t.name}' contain NaN/inf before "
                                    f"training step {step}: reinitialise or reload them")
        if self.communicator is not None:
            self._reduce_gradients()
        for t in self.trainables:
            parts = t.grad if t.grad.ndim == 2 else t.grad.reshape(1, -1)
            status = t.optimiser.update(t.param, parts, t.state, step, t.clamp)
            if status == optim.BAD_PARAM:
                raise TrainingError(f"the {t.kind}s of '{t.name}' contain NaN/inf before "
                                    f"training step {step}: reinitialise or reload them")
            if status == optim.BAD_GRAD:
                raise TrainingError(
                    f"NaN/inf in the {t.kind} gradient of '{t.name}' at training step {step}: "
                    "lower the learning rate, check the input scaling, or add regularisation")
            if status == optim.BAD_RESULT:
                raise TrainingError(f"the {t.kind}s of '{t.name}' became NaN/inf at training "
                                    f"step {step}: lower the learning rate")

    def _reduce_gradients(self) -> None:
        """Sum every gradient over ranks in one Allreduce (one latency, not one per array)."""
        if not self.trainables:
            return
        rows = []
        for t in self.trainables:
            if t.grad.ndim == 2:
                optim.sum_parts(t.grad)
                rows.append(t.grad[0])
            else:
                rows.append(t.grad.reshape(-1))
        flat = self.communicator.reduce_sum(np.concatenate(rows))
        at = 0
        for row in rows:
            row[...] = flat[at:at + row.size]
            at += row.size

    def _batch_loss(self, pop_name: str, y: np.ndarray, out: dict[str, np.ndarray]) -> float:
        """Mean loss of the batch just trained (for reports)."""
        return self.losses[pop_name].value(y, self._metric_pred(pop_name, out))

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
        validation_callbacks = (_default_callbacks() if validation_callbacks is None
                                else validation_callbacks)
        num_batches = (n + self.batch_size - 1) // self.batch_size
        train_mets = self._make_metrics(metrics)
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches,
                           num_epochs=num_epochs)
        val_mets = vcbl = None
        if vx is not None:
            n_val = len(next(iter(vx.values())))
            val_mets = self._make_metrics(metrics)
            vcbl = CallbackList(validation_callbacks, compiled_network=self,
                                num_batches=(n_val + self.batch_size - 1) // self.batch_size,
                                num_epochs=num_epochs)
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
            for b, idx in enumerate(self._batches(n, order)):
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
                    self.last_loss = self._batch_loss(lp.name, yd[lp.name][idx], out)
                    loss_sum += self.last_loss * len(idx)
                cbl.on_batch_end(b, train_mets)
            self.epoch_loss = self._reduce(loss_sum) / max(n, 1)
            cbl.on_epoch_end(epoch, train_mets)
            if vcbl is not None:
                for m in val_mets.values():
                    m.reset()
                vcbl.on_epoch_begin(epoch)
                n_val = len(next(iter(vx.values())))
                vloss = 0.0
                for b, idx in enumerate(self._batches(n_val)):
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
                self.val_epoch_loss = self._reduce(vloss) / max(n_val, 1)
                vcbl.on_epoch_end(epoch, val_mets)
        cbl.on_train_end(train_mets)
        if vcbl is not None:
            vcbl.on_test_end(val_mets)
            return train_mets, val_mets, cbl.get_data(), vcbl.get_data()
        return train_mets, cbl.get_data()
