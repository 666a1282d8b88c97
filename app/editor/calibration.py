"""Run > Calibrate weights: scale the initial weights on data so every hidden
population fires, off the GUI thread (in the training worker), with progress,
then show the firing rate per population.

The worker runs :func:`app.project.calibrate.calibrate` and sends
``calibration_progress`` and ``calibrated`` messages; the result goes into the
document as one undoable edit.  "Calibrate before training" asks the worker to
do the same at the start of every training run.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from app.editor.theme import settings


def rates_text(result: dict[str, Any]) -> str:
    """One line per hidden population: firing before -> after calibration."""
    target = result.get("target") or {}
    lo, hi = target.get("min_rate_hz"), target.get("max_rate_hz")
    lines = []
    for pid, after in (result.get("after") or {}).items():
        before = (result.get("before") or {}).get(pid)
        start = f"{before['rate_hz']:.3g} Hz -> " if before else ""
        lines.append(f"{after['name']}: {start}{after['rate_hz']:.3g} Hz, "
                     f"{100 * after['active_fraction']:.0f} % of neurons active")
    if not lines:
        return "No hidden spiking population to calibrate."
    if lo is not None and hi is not None:
        lines.append(f"(target: {lo:g}-{hi:g} Hz)")
    return "\n".join(lines)


class CalibrationController(QObject):
    """The Calibrate actions and what happens with the worker's result."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.rc = window.run_controller
        self.last_result: dict[str, Any] | None = None
        self.report: QMessageBox | None = None
        menu = window.run_menu
        menu.addSeparator()
        self.action = QAction("&Calibrate weights", window)
        self.action.setObjectName("calibrate")
        self.action.setToolTip("Scale the initial weights on a few batches of data so every "
                               "hidden population fires (undoable)")
        self.action.triggered.connect(self.calibrate)
        menu.addAction(self.action)
        window.actions_by_name["calibrate"] = self.action
        self.before_training = QAction("Calibrate &before training", window)
        self.before_training.setObjectName("calibrate_first")
        self.before_training.setCheckable(True)
        self.before_training.setChecked(settings().value("calibrate_first", False) in
                                        (True, "true"))
        self.before_training.toggled.connect(
            lambda on: settings().setValue("calibrate_first", bool(on)))
        menu.addAction(self.before_training)
        window.actions_by_name["calibrate_first"] = self.before_training
        window.add_tool(self.action, "calibrate", with_text=True)
        self.rc.busy_changed.connect(lambda busy: self.action.setEnabled(not busy))

    def calibrate(self) -> bool:
        """Start a calibration in the worker (False when it cannot start)."""
        return self.rc.start_calibration()

    def progress(self, msg: dict[str, Any]) -> None:
        """A calibration round finished: show its firing rates."""
        self.rc.progress_label.setText(str(msg.get("message", "Calibrating…")))

    def apply(self, msg: dict[str, Any]) -> None:
        """Put the calibrated initializers into the document and show the rates."""
        from app.project.calibrate import CalibrationResult, apply_calibration

        result = dict(msg.get("result") or {})
        self.last_result = result
        calibrated = CalibrationResult.from_dict(result)
        changed = self.window.ctl.edit("Calibrate weights",
                                       lambda p: apply_calibration(p, calibrated))
        text = rates_text(result)
        ok = bool(msg.get("ok", result.get("ok", True)))
        head = ("Calibrated: every hidden population fires in range." if ok else
                "Calibrated, but not every hidden population reached the target range.")
        if not changed:
            head += " The weights were already right."
        self.rc.panel.detail.setText(f"{head}\n{text}")
        self.show_report(head, text, ok)

    def show_report(self, head: str, text: str, ok: bool) -> None:
        """A non-blocking box with the rate per population."""
        if self.report is not None:
            self.report.close()
        icon = QMessageBox.Icon.Information if ok else QMessageBox.Icon.Warning
        self.report = QMessageBox(icon, "Calibration", f"{head}\n\n{text}", parent=self.window)
        self.report.setObjectName("calibration_report")
        self.report.open()

    def shutdown(self) -> None:
        """Window closing."""
        if self.report is not None:
            self.report.close()
