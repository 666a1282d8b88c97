"""Inspector panel for the dataset: built-in datasets or files, bound to the
input and output populations, with a shape check (files are read off the GUI
thread)."""
from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.editor.controller import DocumentController
from app.editor.fields import ERROR_COLOR, ParamForm
from app.editor.panels.common import discard
from app.project import schema
from app.project.build import resolve_path
from app.project.document import Project
from app.project.errors import ProjectError
from app.project.palette import choose_builtin_dataset
from app.project.schema import Param
from app.project.validate import (
    DataFileSummary,
    data_file_checks,
    dataset_checks,
    summarise_data_file,
)

OK_COLOR = "#50b050"


def _param_for(name: str, default: Any) -> Param:
    if isinstance(default, bool):
        return Param(name, "bool", default)
    if isinstance(default, int):
        return Param(name, "int", default, minimum=None)
    if default is None:
        return Param(name, "optfloat", default)
    return Param(name, "float", default)


class _SummarySignals(QObject):
    done = Signal(object, object)  # key, DataFileSummary | ProjectError


class _SummaryJob(QRunnable):
    """Reads a data file's shapes off the GUI thread."""

    def __init__(self, key: tuple, path: str, fmt: str) -> None:
        super().__init__()
        self.key, self.path, self.fmt = key, path, fmt
        self.signals = _SummarySignals()

    def run(self) -> None:
        try:
            result: object = summarise_data_file(self.path, self.fmt)
        except ProjectError as exc:
            result = exc
        self.signals.done.emit(self.key, result)


class DatasetPanel(QWidget):
    """Built-in datasets or files, bound to input/output populations, with shape checks."""

    def __init__(self, ctl: DocumentController) -> None:
        super().__init__()
        self.ctl = ctl
        form = QFormLayout(self)
        self.source = QComboBox()
        self.source.setObjectName("dataset_source")
        for key, label in (("none", "None"), ("builtin", "Built-in"), ("file", "File")):
            self.source.addItem(label, key)
        self.source.currentIndexChanged.connect(self._source_changed)
        form.addRow("Source", self.source)
        self.builtin = QComboBox()
        self.builtin.setObjectName("dataset_builtin")
        for key in schema.BUILTIN_DATASET_KEYS:
            self.builtin.addItem(self._registry_label(key), key)
        self.builtin.currentIndexChanged.connect(self._builtin_changed)
        form.addRow("Dataset", self.builtin)
        self.params_box = QGroupBox("Loader arguments")
        self.params_layout = QVBoxLayout(self.params_box)
        self.params_form: ParamForm | None = None
        form.addRow(self.params_box)
        self.format = QComboBox()
        self.format.setObjectName("dataset_format")
        self.format.addItem("SHD (.h5)", "shd")
        self.format.addItem("NumPy spikes (.npz)", "npz")
        self.format.currentIndexChanged.connect(
            lambda i: self._set("format", self.format.itemData(i)))
        form.addRow("Format", self.format)
        self.path = QLineEdit()
        self.path.setObjectName("dataset_path")
        self.path.setPlaceholderText("choose a training file")
        self.path.editingFinished.connect(lambda: self._set("path", self.path.text().strip()))
        form.addRow("Train file", self._with_browse(self.path, "path"))
        self.test_path = QLineEdit()
        self.test_path.setObjectName("dataset_test_path")
        self.test_path.setPlaceholderText("optional test file")
        self.test_path.editingFinished.connect(
            lambda: self._set("test_path", self.test_path.text().strip()))
        form.addRow("Test file", self._with_browse(self.test_path, "test_path"))
        self.input = QComboBox()
        self.input.setObjectName("dataset_input")
        self.input.currentIndexChanged.connect(
            lambda i: self._set("input", self.input.itemData(i)))
        self.output = QComboBox()
        self.output.setObjectName("dataset_output")
        self.output.currentIndexChanged.connect(
            lambda i: self._set("output", self.output.itemData(i)))
        form.addRow("Input population", self.input)
        form.addRow("Output population", self.output)
        self._summaries: dict[tuple, object] = {}
        self._jobs: dict[tuple, _SummaryJob] = {}
        self.check = QLabel()
        self.check.setObjectName("dataset_check")
        self.check.setWordWrap(True)
        form.addRow(self.check)
        self.changes = QLabel()
        self.changes.setObjectName("dataset_changes")
        self.changes.setWordWrap(True)
        form.addRow(self.changes)
        ctl.changed.connect(self.refresh)
        self.refresh()

    @staticmethod
    def _registry() -> dict[str, Any]:
        try:
            from app.training.data import BUILTIN_DATASETS
        except ImportError:
            return {}
        return BUILTIN_DATASETS

    def _registry_label(self, key: str) -> str:
        info = self._registry().get(key)
        return info.name if info is not None else key

    def _with_browse(self, edit: QLineEdit, attr: str) -> QWidget:
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(edit, 1)
        btn = QPushButton("Browse…")
        btn.clicked.connect(lambda: self._browse(attr))
        h.addWidget(btn)
        return row

    def _browse(self, attr: str) -> None:
        fmt = self.ctl.project.dataset.format or "shd"
        filt = "SHD files (*.h5 *.hdf5)" if fmt == "shd" else "NumPy spikes (*.npz)"
        path, _ = QFileDialog.getOpenFileName(self, "Choose data file", "", filt)
        if path:
            self._set(attr, path)

    def refresh(self) -> None:
        """Show the document's dataset settings and the shape check."""
        project = self.ctl.project
        ds = project.dataset
        for w in (self.source, self.builtin, self.format, self.input, self.output):
            w.blockSignals(True)
        self.source.setCurrentIndex(self.source.findData(ds.source))
        self.builtin.setCurrentIndex(max(0, self.builtin.findData(ds.name)))
        self.format.setCurrentIndex(max(0, self.format.findData(ds.format or "shd")))
        self.path.setText(ds.path)
        self.test_path.setText(ds.test_path)
        for combo, pops, current in ((self.input, project.inputs(), ds.input),
                                     (self.output, project.outputs(), ds.output)):
            combo.clear()
            combo.addItem("automatic (the only one)", None)
            for p in pops:
                combo.addItem(p.name, p.id)
            combo.setCurrentIndex(max(0, combo.findData(current)))
        for w in (self.source, self.builtin, self.format, self.input, self.output):
            w.blockSignals(False)
        builtin = ds.source == "builtin"
        is_file = ds.source == "file"
        self.builtin.setEnabled(builtin)
        self.params_box.setVisible(builtin)
        for w in (self.format, self.path, self.test_path):
            w.setEnabled(is_file)
        if builtin:
            info = self._registry().get(ds.name)
            kwargs = dict(info.default_kwargs) if info is not None else {}
            params = tuple(_param_for(k, v) for k, v in kwargs.items())
            if self.params_form is None or self.params_form.params != params:
                if self.params_form is not None:
                    discard(self.params_form)
                self.params_form = ParamForm(params)
                self.params_form.setObjectName("dataset_params")
                self.params_form.edited.connect(self._param)
                self.params_layout.addWidget(self.params_form)
                self.params_form.show()  # shown now, not on the next event loop turn
            self.params_form.set_values({**kwargs, **ds.params})
        base = self.ctl.path.parent if self.ctl.path else None
        problems = dataset_checks(project, base)
        summary = None
        if is_file and not problems and ds.path:
            summary = self._file_summary(str(resolve_path(ds.path, base)), ds.format)
            if summary is None:
                self.check.setText("Reading the file…")
                self.check.setStyleSheet("")
                return
            if isinstance(summary, ProjectError):
                self.check.setText(f"⚠ {summary.message}")
                self.check.setStyleSheet(f"color: {ERROR_COLOR};")
                return
            problems = data_file_checks(project, summary)
        if ds.source == "none":
            self.check.setText("No dataset: the network can be built and exported but not "
                               "trained.")
            self.check.setStyleSheet("")
        elif problems:
            self.check.setText("\n".join(f"⚠ {i.message}" for i in problems))
            self.check.setStyleSheet(f"color: {ERROR_COLOR};")
        else:
            text = "✓ shapes match"
            if isinstance(summary, DataFileSummary):
                kind = ("regression targets" if summary.num_classes is None
                        else f"{summary.num_classes} classes")
                text += (f": {summary.num_examples} examples, {summary.num_inputs} inputs, "
                         f"{kind}, spikes up to {summary.latest_spike_ms:g} ms")
            info = self._registry().get(ds.name) if builtin else None
            if info is not None:
                kind = ("regression, " + str(info.num_outputs) + " outputs"
                        if info.num_classes is None else f"{info.num_classes} classes")
                text += f": {info.input_count(ds.params)} inputs, {kind}"
            self.check.setText(text)
            self.check.setStyleSheet(f"color: {OK_COLOR};")

    def _file_summary(self, path: str, fmt: str) -> object:
        """Cached summary of a data file, or None while it is being read."""
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return ProjectError(f"file not found: {path}", "dataset.path")
        key = (path, fmt, mtime)
        if key in self._summaries:
            return self._summaries[key]
        if key not in self._jobs:
            job = _SummaryJob(key, path, fmt)
            job.signals.done.connect(self._summary_done)
            self._jobs[key] = job
            QThreadPool.globalInstance().start(job)
        return None

    def _summary_done(self, key: tuple, result: object) -> None:
        self._jobs.pop(key, None)
        self._summaries[key] = result
        self.refresh()

    def _set(self, attr: str, value: Any) -> None:
        self.ctl.edit(f"Dataset {attr}", lambda p: setattr(p.dataset, attr, value))

    def _param(self, name: str, value: Any) -> None:
        self.ctl.edit(f"Dataset {name}", lambda p: p.dataset.params.__setitem__(name, value))

    def _source_changed(self, index: int) -> None:
        source = self.source.itemData(index)

        if source == "builtin":
            name = self.ctl.project.dataset.name
            self.choose_builtin(name if name in schema.BUILTIN_DATASET_KEYS else "yin_yang")
            return

        def fn(p: Project) -> None:
            ds = p.dataset
            ds.source = source
            ds.params = {}
            if source == "file" and ds.format not in schema.FILE_FORMATS:
                ds.format = "shd"

        self.changes.setText("")
        self.ctl.edit("Dataset source", fn)

    def _builtin_changed(self, index: int) -> None:
        """A built-in dataset also brings its timestep, trial length and sizes."""
        self.choose_builtin(self.builtin.itemData(index))

    def choose_builtin(self, key: str) -> list[str]:
        """Bind built-in dataset ``key`` (one undoable edit); returns what changed."""
        changes = self.ctl.edit("Dataset", lambda p: choose_builtin_dataset(p, key)) or []
        self.changes.setText("Also set: " + "; ".join(changes) if changes else "")
        return changes
