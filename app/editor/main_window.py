"""The Spike Studio main window: palette, canvas, inspector, plots, menus."""
from __future__ import annotations

import sys
import uuid

from PySide6.QtCore import QByteArray, QMimeData, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.editor import qt  # noqa: F401  (sets QT_PREFERRED_BINDING first)
from app.editor import theme as themes
from app.editor.canvas import NODE_CLASSES, Canvas, node_type
from app.editor.controller import DocumentController
from app.editor.file_actions import FileActions
from app.editor.icons import themed_icon
from app.editor.inspector import Inspector
from app.editor.nir_actions import export_nir_dialog, import_nir_dialog
from app.project import io as project_io
from app.project.document import Project
from app.project.examples import examples
from app.project.validate import Issue, validate_project

AUTOSAVE_MS = 2 * 60 * 1000
#: Default window size, shrunk to the screen: it must fit a 1366x768 laptop.
DEFAULT_SIZE = QSize(1280, 760)
#: Share of the window height the plots get at the start (the user can drag it).
PLOTS_SHARE = 0.42


def initial_size(available: QSize) -> QSize:
    """The first window size on a screen whose free area is ``available``."""
    return QSize(min(DEFAULT_SIZE.width(), available.width() - 16),
                 min(DEFAULT_SIZE.height(), available.height() - 40)).expandedTo(QSize(800, 560))


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
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for cls in NODE_CLASSES:
            item = QListWidgetItem(cls.NODE_NAME)
            item.setToolTip((cls.__doc__ or "").strip())
            item.setData(Qt.ItemDataRole.UserRole, cls)
            self.list.addItem(item)
        self.list.itemDoubleClicked.connect(
            lambda item: canvas.add_node(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        hint = QLabel("Double-click or drag onto the canvas; Tab on the canvas searches.")
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


class MainWindow(FileActions, QMainWindow):
    """One project per window; the document is the single source of truth."""

    def __init__(self, project: Project | None = None, *, autosave: bool = True) -> None:
        super().__init__()
        self.session = uuid.uuid4().hex[:12]
        self.theme = "dark"
        self.ctl = DocumentController(project or Project(), self)
        self.canvas = Canvas(self.ctl, self)
        self.setCentralWidget(self.canvas.widget)
        self.palette = Palette(self.canvas)
        self.inspector = Inspector(self.ctl, self.canvas)
        self.problems = QListWidget()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problems.itemDoubleClicked.connect(self._goto_problem)
        self.issues: list[Issue] = []
        self.docks: dict[str, QDockWidget] = {}
        self.icon_names: dict[QAction, str] = {}
        self._dock("Palette", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Plots", self._make_plots(), Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.status = QLabel()
        self.status.setObjectName("validation_status")
        self.statusBar().addPermanentWidget(self.status)
        self._build_actions()
        from app.editor.runs import RunController

        self.run_controller = RunController(self)
        from app.editor.calibration import CalibrationController

        self.calibration = CalibrationController(self)
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
        screen = self.screen() or QGuiApplication.primaryScreen()
        self.resize(initial_size(screen.availableGeometry().size() if screen is not None
                                 else DEFAULT_SIZE))
        self._arrange_docks()
        self._theme_widgets(self.theme)  # the app style sheet is set by run() / View
        self.validate()
        self._update_title()
        QTimer.singleShot(0, self.canvas.fit)

    # ---- construction --------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        return dock

    def _arrange_docks(self) -> None:
        """Plots wide at the bottom, Problems and Runs tabbed beside them."""
        d = self.docks
        self.splitDockWidget(d["Plots"], d["Problems"], Qt.Orientation.Horizontal)
        self.tabifyDockWidget(d["Problems"], d["Runs"])
        d["Problems"].raise_()
        w, h = self.width(), self.height()
        self.resizeDocks([d["Plots"]], [int(h * PLOTS_SHARE)], Qt.Orientation.Vertical)
        self.resizeDocks([d["Plots"], d["Problems"]], [int(w * 0.72), int(w * 0.28)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([d["Palette"], d["Inspector"]], [180, 360], Qt.Orientation.Horizontal)

    def _make_plots(self) -> QWidget:
        try:
            from app.plots import PlotsPanel

            panel = PlotsPanel()
        except Exception:  # noqa: BLE001 - plots are optional for editing
            label = QLabel("Plots appear here while training.")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label
        return panel

    @property
    def plots(self):  # noqa: ANN201 - PlotsPanel or None
        """The plots panel (None when pyqtgraph is unavailable)."""
        w = self.docks["Plots"].widget()
        return w if hasattr(w, "update_from_message") else None

    def _action(self, menu, text: str, slot, shortcut=None, name: str = "",
                icon: str = "") -> QAction:
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
        if icon:
            self.icon_names[act] = icon
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        mb = self.menuBar()
        a = self._action
        f = mb.addMenu("&File")
        a(f, "&New", self.new_project, QKeySequence.StandardKey.New, "new", "new")
        a(f, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open, "open", "open")
        ex = f.addMenu("Open &Example")
        for e in examples():
            a(ex, e.title, lambda _=False, p=e.path: self.open_example(p), name=f"ex_{e.key}")
        self.recent_menu = f.addMenu("&Recent")
        self._fill_recent()
        f.addSeparator()
        a(f, "&Save", self.save, QKeySequence.StandardKey.Save, "save", "save")
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
        self.icon_names.update({undo: "undo", redo: "redo"})
        e.addSeparator()
        a(e, "Cu&t", self.cut, QKeySequence.StandardKey.Cut, "cut")
        a(e, "&Copy", self.canvas.copy_selected, QKeySequence.StandardKey.Copy, "copy")
        a(e, "&Paste", self.canvas.paste, QKeySequence.StandardKey.Paste, "paste")
        a(e, "&Delete", self.canvas.delete_selected,
          [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)], "delete")
        a(e, "Select &All", self.canvas.select_all, QKeySequence.StandardKey.SelectAll,
          "select_all")
        v = self.view_menu = mb.addMenu("&View")
        a(v, "&Fit", self.canvas.fit, QKeySequence(Qt.Key.Key_F), "fit", "fit")
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        detach = a(v, "Plots in a separate &window", self.set_plots_detached,
                   QKeySequence("Ctrl+Shift+P"), "detach_plots", "detach")
        detach.setCheckable(True)
        self.docks["Plots"].topLevelChanged.connect(detach.setChecked)
        grid = a(v, "All plots at &once (grid)", self.set_plots_grid, None, "plots_grid", "grid")
        grid.setCheckable(True)
        v.addSeparator()
        a(v, "&Dark theme", lambda: self.set_theme("dark"), name="theme_dark")
        a(v, "&Light theme", lambda: self.set_theme("light"), name="theme_light")
        r = self.run_menu = mb.addMenu("&Run")
        a(r, "&Validate", self.show_problems, QKeySequence("Ctrl+R"), "validate", "validate")
        h = mb.addMenu("&Help")
        a(h, "&Keyboard shortcuts", self.show_shortcuts, name="shortcuts")
        a(h, "&About", self.show_about, name="about")
        tb = self.toolbar = self.addToolBar("Main")
        tb.setObjectName("toolbar_main")
        tb.setIconSize(QSize(20, 20))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for name in ("new", "open", "save"):
            tb.addAction(self.actions_by_name[name])
        tb.addSeparator()
        tb.addAction(undo)
        tb.addAction(redo)
        tb.addSeparator()
        tb.addAction(self.actions_by_name["validate"])
        tb.addAction(self.actions_by_name["fit"])
        if self.plots is not None:
            for name in ("plots_grid", "detach_plots"):
                self.plots.add_corner_action(self.actions_by_name[name])

    def add_tool(self, action: QAction, icon: str, with_text: bool = False) -> QToolButton:
        """Put ``action`` on the toolbar with a themed icon (and its text)."""
        self.icon_names[action] = icon
        action.setIcon(themed_icon(icon, self.theme))
        self.toolbar.addAction(action)
        button = self.toolbar.widgetForAction(action)
        if with_text and isinstance(button, QToolButton):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        return button

    # ---- title, validation ---------------------------------------------
    def _update_title(self) -> None:
        self.setWindowTitle(self.ctl.title())

    def validate(self) -> list[Issue]:
        """Run the library's checks on the document; badge nodes and list problems."""
        base = self.ctl.path.parent if self.ctl.path else None
        try:
            issues = validate_project(self.ctl.project, base)
        except Exception as exc:  # noqa: BLE001 - a checker bug must not kill the editor
            issues = [Issue(f"validation failed: {exc}")]
        return self.show_issues(issues, replace=True)

    def show_issues(self, issues: list[Issue], replace: bool = False) -> list[Issue]:
        """Badge the nodes/edges and list ``issues`` (added to those shown unless
        ``replace``); e.g. problems the worker's readiness check found."""
        shown = [] if replace else list(self.issues)
        shown += [i for i in issues if i not in shown]
        self.issues = shown
        self.canvas.set_issues(self.issues)
        self.problems.clear()
        names = {p.id: p.name for p in self.ctl.project.populations}
        names.update({c.id: c.name for c in self.ctl.project.connections})
        for i in self.issues:
            where = names.get(i.target, i.kind)
            warning = getattr(i, "severity", "error") == "warning"
            item = QListWidgetItem(f"{'ⓘ' if warning else '⚠'} {where}: {i.message}"
                                   + (" (warning: training still runs)" if warning else ""))
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.problems.addItem(item)
        n = sum(getattr(i, "severity", "error") == "error" for i in self.issues)
        warnings = len(self.issues) - n
        text = ("✓ ready to train" if n == 0 else f"⚠ {n} problem{'s' if n != 1 else ''}")
        if warnings:
            text += f" ({warnings} warning{'s' if warnings != 1 else ''})"
        self.status.setText(text)
        self.status.setToolTip("" if not self.issues else "Run > Validate lists them")
        self.inspector.selection.refresh()
        return self.issues

    def show_problems(self) -> None:
        """Validate now and bring the Problems list forward."""
        self.validate()
        self.docks["Problems"].show()
        self.docks["Problems"].raise_()

    def _goto_problem(self, item: QListWidgetItem) -> None:
        issue: Issue = item.data(Qt.ItemDataRole.UserRole)
        if issue.kind == "population" and issue.target:
            self.canvas.select([issue.target])
            self.inspector.show_tab("Selection")
        elif issue.kind == "connection" and issue.target:
            self.canvas.select([], [issue.target])
            self.inspector.selection.show_item("connection", issue.target)
            self.inspector.show_tab("Selection")
        elif issue.kind == "dataset":
            self.inspector.show_tab("Dataset")
        elif (issue.field or "").startswith("training"):
            self.inspector.show_tab("Training")
        else:
            self.inspector.show_tab("Compiler")

    # ---- view ----------------------------------------------------------
    def set_plots_detached(self, detached: bool) -> None:
        """Show the plots in their own window (large) or back in the main window."""
        dock = self.docks["Plots"]
        dock.show()
        dock.setFloating(bool(detached))
        if detached:
            screen = self.screen().availableGeometry() if self.screen() else None
            w = min(1000, screen.width() - 40) if screen else 1000
            h = min(680, screen.height() - 60) if screen else 680
            dock.resize(w, h)
            dock.raise_()
        self.actions_by_name["detach_plots"].setChecked(bool(detached))

    def set_plots_grid(self, grid: bool) -> None:
        """All four plots at once (2 x 2) or one per tab."""
        if self.plots is not None:
            self.plots.set_layout("grid" if grid else "tabs")
        self.actions_by_name["plots_grid"].setChecked(bool(grid))

    def set_theme(self, name: str, remember: bool = True) -> None:
        """Dark or light: style sheet, toolbar icons, canvas and plots."""
        themes.apply_style(name)
        self._theme_widgets(name)
        if remember:
            themes.settings().setValue("theme", name)

    def _theme_widgets(self, name: str) -> None:
        """What the application style sheet does not reach: icons, canvas, plots."""
        self.theme = name
        for action, icon in self.icon_names.items():
            action.setIcon(themed_icon(icon, name))
        self.canvas.set_theme(name)
        if self.plots is not None:
            self.plots.set_theme(name)

    # ---- misc ----------------------------------------------------------
    def cut(self) -> None:
        """Copy then delete the selection."""
        if self.canvas.copy_selected():
            self.canvas.delete_selected()

    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts."""
        QMessageBox.information(self, "Keyboard shortcuts", (
            "Ctrl+N / Ctrl+O / Ctrl+S / Ctrl+Shift+S: new, open, save, save as\n"
            "Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y: undo, redo\n"
            "Ctrl+C / Ctrl+V / Ctrl+X, Del: copy, paste, cut, delete\n"
            "Tab on the canvas: search node types\nF: fit the network in view\n"
            "Ctrl+Shift+P: plots in a separate window\n"
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
        self.calibration.shutdown()
        self.run_controller.shutdown()
        event.accept()


def run(argv: list[str] | None = None) -> int:
    """Start the GUI; ``argv[1:]`` may name a project file to open."""
    argv = list(sys.argv if argv is None else argv)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Spike Studio")
    window = MainWindow()
    window.set_theme(themes.preferred_theme(), remember=False)
    files = [a for a in argv[1:] if not a.startswith("-")]
    if files:
        window.open_path(files[0])
    else:
        QTimer.singleShot(0, window.offer_recovery)
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
