"""Thin Qt adapter: drain a :class:`TrainingClient` on a ~30 Hz QTimer.

Plot messages go to a ``PlotsPanel`` (anything with ``update_from_message``);
every message is also emitted as :attr:`QtWorkerAdapter.message` so the
editor can update its progress bar, status bar and runs list.
"""
from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.worker.client import TrainingClient
from app.worker.protocol import END_KINDS, PLOT_KINDS

DRAIN_MS = 33
DRAIN_BUDGET_S = 0.008  # at most this much GUI time per tick for reading messages


class QtWorkerAdapter(QObject):
    """Polls the client while a worker runs; routes messages to the plots."""

    message = Signal(dict)  # every message, after the plots saw it
    ended = Signal(dict)  # the final message (finished, stopped, error, crashed)

    def __init__(self, client: TrainingClient | None = None, plots: Any = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client or TrainingClient()
        self.plots = plots
        self.timer = QTimer(self)
        self.timer.setInterval(DRAIN_MS)
        self.timer.timeout.connect(self.drain)
        self.longest_drain_s = 0.0

    def start(self) -> None:
        """Begin draining (call after starting the client)."""
        if not self.timer.isActive():
            self.timer.start()

    def drain(self) -> list[dict[str, Any]]:
        """Read pending messages within the time budget and dispatch them."""
        t0 = time.perf_counter()
        msgs = self.client.poll(max_messages=500, max_seconds=DRAIN_BUDGET_S)
        latest: dict[tuple, dict[str, Any]] = {}
        ordered: list[dict[str, Any]] = []
        for m in msgs:
            kind = m.get("kind")
            if kind in ("raster", "voltage", "weights"):
                # only the newest sample per plot is worth drawing
                key = (kind, m.get("population"), m.get("connection"))
                if key in latest:
                    ordered.remove(latest[key])
                latest[key] = m
            ordered.append(m)
        for m in ordered:
            if self.plots is not None and m.get("kind") in PLOT_KINDS:
                self.plots.update_from_message(m)
            self.message.emit(m)
            if m.get("kind") in END_KINDS:
                self.ended.emit(m)
        if not self.client.running:
            self.timer.stop()
        self.longest_drain_s = max(self.longest_drain_s, time.perf_counter() - t0)
        return msgs
