"""The training callbacks of the worker: what the GUI sees of a run.

:class:`StreamCallback` has the library's callback hooks (``on_batch_end``,
``recording_request``/``on_recording``, ...) and streams metrics, progress, plot
samples and checkpoints; :class:`ValidationStream` adds the validation metrics,
:class:`ControlCallback` only the stop/pause checks. Stop and pause are checked
at the end of every batch that runs live. Where the library trains a pass in fused
engine calls, :meth:`StreamCallback.batches_until_live` asks for the batches it
samples, for the next batch after a pause or stop request, and for every batch
while a hidden population is still silent in the epoch; the others' hooks run after
their engine call (``replaying_batches``), at most ``fused_call_s`` later.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.project.memory import VOLTAGE_BUDGET_BYTES
from app.worker.control import Control, Sender
from app.worker.protocol import FAULT_ENV, WorkerSpec
from app.worker.sampling import SampleClock


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
        self._clock = SampleClock(spec.min_sample_interval_s)

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

    # ----- fused passes: most batches run several to an engine call ------------------------
    @property
    def fused_call_s(self) -> float:
        """The longest engine call between two looks at pause, stop and sampling."""
        return min(0.1, max(0.01, self.spec.min_sample_interval_s))

    def batches_until_live(self, batch: int) -> int | None:
        """0 where ``batch`` must run live: a plot sample is due, the GUI asked to
        pause or stop, or a hidden population has not spiked yet this epoch (its
        count needs each batch's spikes); else how many batches may run before the
        next sample by count (None: only time decides). Applies new sampling
        settings first."""
        self._take_new_settings()
        if self.control.requested() or self._silent():
            return 0
        if self._clock.would_sample(self.step, batch, self.spec.sample_every):
            return 0
        return self._clock.batches_to_count(self.step, self.spec.sample_every)

    def _replaying(self) -> bool:
        """Whether these batch hooks are for a batch that already ran in a fused call."""
        return bool(getattr(self.cn, "replaying_batches", False))

    def on_batch_begin(self, batch: int) -> None:
        self.batch = batch
        _fault(self.epoch, batch)
        self._recorded = False
        if self._replaying():
            self._sample = False
            return
        self._take_new_settings()
        self._sample = self._clock.due(self.step, batch, self.spec.sample_every)

    def _take_new_settings(self) -> None:
        """Apply what the GUI changed in the sampling since the last look."""
        changed = self.control.new_settings()
        if changed:
            self.apply_settings(changed)

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
        replayed = self._replaying()
        if self._sim_counts and not replayed:  # replayed only once none is silent
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
        self._sample = False  # the next pass must not see this batch's recording request
        if not replayed:  # a replayed batch's successors already ran: stop at a live one
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
        """Weights (``cn.save``), optimiser state/params of every trainable and what
        else carries into the next epoch (engine state, Deep R's synapse structure)."""
        from app.training.serialisers import Numpy
        from app.worker.runs import update_status

        assert self.run_dir is not None
        self.cn.save((epoch,), Numpy(self.run_dir / "checkpoints"))
        opt = Numpy(self.run_dir / "optimiser")
        for i, t in enumerate(self.cn.trainables):
            opt.serialise((epoch, i, "param"), t.param)
            for k, v in t.state.items():
                opt.serialise((epoch, i, k), np.asarray(v))
        self.cn.save_carried_state((epoch,), Numpy(self.run_dir / "state"))
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
    """Put back every trainable's values and optimiser state saved at ``epoch``, and
    the carried state (engine, Deep R) where the run saved it."""
    from app.training.serialisers import Numpy

    opt = Numpy(Path(run_dir) / "optimiser")
    for i, t in enumerate(cn.trainables):
        t.param[...] = opt.deserialise((epoch, i, "param"))
        for k in list(t.state):
            t.state[k] = np.array(opt.deserialise((epoch, i, k)), copy=True)
    try:
        cn.load_carried_state((epoch,), Numpy(Path(run_dir) / "state"))
    except FileNotFoundError:  # a run saved before checkpoints held it (no Deep R then)
        if hasattr(cn.sim, "refresh_weights"):
            cn.sim.refresh_weights()
