"""The worker's two channels with the GUI: messages out (:class:`Sender`), pause and
stop in (:class:`Control`)."""
from __future__ import annotations

import queue
import threading
import time
from typing import Any

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

    def requested(self) -> bool:
        """Whether the GUI asked to pause or stop (nothing is consumed)."""
        return bool((self.pause is not None and self.pause.is_set())
                    or (self.stop is not None and self.stop.is_set()))

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
