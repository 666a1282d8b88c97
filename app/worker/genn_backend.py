"""Optional GeNN backend: train a project with mlGeNN on GeNN inside the worker.

Offered only when both ``ml_genn`` and ``pygenn`` import (neither is on PyPI;
see GeNN's installation page).  GeNN's CUDA backend is used when pygenn was
built with it, else its single-threaded CPU backend, which only runs batch
size 1 -- :func:`genn_warnings` says so before training.

The document is turned into mlGeNN objects by :func:`build_genn` (the same
mapping as :mod:`app.project.mlgenn_export`, so an exported script and a
GeNN run agree), the data come from Spike Studio's own loaders, and
:class:`GeNNStream`, an mlGeNN callback, sends the worker's usual messages
(``batch_metrics``, ``epoch_metrics``, ``raster``) so the plots work
unchanged.  Voltage traces and per-batch loss are not streamed from GeNN.

Nothing here imports ml_genn or pygenn at module import time.
"""
from __future__ import annotations

import functools
import importlib
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from app.project import schema
from app.project.document import Project
from app.project.shapes import connectivity_args

GENN_BACKEND = "genn"
CPU_KIND, CUDA_KIND = "single_threaded_cpu", "cuda"


@functools.lru_cache(maxsize=1)
def genn_kind() -> str | None:
    """``"cuda"`` or ``"single_threaded_cpu"`` when ml_genn and pygenn import, else None."""
    try:
        importlib.import_module("ml_genn")
        importlib.import_module("pygenn")
    except Exception:  # noqa: BLE001 - any failure to import means "not available"
        return None
    try:
        importlib.import_module("pygenn.cuda_backend")
    except Exception:  # noqa: BLE001
        return CPU_KIND
    return CUDA_KIND


def genn_available() -> bool:
    """True when the GeNN backend can be offered."""
    return genn_kind() is not None


def available_backends() -> list[tuple[str, str]]:
    """(name, label) of every training backend on this machine, ours first."""
    out = [("cpu", "Spike Studio engine (CPU)")]
    kind = genn_kind()
    if kind is not None:
        out.append((GENN_BACKEND, "GeNN (CUDA)" if kind == CUDA_KIND else "GeNN (CPU)"))
    return out


def genn_warnings(project: Project, kind: str | None = None) -> list[str]:
    """Differences the user should see before training this project on GeNN."""
    kind = kind or genn_kind() or CPU_KIND
    notes: list[str] = []
    batch = int(project.compiler.params.get("batch_size", 1))
    if kind == CPU_KIND and batch > 1:
        notes.append(f"GeNN's CPU backend runs batch size 1 only: batch size {batch} will be "
                     "trained as 1 (slower, and results differ from batched training).")
    if kind == CPU_KIND:
        notes.append("pygenn has no CUDA backend here: GeNN runs single-threaded on the CPU.")
    if project.compiler.type == "EventPropCompiler" and project.compiler.delay_learn_conns \
            and kind == CPU_KIND:
        notes.append("Delay learning on GeNN's CPU backend is slow.")
    notes.append("Voltage traces and per-batch loss are not streamed from GeNN; metrics and "
                 "spike rasters are.")
    return notes


@dataclass
class GeNNBuild:
    """mlGeNN objects of a project (what :func:`build_genn` returns)."""

    network: Any
    compiler: Any
    populations: dict[str, Any] = field(default_factory=dict)  # population id -> Population
    connections: dict[str, Any] = field(default_factory=dict)  # connection id -> Connection


def _ml(ml: dict[str, ModuleType] | None) -> dict[str, ModuleType]:
    if ml is not None:
        return ml
    names = ("ml_genn", "ml_genn.compilers", "ml_genn.connectivity", "ml_genn.initializers",
             "ml_genn.losses", "ml_genn.neurons", "ml_genn.optimisers", "ml_genn.synapses")
    return {n: importlib.import_module(n) for n in names}


def build_genn(project: Project, kind: str | None = None,
               ml: dict[str, ModuleType] | None = None) -> GeNNBuild:
    """Network and compiler objects of ``project`` built with mlGeNN.

    ``ml`` maps module names (``"ml_genn.neurons"``, ...) to modules; by default
    the real mlGeNN is imported.  Every population records spikes (for the
    raster); on GeNN's CPU backend the batch size is 1.
    """
    m = _ml(ml)
    kind = kind or genn_kind() or CPU_KIND
    root, neurons = m["ml_genn"], m["ml_genn.neurons"]
    spec = project.compiler
    info = spec.info
    dp: dict[str, Any] = {}
    if spec.type in ("EventPropCompiler", "EPropCompiler"):
        mod = {"EventPropCompiler": "event_prop_compiler", "EPropCompiler": "eprop_compiler"}
        dp = getattr(importlib.import_module(f"ml_genn.compilers.{mod[spec.type]}"),
                     "default_params", {}) if ml is None else {}
    network = root.Network(dp)
    out = GeNNBuild(network, None)
    with network:
        for p in project.populations:
            kwargs = {k: p.params[k] for k in (q.name for q in schema.model_params(p.model))}
            if p.readout is not None:
                kwargs["readout"] = p.readout
            neuron = getattr(neurons, p.model)(**kwargs)
            out.populations[p.id] = root.Population(neuron, p.model_shape if p.shape
                                                    else p.size, record_spikes=True,
                                                    name=p.name)
        for c in project.connections:
            w = c.weight
            init = float(w["value"]) if w["type"] == "Constant" else getattr(
                m["ml_genn.initializers"], w["type"])(
                **{k: v for k, v in w.items() if k != "type"})
            if c.id in project.weights:
                init = np.asarray(project.weights[c.id])
            cc = c.connectivity
            conn_cls = getattr(m["ml_genn.connectivity"], cc["type"])
            if cc["type"] == "FixedProbability":
                conn = conn_cls(p=cc["p"], weight=init,
                                allow_self_connections=cc["allow_self_connections"],
                                delay=cc["delay"])
            elif cc["type"] in schema.CONNECTIVITY_2D:
                args2d = connectivity_args(c)
                conn = conn_cls(**args2d) if cc["type"] in schema.NO_WEIGHT \
                    else conn_cls(weight=init, **args2d)
            else:
                conn = conn_cls(weight=init, delay=cc["delay"])
            s = c.synapse
            syn = getattr(m["ml_genn.synapses"], s["type"])(
                **{k: v for k, v in s.items() if k != "type"})
            extra = {} if c.max_delay_steps is None else {"max_delay_steps": c.max_delay_steps}
            out.connections[c.id] = root.Connection(
                out.populations[c.source], out.populations[c.target], conn, syn, name=c.name,
                **extra)
    args = {k: v for k, v in spec.params.items() if k != "backend"}
    if kind == CPU_KIND:
        args["batch_size"] = 1
    if info.has_losses and spec.loss is not None:
        args["losses"] = (m["ml_genn.losses"].RelativeMeanSquareError(spec.loss["delta"])
                          if spec.loss["type"] == "RelativeMeanSquareError"
                          else spec.loss["type"])
    if info.has_optimiser and spec.optimiser is not None:
        args["optimiser"] = _optimiser(m, spec.optimiser)
    if info.has_delay_learning:
        if spec.delay_optimiser is not None:
            args["delay_optimiser"] = _optimiser(m, spec.delay_optimiser)
        if spec.delay_learn_conns:
            args["delay_learn_conns"] = [out.connections[c] for c in spec.delay_learn_conns]
    args["backend"] = kind
    out.compiler = getattr(m["ml_genn.compilers"], spec.type)(**args)
    return out


def _optimiser(m: dict[str, ModuleType], spec: dict[str, Any]) -> Any:
    return getattr(m["ml_genn.optimisers"], spec["type"])(
        **{k: v for k, v in spec.items() if k != "type"})


class GeNNStream:
    """mlGeNN callback sending the worker protocol's metric and raster messages.

    ``check(epoch, batch)`` (the worker's pause/stop control) is called at every
    batch end; it may raise to stop training.
    """

    def __init__(self, send: Any, run: str, populations: dict[str, Any], dt: float,
                 example_timesteps: int, sample_every: int = 10, start_epoch: int = 0,
                 check: Any = None) -> None:
        self.send = send
        self.run = run
        self.populations = populations  # name -> mlGeNN Population
        self.dt = float(dt)
        self.example_timesteps = int(example_timesteps)
        self.sample_every = max(1, int(sample_every))
        self.start_epoch = int(start_epoch)
        self.check = check
        self.cn: Any = None
        self.num_batches = 0
        self.num_epochs = 0
        self.epoch = 0
        self.step = 0
        self._t0 = 0.0
        self._t_epoch = 0.0
        self._seen = 0
        self._samples = 0

    # mlGeNN's CallbackList calls set_params(data=..., compiled_network=..., ...)
    def set_params(self, data: Any = None, compiled_network: Any = None,
                   num_batches: int = 0, num_epochs: int = 0, **kwargs: Any) -> None:
        self.cn = compiled_network
        self.num_batches = int(num_batches)
        self.num_epochs = int(num_epochs)

    def on_train_begin(self) -> None:
        self._t0 = time.perf_counter()
        self.step = self.start_epoch * self.num_batches

    def on_epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch
        self._seen = 0
        self._t_epoch = time.perf_counter()

    @staticmethod
    def _result(metrics: Any) -> float | None:
        for m in (metrics or {}).values():
            r = getattr(m, "result", None)
            return None if r is None else float(r)
        return None

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        total = next((getattr(m, "total", None) for m in (metrics or {}).values()), None)
        if isinstance(total, int | np.integer):
            self._samples += max(0, int(total) - self._seen)
            self._seen = int(total)
        done = self.step - self.start_epoch * self.num_batches + 1
        elapsed = max(1e-9, time.perf_counter() - self._t0)
        planned = self.num_batches * self.num_epochs
        self.send({"kind": "batch_metrics", "run": self.run, "epoch": self.epoch,
                   "batch": batch, "step": self.step, "loss": None,
                   "accuracy": self._result(metrics), "num_batches": self.num_batches,
                   "num_epochs": self.num_epochs, "start_epoch": self.start_epoch,
                   "samples_per_s": self._samples / elapsed,
                   "eta_s": elapsed / done * max(0, planned - done),
                   "fraction": done / max(1, planned)})
        if self.step % self.sample_every == 0 or batch == 0:
            self.send_rasters(batch)
        self.step += 1
        if self.check is not None:
            self.check(self.epoch, batch)

    def send_rasters(self, batch: int) -> None:
        """The first example of the batch from GeNN's spike recording buffers."""
        cn = self.cn
        if cn is None or getattr(cn, "num_recording_timesteps", None) is None:
            return
        try:
            cn.genn_model.pull_recording_buffers_from_device()
        except Exception:  # noqa: BLE001 - a raster is never worth failing a run
            return
        t_max = self.example_timesteps * self.dt
        for name, pop in self.populations.items():
            try:
                genn_pop = cn.neuron_populations[pop]
                times, ids = genn_pop.spike_recording_data[0]
            except Exception:  # noqa: BLE001
                continue
            times = np.asarray(times, np.float64)
            if times.size:
                times = np.mod(times, t_max)
            self.send({"kind": "raster", "population": name,
                       "times": times.astype(np.float32), "ids": np.asarray(ids, np.int32),
                       "n": int(genn_pop.num_neurons), "t_max": t_max, "epoch": self.epoch,
                       "batch": batch, "example": 0})

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        self.send({"kind": "epoch_metrics", "run": self.run, "epoch": epoch, "loss": None,
                   "accuracy": self._result(metrics),
                   "seconds": time.perf_counter() - self._t_epoch})


def _as_mlgenn_spikes(spikes: list[Any]) -> list[Any]:
    """Spike Studio PreprocessedSpikes -> mlGeNN's namedtuple (same fields)."""
    from ml_genn.utils.data import PreprocessedSpikes

    return [PreprocessedSpikes(np.asarray(s.end_spikes), np.asarray(s.spike_times))
            for s in spikes]


def train_on_genn(project: Project, base_dir: str | None, send: Any, run: str = "run",
                  num_epochs: int | None = None, sample_every: int = 10,
                  check: Any = None) -> float | None:
    """Train ``project`` with mlGeNN on GeNN, streaming worker messages through ``send``;
    returns the final training metric.  Call inside the worker process."""
    from app.project.build import build

    data = build(project, base_dir)
    x, y = data.train_data()
    genn = build_genn(project)
    inp = genn.populations[project.input_population().id]  # type: ignore[union-attr]
    out = genn.populations[project.output_population().id]  # type: ignore[union-attr]
    loss = project.compiler.loss
    metric = ("mean_square_error" if loss is not None and loss["type"] == "mean_square_error"
              else "sparse_categorical_accuracy")
    stream = GeNNStream(send, run, {p.name: genn.populations[p.id] for p in project.populations},
                        float(project.compiler.params["dt"]), project.compiler.timesteps,
                        sample_every, 0, check)
    xs = _as_mlgenn_spikes(list(next(iter(x.values()))))
    ys = next(iter(y.values()))
    with genn.compiler.compile(genn.network) as cn:
        if project.compiler.type == "InferenceCompiler":
            mets, _ = cn.evaluate({inp: xs}, {out: ys}, metrics=metric, callbacks=[stream])
        else:
            mets, _ = cn.train({inp: xs}, {out: ys},
                               num_epochs=int(num_epochs or project.training.num_epochs),
                               shuffle=project.training.shuffle,
                               validation_split=project.training.validation_split,
                               metrics=metric, callbacks=[stream])
    value = mets[out].result
    return None if value is None else float(value)
