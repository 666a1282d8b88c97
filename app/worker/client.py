"""Qt-free client of the training worker: start, pause/resume, stop, kill, poll.

Messages travel through a one-way ``multiprocessing`` pipe whose writing end
only the worker holds, so a worker killed mid-message (kill -9) gives the GUI
an end-of-file, never a read that blocks forever (a ``multiprocessing.Queue``
keeps a writer open in the GUI process and can).  Pause and stop are
``multiprocessing`` events the worker checks at the end of every batch.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.worker import runs
from app.worker.protocol import END_KINDS, WorkerSpec

STOP_GRACE_S = 10.0


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by signal {-code} ({signal.Signals(-code).name})"
    except ValueError:
        return f"killed by signal {-code}"


class TrainingClient:
    """One worker process at a time; :meth:`poll` returns its messages."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self.process: Any = None
        self._conn: Any = None
        self._stop: Any = None
        self._pause: Any = None
        self._settings_conn: Any = None
        self.spec: WorkerSpec | None = None
        self.state = "idle"  # idle running paused stopping finished stopped failed crashed
        self.run_dir: Path | None = None
        self._stop_deadline: float | None = None
        self._ended = False
        self.last_checkpoint: int | None = None
        self.messages_received = 0

    # ----- starting -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a worker process is alive or its messages are not all read."""
        return self.process is not None and not self._ended

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return None if self.process is None else self.process.pid

    def start(self, spec: WorkerSpec) -> None:
        """Spawn a worker for ``spec`` (refused while another one runs)."""
        if self.running:
            raise RuntimeError("a worker is already running; stop it first")
        self.spec = spec
        self.run_dir = Path(spec.run_dir) if spec.run_dir else None
        self.last_checkpoint = spec.resume_from
        reader, writer = self._ctx.Pipe(duplex=False)
        settings_reader, self._settings_conn = self._ctx.Pipe(duplex=False)
        self._stop = self._ctx.Event()
        self._pause = self._ctx.Event()
        from app.worker.process import run_worker

        old = os.environ.get("OMP_WAIT_POLICY")
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        try:
            self.process = self._ctx.Process(target=run_worker, name="spike-studio-worker",
                                             args=(spec, writer, self._stop, self._pause,
                                                   settings_reader),
                                             daemon=True)
            self.process.start()
        finally:
            if old is None:
                os.environ.pop("OMP_WAIT_POLICY", None)
            else:
                os.environ["OMP_WAIT_POLICY"] = old
        writer.close()  # only the worker may write: its death means EOF here
        settings_reader.close()
        self._conn = reader
        self._ended = False
        self._stop_deadline = None
        self.state = "running"

    def start_training(self, project: Any, project_path: str | os.PathLike[str] | None = None,
                       *, root: Path | None = None, **options: Any) -> Path:
        """Create a run folder and train ``project`` (a Project) in it; returns the folder."""
        from app.project.io import dumps

        root = root if root is not None else runs.runs_root(project_path, project.name)
        run_dir = runs.new_run_dir(root)
        base_dir = str(Path(project_path).resolve().parent) if project_path else None
        weights = {k: np.asarray(v, np.float32) for k, v in project.weights.items()}
        spec = WorkerSpec(project_json=dumps(project), weights=weights, base_dir=base_dir,
                          mode="train", run_dir=str(run_dir), run=run_dir.name, **options)
        num_epochs = spec.num_epochs if spec.num_epochs is not None \
            else project.training.num_epochs
        runs.save_start(run_dir, self._settings(spec, int(num_epochs)), weights)
        self.start(spec)
        return run_dir

    @staticmethod
    def _settings(spec: WorkerSpec, num_epochs: int) -> dict[str, Any]:
        return {"mode": spec.mode, "run": spec.run, "num_epochs": num_epochs,
                "start_epoch": spec.start_epoch, "backend": spec.backend,
                "max_examples": spec.max_examples, "sample_every": spec.sample_every,
                "checkpoint_every": spec.checkpoint_every, "base_dir": spec.base_dir,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                "project": json.loads(spec.project_json)}

    def resume_run(self, run_dir: str | os.PathLike[str], epoch: int | None = None) -> int:
        """Continue a stopped/crashed run from its last checkpoint (or ``epoch``).

        The run keeps its folder; training restarts at ``start_epoch = epoch + 1``
        with the saved weights and optimiser state.  Returns the checkpoint used.
        """
        run_dir = Path(run_dir)
        settings = runs.read_json(run_dir / "settings.json")
        if not settings:
            raise FileNotFoundError(f"{run_dir} is not a run folder")
        cps = runs.checkpoint_epochs(run_dir)
        if epoch is None:
            if not cps:
                raise ValueError(f"run {run_dir.name} has no checkpoint to resume from")
            epoch = cps[-1]
        elif epoch not in cps:
            raise ValueError(f"run {run_dir.name} has no checkpoint of epoch {epoch}")
        total = int(settings.get("start_epoch", 0)) + int(settings["num_epochs"])
        if epoch + 1 >= total:
            raise ValueError(f"run {run_dir.name} already trained all {total} epochs")
        spec = WorkerSpec(project_json=json.dumps(settings["project"]),
                          weights=runs.load_start_weights(run_dir),
                          base_dir=settings.get("base_dir"), mode="train",
                          run_dir=str(run_dir), run=run_dir.name,
                          num_epochs=total - (epoch + 1), start_epoch=epoch + 1,
                          resume_from=epoch, backend=settings.get("backend"),
                          max_examples=settings.get("max_examples"),
                          sample_every=int(settings.get("sample_every", 10)),
                          checkpoint_every=int(settings.get("checkpoint_every", 1)))
        status = runs.read_json(run_dir / "status.json", {}) or {}
        runs.update_status(run_dir, status="starting",
                           resumed=list(status.get("resumed", [])) + [epoch])
        self.start(spec)
        return epoch

    def start_evaluation(self, project: Any, project_path: str | os.PathLike[str] | None = None,
                         mode: str = "evaluate", **options: Any) -> None:
        """Evaluate (``mode="evaluate"``) or predict on the test split."""
        from app.project.io import dumps

        base_dir = str(Path(project_path).resolve().parent) if project_path else None
        self.start(WorkerSpec(project_json=dumps(project),
                              weights={k: np.asarray(v) for k, v in project.weights.items()},
                              base_dir=base_dir, mode=mode, run=mode, **options))

    # ----- control --------------------------------------------------------------------
    def set_sampling(self, **settings: Any) -> bool:
        """Change what the running worker samples from its next batch on
        (``voltage_neurons``, ``voltage_population``, ``sample_every``)."""
        if not self.running or self._settings_conn is None:
            return False
        try:
            self._settings_conn.send(dict(settings))
        except (OSError, ValueError):
            return False
        return True

    def pause(self) -> None:
        """Pause at the end of the current batch."""
        if self.running and self._pause is not None:
            self._pause.set()
            if self.state == "running":
                self.state = "paused"

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        if self._pause is not None:
            self._pause.clear()
            if self.state == "paused":
                self.state = "running"

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        if self._pause is not None and self._pause.is_set():
            self.resume()
            return False
        self.pause()
        return self.running

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop at the end of the current batch; kill if not gone after ``grace_s``."""
        if not self.running:
            return
        self._stop.set()
        self._pause.clear()
        self.state = "stopping"
        self._stop_deadline = time.monotonic() + grace_s

    def kill(self) -> None:
        """End the worker now (SIGKILL)."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5.0)

    # ----- messages -------------------------------------------------------------------
    def poll(self, max_messages: int = 1000, max_seconds: float = 0.01) -> list[dict[str, Any]]:
        """Messages that arrived (bounded by count and time); detects a dead worker."""
        out: list[dict[str, Any]] = []
        if self.process is None or self._ended:
            return out
        t_end = time.perf_counter() + max_seconds
        eof = False
        while len(out) < max_messages and time.perf_counter() < t_end:
            try:
                if not self._conn.poll(0):
                    break
                msg = self._conn.recv()
            except (EOFError, OSError):
                eof = True
                break
            except Exception as exc:  # noqa: BLE001 - a garbled message must not kill the GUI
                out.append({"kind": "log", "message": f"unreadable message: {exc}"})
                continue
            if isinstance(msg, dict):
                self._track(msg)
                out.append(msg)
        self.messages_received += len(out)
        if self._ended:
            return out
        if self._stop_deadline is not None and time.monotonic() > self._stop_deadline \
                and self.process.is_alive():
            self.kill()
            text = "the worker did not stop in time and was killed"
            if self.run_dir is not None:
                try:
                    runs.update_status(self.run_dir, status="stopped", message=text)
                except OSError:
                    pass
            out.append(self._end({"kind": "stopped", "run": self.spec.run if self.spec else "",
                                  "message": text, "last_checkpoint": self.last_checkpoint,
                                  "killed": True}))
            return out
        if eof or not self.process.is_alive():
            # drain what is left, then decide whether the worker ended cleanly
            if not eof:
                try:
                    while self._conn.poll(0):
                        msg = self._conn.recv()
                        if isinstance(msg, dict):
                            self._track(msg)
                            out.append(msg)
                except (EOFError, OSError):
                    pass
            if not self._ended:
                self.process.join(2.0)
                out.append(self._crashed())
        return out

    def _track(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        if kind == "checkpoint":
            self.last_checkpoint = int(msg["epoch"])
        elif kind == "paused":
            self.state = "paused" if self.state != "stopping" else self.state
        elif kind == "resumed" and self.state == "paused":
            self.state = "running"
        elif kind in END_KINDS:
            self._end(msg)

    def _end(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._ended = True
        kind = msg.get("kind")
        self.state = {"finished": "finished", "stopped": "stopped", "error": "failed",
                      "crashed": "crashed"}.get(kind, "idle")
        if self._conn is not None:
            self._conn.close()  # the process exits by itself; is_alive() reaps it
        return msg

    def _crashed(self) -> dict[str, Any]:
        code = self.process.exitcode if self.process is not None else None
        text = f"the training process ended unexpectedly ({_signal_name(code)})"
        if self.run_dir is not None:
            text += "; " + (f"the last checkpoint (epoch {self.last_checkpoint}) is kept in "
                            f"{self.run_dir}" if self.last_checkpoint is not None
                            else "no checkpoint had been written yet")
            try:
                runs.update_status(self.run_dir, status="crashed", message=text, exitcode=code)
            except OSError:
                pass
        return self._end({"kind": "crashed", "run": self.spec.run if self.spec else "",
                          "exitcode": code, "message": text,
                          "last_checkpoint": self.last_checkpoint})

    def wait(self, timeout: float = 60.0, on_message: Any = None) -> list[dict[str, Any]]:
        """Block (tests, scripts) until the worker ends; returns every message."""
        out: list[dict[str, Any]] = []
        t_end = time.monotonic() + timeout
        while self.running and time.monotonic() < t_end:
            got = self.poll(max_seconds=0.05)
            for m in got:
                if on_message is not None:
                    on_message(m)
            out += got
            if not got:
                time.sleep(0.01)
        if self.running:
            raise TimeoutError(f"worker still running after {timeout} s")
        return out

    def close(self, grace_s: float = 1.0) -> None:
        """Stop and reap the worker (window closing); a run cut short says so."""
        if self.process is not None and self.process.is_alive():
            self._stop.set()
            self.process.join(grace_s)
            killed = self.process.is_alive()
            self.kill()
            if not self._ended and self.run_dir is not None:
                try:
                    runs.update_status(self.run_dir, status="stopped",
                                       message="the window closed during training" +
                                       (" (worker killed)" if killed else ""))
                except OSError:
                    pass
        if self._conn is not None:
            self._conn.close()
        self._ended = True
