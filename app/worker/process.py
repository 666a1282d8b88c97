"""The worker process: build the document, train it, stream messages.

:func:`run_worker` is the ``spawn`` target.  Training uses the library's own
loop (``CompiledTrainingNetwork.train``); everything the GUI sees comes from
:class:`StreamCallback`, a callback with the library's hooks
(``on_batch_end``, ``recording_request``/``on_recording``, ...).  Stop and
pause are checked at the end of every batch.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from app.project.memory import VOLTAGE_BUDGET_BYTES
from app.worker.protocol import FAULT_ENV, WorkerSpec

DROPPABLE = ("raster", "voltage", "weights")
MAX_QUEUED = 400


class StopRequested(Exception):
    """The GUI asked the worker to stop (raised at a batch end)."""


class Sender:
    """Sends messages from a thread so a slow GUI never blocks training.

    Plot samples (raster, voltage, weights) are dropped when the GUI falls far
    behind; metrics and state messages never are.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.q: queue.Queue = queue.Queue()
        self.broken = False
        self.thread = threading.Thread(target=self._loop, name="worker-sender", daemon=True)
        self.thread.start()

    def __call__(self, msg: dict[str, Any]) -> None:
        if msg.get("kind") in DROPPABLE and self.q.qsize() > MAX_QUEUED:
            return
        self.q.put(msg)

    def _loop(self) -> None:
        while True:
            msg = self.q.get()
            if msg is None:
                return
            if self.broken:
                continue
            try:
                self.conn.send(msg)
            except (OSError, EOFError, BrokenPipeError, ValueError):
                self.broken = True  # the GUI went away: keep training, stop talking

    def close(self, timeout: float = 10.0) -> None:
        """Flush every queued message, then close the pipe."""
        self.q.put(None)
        self.thread.join(timeout)
        try:
            self.conn.close()
        except OSError:
            pass


class Control:
    """Pause/stop flags shared with the client (multiprocessing events)."""

    def __init__(self, stop: Any, pause: Any, send: Sender, settings: Any = None) -> None:
        self.stop = stop
        self.pause = pause
        self.send = send
        self.settings = settings  # reading end of the GUI's sampling-settings pipe
        self.paused_seconds = 0.0

    def new_settings(self) -> dict[str, Any]:
        """Sampling settings the GUI sent since the last call (merged)."""
        out: dict[str, Any] = {}
        try:
            while self.settings is not None and self.settings.poll(0):
                msg = self.settings.recv()
                if isinstance(msg, dict):
                    out.update(msg)
        except (EOFError, OSError):
            self.settings = None  # the GUI went away
        return out

    def check(self, epoch: int, batch: int) -> None:
        """Block while paused; raise :class:`StopRequested` when asked to stop."""
        if self.pause is not None and self.pause.is_set() and not self.stop.is_set():
            t0 = time.perf_counter()
            self.send({"kind": "paused", "epoch": epoch, "batch": batch})
            while self.pause.is_set() and not self.stop.is_set():
                self.stop.wait(0.05)
            self.paused_seconds += time.perf_counter() - t0
            self.send({"kind": "resumed", "epoch": epoch, "batch": batch})
        if self.stop is not None and self.stop.is_set():
            raise StopRequested()


def _fault(epoch: int, batch: int) -> None:
    """Test hook: ``SPIKE_STUDIO_WORKER_FAULT=memory_error@E:B`` raises there,
    ``hang@E:B`` blocks there (a stuck kernel)."""
    spec = os.environ.get(FAULT_ENV, "")
    if not spec or "@" not in spec:
        return
    what, where = spec.split("@", 1)
    try:
        e, b = (int(v) for v in where.split(":"))
    except ValueError:
        return
    if (e, b) == (epoch, batch) and what == "memory_error":
        raise MemoryError()
    if (e, b) == (epoch, batch) and what == "hang":
        time.sleep(3600)


class StreamCallback:
    """Streams metrics, progress, samples and checkpoints of a training run."""

    def __init__(self, spec: WorkerSpec, send: Sender, control: Control, network: Any,
                 history: dict[str, list], accuracy_name: str) -> None:
        self.spec = spec
        self.send = send
        self.control = control
        self.network = network
        self.history = history
        self.accuracy_name = accuracy_name
        self.pop = network.populations[0]  # CallbackList.on_recording reads .pop
        self.run_dir = Path(spec.run_dir) if spec.run_dir else None
        self.cn: Any = None
        self.num_batches = 0
        self.num_epochs = 0
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.samples = 0
        self._sample = False
        self._recorded = False
        self._t_start = 0.0
        self._t_epoch = 0.0
        self._vpop: Any = None
        self._vbytes_ok = True
        self._checkpoints: list[int] = []
        self._seen = 0
        self._done_at_start = 0
        self._hidden: dict[str, slice] = {}  # spiking populations without a readout
        self._epoch_spikes: dict[str, int] = {}
        self._last_dead: list[str] = []
        self._sim_counts = False

    # ----- library hooks -----------------------------------------------------------------
    def set_params(self, compiled_network: Any = None, num_batches: int = 0,
                   num_epochs: int = 0, **kwargs: Any) -> None:
        self.cn = compiled_network
        self.num_batches = int(num_batches)
        self.num_epochs = int(num_epochs)
        self._vpop = self._voltage_population()
        lay = self.cn.layout
        self._hidden = {p.name: lay.pop_slice(p.name) for p in self.network.populations
                        if not p.neuron.is_input and p.neuron.readout is None
                        and getattr(p.neuron, "spiking", True)}
        # EventProp's simulator counts spikes per neuron every trial; other engines
        # record the populations not yet seen spiking this epoch
        self._sim_counts = hasattr(getattr(self.cn, "sim", None), "nspk")

    def _voltage_population(self) -> Any:
        pops = [p for p in self.network.populations if not p.neuron.is_input]
        if not pops:
            return None
        if self.spec.voltage_population:
            for p in pops:
                if p.name == self.spec.voltage_population:
                    return p
        hidden = [p for p in pops if p.neuron.readout is None]
        choice = hidden[0] if hidden else pops[0]

        def nbytes(p: Any) -> int:
            return self.cn.batch_size * self.cn.example_timesteps * p.num_neurons * 4

        if nbytes(choice) > VOLTAGE_BUDGET_BYTES:
            # the engine records a whole population for the whole batch: fall back to
            # the (small) output population rather than allocate hundreds of MB
            outs = [p for p in pops if p.neuron.readout is not None]
            if outs:
                choice = outs[0]
        # even the output is too big (very long trials): no voltage plot, no allocation
        return choice if nbytes(choice) <= VOLTAGE_BUDGET_BYTES else None

    def on_train_begin(self) -> None:
        self._t_start = time.perf_counter()
        self.step = self.spec.start_epoch * self.num_batches
        self._done_at_start = self.step

    def on_epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch
        self._seen = 0
        self._t_epoch = time.perf_counter()
        self._epoch_spikes = {name: 0 for name in self._hidden}

    def _silent(self) -> list[str]:
        """Hidden populations without a spike so far this epoch."""
        return [n for n, c in self._epoch_spikes.items() if c == 0]

    def _count_sim_spikes(self) -> None:
        nspk = self.cn.sim.nspk
        for name in self._silent():
            self._epoch_spikes[name] += int(nspk[:, self._hidden[name]].sum())

    def _count_recorded_spikes(self, rec: Any) -> None:
        if rec.spike_ids is None:
            return
        for name in self._silent():
            if name not in rec.spike_pops:
                continue
            sl = self._hidden[name]
            self._epoch_spikes[name] += sum(int(((ids >= sl.start) & (ids < sl.stop)).sum())
                                            for ids in rec.spike_ids)

    def _report_dead(self, epoch: int) -> None:
        dead = self._silent()
        if dead and dead != self._last_dead:
            names = ", ".join(f"'{n}'" for n in dead)
            self.send({"kind": "dead_populations", "run": self.spec.run, "epoch": epoch,
                       "populations": dead,
                       "message": f"{names} fired no spike in epoch {epoch}: its neurons never "
                                  "reach threshold, so nothing behind it can learn; run "
                                  "Calibrate (or raise the initial weights into it)"})
        self._last_dead = dead

    def on_batch_begin(self, batch: int) -> None:
        self.batch = batch
        _fault(self.epoch, batch)
        changed = self.control.new_settings()
        if changed:
            self.apply_settings(changed)
        every = max(1, int(self.spec.sample_every))
        self._sample = (self.step % every == 0) or batch == 0
        self._recorded = False

    def apply_settings(self, changed: dict[str, Any]) -> None:
        """Change what is sampled: ``voltage_neurons``, ``voltage_population``,
        ``sample_every`` (unknown keys are ignored)."""
        if "voltage_neurons" in changed:
            ids = [int(i) for i in changed["voltage_neurons"] or []][:64]
            self.spec.voltage_neurons = ids or list(range(8))
        if changed.get("sample_every"):
            self.spec.sample_every = max(1, int(changed["sample_every"]))
        if "voltage_population" in changed:
            self.spec.voltage_population = changed["voltage_population"]
            self._vpop = self._voltage_population()

    def recording_request(self) -> tuple[list, list]:
        watch = [] if self._sim_counts else self._silent()
        if not self._sample:
            return [], watch
        rv = [(self._vpop.name, "V")] if self._vpop is not None else []
        return rv, [p.name for p in self.network.populations]

    def on_recording(self, rec: Any, example_ids: Any, start: int, dt: float) -> None:
        if not self._sim_counts:
            self._count_recorded_spikes(rec)
        if not self._sample or self._recorded:
            return
        self._recorded = True
        lay = self.cn.layout
        t_max = float(self.cn.example_timesteps * dt)
        ex = int(example_ids[0]) if len(example_ids) else 0
        if rec.spike_steps is not None:
            steps, gids = rec.spike_steps[0], rec.spike_ids[0]
            for p in self.network.populations:
                sl = lay.pop_slice(p.name)
                sel = (gids >= sl.start) & (gids < sl.stop)
                self.send({"kind": "raster", "population": p.name,
                           "times": (steps[sel].astype(np.float32) * np.float32(dt)),
                           "ids": (gids[sel] - sl.start).astype(np.int32),
                           "n": int(p.num_neurons), "t_max": t_max, "epoch": self.epoch,
                           "batch": self.batch, "example": ex})
        key = (self._vpop.name, "V") if self._vpop is not None else None
        if rec.values is not None and key in rec.var_slices:
            vals = rec.values[0, :, rec.var_slices[key]]
            ids = [i for i in self.spec.voltage_neurons if 0 <= i < vals.shape[1]] \
                or list(range(min(8, vals.shape[1])))
            stride = max(1, vals.shape[0] // max(1, self.spec.max_voltage_points))
            v = np.ascontiguousarray(vals[::stride, ids], np.float32)
            t = (np.arange(0, vals.shape[0], stride, dtype=np.float32) * np.float32(dt))
            thresh = getattr(self._vpop.neuron, "v_thresh", None)
            self.send({"kind": "voltage", "population": self._vpop.name, "t": t, "V": v,
                       "ids": ids, "v_thresh": None if thresh is None else float(thresh),
                       "epoch": self.epoch, "batch": self.batch, "example": ex})

    def _metric(self, metrics: Any) -> float | None:
        for m in (metrics or {}).values():
            r = m.result
            return None if r is None else float(r)
        return None

    def _accuracy(self, metrics: Any) -> float | None:
        """Classification accuracy (None for regression)."""
        return None if self.accuracy_name == "mean_square_error" else self._metric(metrics)

    def _mse(self, metrics: Any) -> float | None:
        """Mean square error metric (None for classification)."""
        return self._metric(metrics) if self.accuracy_name == "mean_square_error" else None

    def _batch_examples(self, metrics: Any) -> int:
        """Examples in the batch just done (from the metric's running total)."""
        for m in (metrics or {}).values():
            total = getattr(m, "total", None)
            if isinstance(total, int):
                n = total - self._seen
                self._seen = total
                if n > 0:
                    return n
        return self.cn.batch_size

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        now = time.perf_counter()
        if self._sim_counts:
            self._count_sim_spikes()
        self.samples += self._batch_examples(metrics)
        self.step += 1
        elapsed = max(1e-9, now - self._t_start - self.control.paused_seconds)
        done = self.step - self._done_at_start
        total = self.num_batches * self.num_epochs
        loss = None if self.cn.last_loss is None else float(self.cn.last_loss)
        acc = self._accuracy(metrics)
        msg = {"kind": "batch_metrics", "run": self.spec.run, "epoch": self.epoch,
               "batch": batch, "step": self.step - 1, "loss": loss, "accuracy": acc,
               "mse": self._mse(metrics),
               "num_batches": self.num_batches, "num_epochs": self.num_epochs,
               "start_epoch": self.spec.start_epoch, "samples_per_s": self.samples / elapsed,
               "eta_s": elapsed / done * max(0, total - done),
               "fraction": done / max(1, total)}
        self.send(msg)
        self.history["batch"].append({k: msg[k] for k in ("step", "epoch", "batch", "loss",
                                                           "accuracy", "mse", "samples_per_s")})
        if self._sample:
            self.send_weights()
        self.control.check(self.epoch, batch)

    def send_weights(self) -> None:
        """One ``weights`` message (subsample + statistics) per connection."""
        rng = np.random.default_rng(0)
        for c in self.cn.layout.connections:
            w = np.asarray(self.cn.get_weights(c), np.float32).ravel()
            finite = w[np.isfinite(w)]
            vals = finite if finite.size <= self.spec.max_weight_values else \
                rng.choice(finite, self.spec.max_weight_values, replace=False)
            stats = ({"mean": float(finite.mean()), "std": float(finite.std()),
                      "min": float(finite.min()), "max": float(finite.max())}
                     if finite.size else {"mean": None, "std": None, "min": None, "max": None})
            self.send({"kind": "weights", "connection": c.name, "values": vals,
                       "count": int(w.size), "non_finite": int(w.size - finite.size),
                       "epoch": self.epoch, "batch": self.batch, **stats})

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        row = {"epoch": epoch, "loss": float(getattr(self.cn, "epoch_loss", np.nan)),
               "accuracy": self._accuracy(metrics), "mse": self._mse(metrics),
               "seconds": time.perf_counter() - self._t_epoch}
        self.send({"kind": "epoch_metrics", "run": self.spec.run, **row})
        self._report_dead(epoch)
        self._merge_epoch(row)
        if self.run_dir is not None and (epoch + 1) % max(1, self.spec.checkpoint_every) == 0:
            self.checkpoint(epoch)
        self._write_history()

    def _merge_epoch(self, row: dict[str, Any]) -> None:
        for r in self.history["epoch"]:
            if r["epoch"] == row["epoch"]:
                r.update({k: v for k, v in row.items() if v is not None})
                return
        self.history["epoch"].append(dict(row))

    def _write_history(self) -> None:
        if self.run_dir is not None:
            from app.worker.runs import update_status, write_history

            write_history(self.run_dir, self.history)
            update_status(self.run_dir, epochs_done=self.epoch + 1)

    def checkpoint(self, epoch: int) -> None:
        """Weights (``cn.save``) and optimiser state/params of every trainable."""
        from app.training.serialisers import Numpy
        from app.worker.runs import update_status

        assert self.run_dir is not None
        self.cn.save((epoch,), Numpy(self.run_dir / "checkpoints"))
        opt = Numpy(self.run_dir / "optimiser")
        for i, t in enumerate(self.cn.trainables):
            opt.serialise((epoch, i, "param"), t.param)
            for k, v in t.state.items():
                opt.serialise((epoch, i, k), np.asarray(v))
        self._checkpoints.append(epoch)
        status = update_status(self.run_dir, last_checkpoint=epoch)
        cps = sorted(set(status.get("checkpoints", [])) | {epoch})
        update_status(self.run_dir, checkpoints=cps)
        self.send({"kind": "checkpoint", "epoch": epoch,
                   "path": str(self.run_dir / "checkpoints")})


class ValidationStream:
    """Validation-side callback: stop/pause checks and the epoch's val metrics."""

    def __init__(self, stream: StreamCallback) -> None:
        self.stream = stream
        self.cn: Any = None

    def set_params(self, compiled_network: Any = None, **kwargs: Any) -> None:
        self.cn = compiled_network

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        self.stream.control.check(self.stream.epoch, batch)

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        row = {"epoch": epoch, "val_loss": float(getattr(self.cn, "val_epoch_loss", np.nan)),
               "val_accuracy": self.stream._accuracy(metrics),
               "val_mse": self.stream._mse(metrics)}
        self.stream.send({"kind": "epoch_metrics", "run": self.stream.spec.run, **row})
        self.stream._merge_epoch(row)
        self.stream._write_history()


class ControlCallback:
    """Stop/pause checks only (evaluate, predict)."""

    def __init__(self, control: Control) -> None:
        self.control = control

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        self.control.check(0, batch)


def restore_checkpoint(cn: Any, run_dir: Path, epoch: int) -> None:
    """Put back every trainable's values and optimiser state saved at ``epoch``."""
    from app.training.serialisers import Numpy

    opt = Numpy(Path(run_dir) / "optimiser")
    for i, t in enumerate(cn.trainables):
        t.param[...] = opt.deserialise((epoch, i, "param"))
        for k in list(t.state):
            t.state[k] = np.array(opt.deserialise((epoch, i, k)), copy=True)


def _where(message: str, network: Any) -> dict[str, str]:
    """The population or connection a library error message names."""
    if network is None:
        return {}
    names = re.findall(r"'([^']+)'", message)
    pops = {p.name for p in network.populations}
    conns = {c.name for c in network.connections}
    for n in names:
        if n in conns:
            return {"connection": n}
        if n in pops:
            return {"population": n}
    return {}


def _field_where(field: str, project: Any) -> dict[str, str]:
    """``connections[0]`` / ``populations[1]`` of a ProjectError, as a name."""
    m = re.match(r"(populations|connections)\[(\d+)\]", field)
    if m is None or project is None:
        return {}
    items = project.populations if m.group(1) == "populations" else project.connections
    i = int(m.group(2))
    if i >= len(items):
        return {}
    return {m.group(1)[:-1]: items[i].name}


def _memory_message(network: Any, cn: Any, stage: str) -> tuple[str, dict[str, str]]:
    """Plain words for a MemoryError, naming the largest population and connection."""
    if network is None:
        return f"out of memory {stage}", {}
    T = getattr(cn, "example_timesteps", None)
    B = getattr(cn, "batch_size", None)
    pop = max(network.populations, key=lambda p: p.num_neurons)
    where: dict[str, str] = {"population": pop.name}
    text = (f"out of memory {stage}: the largest population is '{pop.name}' "
            f"({pop.num_neurons} neurons")
    text += f" x {T} steps x batch {B})" if T and B else ")"
    if network.connections:
        def size(c: Any) -> int:
            return c.source.num_neurons * c.target.num_neurons
        conn = max(network.connections, key=size)
        where["connection"] = conn.name
        text += f", the largest connection is '{conn.name}' (up to {size(conn)} synapses)"
    text += "; lower batch_size, example_timesteps or max_spikes, or limit the examples"
    return text, where


def _metric_name(project: Any) -> str:
    loss = project.compiler.loss
    return "mean_square_error" if loss and loss["type"] == "mean_square_error" \
        else "sparse_categorical_accuracy"


def _dense_weights(project: Any, built: Any, cn: Any) -> dict[str, np.ndarray]:
    from app.project.train import read_trained_weights

    return read_trained_weights(project, built, cn)


def run_worker(spec: WorkerSpec, conn: Any, stop: Any = None, pause: Any = None,
               settings: Any = None) -> None:
    """Process entry point: run ``spec`` and stream messages to ``conn``;
    ``settings`` (optional pipe end) brings sampling changes from the GUI."""
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if spec.nice:
        try:
            os.nice(spec.nice)  # the GUI thread must win the CPU over training
        except (AttributeError, OSError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal belongs to the GUI
    send = Sender(conn)
    control = Control(stop, pause, send, settings)
    send({"kind": "started", "pid": os.getpid(), "run": spec.run, "run_dir": spec.run_dir,
          "mode": spec.mode})
    try:
        _run(spec, send, control)
    finally:
        send.close()


def _run(spec: WorkerSpec, send: Sender, control: Control) -> None:
    network = cn = project = None
    stage = "while building the project"
    history: dict[str, list] = {"batch": [], "epoch": []}
    run_dir = Path(spec.run_dir) if spec.run_dir else None
    stream: StreamCallback | None = None
    try:
        import json

        from app.project.build import build
        from app.project.io import project_from_dict
        from app.worker import runs

        project = project_from_dict(json.loads(spec.project_json), spec.weights)
        if spec.max_examples is not None:
            project.training.max_examples = int(spec.max_examples)
        if spec.backend and spec.backend != "genn" and "backend" in project.compiler.params:
            project.compiler.params["backend"] = spec.backend
        stage = "while checking the project"
        _preflight(project, spec, send)
        if spec.mode == "calibrate" or spec.calibrate:
            stage = "while calibrating the initial weights"
            _calibrate(project, spec, send, control)
            if spec.mode == "calibrate":
                send({"kind": "finished", "run": spec.run, "mode": spec.mode, "weights": {},
                      "metric": None, "value": None})
                return
            stage = "while building the project"
        if spec.backend == "genn" and spec.mode == "train":
            from app.worker import genn_backend

            stage = "while training on GeNN"
            res = genn_backend.train_on_genn(project, spec, send, control.check,
                                             control.new_settings, history)
            send({"kind": "finished", "run": spec.run, "mode": spec.mode,
                  "weights": res.weights, "metric": res.metric, "value": res.value})
            return
        if spec.backend == "genn":
            # evaluate/predict run on our engine, whose forward pass is bit-identical to
            # mlGeNN's (tests/training/test_parity_eventprop.py, test_eprop_parity.py)
            spec.backend = None
        built = build(project, spec.base_dir)
        network = built.network
        metric = _metric_name(project)
        stage = "while compiling the network"
        with built.compiler.compile(built.network) as cn:
            if spec.mode in ("evaluate", "predict"):
                stage = f"during {spec.mode}"
                _evaluate(spec, built, cn, metric, send, control)
                send({"kind": "finished", "run": spec.run, "mode": spec.mode, "weights": {},
                      "metric": metric, "value": None})
                return
            if project.compiler.type == "InferenceCompiler":
                raise ValueError("the Inference compiler does not train; use Evaluate")
            if run_dir is not None:
                if spec.resume_from is not None:
                    old = runs.read_history(run_dir)
                    history["epoch"] = [r for r in old["epoch"] if r["epoch"] <= spec.resume_from]
                    history["batch"] = [r for r in old["batch"] if r["epoch"] <= spec.resume_from]
                runs.update_status(run_dir, status="running", pid=os.getpid(), message="")
            if spec.resume_from is not None and run_dir is not None:
                restore_checkpoint(cn, run_dir, spec.resume_from)
            x, y = built.train_data()
            stream = StreamCallback(spec, send, control, built.network, history, metric)
            num_epochs = spec.num_epochs if spec.num_epochs is not None \
                else project.training.num_epochs
            from app.project.build import schedule_callbacks

            kwargs: dict[str, Any] = {"metrics": metric,
                                      "callbacks": [stream, *schedule_callbacks(project)],
                                      "validation_callbacks": [ValidationStream(stream)]}
            if project.training.validation_split:
                kwargs["validation_split"] = project.training.validation_split
            stage = "during training"
            result = cn.train(x, y, num_epochs=int(num_epochs), start_epoch=spec.start_epoch,
                              shuffle=project.training.shuffle, **kwargs)
            mets = result[0]
            value = next(iter(mets.values())).result if mets else None
            weights = _dense_weights(project, built, cn)
            if run_dir is not None:
                from app.training.serialisers import Numpy

                cn.save(("final",), Numpy(run_dir / "weights"))
                runs.write_history(run_dir, history)
                runs.update_status(run_dir, status="finished", message="finished")
            send({"kind": "finished", "run": spec.run, "weights": weights, "metric": metric,
                  "value": None if value is None else float(value)})
    except StopRequested:
        last = stream._checkpoints[-1] if stream and stream._checkpoints else None
        epoch = stream.epoch if stream else 0
        batch = stream.batch if stream else 0
        msg = f"stopped by the user at epoch {epoch}, batch {batch}"
        if run_dir is not None:
            from app.worker import runs

            runs.write_history(run_dir, history)
            runs.update_status(run_dir, status="stopped", message=msg)
        send({"kind": "stopped", "run": spec.run, "epoch": epoch, "batch": batch,
              "last_checkpoint": last, "message": msg})
    except MemoryError:
        where_stage = stage
        if stream is not None:
            where_stage = f"in epoch {stream.epoch}, batch {stream.batch}"
        text, where = _memory_message(network, cn, where_stage)
        _report(send, run_dir, "MemoryError", text, where)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the GUI
        text = str(exc) or type(exc).__name__
        where = _where(text, network)
        field = getattr(exc, "field", None)
        if field:
            where = {**_field_where(str(field), project), **where, "field": str(field)}
        issues = [{"message": i.message, "field": i.field, "target": i.target, "kind": i.kind}
                  for i in getattr(exc, "issues", [])]
        _report(send, run_dir, type(exc).__name__, text, where, issues)


def _preflight(project: Any, spec: WorkerSpec, send: Sender) -> None:
    """The editor's readiness checks, again, before anything is allocated: raise
    :class:`NotReadyError` naming every field to fix; send warnings on."""
    from app.project.validate import require_ready

    mode = "train" if spec.mode == "calibrate" else spec.mode
    for issue in require_ready(project, spec.base_dir, mode=mode):
        send({"kind": "warning", "run": spec.run, "message": issue.message,
              "field": issue.field, "target": issue.target})


def _calibrate(project: Any, spec: WorkerSpec, send: Sender, control: Control) -> None:
    """Scale the initial weights so every hidden population fires (applied to the
    project trained next, and sent to the window to put into the document)."""
    from app.project.calibrate import apply_calibration, calibrate

    def progress(text: str) -> None:
        send({"kind": "calibration_progress", "run": spec.run, "message": text})

    stopped = control.stop.is_set if control.stop is not None else None
    result = calibrate(project, spec.base_dir, progress=progress, should_stop=stopped)
    if stopped is not None and stopped():
        raise StopRequested()
    apply_calibration(project, result)
    send({"kind": "calibrated", "run": spec.run, "result": result.to_dict(),
          "message": result.summary(), "ok": result.ok})


def _report(send: Sender, run_dir: Path | None, error_type: str, text: str,
            where: dict[str, str], issues: list[dict[str, Any]] | None = None) -> None:
    tb = traceback.format_exc()
    if run_dir is not None:
        from app.worker import runs

        try:
            runs.update_status(run_dir, status="failed", message=text, error_type=error_type,
                               where=where, traceback=tb)
        except OSError:
            pass
    send({"kind": "error", "error_type": error_type, "message": text, "where": where,
          "traceback": tb, "issues": issues or []})


def _evaluate(spec: WorkerSpec, built: Any, cn: Any, metric: str, send: Sender,
              control: Control) -> None:
    x, y = built.test_data()
    n = len(next(iter(x.values())))
    if n == 0:
        raise ValueError("the dataset has no test examples")
    if spec.mode == "evaluate":
        mets, _ = cn.evaluate(x, y, metrics=metric, callbacks=[ControlCallback(control)])
        value = next(iter(mets.values())).result
        send({"kind": "evaluation", "metric": metric, "n": n,
              "accuracy": None if value is None else float(value)})
    else:
        out, _ = cn.predict(x, built.output, callbacks=[ControlCallback(control)])
        readout = np.asarray(out[built.output])
        labels = np.asarray(next(iter(y.values())))
        predicted = np.argmax(readout, axis=-1) if readout.ndim == 2 else readout
        acc = float(np.mean(predicted == labels)) if labels.ndim == 1 else None
        send({"kind": "predictions", "predicted": predicted, "labels": labels,
              "readout": readout, "accuracy": acc, "n": n})
