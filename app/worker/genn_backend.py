"""Optional GeNN backend: train a project with mlGeNN on GeNN inside the worker.

Offered only when both ``ml_genn`` and ``pygenn`` import (neither is on PyPI;
see the README).  GeNN's CUDA backend is used when pygenn was built with it,
else its single-threaded CPU backend, which only runs batch size 1 --
:func:`genn_warnings` says so before training.

The document is turned into mlGeNN objects by :func:`build_genn` (the same
mapping as :mod:`app.project.mlgenn_export`, so an exported script and a GeNN
run agree), the data come from Spike Studio's own loaders, and
:class:`GeNNStream`, an mlGeNN callback, sends the worker's usual messages
(``batch_metrics``, ``epoch_metrics``, ``raster``, ``voltage``, ``weights``) so
the plots work unchanged.  mlGeNN does not expose the loss value, so ``loss``
is None in those messages.

GeNN generates and compiles C++ code; it goes into ``<run folder>/genn`` (a
temporary folder when the run has none), never into the current directory.

Nothing here imports ml_genn or pygenn at module import time.
"""
from __future__ import annotations

import functools
import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project import schema
from app.project.document import Project
from app.project.shapes import connectivity_args
from app.worker.protocol import WorkerSpec
from app.worker.sampling import SampleClock

GENN_BACKEND = "genn"
CPU_KIND, CUDA_KIND = "single_threaded_cpu", "cuda"
#: Prefix of the GeNN model name; mlGeNN appends the compiler's class name.
MODEL_NAME = "spike_studio"
#: Folder of a run that receives GeNN's generated code (``<model>_CODE``).
CODE_FOLDER = "genn"


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
    from app.training.engine.cuda.support import cuda_device_found, numba_cuda_installed

    if numba_cuda_installed() and cuda_device_found():
        out.append(("cuda", "Spike Studio engine (CUDA)"))
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
    notes += schema.mlgenn_differences(project.compiler.type, project.compiler.params)
    notes.append("mlGeNN does not report the loss, so the loss curve stays empty; accuracy, "
                 "spike rasters, voltages and weights are shown. GeNN runs save no "
                 "checkpoints (they cannot be resumed).")
    return notes


@dataclass
class GeNNBuild:
    """mlGeNN objects of a project (what :func:`build_genn` returns)."""

    network: Any
    compiler: Any
    populations: dict[str, Any] = field(default_factory=dict)  # population id -> Population
    connections: dict[str, Any] = field(default_factory=dict)  # connection id -> Connection


def build_genn(project: Project, kind: str | None = None) -> GeNNBuild:
    """Network and compiler objects of ``project`` built with the real mlGeNN.

    Every population records spikes (for the raster); trained weights in the
    document replace the initializers; on GeNN's CPU backend the batch size is 1.
    """
    import ml_genn
    from ml_genn import compilers, connectivity, initializers, losses, neurons, synapses

    kind = kind or genn_kind() or CPU_KIND
    spec = project.compiler
    info = spec.info
    dp: dict[str, Any] = {}
    if spec.type == "EventPropCompiler":
        from ml_genn.compilers.event_prop_compiler import default_params as dp
    elif spec.type == "EPropCompiler":
        from ml_genn.compilers.eprop_compiler import default_params as dp
    network = ml_genn.Network(dp)
    out = GeNNBuild(network, None)
    with network:
        for p in project.populations:
            kwargs = {k: p.params[k] for k in (q.name for q in schema.model_params(p.model))
                      if k in p.params}
            if p.readout is not None:
                kwargs["readout"] = p.readout
            neuron = getattr(neurons, p.model)(**kwargs)
            out.populations[p.id] = ml_genn.Population(neuron, p.model_shape if p.shape
                                                       else p.size, record_spikes=True,
                                                       name=p.name)
        for c in project.connections:
            w = c.weight
            init: Any = float(w["value"]) if w["type"] == "Constant" else getattr(
                initializers, w["type"])(**{k: v for k, v in w.items() if k != "type"})
            if c.id in project.weights:
                init = np.asarray(project.weights[c.id], np.float32)
            cc = c.connectivity
            conn_cls = getattr(connectivity, cc["type"])
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
            syn = getattr(synapses, s["type"])(**{k: v for k, v in s.items() if k != "type"})
            extra = {} if c.max_delay_steps is None else {"max_delay_steps": c.max_delay_steps}
            out.connections[c.id] = ml_genn.Connection(
                out.populations[c.source], out.populations[c.target], conn, syn, name=c.name,
                **extra)
    args = {k: v for k, v in spec.params.items() if k not in schema.not_in_mlgenn(spec.type)}
    if kind == CPU_KIND:
        args["batch_size"] = 1
    if info.has_losses and spec.loss is not None:
        args["losses"] = (losses.RelativeMeanSquareError(spec.loss["delta"])
                          if spec.loss["type"] == "RelativeMeanSquareError"
                          else spec.loss["type"])
    if info.has_optimiser and spec.optimiser is not None:
        args["optimiser"] = _optimiser(spec.optimiser)
    if info.has_delay_learning:
        if spec.delay_optimiser is not None:
            args["delay_optimiser"] = _optimiser(spec.delay_optimiser)
        if spec.delay_learn_conns:
            args["delay_learn_conns"] = [out.connections[c] for c in spec.delay_learn_conns]
    if info.has_deep_r and spec.deep_r_conns:
        args["deep_r_conns"] = [out.connections[c] for c in spec.deep_r_conns]
    args["backend"] = kind
    out.compiler = getattr(compilers, spec.type)(**args)
    return out


def _optimiser(spec: dict[str, Any]) -> Any:
    from ml_genn import optimisers

    return getattr(optimisers, spec["type"])(**{k: v for k, v in spec.items() if k != "type"})


def compile_in(compiler: Any, network: Any, folder: str | Path) -> Any:
    """Compile ``network`` and build GeNN's code in ``folder`` (not the current directory).

    mlGeNN builds on ``__enter__`` unless the model is built already, and its
    ``__enter__`` returns None: use the result as ``cn = compile_in(...)``, then
    ``with cn:``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cn = compiler.compile(network, name=MODEL_NAME)
    cn.genn_model.build(path_to_model=str(folder))
    return cn


def genn_weights(cn: Any, conn: Any) -> np.ndarray | None:
    """Dense ``[pre, post]`` weights of ``conn`` pulled from GeNN (None if not dense)."""
    from pygenn import SynapseMatrixConnectivity

    sg = cn.connection_populations[conn]
    if not sg.matrix_type & SynapseMatrixConnectivity.DENSE:
        return None
    var = sg.vars["g"]
    var.pull_from_device()
    n_pre, n_post = sg.src.num_neurons, sg.trg.num_neurons
    return np.array(var.values, np.float32).reshape(n_pre, n_post)


def pull_voltage(cn: Any, pop: Any, whole_batch: bool = False) -> np.ndarray:
    """Membrane voltage of ``pop`` now, from GeNN: the batch's first example, or
    ``(batch, neurons)`` with ``whole_batch``."""
    from ml_genn.utils.value import get_genn_var_name

    var = cn.neuron_populations[pop].vars[get_genn_var_name(pop.neuron, "v")]
    var.pull_from_device()
    view = np.asarray(var.current_view, np.float32)
    if whole_batch:
        return np.array(view.reshape(-1, view.shape[-1]))
    return np.array(view[0] if view.ndim > 1 else view)


@dataclass
class LiveState:
    """State the training callback shares with the validation callback and the metric.

    mlGeNN uses shallow copies of the callback and metric objects it is given,
    so what they share must live in one object they all point to."""

    epoch: int = 0
    out_trajectory: list[np.ndarray] = field(default_factory=list)  # output V per step


class GeNNStream:
    """Streams the worker protocol's messages from an mlGeNN training run.

    mlGeNN accepts only ``ml_genn.callbacks.Callback`` objects, so the worker
    instantiates ``callback_class(GeNNStream)`` (this class mixed with mlGeNN's base).  On
    batch 0 and then every ``sample_every`` batches, at most every
    ``min_sample_interval_s`` seconds (``SampleClock``), it sends the first example's spike
    raster, the chosen neurons' voltages and weight histograms; ``check(epoch,
    batch)`` (pause/stop) runs at every batch end and may raise to stop.
    With per-timestep regression targets it also records the output voltage at
    every step, which :func:`trajectory_mse_metric` compares with the targets.
    """

    def __init__(self, spec: WorkerSpec, send: Callable[[dict], None], genn: GeNNBuild,
                 project: Project, history: dict[str, list] | None = None,
                 check: Callable[[int, int], None] | None = None,
                 new_settings: Callable[[], dict] | None = None,
                 regression: bool = False, per_timestep: bool = False) -> None:
        self.spec = spec
        self.send = send
        self.genn = genn
        self.project = project
        self.history = history if history is not None else {"batch": [], "epoch": []}
        self.check = check
        self.new_settings = new_settings
        self.regression = regression
        self.per_timestep = per_timestep
        self.dt = float(project.compiler.params["dt"])
        self.example_timesteps = int(project.compiler.timesteps)
        self.pops = {p.name: genn.populations[p.id] for p in project.populations}
        self.output = genn.populations[project.output_population().id]  # type: ignore[union-attr]
        self.cn: Any = None
        self.num_batches = 0
        self.num_epochs = 0
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.samples = 0
        self._sample = False
        self._clock = SampleClock(spec.min_sample_interval_s)
        self._t_start = 0.0
        self._t_epoch = 0.0
        self._v_rows: list[np.ndarray] = []
        self.live = LiveState()
        self._vpop: Any = None

    # ----- mlGeNN hooks --------------------------------------------------------------------
    def set_params(self, compiled_network: Any = None, num_batches: int = 0,
                   num_epochs: int = 0, **kwargs: Any) -> None:
        self.cn = compiled_network
        self.num_batches = int(num_batches)
        self.num_epochs = int(num_epochs)
        self._vpop = self._voltage_population()

    def _voltage_population(self) -> Any:
        """The population whose voltages are streamed: the chosen one, else the first hidden."""
        candidates = [p for p in self.project.populations if not p.is_input]
        if not candidates:
            return None
        chosen = next((p for p in candidates if p.name == self.spec.voltage_population), None)
        if chosen is None:
            hidden = [p for p in candidates if p.readout is None]
            chosen = hidden[0] if hidden else candidates[0]
        return self.genn.populations[chosen.id]

    def on_train_begin(self) -> None:
        self._t_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int) -> None:
        self.epoch = self.live.epoch = epoch
        self._t_epoch = time.perf_counter()

    def on_batch_begin(self, batch: int) -> None:
        self.batch = batch
        if self.new_settings is not None:
            changed = self.new_settings()
            if changed.get("sample_every"):
                self.spec.sample_every = max(1, int(changed["sample_every"]))
            if changed.get("voltage_neurons"):
                self.spec.voltage_neurons = [int(i) for i in changed["voltage_neurons"]][:64]
            if "voltage_population" in changed:
                self.spec.voltage_population = changed["voltage_population"]
                self._vpop = self._voltage_population()
        self._sample = self._clock.due(self.step, batch, self.spec.sample_every)
        self._v_rows = []
        self.live.out_trajectory.clear()

    def on_timestep_end(self, timestep: int) -> None:
        if self.per_timestep:
            self.live.out_trajectory.append(pull_voltage(self.cn, self.output, True))
        if self._sample and self._vpop is not None:
            self._v_rows.append(pull_voltage(self.cn, self._vpop))

    @staticmethod
    def _result(metrics: Any) -> float | None:
        """The value of the (single) output's metric."""
        for m in (metrics or {}).values():
            r = getattr(m, "result", None)
            return None if r is None else float(r)
        return None

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        value = self._result(metrics)
        self.samples += int(self.cn.genn_model.batch_size)
        self.step += 1
        done = self.step
        elapsed = max(1e-9, time.perf_counter() - self._t_start)
        planned = self.num_batches * self.num_epochs
        msg = {"kind": "batch_metrics", "run": self.spec.run, "epoch": self.epoch,
               "batch": batch, "step": self.step - 1, "loss": None,
               "accuracy": None if self.regression else value,
               "mse": value if self.regression else None,
               "num_batches": self.num_batches, "num_epochs": self.num_epochs,
               "start_epoch": 0, "samples_per_s": self.samples / elapsed,
               "eta_s": elapsed / done * max(0, planned - done),
               "fraction": done / max(1, planned)}
        self.send(msg)
        self.history["batch"].append({k: msg[k] for k in ("step", "epoch", "batch", "loss",
                                                           "accuracy", "mse", "samples_per_s")})
        if self._sample:
            self.send_rasters(batch)
            self.send_voltages(batch)
            self.send_weights(batch)
        if self.check is not None:
            self.check(self.epoch, batch)

    def send_rasters(self, batch: int) -> None:
        """The first example's spikes of every population, from GeNN's recording buffers."""
        self.cn.genn_model.pull_recording_buffers_from_device()
        t_max = self.example_timesteps * self.dt
        for name, pop in self.pops.items():
            genn_pop = self.cn.neuron_populations[pop]
            times, ids = genn_pop.spike_recording_data[0]
            times = np.asarray(times, np.float64)
            if times.size:
                times = np.mod(times, t_max)  # absolute times when time is not reset
            self.send({"kind": "raster", "population": name,
                       "times": times.astype(np.float32), "ids": np.asarray(ids, np.int32),
                       "n": int(genn_pop.num_neurons), "t_max": t_max, "epoch": self.epoch,
                       "batch": batch, "example": 0})

    def send_voltages(self, batch: int) -> None:
        """Voltages of the chosen neurons over the batch's first example."""
        if not self._v_rows:
            return
        vals = np.stack(self._v_rows)
        ids = [i for i in self.spec.voltage_neurons if 0 <= i < vals.shape[1]] \
            or list(range(min(8, vals.shape[1])))
        stride = max(1, vals.shape[0] // max(1, self.spec.max_voltage_points))
        thresh = getattr(self._vpop.neuron, "v_thresh", None)
        self.send({"kind": "voltage", "population": self._vpop.name,
                   "t": np.arange(0, vals.shape[0], stride, dtype=np.float32) * np.float32(
                       self.dt),
                   "V": np.ascontiguousarray(vals[::stride, ids], np.float32), "ids": ids,
                   "v_thresh": None if thresh is None else float(thresh),
                   "epoch": self.epoch, "batch": batch, "example": 0})

    def send_weights(self, batch: int) -> None:
        """One ``weights`` message (subsample + statistics) per dense connection."""
        rng = np.random.default_rng(0)
        for c in self.project.connections:
            w = genn_weights(self.cn, self.genn.connections[c.id])
            if w is None:
                continue
            w = w.ravel()
            finite = w[np.isfinite(w)]
            vals = finite if finite.size <= self.spec.max_weight_values else \
                rng.choice(finite, self.spec.max_weight_values, replace=False)
            stats = ({"mean": float(finite.mean()), "std": float(finite.std()),
                      "min": float(finite.min()), "max": float(finite.max())}
                     if finite.size else {"mean": None, "std": None, "min": None, "max": None})
            self.send({"kind": "weights", "connection": c.name, "values": vals,
                       "count": int(w.size), "non_finite": int(w.size - finite.size),
                       "epoch": self.epoch, "batch": batch, **stats})

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        value = self._result(metrics)
        row = {"epoch": epoch, "loss": None,
               "accuracy": None if self.regression else value,
               "mse": value if self.regression else None,
               "seconds": time.perf_counter() - self._t_epoch}
        self.send({"kind": "epoch_metrics", "run": self.spec.run, **row})
        self.merge_epoch(row)

    def merge_epoch(self, row: dict[str, Any]) -> None:
        """Add or complete the history row of ``row["epoch"]`` and save the history."""
        for r in self.history["epoch"]:
            if r["epoch"] == row["epoch"]:
                r.update({k: v for k, v in row.items() if v is not None})
                break
        else:
            self.history["epoch"].append(dict(row))
        if self.spec.run_dir:
            from app.worker import runs

            runs.write_history(Path(self.spec.run_dir), self.history)
            runs.update_status(Path(self.spec.run_dir), epochs_done=row["epoch"] + 1)


class GeNNValidationStream:
    """Validation side: the epoch's validation metric, and pause/stop at every batch."""

    def __init__(self, stream: GeNNStream) -> None:
        self.stream = stream
        self.cn: Any = None

    def set_params(self, compiled_network: Any = None, **kwargs: Any) -> None:
        self.cn = compiled_network

    def on_batch_begin(self, batch: int) -> None:
        self.stream.live.out_trajectory.clear()

    def on_timestep_end(self, timestep: int) -> None:
        if self.stream.per_timestep:
            self.stream.live.out_trajectory.append(
                pull_voltage(self.cn, self.stream.output, True))

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        if self.stream.check is not None:
            self.stream.check(self.stream.live.epoch, batch)

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        value = self.stream._result(metrics)
        reg = self.stream.regression
        row = {"epoch": epoch, "val_loss": None, "val_accuracy": None if reg else value,
               "val_mse": value if reg else None}
        self.stream.send({"kind": "epoch_metrics", "run": self.stream.spec.run, **row})
        self.stream.merge_epoch(row)


@functools.cache
def callback_class(cls: type) -> type:
    """``cls`` mixed with ``ml_genn.callbacks.Callback`` (mlGeNN refuses other objects)."""
    from ml_genn.callbacks import Callback

    return type(cls.__name__ + "Callback", (cls, Callback), {})


def trajectory_mse_metric(stream: GeNNStream) -> Any:
    """An mlGeNN metric: mean square error of the output voltage over every step against
    per-timestep targets (mlGeNN's own MeanSquareError compares only the readout of
    the last step, and refuses targets of shape (examples, steps, outputs)).  Mean
    over examples of the mean over steps and outputs, as Spike Studio's metric."""
    from ml_genn.metrics import Metric

    class TrajectoryMSE(Metric):
        def __init__(self) -> None:
            self.reset()

        def update(self, y_true: Any, y_pred: Any, communicator: Any) -> None:
            targets = np.asarray(y_true, np.float64)  # (examples, T, n)
            traj = np.stack(stream.live.out_trajectory, axis=1)  # (batch, T, n)
            for k in range(targets.shape[0]):
                self.sum += float(np.mean((traj[k].astype(np.float64) - targets[k]) ** 2))
                self.total += 1

        def reset(self) -> None:
            self.sum = 0.0
            self.total = 0

        @property
        def result(self) -> float | None:
            return None if self.total == 0 else self.sum / self.total

    return TrajectoryMSE()


def _as_mlgenn_spikes(spikes: list[Any]) -> list[Any]:
    """Spike Studio PreprocessedSpikes -> mlGeNN's namedtuple (same fields)."""
    from ml_genn.utils.data import PreprocessedSpikes

    return [PreprocessedSpikes(np.asarray(s.end_spikes), np.asarray(s.spike_times))
            for s in spikes]


@dataclass
class GeNNResult:
    """What :func:`train_on_genn` returns."""

    metric: str  # "sparse_categorical_accuracy" or "mean_square_error"
    value: float | None  # the last epoch's training metric
    weights: dict[str, np.ndarray]  # connection id -> trained dense weights
    code_dir: Path | None  # where GeNN's code was built (None: a removed temporary folder)


def train_on_genn(project: Project, spec: WorkerSpec, send: Callable[[dict], None],
                  check: Callable[[int, int], None] | None = None,
                  new_settings: Callable[[], dict] | None = None,
                  history: dict[str, list] | None = None) -> GeNNResult:
    """Train ``project`` with mlGeNN on GeNN, streaming worker messages through ``send``.

    ``spec`` gives the run folder (GeNN's code goes to ``<run_dir>/genn``; a
    temporary folder without one), epochs, sampling and voltage choices.  The
    final weights are saved to ``<run_dir>/weights`` like a CPU run's.  Call
    inside the worker process (mlGeNN allows one open compiled network per process).
    """
    from app.project.build import load_dataset
    from app.project.errors import ProjectError

    if project.compiler.type == "InferenceCompiler":
        raise ValueError("the Inference compiler does not train; use Evaluate")
    inp_spec, out_spec = project.input_population(), project.output_population()
    dataset = load_dataset(project, spec.base_dir)
    if dataset is None or inp_spec is None or out_spec is None:
        raise ProjectError("the project has no dataset bound to an input and an output",
                           "dataset")
    labels = np.asarray(dataset.train_labels)
    regression = labels.dtype.kind == "f"
    per_timestep = regression and labels.ndim == 3
    genn = build_genn(project)
    inp, out = genn.populations[inp_spec.id], genn.populations[out_spec.id]
    history = history if history is not None else {"batch": [], "epoch": []}
    stream = callback_class(GeNNStream)(spec, send, genn, project, history, check,
                                        new_settings, regression, per_timestep)
    metric_name = "mean_square_error" if regression else "sparse_categorical_accuracy"
    metric: Any = trajectory_mse_metric(stream) if per_timestep else metric_name
    run_dir = Path(spec.run_dir) if spec.run_dir else None
    num_epochs = int(spec.num_epochs if spec.num_epochs is not None
                     else project.training.num_epochs)
    np.random.seed(project.training.seed)  # mlGeNN shuffles with NumPy's global generator
    with tempfile.TemporaryDirectory(prefix="spike-studio-genn-") as tmp:
        code_dir = run_dir / CODE_FOLDER if run_dir is not None else Path(tmp)
        if run_dir is not None:
            from app.worker import runs

            runs.update_status(run_dir, status="running", message="compiling GeNN code")
        cn = compile_in(genn.compiler, genn.network, code_dir)
        if run_dir is not None:
            runs.update_status(run_dir, message="")
        kwargs: dict[str, Any] = {}
        if project.training.validation_split:
            kwargs["validation_split"] = project.training.validation_split
            kwargs["validation_callbacks"] = [callback_class(GeNNValidationStream)(stream)]
        with cn:
            result = cn.train({inp: _as_mlgenn_spikes(list(dataset.train_spikes))},
                              {out: labels}, num_epochs=num_epochs,
                              shuffle=project.training.shuffle, metrics=metric,
                              callbacks=[stream], **kwargs)
            value = result[0][out].result
            weights = {c.id: w for c in project.connections
                       if (w := genn_weights(cn, genn.connections[c.id])) is not None}
    if run_dir is not None:
        from app.training.serialisers import Numpy
        from app.worker import runs

        ser = Numpy(run_dir / "weights")
        for c in project.connections:
            if c.id in weights:
                ser.serialise(("final", c.name, "g"), weights[c.id])
        runs.write_history(run_dir, history)
        runs.update_status(run_dir, status="finished", message="finished")
    return GeNNResult(metric_name, None if value is None else float(value), weights,
                      code_dir if run_dir is not None else None)
