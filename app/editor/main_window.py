"""The Spike Studio main window: palette, canvas, inspector, plots, menus."""
from __future__ import annotations

import sys
import traceback
import uuid
from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app.editor import qt  # noqa: F401  (sets QT_PREFERRED_BINDING first)
from app.editor.canvas import NODE_CLASSES, Canvas, node_type
from app.editor.controller import DocumentController
from app.editor.inspector import Inspector
from app.editor.nir_actions import export_nir_dialog, import_nir_dialog
from app.project import io as project_io
from app.project.document import Project
from app.project.errors import ProjectError
from app.project.examples import examples
from app.project.export import write_script
from app.project.validate import Issue, validate_project

AUTOSAVE_MS = 2 * 60 * 1000
STYLE = Path(__file__).resolve().parents[2] / "resources" / "style" / "dark.qss"


class Palette(QWidget):
    """Node types with a filter box; drag onto the canvas or double-click."""

    def __init__(self, canvas: Canvas) -> None:
        super().__init__()
        self.canvas = canvas
        layout = QVBoxLayout(self)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter…")
        self.filter.setObjectName("palette_filter")
        self.filter.textChanged.connect(self._filter)
        self.list = _PaletteList()
        self.list.setObjectName("palette_list")
        for cls in NODE_CLASSES:
            item = QListWidgetItem(cls.NODE_NAME)
            item.setToolTip((cls.__doc__ or "").strip())
            item.setData(Qt.ItemDataRole.UserRole, cls)
            self.list.addItem(item)
        self.list.itemDoubleClicked.connect(
            lambda item: canvas.add_node(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        hint = QLabel("Drag onto the canvas, or press Tab on the canvas to search.")
        hint.setWordWrap(True)
        layout.addWidget(hint)

    def _filter(self, text: str) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(text.lower() not in item.text().lower())


class _PaletteList(QListWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setDragEnabled(True)

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:  # noqa: N802 - Qt API
        mime = QMimeData()
        ids = ";".join(f"node:{node_type(i.data(Qt.ItemDataRole.UserRole))}" for i in items)
        mime.setData("nodegraphqt/nodes", QByteArray(f"nodegraphqt::{ids}".encode()))
        return mime


class MainWindow(QMainWindow):
    """One project per window; the document is the single source of truth."""

    def __init__(self, project: Project | None = None, *, autosave: bool = True) -> None:
        super().__init__()
        self.session = uuid.uuid4().hex[:12]
        self.ctl = DocumentController(project or Project(), self)
        self.canvas = Canvas(self.ctl, self)
        self.setCentralWidget(self.canvas.widget)
        self.palette = Palette(self.canvas)
        self.inspector = Inspector(self.ctl, self.canvas)
        self.problems = QListWidget()
        self.problems.setObjectName("problems")
        self.problems.itemDoubleClicked.connect(self._goto_problem)
        self.issues: list[Issue] = []
        self.docks: dict[str, QDockWidget] = {}
        self._dock("Palette", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("Plots", self._make_plots(), Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["Problems"], self.docks["Plots"])
        self.docks["Plots"].raise_()
        self.resizeDocks([self.docks["Plots"]], [230], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["Palette"], self.docks["Inspector"]], [190, 380],
                         Qt.Orientation.Horizontal)
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status)
        self._build_actions()
        from app.editor.runs import RunController

        self.run_controller = RunController(self)
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(150)
        self._validate_timer.timeout.connect(self.validate)
        self.ctl.changed.connect(self._validate_timer.start)
        self.ctl.file_changed.connect(self._update_title)
        self.ctl.changed.connect(self._update_title)
        self.canvas.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        if autosave:
            self._autosave_timer.start()
        self.resize(1400, 860)
        self.validate()
        self._update_title()
        QTimer.singleShot(0, self.canvas.fit)

    # ---- construction --------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock

    def _make_plots(self) -> QWidget:
        try:
            from app.plots import PlotsPanel

            return PlotsPanel()
        except Exception:  # noqa: BLE001 - plots are optional for editing
            label = QLabel("Plots appear here while training.")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label

    def _action(self, menu, text: str, slot, shortcut=None, name: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                act.setShortcuts(shortcut)
            else:
                act.setShortcut(shortcut)
        act.triggered.connect(slot)
        if name:
            act.setObjectName(name)
            self.actions_by_name[name] = act
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        mb = self.menuBar()
        a = self._action
        f = mb.addMenu("&File")
        a(f, "&New", self.new_project, QKeySequence.StandardKey.New, "new")
        a(f, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open, "open")
        ex = f.addMenu("Open &Example")
        for e in examples():
            a(ex, e.title, lambda _=False, p=e.path: self.open_example(p), name=f"ex_{e.key}")
        self.recent_menu = f.addMenu("&Recent")
        self._fill_recent()
        f.addSeparator()
        a(f, "&Save", self.save, QKeySequence.StandardKey.Save, "save")
        a(f, "Save &As…", self.save_as, QKeySequence("Ctrl+Shift+S"), "save_as")
        exp = f.addMenu("&Export")
        a(exp, "&Python script…", self.export_dialog, name="export_script")
        a(exp, "&NIR graph…", lambda: export_nir_dialog(self), name="export_nir")
        a(f, "Export as &mlGeNN script…", self.export_mlgenn_dialog, name="export_mlgenn")
        a(f, "&Import mlGeNN script…", self.import_mlgenn_dialog, name="import_mlgenn")
        a(f, "Import &NIR graph…", lambda: import_nir_dialog(self), name="import_nir")
        f.addSeparator()
        a(f, "&Quit", self.close, QKeySequence.StandardKey.Quit, "quit")
        e = mb.addMenu("&Edit")
        undo = self.ctl.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.ctl.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(undo)
        e.addAction(redo)
        self.actions_by_name["undo"] = undo
        self.actions_by_name["redo"] = redo
        e.addSeparator()
        a(e, "Cu&t", self.cut, QKeySequence.StandardKey.Cut, "cut")
        a(e, "&Copy", self.canvas.copy_selected, QKeySequence.StandardKey.Copy, "copy")
        a(e, "&Paste", self.canvas.paste, QKeySequence.StandardKey.Paste, "paste")
        a(e, "&Delete", self.canvas.delete_selected,
          [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)], "delete")
        a(e, "Select &All", self.canvas.select_all, QKeySequence.StandardKey.SelectAll,
          "select_all")
        v = self.view_menu = mb.addMenu("&View")
        a(v, "&Fit", self.canvas.fit, QKeySequence(Qt.Key.Key_F), "fit")
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        a(v, "&Dark theme", lambda: self.set_theme("dark"), name="theme_dark")
        a(v, "&Light theme", lambda: self.set_theme("light"), name="theme_light")
        r = self.run_menu = mb.addMenu("&Run")
        a(r, "&Validate", self.show_problems, QKeySequence("Ctrl+R"), "validate")
        h = mb.addMenu("&Help")
        a(h, "&Keyboard shortcuts", self.show_shortcuts, name="shortcuts")
        a(h, "&About", self.show_about, name="about")
        tb = self.toolbar = self.addToolBar("Main")
        tb.setObjectName("toolbar_main")
        for name in ("new", "open", "save"):
            tb.addAction(self.actions_by_name[name])
        tb.addSeparator()
        tb.addAction(undo)
        tb.addAction(redo)
        tb.addSeparator()
        tb.addAction(self.actions_by_name["validate"])
        tb.addAction(self.actions_by_name["fit"])

    # ---- title, validation ---------------------------------------------
    def _update_title(self) -> None:
        self.setWindowTitle(self.ctl.title())

    def validate(self) -> list[Issue]:
        """Run the library's checks on the document; badge nodes and list problems."""
        base = self.ctl.path.parent if self.ctl.path else None
        try:
            self.issues = validate_project(self.ctl.project, base)
        except Exception as exc:  # noqa: BLE001 - a checker bug must not kill the editor
            self.issues = [Issue(f"validation failed: {exc}")]
        self.canvas.set_issues(self.issues)
        self.problems.clear()
        names = {p.id: p.name for p in self.ctl.project.populations}
        names.update({c.id: c.name for c in self.ctl.project.connections})
        for i in self.issues:
            where = names.get(i.target, i.kind)
            item = QListWidgetItem(f"⚠ {where}: {i.message}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.problems.addItem(item)
        n = len(self.issues)
        self.status.setText("✓ ready to train" if n == 0 else
                            f"⚠ {n} problem{'s' if n != 1 else ''}")
        self.inspector.selection.refresh()
        return self.issues

    def show_problems(self) -> None:
        """Validate now and bring the Problems list forward."""
        self.validate()
        self.docks["Problems"].raise_()

    def _goto_problem(self, item: QListWidgetItem) -> None:
        issue: Issue = item.data(Qt.ItemDataRole.UserRole)
        if issue.kind == "population" and issue.target:
            self.canvas.select([issue.target])
            self.inspector.setCurrentIndex(0)
        elif issue.kind == "connection" and issue.target:
            self.canvas.select([], [issue.target])
            self.inspector.selection.show_item("connection", issue.target)
            self.inspector.setCurrentIndex(0)
        elif issue.kind == "dataset":
            self.inspector.setCurrentIndex(2)
        else:
            self.inspector.setCurrentIndex(1)

    # ---- files ---------------------------------------------------------
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

    def new_project(self) -> None:
        """Start an empty project."""
        if self.confirm_discard():
            self.ctl.replace(Project(), None)

    def open_path(self, path: str | Path) -> bool:
        """Open a project file; on error the open project stays untouched."""
        path = Path(path)
        try:
            project = project_io.load_project(path)
        except ProjectError as exc:
            where = f"\n\nField: {exc.field}" if exc.field else ""
            self.show_error("Cannot open project", f"{path.name}: {exc.message}{where}")
            return False
        self.ctl.replace(project, path)
        self._add_recent(path)
        QTimer.singleShot(0, self.canvas.fit)
        return True

    def open_dialog(self) -> None:
        """File > Open."""
        if not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "",
                                              "Spike Studio projects (*.ssproj)")
        if path:
            self.open_path(path)

    def open_example(self, path: Path) -> None:
        """Open a bundled example as a new unsaved project."""
        if not self.confirm_discard():
            return
        try:
            project = project_io.load_project(path)
        except ProjectError as exc:
            self.show_error("Cannot open example", str(exc))
            return
        self.ctl.replace(project, None)
        QTimer.singleShot(0, self.canvas.fit)

    def save_to(self, path: str | Path) -> bool:
        """Save atomically to ``path``."""
        path = Path(path)
        if path.suffix != project_io.PROJECT_SUFFIX:
            path = path.with_suffix(project_io.PROJECT_SUFFIX)
        if self.ctl.project.name in ("", "Untitled"):
            self.ctl.edit("Name project", lambda p: setattr(p, "name", path.stem))
        try:
            project_io.save_project(self.ctl.project, path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot save", f"{path}: {exc}", traceback.format_exc())
            return False
        self.ctl.mark_saved(path)
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
        self.ctl.replace(result.project, None)
        QTimer.singleShot(0, self.canvas.fit)
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

    def _settings(self) -> QSettings:
        return QSettings("spike-studio", "spike-studio")

    def _add_recent(self, path: Path) -> None:
        s = self._settings()
        recent = [str(path.resolve())] + [p for p in (s.value("recent") or [])
                                          if p != str(path.resolve())]
        s.setValue("recent", recent[:8])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self._settings().value("recent") or []
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
        self.ctl.replace(project, Path(rec.original) if rec.original else None)
        self.ctl.edit("Recovered", lambda p: setattr(p, "name", p.name))  # no-op
        self.ctl.undo_stack.resetClean()
        project_io.discard_autosave(rec.path)
        return True

    # ---- misc ----------------------------------------------------------
    def cut(self) -> None:
        """Copy then delete the selection."""
        if self.canvas.copy_selected():
            self.canvas.delete_selected()

    def set_theme(self, name: str) -> None:
        """Dark or light style sheet (plots follow)."""
        app = QApplication.instance()
        path = STYLE.with_name(f"{name}.qss")
        if app is not None:
            app.setStyleSheet(path.read_text() if path.is_file() else "")
        plots = self.docks["Plots"].widget()
        if hasattr(plots, "set_theme"):
            plots.set_theme(name)

    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts."""
        QMessageBox.information(self, "Keyboard shortcuts", (
            "Ctrl+N / Ctrl+O / Ctrl+S / Ctrl+Shift+S: new, open, save, save as\n"
            "Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y: undo, redo\n"
            "Ctrl+C / Ctrl+V / Ctrl+X, Del: copy, paste, cut, delete\n"
            "Tab on the canvas: search node types\nF: fit the network in view\n"
            "Ctrl+R: validate\nF5 / Space / Shift+F5: train, pause or resume, stop"))

    def show_about(self) -> None:
        """Help > About."""
        QMessageBox.about(self, "About Spike Studio",
                          "Spike Studio: draw, train and inspect spiking neural networks.")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self.confirm_discard():
            event.ignore()
            return
        project_io.discard_autosave(self.session)
        self.run_controller.shutdown()
        event.accept()


def run(argv: list[str] | None = None) -> int:
    """Start the GUI; ``argv[1:]`` may name a project file to open."""
    argv = list(sys.argv if argv is None else argv)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Spike Studio")
    window = MainWindow()
    window.set_theme("dark")
    files = [a for a in argv[1:] if not a.startswith("-")]
    if files:
        window.open_path(files[0])
    else:
        QTimer.singleShot(0, window.offer_recovery)
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
