"""Multi-process (MPI) training from the editor: ``spike-studio train --mpi N`` in a
:class:`QProcess`.

:class:`MpiRun` starts :func:`app.cli.mpirun_command` without blocking the GUI (each
rank of ``train --distributed`` takes its own part of the project's data, as mlGeNN's
MPI scripts do; see :func:`app.cli._train`) (in
its own session, so Stop can signal mpirun and every rank at once), emits each line
the ranks print, turns rank 0's per-epoch lines (``epoch 3: SparseCategoricalAccuracy
0.8125 loss 0.4321 (1.2 s)``, see :func:`app.cli._train`) into ``epoch_metrics``
plot messages and reports the exit code with the output's tail.
"""
from __future__ import annotations

import collections
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from app.worker.mpi_launch import mpirun_command

KILL_GRACE_MS = 3000
TAIL_LINES = 40

_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)"
EPOCH_LINE = re.compile(rf"^epoch (\d+): (\w+) ({_NUM}) loss ({_NUM}) \(({_NUM}) s\)\s*$")


def parse_epoch_line(line: str) -> dict[str, Any] | None:
    """``epoch_metrics`` fields of one ``cmd_train`` epoch line, else ``None``."""
    m = EPOCH_LINE.match(line.strip())
    if m is None:
        return None
    epoch, metric, value, loss, seconds = m.groups()
    row: dict[str, Any] = {"epoch": int(epoch), "loss": float(loss), "seconds": float(seconds)}
    key = "accuracy" if "accuracy" in metric.lower() else "mse"
    row[key] = float(value)
    return row


class MpiRun(QObject):
    """One ``mpirun`` training run (``line``, ``epoch`` and ``ended`` signals)."""

    line = Signal(str)
    epoch = Signal(dict)  # parse_epoch_line's fields
    ended = Signal(int, bool, str)  # exit code, stopped by the user, output tail

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self.command: list[str] = []
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.stopping = False
        self.log_path: Path | None = None
        self._buf = b""
        self._pid: int | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(lambda: self._signal_group(signal.SIGKILL))

    @property
    def running(self) -> bool:
        """mpirun has been started and has not exited yet."""
        return self.process is not None and \
            self.process.state() != QProcess.ProcessState.NotRunning

    @property
    def pid(self) -> int | None:
        """mpirun's process id (also its process group id; kept after it exits)."""
        return self._pid

    def start(self, project_file: Path, num_ranks: int, epochs: int, limit: int | None = None,
              log_path: Path | None = None) -> list[str]:
        """Launch ``num_ranks`` ranks training ``project_file``; returns the command."""
        if self.running:
            raise RuntimeError("an MPI run is already running")
        argv = ["train", str(project_file), "--epochs", str(int(epochs))]
        if limit:
            argv += ["--limit", str(int(limit))]
        argv.append("--distributed")
        self.command = mpirun_command(int(num_ranks), argv)
        self.tail.clear()
        self.stopping = False
        self._buf = b""
        self._pid = None
        self.log_path = log_path
        if log_path is not None:
            log_path.write_text("running: " + " ".join(self.command) + "\n", encoding="utf-8")
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        if not env.contains("NUMBA_NUM_THREADS"):
            env.insert("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // num_ranks)))
        root = str(Path(__file__).resolve().parents[2])  # `python -m app` finds this package
        pp = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", root + (os.pathsep + pp if pp else ""))
        proc = QProcess(self)
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(Path(project_file).resolve().parent))
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        if sys.platform != "win32":
            proc.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        proc.started.connect(lambda: setattr(self, "_pid", int(proc.processId()) or None))
        self.process = proc
        proc.start(self.command[0], self.command[1:])
        return self.command

    def stop(self) -> None:
        """SIGTERM mpirun's process group (every rank), SIGKILL after a grace period."""
        if not self.running:
            return
        self.stopping = True
        self._signal_group(signal.SIGTERM)
        self._kill_timer.start(KILL_GRACE_MS)

    def kill(self) -> None:
        """SIGKILL the whole process group now and wait for mpirun (window closing)."""
        if self.running:
            self.stopping = True
            self._signal_group(signal.SIGKILL)
            if self.process is not None:
                self.process.waitForFinished(3000)

    def _signal_group(self, sig: int, alone_too: bool = True) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            if not alone_too or not self.running:
                return
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    # ----- output -----------------------------------------------------------------------
    def _read(self) -> None:
        if self.process is None:
            return
        self._buf += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            self._emit_line(raw.decode("utf-8", "replace").rstrip("\r"))

    def _emit_line(self, text: str) -> None:
        if not text.strip():
            return
        self.tail.append(text)
        if self.log_path is not None:
            try:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(text + "\n")
            except OSError:
                pass
        self.line.emit(text)
        row = parse_epoch_line(text)
        if row is not None:
            self.epoch.emit(row)

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        if self._buf:
            self._emit_line(self._buf.decode("utf-8", "replace"))
            self._buf = b""
        self._kill_timer.stop()
        if status == QProcess.ExitStatus.CrashExit and code == 0:
            code = -1
        # ranks left behind by a killed mpirun go with its group
        self._signal_group(signal.SIGKILL, alone_too=False)
        self.ended.emit(int(code), self.stopping, "\n".join(self.tail))

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.tail.append(f"cannot start {self.command[0]}: "
                             f"{self.process.errorString() if self.process else error}")
            self.ended.emit(-1, False, "\n".join(self.tail))


__all__ = ["MpiRun", "parse_epoch_line"]
