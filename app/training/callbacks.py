"""Callbacks with mlGeNN's hook names.

A callback is any object with some of: ``set_params``, ``on_train_begin/end``,
``on_test_begin/end``, ``on_epoch_begin/end``, ``on_batch_begin/end``,
``on_timestep_begin/end`` and ``get_data``. Recorders do not pull state every
step: they ask the engine to record (``recording_request``) and receive the
trial's recording at batch end (``on_recording``), which keeps trials in one
kernel call.

A callback whose batch hooks read only the batch number, the metrics and the
compiled network's ``last_loss`` (not weights or state) may say so with
``metrics_only = True``, as the progress bar does. Training may then run a whole
pass in a few engine calls and call those hooks after each call, batch by batch
in order, with the metrics as they were after that batch
(``CallbackList.batches_may_run_together``).

A callback that must see some batches while they run (to record them, or to read
the weights after them) and only the metrics of the others may instead define
``batches_until_live(batch)``: asked before each engine call of such a pass, for
the batch the call would start with, it returns 0 (run that batch live, every hook
as in the per-batch loop), n (at most n batches from there may run together) or
None (no limit); ``fused_call_s``, if set, caps one engine call's seconds. While
the hooks of batches that already ran are called, the compiled network's
``replaying_batches`` is True.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.model import Connection, Population
from app.model.errors import bad_arg

from .serialisers import Serialiser, get_serialiser


class Callback:
    """Base class (optional): hooks default to doing nothing."""


def _filter_mask(flt: Any, n: int, owner: str, arg: str) -> np.ndarray:
    mask = np.zeros(n, bool)
    if flt is None:
        mask[:] = True
    elif isinstance(flt, slice):
        mask[flt] = True
    elif isinstance(flt, (int, np.integer)):
        if not 0 <= flt < n:
            raise bad_arg(owner, arg, flt, f"an index in [0, {n})")
        mask[int(flt)] = True
    else:
        idx = np.asarray(flt)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise bad_arg(owner, arg, f"mask of shape {idx.shape}", f"shape ({n},)")
            mask[:] = idx
        else:
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise bad_arg(owner, arg, flt, f"indices in [0, {n})")
            mask[idx.astype(np.int64)] = True
    return mask


class _ExampleFilter:
    """Which examples of the epoch a recorder keeps (None = all)."""

    def __init__(self, flt: Any) -> None:
        self.flt = flt

    def keep(self, example: int) -> bool:
        if self.flt is None:
            return True
        if isinstance(self.flt, slice):
            start, stop, step = self.flt.start or 0, self.flt.stop, self.flt.step or 1
            return example >= start and (stop is None or example < stop) \
                and (example - start) % step == 0
        if isinstance(self.flt, (int, np.integer)):
            return example == int(self.flt)
        return example in set(int(i) for i in np.asarray(self.flt).ravel())


class SpikeRecorder(Callback):
    """Record spikes of a population: data is ``[list of times (ms), list of ids]`` per example."""

    def __init__(self, pop: Population, key: Any = None, example_filter: Any = None,
                 neuron_filter: Any = None, record_counts: bool = False) -> None:
        if not isinstance(pop, Population):
            raise bad_arg("SpikeRecorder", "pop", pop, "a Population is required")
        self.pop = pop
        self.key = key if key is not None else f"spikes_{pop.name}"
        self.examples = _ExampleFilter(example_filter)
        self.mask = _filter_mask(neuron_filter, pop.num_neurons, "SpikeRecorder",
                                 "neuron_filter")
        self.record_counts = record_counts
        self._data: list = []

    def set_params(self, data: dict, **kwargs: Any) -> None:
        data.setdefault(self.key, [] if self.record_counts else [[], []])
        self._data = data[self.key]

    def recording_request(self) -> tuple[list, list]:
        return [], [self.pop.name]

    def on_recording(self, rec: Any, example_ids: Sequence[int], start: int, dt: float) -> None:
        for b, ex in enumerate(example_ids):
            if not self.examples.keep(ex):
                continue
            steps = rec.spike_steps[b]
            ids = rec.spike_ids[b] - start
            sel = (ids >= 0) & (ids < self.pop.num_neurons)
            steps, ids = steps[sel], ids[sel]
            keep = self.mask[ids]
            steps, ids = steps[keep], ids[keep]
            if self.record_counts:
                self._data.append(np.bincount(ids, minlength=self.pop.num_neurons)[self.mask])
            else:
                self._data[0].append(steps.astype(np.float32) * np.float32(dt))
                self._data[1].append(ids.astype(np.int32))

    def get_data(self) -> tuple[Any, Any]:
        return self.key, self._data


class VarRecorder(Callback):
    """Record a variable ("V", "A", "RefracTime") every step: (T, n) per example."""

    def __init__(self, pop: Population, var: str, key: Any = None, example_filter: Any = None,
                 neuron_filter: Any = None) -> None:
        if not isinstance(pop, Population):
            raise bad_arg("VarRecorder", "pop", pop, "a Population is required")
        if var.lower() not in ("v", "a", "refractime", "readout"):
            raise bad_arg("VarRecorder", "var", var, "allowed: 'V', 'A', 'RefracTime', 'readout'")
        self.pop = pop
        self.var = var
        self.key = key if key is not None else f"{var}_{pop.name}"
        self.examples = _ExampleFilter(example_filter)
        self.mask = _filter_mask(neuron_filter, pop.num_neurons, "VarRecorder", "neuron_filter")
        self._data: list = []

    def set_params(self, data: dict, **kwargs: Any) -> None:
        data.setdefault(self.key, [])
        self._data = data[self.key]

    def recording_request(self) -> tuple[list, list]:
        return [(self.pop.name, self.var)], []

    def on_recording(self, rec: Any, example_ids: Sequence[int], start: int, dt: float) -> None:
        sl = rec.var_slices[(self.pop.name, self.var)]
        for b, ex in enumerate(example_ids):
            if self.examples.keep(ex):
                self._data.append(rec.values[b, :, sl][:, self.mask].copy())

    def get_data(self) -> tuple[Any, Any]:
        return self.key, self._data


class ConnVarRecorder(Callback):
    """Record a connection variable (``"g"`` weights, ``"d"`` delays) at the end of each batch."""

    def __init__(self, conn: Connection, var: str = "g", key: Any = None,
                 example_filter: Any = None) -> None:
        if not isinstance(conn, Connection):
            raise bad_arg("ConnVarRecorder", "conn", conn, "a Connection is required")
        if var not in ("g", "d"):
            raise bad_arg("ConnVarRecorder", "var", var, "allowed: 'g' (weights), 'd' (delays)")
        self.conn = conn
        self.var = var
        self.key = key if key is not None else f"{var}_{conn.name}"
        self.batches = _ExampleFilter(example_filter)
        self._data: list = []
        self._cn: Any = None

    def set_params(self, data: dict, compiled_network: Any = None, **kwargs: Any) -> None:
        data.setdefault(self.key, [])
        self._data = data[self.key]
        self._cn = compiled_network

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        if self.batches.keep(batch):
            if self.var == "g":
                self._data.append(self._cn.get_weights(self.conn))
            else:
                self._data.append(self._cn.get_delays(self.conn))

    def get_data(self) -> tuple[Any, Any]:
        return self.key, self._data


class Checkpoint(Callback):
    """Save every trained variable (and the optimiser's moments) at the end of every
    ``epoch_interval``-th epoch; ``Network.load`` plus ``load_optimiser_state`` resume it."""

    def __init__(self, serialiser: str | Serialiser = "numpy", epoch_interval: int = 1) -> None:
        if not isinstance(epoch_interval, int) or epoch_interval < 1:
            raise bad_arg("Checkpoint", "epoch_interval", epoch_interval, "an integer >= 1")
        self.serialiser = get_serialiser(serialiser)
        self.epoch_interval = epoch_interval
        self._cn: Any = None

    def set_params(self, compiled_network: Any = None, **kwargs: Any) -> None:
        self._cn = compiled_network

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        if epoch % self.epoch_interval == 0 and self._cn.is_root:
            self._cn.save((epoch,), self.serialiser)
            if hasattr(self._cn, "save_optimiser_state"):
                self._cn.save_optimiser_state((epoch,), self.serialiser)


class OptimiserParamSchedule(Callback):
    """Set an optimiser parameter from ``func(epoch, value)`` at the start of each epoch,
    on every optimiser of the compiled network (weights and, if learnt, delays), as
    mlGeNN does."""

    def __init__(self, param_name: str, func: Callable[[int, float], float]) -> None:
        if not callable(func):
            raise bad_arg("OptimiserParamSchedule", "func", func, "a callable (epoch, value)")
        self.param_name = param_name
        self.func = func
        self._optimisers: list = []

    def set_params(self, compiled_network: Any = None, **kwargs: Any) -> None:
        self._optimisers = [o for o, _ in getattr(compiled_network, "optimisers", [])]
        missing = [o for o in self._optimisers if not hasattr(o, self.param_name)]
        if not self._optimisers or missing:
            raise bad_arg("OptimiserParamSchedule", "param_name", self.param_name,
                          f"the optimiser {(missing or [None])[0]!r} has no such parameter")

    def on_epoch_begin(self, epoch: int) -> None:
        for opt in self._optimisers:
            setattr(opt, self.param_name,
                    float(self.func(epoch, getattr(opt, self.param_name))))


class BatchProgressBar(Callback):
    """tqdm progress bar over the batches of each epoch, showing the metrics."""

    #: the batch hook reads the metrics only (see the module's docstring)
    metrics_only = True

    def __init__(self) -> None:
        self._bar: Any = None
        self._num_batches = 0
        self._cn: Any = None

    def set_params(self, num_batches: int = 0, compiled_network: Any = None,
                   **kwargs: Any) -> None:
        self._num_batches = num_batches
        self._cn = compiled_network

    def on_epoch_begin(self, epoch: int) -> None:
        from tqdm.auto import tqdm

        if self._cn is None or self._cn.is_root:
            self._bar = tqdm(total=self._num_batches, desc=f"Epoch {epoch}", leave=True)

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)
            shown = {getattr(k, "name", str(k)): f"{m.result:.4f}" for k, m in metrics.items()
                     if m.result is not None}
            # shown at the bar's next (rate-limited) refresh, not written out per batch
            self._bar.set_postfix(shown, refresh=False)

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_test_end(self, metrics: Any) -> None:
        self.on_epoch_end(0, metrics)


CALLBACKS = {"batch_progress_bar": BatchProgressBar, "checkpoint": Checkpoint}


class CallbackList:
    """Calls each hook on every callback that has it; collects ``get_data``."""

    def __init__(self, callbacks: Sequence[Any], **params: Any) -> None:
        self.callbacks = []
        for c in callbacks:
            if isinstance(c, str):
                if c not in CALLBACKS:
                    raise bad_arg("train/evaluate", "callbacks", c,
                                  f"allowed names: {', '.join(CALLBACKS)}")
                c = CALLBACKS[c]()
            self.callbacks.append(c)
        self.data: dict = {}
        for c in self.callbacks:
            if hasattr(c, "set_params"):
                c.set_params(data=self.data, **params)

    def _call(self, hook: str, *args: Any) -> None:
        for c in self.callbacks:
            fn = getattr(c, hook, None)
            if fn is not None:
                fn(*args)

    def has(self, hook: str) -> bool:
        return any(getattr(c, hook, None) is not None for c in self.callbacks)

    #: hooks that see one batch or one timestep while it runs
    PER_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_timestep_begin",
                       "on_timestep_end", "recording_request")

    def batches_may_run_together(self) -> bool:
        """Whether training may run several batches in one engine call and call the
        batch hooks afterwards: each callback either has no per-batch or per-timestep
        hook and records nothing, or is ``metrics_only``."""
        return all(getattr(c, "metrics_only", False)
                   or getattr(c, "batches_until_live", None) is not None
                   or not any(getattr(c, h, None) is not None for h in self.PER_BATCH_HOOKS)
                   for c in self.callbacks)

    def batches_until_live(self, batch: int) -> int | None:
        """How many batches from ``batch`` may run together before a callback needs
        one live: 0 (``batch`` itself), n, or None (no callback limits it)."""
        out: int | None = None
        for c in self.callbacks:
            fn = getattr(c, "batches_until_live", None)
            if fn is not None:
                n = fn(batch)
                if n is not None:
                    out = max(0, int(n)) if out is None else min(out, max(0, int(n)))
        return out

    def fused_call_s(self) -> float | None:
        """The shortest ``fused_call_s`` of the callbacks (None: none sets one)."""
        caps = [float(c.fused_call_s) for c in self.callbacks
                if getattr(c, "fused_call_s", None) is not None]
        return min(caps) if caps else None

    def recording_requests(self) -> tuple[list, list]:
        vars_, spikes = [], []
        for c in self.callbacks:
            if hasattr(c, "recording_request"):
                v, s = c.recording_request()
                vars_ += [x for x in v if x not in vars_]
                spikes += [x for x in s if x not in spikes]
        return vars_, spikes

    def on_recording(self, rec: Any, example_ids: Sequence[int], starts: dict, dt: float) -> None:
        for c in self.callbacks:
            if hasattr(c, "on_recording"):
                c.on_recording(rec, example_ids, starts[c.pop.name], dt)

    def on_train_begin(self) -> None:
        self._call("on_train_begin")

    def on_train_end(self, metrics: Any) -> None:
        self._call("on_train_end", metrics)

    def on_test_begin(self) -> None:
        self._call("on_test_begin")

    def on_test_end(self, metrics: Any) -> None:
        self._call("on_test_end", metrics)

    def on_epoch_begin(self, epoch: int) -> None:
        self._call("on_epoch_begin", epoch)

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        self._call("on_epoch_end", epoch, metrics)

    def on_batch_begin(self, batch: int) -> None:
        self._call("on_batch_begin", batch)

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        self._call("on_batch_end", batch, metrics)

    def on_timestep_begin(self, timestep: int) -> None:
        self._call("on_timestep_begin", timestep)

    def on_timestep_end(self, timestep: int) -> None:
        self._call("on_timestep_end", timestep)

    def get_data(self) -> dict:
        out = {}
        for c in self.callbacks:
            if hasattr(c, "get_data"):
                k, v = c.get_data()
                out[k] = v
        return out
