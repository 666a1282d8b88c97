"""Training from the editor: Train / Pause / Stop, backend, progress, runs list.

:class:`RunController` wires a :class:`app.worker.TrainingClient` (through the
Qt timer adapter) to the main window: Run menu and toolbar actions, a progress
bar in the status bar, a Runs dock listing the project's ``runs/`` folders
(overlay their curves, resume from the last checkpoint) and error reporting
that names the population or connection concerned.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QLabel,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QSpinBox,
)

from app.editor.mpi_run import MpiRun
from app.editor.run_messages import RunMessages
from app.editor.runs_panel import RunsPanel, final_weights, save_copy
from app.project import schema
from app.worker import runs
from app.worker.client import TrainingClient
from app.worker.qt import QtWorkerAdapter

# Training runs below the GUI's CPU priority: on a busy machine a worker at the same
# priority stalls the GUI thread for 100s of ms (benchmarks/gui_responsiveness.py).
WORKER_NICE = int(os.environ.get("SPIKE_STUDIO_WORKER_NICE", "10"))
PROGRESS_MS = 200


class RunController(RunMessages, QObject):
    """Everything about running the open project in the background worker."""

    busy_changed = Signal(bool)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.client = TrainingClient()
        plots = window.docks["Plots"].widget()
        self.plots = plots if hasattr(plots, "update_from_message") else None
        self.adapter = QtWorkerAdapter(self.client, self.plots, self)
        self.adapter.message.connect(self._on_message)
        if self.plots is not None:
            self.plots.voltage.neurons_changed.connect(
                lambda ids: self.client.set_sampling(voltage_neurons=list(ids)[:16]))
            self.plots.voltage.population_changed.connect(
                lambda name: self.client.set_sampling(voltage_population=name))
            window.ctl.changed.connect(self._offer_voltage_populations)
        self.run_dir: Path | None = None
        self.detached = False  # the running run belongs to a project no longer open
        self.mode = "idle"
        self.last_result: dict[str, Any] = {}
        self.trained_weights: dict[str, np.ndarray] = {}
        self.messages: dict[str, int] = {}
        self.overlaid: set[str] = set()
        self._pending_progress: dict[str, Any] | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_MS)
        self._progress_timer.timeout.connect(self._flush_progress)
        self.mpi = MpiRun(self)
        self.mpi.line.connect(self._on_mpi_line)
        self.mpi.epoch.connect(self._on_mpi_epoch)
        self.mpi.ended.connect(self._on_mpi_ended)
        self._mpi_epochs = 1
        self._mpi_ranks = 1
        self._mpi_history: dict[str, list[dict[str, Any]]] = {"batch": [], "epoch": []}
        self._build_ui()
        window.ctl.file_changed.connect(self.refresh_runs)
        window.ctl.replaced.connect(self.project_switched)
        self.refresh_runs()
        self._update_actions()

    # ----- UI -------------------------------------------------------------------------
    def _build_ui(self) -> None:
        w = self.window
        menu = w.run_menu
        menu.addSeparator()

        def act(text: str, slot: Any, shortcut: Any, name: str, tip: str) -> QAction:
            a = QAction(text, w)
            if shortcut is not None:
                a.setShortcut(shortcut)
            a.setToolTip(tip)
            a.setObjectName(name)
            a.triggered.connect(slot)
            menu.addAction(a)
            w.actions_by_name[name] = a
            return a

        self.train_action = act("&Train", self.train, QKeySequence(Qt.Key.Key_F5), "train",
                                "Train the project in a background process (F5)")
        self.pause_action = act("&Pause", self.toggle_pause, QKeySequence(Qt.Key.Key_Space),
                                "pause", "Pause or resume training (Space)")
        self.pause_action.setCheckable(True)
        self.stop_action = act("&Stop", self.stop, QKeySequence("Shift+F5"), "stop",
                               "Stop after the current batch (Shift+F5)")
        self.evaluate_action = act("&Evaluate on test split", lambda: self.evaluate("evaluate"),
                                   None, "evaluate", "Accuracy on the test split")
        self.predict_action = act("P&redict test split", lambda: self.evaluate("predict"),
                                  None, "predict", "Predicted class of every test example")
        self.keep_action = act("&Keep trained weights in project", self.keep_weights, None,
                               "keep_weights", "Store the last trained weights in the document")
        tb = w.toolbar
        tb.addSeparator()
        for a, icon in ((self.train_action, "train"), (self.pause_action, "pause"),
                        (self.stop_action, "stop")):
            w.add_tool(a, icon, with_text=True)
        self.backend = QComboBox()
        self.backend.setObjectName("backend")
        self.backend.setToolTip("Device / simulation backend")
        from app.worker.genn_backend import available_backends

        for name, label in available_backends():
            self.backend.addItem(label, name)
        tb.addWidget(QLabel(" Backend "))
        tb.addWidget(self.backend)
        self.processes = QSpinBox()
        self.processes.setObjectName("processes")
        self.processes.setRange(1, max(1, os.cpu_count() or 1))
        self.processes.setValue(1)
        self.processes.setToolTip("Training processes: above 1, Train starts a data-parallel "
                                  "run with mpirun on this machine (CPU engine; no pausing)")
        tb.addWidget(QLabel(" Processes "))
        tb.addWidget(self.processes)
        self.progress = QProgressBar()
        self.progress.setObjectName("train_progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("train_progress_label")
        self.progress_label.setContentsMargins(14, 0, 4, 0)
        self.warning_label = QLabel("")
        self.warning_label.setObjectName("train_warning")
        self.warning_label.setStyleSheet("color: #e0a030; font-weight: bold;")
        self.warning_label.setVisible(False)
        w.statusBar().addPermanentWidget(self.warning_label)
        w.statusBar().addPermanentWidget(self.progress_label)
        w.statusBar().addPermanentWidget(self.progress)
        self.panel = RunsPanel()
        self.panel.refresh_button.clicked.connect(self.refresh_runs)
        self.panel.resume_button.clicked.connect(self.resume_selected)
        self.panel.list.itemChanged.connect(self._on_item_changed)
        dock = QDockWidget("Runs", w)
        dock.setObjectName("dock_runs")
        dock.setWidget(self.panel)
        w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        w.docks["Runs"] = dock
        if getattr(w, "view_menu", None) is not None:
            w.view_menu.addAction(dock.toggleViewAction())

    @property
    def busy(self) -> bool:
        """The worker or an MPI run is running."""
        return self.client.running or self.mpi.running

    def _update_actions(self) -> None:
        busy = self.busy
        self.train_action.setEnabled(not busy)
        self.evaluate_action.setEnabled(not busy)
        self.predict_action.setEnabled(not busy)
        self.panel.resume_button.setEnabled(not busy)
        self.pause_action.setEnabled(busy and self.mode == "train")
        self.pause_action.setToolTip(
            "Pause is not available for multi-process (MPI) runs" if self.mode == "mpi"
            else "Pause or resume training (Space)")
        self.stop_action.setEnabled(busy)
        self.keep_action.setEnabled(bool(self.trained_weights) and not busy)
        self.backend.setEnabled(not busy)
        self.processes.setEnabled(not busy)
        if not busy:
            self.pause_action.setChecked(False)
        self.busy_changed.emit(busy)

    def _say(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # ----- switching project ----------------------------------------------------------
    def release_for_switch(self) -> bool:
        """Before another project opens: a run in progress belongs to this one, so the
        user chooses to stop it (True) or to stay (False).  A stopped run keeps its
        folder next to its own project; its last messages no longer reach the plots."""
        if not self.busy:
            return True
        name = self.run_dir.name if self.run_dir is not None else "the current run"
        if not self.ask_stop_training(name):
            return False
        self.stop()
        self.detached = True
        self.adapter.plots = None
        return True

    def ask_stop_training(self, run: str) -> bool:
        """Ask whether to stop ``run`` to open another project."""
        box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                          f"Run {run} of {self.window.ctl.project.name} is still training. "
                          "Stop it and open the other project? Its last checkpoint stays in "
                          "its run folder.", parent=self.window)
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is stop

    def project_switched(self) -> None:
        """Another project is open: its plots, runs and status start empty."""
        self.overlaid = set()
        self.trained_weights = {}
        self.last_result = {}
        if self.plots is not None:
            self.plots.clear_all()
        self.progress.setValue(0)
        self.progress_label.setText("")
        self.panel.detail.setText("")
        self.set_warning("")
        self.refresh_runs()
        self._update_actions()

    def set_warning(self, text: str) -> None:
        """A training warning that stays visible in the status bar ("" hides it)."""
        if not text:
            self.warning_detail = ""
        self.warning_label.setText(text)
        self.warning_label.setToolTip(text)
        self.warning_label.setVisible(bool(text))

    # ----- runs -----------------------------------------------------------------------
    def runs_root(self) -> Path:
        """Folder holding the open project's runs."""
        ctl = self.window.ctl
        return runs.runs_root(ctl.path, ctl.runs_key())

    def adopt_runs(self, old_root: Path) -> int:
        """A project saved for the first time takes its runs along: the run folders
        under ``old_root`` (its unsaved runs folder) move next to the file. Not while a
        run is writing there. Returns how many moved."""
        new_root = self.runs_root()
        if self.busy or old_root == new_root or not old_root.is_dir():
            return 0
        moved = 0
        for run_dir in sorted(p for p in old_root.iterdir() if p.is_dir()):
            target = new_root / run_dir.name
            if target.exists():
                continue
            new_root.mkdir(parents=True, exist_ok=True)
            shutil.move(str(run_dir), str(target))
            moved += 1
        if moved and not any(old_root.iterdir()):
            old_root.rmdir()
        self.refresh_runs()
        return moved

    def refresh_runs(self) -> None:
        """Re-read the runs folder."""
        self.panel.fill(self.runs_root(), self.overlaid)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        path = Path(item.data(Qt.ItemDataRole.UserRole))
        if item.checkState() == Qt.CheckState.Checked:
            self.overlay(path)
        else:
            self.overlaid.discard(path.name)
            if self.plots is not None:
                self.plots.update_from_message({"kind": "clear_run", "run": path.name})

    def overlay(self, run_dir: Path) -> None:
        """Draw a recorded run's curves next to the others."""
        if self.plots is None:
            return
        name = Path(run_dir).name
        hist = runs.read_history(Path(run_dir))
        self.plots.update_from_message({"kind": "clear_run", "run": name})
        for row in hist["batch"]:
            self.plots.update_from_message({"kind": "batch_metrics", "run": name, **row})
        for row in hist["epoch"]:
            self.plots.update_from_message({"kind": "epoch_metrics", "run": name, **row})
        self.overlaid.add(name)

    # ----- commands -------------------------------------------------------------------
    def _ready(self, mode: str = "train") -> bool:
        """Nothing runs while the readiness check finds an error (warnings pass)."""
        if self.busy:
            self._say("A worker is already running")
            return False
        issues = self.window.validate()
        if mode in ("evaluate", "predict"):
            from app.project.validate import preflight

            ctl = self.window.ctl
            issues = preflight(ctl.project, ctl.path.parent if ctl.path else None, mode=mode,
                               read_files=False)
        errors = [i for i in issues if getattr(i, "severity", "error") == "error"]
        if errors:
            self.window.show_problems()
            self._say(f"Fix {len(errors)} problem(s) before running")
            return False
        return True

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"backend": self.backend.currentData() or None,
                                "nice": WORKER_NICE}
        if self.plots is not None:
            picked = self.plots.voltage.picked_neurons
            if picked:
                opts["voltage_neurons"] = list(picked)[:16]
            if self.plots.voltage.picked_population:
                opts["voltage_population"] = self.plots.voltage.picked_population
        return opts

    def _offer_voltage_populations(self) -> None:
        """The voltage plot's population picker lists the document's non-input
        populations."""
        pops = self.window.ctl.project.populations
        self.plots.voltage.set_populations(
            [p.name for p in pops if schema.model_role(p.model) != "input"])

    def train(self, **options: Any) -> Path | None:
        """Train the document in a new run folder (``options`` go to WorkerSpec)."""
        if self.processes.value() > 1 and not options:
            return self.train_mpi(self.processes.value())
        if not self._ready():
            return None
        opts = {**self._options(), **options}
        calibration = getattr(self.window, "calibration", None)
        if calibration is not None and calibration.before_training.isChecked():
            opts.setdefault("calibrate", True)
        if opts.get("backend") == "genn":
            from app.worker.genn_backend import genn_warnings

            notes = genn_warnings(self.window.ctl.project)
            if notes:
                self._say(" ".join(notes))
        try:
            self.run_dir = self.client.start_training(
                self.window.ctl.project, self.window.ctl.path, root=self.runs_root(), **opts)
        except (OSError, ValueError, RuntimeError, TypeError) as exc:
            self.window.show_error("Cannot start training", str(exc))
            return None
        self.overlaid.add(self.run_dir.name)  # its curves are on the plots: ticked
        self._started("train", f"Training run {self.run_dir.name}…")
        return self.run_dir

    def train_mpi(self, num_ranks: int) -> Path | None:
        """Train with ``num_ranks`` MPI processes (``spike-studio train --mpi``) in a new
        run folder; an unsaved document goes to a copy there, never over its file."""
        if not self._ready():
            return None
        ctl = self.window.ctl
        project = ctl.project
        epochs = int(project.training.num_epochs)
        try:
            run_dir = runs.new_run_dir(self.runs_root())
            if ctl.path is not None and not ctl.dirty:
                project_file = Path(ctl.path)
            else:
                project_file = run_dir / "project.ssproj"
                save_copy(project, ctl.path, project_file)
            runs.write_json(run_dir / "settings.json", {
                "mode": "train", "num_epochs": epochs, "start_epoch": 0, "backend": "mpi",
                "num_ranks": int(num_ranks), "project_file": str(project_file)})
            runs.update_status(run_dir, status="running", epochs_done=0,
                               message=f"{num_ranks} MPI processes")
            cmd = self.mpi.start(project_file, num_ranks, epochs,
                                 project.training.max_examples, run_dir / "output.log")
        except (OSError, ValueError, RuntimeError) as exc:
            self.window.show_error("Cannot start the MPI run", str(exc))
            return None
        self.run_dir = run_dir
        self._mpi_epochs = epochs
        self._mpi_ranks = int(num_ranks)
        self._mpi_history = {"batch": [], "epoch": []}
        if self.plots is not None:
            self.plots.update_from_message({"kind": "clear_run", "run": run_dir.name})
        self._started("mpi", f"Training run {run_dir.name} on {num_ranks} processes…",
                      poll=False)
        self._say("running: " + " ".join(cmd))
        return run_dir

    def resume_selected(self) -> None:
        """Resume the run selected in the Runs panel from its last checkpoint."""
        run_dir = self.panel.selected_run()
        if run_dir is None:
            self._say("Select a run to resume")
            return
        self.resume(run_dir)

    def resume(self, run_dir: Path) -> bool:
        """Continue ``run_dir`` from its last checkpoint."""
        if self.busy:
            return False
        try:
            epoch = self.client.resume_run(run_dir)
        except (OSError, ValueError) as exc:
            self.panel.detail.setText(f"Cannot resume {Path(run_dir).name}: {exc}")
            return False
        self.run_dir = Path(run_dir)
        if self.plots is not None:
            self.overlay(self.run_dir)
            # drop what came after the checkpoint: the resumed epochs redraw it
            self.plots.update_from_message({"kind": "clear_run", "run": self.run_dir.name})
        self._started("train", f"Resuming {self.run_dir.name} after epoch {epoch}…")
        return True

    def evaluate(self, mode: str = "evaluate") -> bool:
        """Evaluate or predict the test split with the best weights at hand."""
        if not self._ready(mode):
            return False
        project = self.window.ctl.project.copy()
        weights = self._weights_for_evaluation()
        if weights:
            project.weights.update(weights)
        try:
            self.client.start_evaluation(project, self.window.ctl.path, mode=mode,
                                         backend=self.backend.currentData() or None,
                                         nice=WORKER_NICE)
        except (OSError, ValueError, RuntimeError) as exc:
            self.window.show_error("Cannot start", str(exc))
            return False
        self._started(mode, "Evaluating the test split…" if mode == "evaluate"
                      else "Predicting the test split…")
        return True

    def start_calibration(self) -> bool:
        """Calibrate the initial weights in the worker (Run > Calibrate weights)."""
        if not self._ready():
            return False
        try:
            self.client.start_evaluation(self.window.ctl.project, self.window.ctl.path,
                                         mode="calibrate",
                                         backend=self.backend.currentData() or None,
                                         nice=WORKER_NICE)
        except (OSError, ValueError, RuntimeError, TypeError) as exc:
            self.window.show_error("Cannot calibrate", str(exc))
            return False
        self._started("calibrate", "Calibrating the initial weights on a few batches…")
        return True

    def _weights_for_evaluation(self) -> dict[str, np.ndarray]:
        """Final weights of the selected run, else of the last run trained here."""
        run_dir = self.panel.selected_run()
        if run_dir is not None:
            w = final_weights(run_dir, self.window.ctl.project)
            if w:
                return w
        return dict(self.trained_weights)

    def toggle_pause(self) -> None:
        """Space: pause or resume."""
        if not self.client.running or self.mode != "train":
            self.pause_action.setChecked(False)
            return
        paused = self.client.toggle_pause()
        self.pause_action.setChecked(paused)
        self._say("Pausing after this batch…" if paused else "Resumed")

    def stop(self) -> None:
        """Stop after the current batch (killed if it does not within the grace period);
        an MPI run's whole process group is terminated."""
        if self.mpi.running:
            self.mpi.stop()
            self._say("Stopping the MPI processes…")
        elif self.client.running:
            self.client.stop()
            self.pause_action.setChecked(False)
            self._say("Stopping after this batch…")

    def keep_weights(self) -> None:
        """Store the last trained weights in the document (undoable)."""
        if not self.trained_weights:
            return
        weights = dict(self.trained_weights)
        self.window.ctl.edit("Keep trained weights", lambda p: p.weights.update(weights))

    def shutdown(self) -> None:
        """Window closing: end the worker."""
        self.adapter.timer.stop()
        self.mpi.kill()
        self.client.close()

    def _started(self, mode: str, text: str, poll: bool = True) -> None:
        self.mode = mode
        self.detached = False
        self.adapter.plots = self.plots
        self.set_warning("")
        self.messages = {}
        self.progress.setValue(0)
        self.progress_label.setText(text)
        if poll:
            self.adapter.start()
        self.refresh_runs()
        self.window.docks["Runs"].raise_()  # the new run, listed beside the plots
        self._update_actions()


__all__ = ["RunController", "RunsPanel", "final_weights", "save_copy"]
