"""What the editor does with each message of a training run (worker or MPI):
progress, plots, the run's end, errors placed on the network, calibration
results and dead-population warnings.  Mixed into
:class:`app.editor.runs.RunController`."""
from __future__ import annotations

import csv
import signal
from pathlib import Path
from typing import Any

import numpy as np

from app.worker import runs


def _signal_text(code: Any) -> str:
    """'SIGKILL' for exit code -9, 'exit code 3' otherwise."""
    if isinstance(code, int) and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return f"exit code {code}"


def _fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "?"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


class RunMessages:
    """Message handlers ``_on_<kind>``; needs the RunController's widgets and state."""

    window: Any
    plots: Any
    panel: Any
    progress: Any
    progress_label: Any
    run_dir: Path | None
    mode: str
    detached: bool
    messages: dict[str, int]
    warning_detail: str = ""  # why the status-bar warning is there (Runs panel)

    # ----- messages -------------------------------------------------------------------
    def _on_message(self, msg: dict[str, Any]) -> None:
        kind = str(msg.get("kind"))
        self.messages[kind] = self.messages.get(kind, 0) + 1
        if self.detached:  # a run of the previous project: only its end matters
            if kind in ("finished", "stopped", "error", "crashed"):
                self._detached_end(kind)
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(msg)

    def _detached_end(self, kind: str) -> None:
        name = self.run_dir.name if self.run_dir is not None else "?"
        self._progress_timer.stop()
        self.mode = "idle"
        self.detached = False
        self._update_actions()
        self._say(f"Run {name} of the previous project {kind} (its folder keeps the "
                  "results)", 10000)

    def _on_batch_metrics(self, msg: dict[str, Any]) -> None:
        # status-bar text relayouts the window (several ms): show the newest at <= 5 Hz
        self._pending_progress = msg
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _flush_progress(self) -> None:
        msg, self._pending_progress = self._pending_progress, None
        if msg is None or self.mode != "train":
            return
        self.progress.setValue(int(1000 * float(msg.get("fraction", 0.0))))
        last = int(msg.get("start_epoch", 0)) + int(msg.get("num_epochs", 1))
        self.progress_label.setText(
            f"Epoch {int(msg['epoch']) + 1}/{last} · batch {int(msg['batch']) + 1}/"
            f"{msg.get('num_batches', '?')} · {float(msg.get('samples_per_s', 0)):.0f} "
            f"samples/s · ETA {_fmt_seconds(msg.get('eta_s'))}")

    def _on_raster(self, msg: dict[str, Any]) -> None:
        if self.plots is not None and self.plots.raster.current_population() is None:
            self.plots.raster.set_current_population(str(msg["population"]))

    def _on_checkpoint(self, msg: dict[str, Any]) -> None:
        self.refresh_runs()

    def _on_paused(self, msg: dict[str, Any]) -> None:
        self._flush_progress()
        self.progress_label.setText(f"Paused at epoch {int(msg['epoch']) + 1}, batch "
                                    f"{int(msg['batch']) + 1} (Space resumes)")

    def _on_dead_populations(self, msg: dict[str, Any]) -> None:
        """The worker saw populations that did not spike for a whole epoch: say which
        (and select the first on the canvas); a silent population cannot learn."""
        names = [str(n) for n in (msg.get("populations") or
                                  ([msg["population"]] if msg.get("population") else []))]
        if not names:
            return
        epoch = msg.get("epoch")
        when = f" in epoch {int(epoch) + 1}" if epoch is not None else ""
        plural = len(names) != 1
        self.set_warning(f"⚠ {', '.join(names)} fired no spike{when}")
        self.warning_detail = (
            f"{', '.join(names)} {'were' if plural else 'was'} silent for a whole epoch{when}: "
            f"{'they' if plural else 'it'} cannot learn. Try Run > Calibrate weights, larger "
            "weights into it or a lower threshold.")
        self.panel.detail.setText(self.warning_detail)
        self._select({"population": names[0]})

    def _on_evaluation(self, msg: dict[str, Any]) -> None:
        self.last_result = dict(msg)
        acc = msg.get("accuracy")
        text = (f"Test split: {acc * 100:.1f}% correct on {msg['n']} examples"
                if acc is not None else f"Test split evaluated ({msg['n']} examples)")
        self.panel.detail.setText(text)

    def _on_predictions(self, msg: dict[str, Any]) -> None:
        self.last_result = dict(msg)
        acc = msg.get("accuracy")
        text = f"Predicted {msg['n']} test examples"
        if acc is not None:
            text += f": {acc * 100:.1f}% correct"
        target = self.panel.selected_run() or self.run_dir
        if target is not None and target.is_dir():
            path = target / "predictions.csv"
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["example", "predicted", "label"])
                labels = np.asarray(msg["labels"])
                for i, p in enumerate(np.asarray(msg["predicted"]).ravel()):
                    w.writerow([i, int(p), labels[i] if labels.ndim == 1 else ""])
            text += f"; saved to {path}"
        self.panel.detail.setText(text)

    def _finish(self, text: str) -> None:
        """A run ended: its summary goes to the run status (once) and the Runs panel."""
        self._flush_progress()
        self._progress_timer.stop()
        self.progress_label.setText(text)
        self.progress_label.setToolTip(text)
        warning = self.warning_detail
        self.panel.detail.setText(f"{text}\n{warning}" if warning else text)
        self.mode = "idle"
        self.refresh_runs()
        self._update_actions()

    def _on_calibration_progress(self, msg: dict[str, Any]) -> None:
        self.window.calibration.progress(msg)

    def _on_calibrated(self, msg: dict[str, Any]) -> None:
        self.window.calibration.apply(msg)

    def _on_warning(self, msg: dict[str, Any]) -> None:
        """A preflight warning from the worker: training goes on; shown once."""
        self._say(f"⚠ {msg.get('message', '')}", 15000)

    def _on_finished(self, msg: dict[str, Any]) -> None:
        if msg.get("mode") in ("evaluate", "predict"):
            self._finish(self.panel.detail.text())
            return
        if msg.get("mode") == "calibrate":
            self.progress.setValue(1000)
            detail = self.panel.detail.text()
            self._finish(detail.split("\n", 1)[0] or "Calibration done")
            self.panel.detail.setText(detail)  # the rates stay listed
            return
        self.trained_weights = {k: np.asarray(v) for k, v in (msg.get("weights") or {}).items()}
        self.progress.setValue(1000)
        value = msg.get("value")
        text = f"Run {msg.get('run')} finished"
        if value is not None:
            text += (f": training accuracy {value * 100:.1f}%"
                     if msg.get("metric") != "mean_square_error" else f": MSE {value:.4g}")
        self._finish(text)

    def _on_stopped(self, msg: dict[str, Any]) -> None:
        last = msg.get("last_checkpoint")
        text = str(msg.get("message") or "Stopped")
        if msg.get("epoch") is not None and not msg.get("message"):
            text = (f"Stopped in epoch {int(msg['epoch']) + 1}" +
                    (f", batch {int(msg['batch']) + 1}" if msg.get("batch") is not None else ""))
        text += (f"; last checkpoint after epoch {int(last) + 1}" if last is not None
                 else "; no checkpoint yet")
        self._finish(text)

    def _on_error(self, msg: dict[str, Any]) -> None:
        where = msg.get("where") or {}
        text = f"{msg.get('error_type', 'Error')}: {msg.get('message', '')}"
        self._finish(f"Run failed — {text}")
        issues = msg.get("issues") or []
        if issues:  # the worker's readiness check: put each problem on its node/field
            from app.project.validate import Issue

            self.window.show_issues([Issue(str(i.get("message", "")), i.get("target") or "",
                                           i.get("kind") or "compiler", i.get("field"))
                                     for i in issues])
        self._select(where)
        self.window.show_error("Training failed", text, str(msg.get("traceback", "")))

    def _on_crashed(self, msg: dict[str, Any]) -> None:
        last = msg.get("last_checkpoint")
        text = f"The training process ended unexpectedly ({_signal_text(msg.get('exitcode'))})"
        if self.run_dir is not None:
            text += ("; " + (f"the last checkpoint (after epoch {int(last) + 1}) is kept in "
                             f"{self.run_dir}" if last is not None
                             else "no checkpoint had been written yet"))
        self._finish(text)
        self.window.show_error("Training process ended", text)

    # ----- MPI runs -------------------------------------------------------------------
    def _on_mpi_line(self, line: str) -> None:
        self._say(line)

    def _on_mpi_epoch(self, row: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        self.messages["epoch_metrics"] = self.messages.get("epoch_metrics", 0) + 1
        self._mpi_history["epoch"].append(dict(row))
        try:
            runs.write_history(self.run_dir, self._mpi_history)
            runs.update_status(self.run_dir, epochs_done=int(row["epoch"]) + 1)
        except OSError:
            pass
        if self.plots is not None:
            self.plots.update_from_message({"kind": "epoch_metrics", "run": self.run_dir.name,
                                            **row})
        done = int(row["epoch"]) + 1
        self.progress.setValue(int(1000 * min(1.0, done / max(1, self._mpi_epochs))))
        text = f"Epoch {done}/{self._mpi_epochs} · loss {row['loss']:.4f}"
        if row.get("accuracy") is not None:
            text += f" · accuracy {row['accuracy'] * 100:.1f}%"
        self.progress_label.setText(text + f" · {self._mpi_ranks} processes")

    def _on_mpi_ended(self, code: int, stopped: bool, tail: str) -> None:
        name = self.run_dir.name if self.run_dir is not None else "?"
        last = self._mpi_history["epoch"][-1] if self._mpi_history["epoch"] else {}
        if code == 0 and not stopped:
            status, text = "finished", f"Run {name} finished"
            if last.get("accuracy") is not None:
                text += f": training accuracy {last['accuracy'] * 100:.1f}%"
            self.progress.setValue(1000)
        elif stopped:
            status, text = "stopped", f"Run {name} stopped"
        else:
            status, text = "failed", f"Run {name} failed: mpirun exited with code {code}"
        if self.run_dir is not None:
            try:
                runs.update_status(self.run_dir, status=status, exit_code=code, message=text)
            except OSError:
                pass
        self.messages[status] = self.messages.get(status, 0) + 1
        self._finish(text)
        if status == "failed":
            self.window.show_error("Training failed", text, tail)

    def _select(self, where: dict[str, str]) -> None:
        """Select the population or connection an error names on the canvas."""
        project = self.window.ctl.project
        try:
            if "population" in where:
                ids = [p.id for p in project.populations if p.name == where["population"]]
                if ids:
                    self.window.canvas.select(ids)
            elif "connection" in where:
                ids = [c.id for c in project.connections if c.name == where["connection"]]
                if ids:
                    self.window.canvas.select([], ids)
        except (AttributeError, KeyError, TypeError):
            pass
