"""File commands of the main window: new, open (with "open without trained
weights"), examples, recent files, save, export, import, autosave and crash
recovery.  Every way of replacing the open document goes through
:meth:`FileActions.switch_to`, which first settles a training run of the old
project."""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.editor.theme import settings
from app.project import io as project_io
from app.project.document import Project
from app.project.errors import ProjectError, WeightsFileError
from app.project.export import write_script


def load_without_weights(path: Path) -> Project:
    """The project at ``path`` with its trained weights left out."""
    return project_io.load_project(path, without_weights=True)


class FileActions:
    """Mixed into :class:`app.editor.main_window.MainWindow` (needs ``ctl``,
    ``canvas``, ``run_controller``, ``session``, ``recent_menu``)."""

    ctl: Any
    canvas: Any
    run_controller: Any
    session: str
    recent_menu: Any

    def confirm_discard(self) -> bool:
        """Ask before dropping unsaved changes (True: go ahead)."""
        if not self.ctl.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save changes to {self.ctl.project.name}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def show_error(self, title: str, message: str, details: str = "") -> None:
        """An error dialog with an optional details (traceback) section."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=self)
        if details:
            box.setDetailedText(details)
        box.exec()

    def switch_to(self, project: Project, path: Path | None) -> bool:
        """Make ``project`` the open document.  A run in progress belongs to the
        old project: the user is asked to stop it first (False: kept as is)."""
        if not self.run_controller.release_for_switch():
            return False
        self.ctl.replace(project, path)
        QTimer.singleShot(0, self.canvas.fit)
        return True

    def new_project(self) -> bool:
        """Start an empty project."""
        return self.confirm_discard() and self.switch_to(Project(), None)

    def open_path(self, path: str | Path) -> bool:
        """Open a project file; on error the open project stays untouched."""
        path = Path(path)
        without_weights = False
        try:
            project = project_io.load_project(path)
        except WeightsFileError as exc:
            project = self._offer_without_weights(path, exc)
            if project is None:
                return False
            without_weights = True
        except ProjectError as exc:
            where = f"\n\nField: {exc.field}" if exc.field else ""
            self.show_error("Cannot open project", f"{path.name}: {exc.message}{where}")
            return False
        if not self.switch_to(project, path):
            return False
        if without_weights:
            self.ctl.mark_unsaved()  # the file still names trained weights this copy lacks
        self._add_recent(path)
        return True

    def _offer_without_weights(self, path: Path, exc: WeightsFileError) -> Project | None:
        """The trained-weights sidecar is missing or unreadable but the network is
        intact: offer to open it without trained weights (None: not opened)."""
        try:
            project = load_without_weights(path)
        except ProjectError as again:
            where = f"\n\nField: {again.field}" if again.field else ""
            self.show_error("Cannot open project", f"{path.name}: {again.message}{where}")
            return None
        if not self.ask_open_without_weights(path, exc.message):
            return None
        self.statusBar().showMessage(f"Opened {path.name} without trained weights", 10000)
        return project

    def ask_open_without_weights(self, path: Path, reason: str) -> bool:
        """Ask whether to open ``path`` without its trained weights."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Trained weights unavailable",
                          f"{path.name}: {reason}.", parent=self)
        ok = box.addButton("Open without trained weights", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is ok

    def open_dialog(self) -> bool:
        """File > Open."""
        if not self.confirm_discard():
            return False
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "",
                                              "Spike Studio projects (*.ssproj)")
        return bool(path) and self.open_path(path)

    def open_example(self, path: Path) -> bool:
        """Open a bundled example as a new unsaved project."""
        if not self.confirm_discard():
            return False
        try:
            project = project_io.load_project(path)
        except ProjectError as exc:
            self.show_error("Cannot open example", str(exc))
            return False
        return self.switch_to(project, None)

    def save_to(self, path: str | Path) -> bool:
        """Save atomically to ``path``."""
        path = Path(path)
        if path.suffix != project_io.PROJECT_SUFFIX:
            path = path.with_suffix(project_io.PROJECT_SUFFIX)
        unsaved_root = self.run_controller.runs_root() if self.ctl.path is None else None
        if self.ctl.project.name in ("", "Untitled"):
            self.ctl.edit("Name project", lambda p: setattr(p, "name", path.stem))
        try:
            project_io.save_project(self.ctl.project, path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot save", f"{path}: {exc}", traceback.format_exc())
            return False
        self.ctl.mark_saved(path)
        if unsaved_root is not None:
            self.run_controller.adopt_runs(unsaved_root)
        self._add_recent(path)
        project_io.discard_autosave(self.session)
        self.statusBar().showMessage(f"Saved {path.name}", 4000)
        return True

    def save(self) -> bool:
        """File > Save."""
        if self.ctl.path is None:
            return self.save_as()
        return self.save_to(self.ctl.path)

    def save_as(self) -> bool:
        """File > Save As."""
        path, _ = QFileDialog.getSaveFileName(self, "Save project",
                                              f"{self.ctl.project.name}.ssproj",
                                              "Spike Studio projects (*.ssproj)")
        return self.save_to(path) if path else False

    def export_to(self, path: str | Path) -> bool:
        """Write the project as a Python training script."""
        try:
            write_script(self.ctl.project, path, self.ctl.path)
        except (OSError, ProjectError) as exc:
            self.show_error("Cannot export", str(exc), traceback.format_exc())
            return False
        self.statusBar().showMessage(f"Exported {Path(path).name}", 4000)
        return True

    def export_dialog(self) -> None:
        """File > Export > Python script."""
        stem = self.ctl.path.stem if self.ctl.path else "project"
        path, _ = QFileDialog.getSaveFileName(self, "Export Python script", f"{stem}.py",
                                              "Python (*.py)")
        if path:
            self.export_to(path)

    def export_mlgenn_to(self, path: str | Path) -> bool:
        """Write the project as an mlGeNN script (plus its data sidecar if needed)."""
        from app.project.mlgenn_export import write_mlgenn_script

        try:
            write_mlgenn_script(self.ctl.project, path, self.ctl.path)
        except (OSError, ProjectError, ValueError) as exc:
            self.show_error("Cannot export", str(exc), traceback.format_exc())
            return False
        self.statusBar().showMessage(f"Exported {Path(path).name} for mlGeNN", 4000)
        return True

    def export_mlgenn_dialog(self) -> None:
        """File > Export as mlGeNN script."""
        stem = self.ctl.path.stem if self.ctl.path else "project"
        path, _ = QFileDialog.getSaveFileName(self, "Export mlGeNN script",
                                              f"{stem}_mlgenn.py", "Python (*.py)")
        if path:
            self.export_mlgenn_to(path)

    def import_mlgenn(self, path: str | Path) -> list[str] | None:
        """Read an mlGeNN script (never run) as a new unsaved project; returns what
        could not be mapped (shown in a message box), None on error."""
        from app.project.mlgenn_import import import_mlgenn_file

        try:
            result = import_mlgenn_file(path)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
            self.show_error("Cannot import", f"{Path(path).name}: {exc}")
            return None
        if not self.switch_to(result.project, None):
            return None
        if result.unmapped:
            box = QMessageBox(QMessageBox.Icon.Information, "Imported with omissions",
                              f"{len(result.unmapped)} thing(s) in {Path(path).name} could not "
                              "be mapped; see the details.", parent=self)
            box.setDetailedText("\n".join(result.unmapped) + (
                "\n\nMapped to Spike Studio's equivalents:\n" + "\n".join(result.mapped)
                if result.mapped else ""))
            self.import_report = box
            box.open()
        self.statusBar().showMessage(f"Imported {Path(path).name}", 4000)
        return result.unmapped

    def import_mlgenn_dialog(self) -> None:
        """File > Import mlGeNN script."""
        if not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import mlGeNN script", "",
                                              "Python (*.py)")
        if path:
            self.import_mlgenn(path)

    def _add_recent(self, path: Path) -> None:
        s = settings()
        recent = [str(path.resolve())] + [p for p in (s.value("recent") or [])
                                          if p != str(path.resolve())]
        s.setValue("recent", recent[:8])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = settings().value("recent") or []
        for p in recent if isinstance(recent, list) else [recent]:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.confirm_discard()
                                  and self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    # ---- autosave ------------------------------------------------------
    def autosave(self) -> Path | None:
        """Write an autosave if there are unsaved changes."""
        if not self.ctl.dirty:
            return None
        try:
            return project_io.write_autosave(self.ctl.project, self.ctl.path, self.session)
        except (OSError, ValueError):
            return None

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest autosave left by another session."""
        found = project_io.find_recoveries(exclude_session=self.session)
        if not found:
            return False
        r = found[0]
        answer = QMessageBox.question(
            self, "Recover unsaved work?",
            f"Spike Studio did not close cleanly. Recover '{r.name}'"
            f"{' (' + r.original + ')' if r.original else ''}?")
        if answer != QMessageBox.StandardButton.Yes:
            for rec in found:
                project_io.discard_autosave(rec.path)
            return False
        return self.recover(r)

    def recover(self, rec: project_io.Recovery) -> bool:
        """Open an autosave as an unsaved document of its original path."""
        try:
            project = project_io.load_project(rec.path)
        except ProjectError as exc:
            self.show_error("Cannot recover", str(exc))
            return False
        if not self.switch_to(project, Path(rec.original) if rec.original else None):
            return False
        self.ctl.edit("Recovered", lambda p: setattr(p, "name", p.name))  # no-op
        self.ctl.undo_stack.resetClean()
        project_io.discard_autosave(rec.path)
        return True

