"""Inspector dock: selection editor and the Compiler, Dataset and Training tabs.

Every widget edit becomes one undoable document edit through the controller;
widgets are refreshed from the document on every change.
"""
from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.editor.canvas import Canvas
from app.editor.controller import DocumentController
from app.editor.fields import INT_MAX, NumberEdit, ParamForm
from app.project import schema
from app.project.build import resolve_path
from app.project.defaults import Change, apply_compiler_defaults
from app.project.document import NAME_RE, Project, check_shape, new_compiler
from app.project.errors import ProjectError
from app.project.schema import Param
from app.project.validate import (
    DataFileSummary,
    data_file_checks,
    dataset_checks,
    summarise_data_file,
)


def discard(widget: QWidget) -> None:
    """Remove a replaced form: silence it and its fields first, so a field
    losing focus while it is destroyed cannot emit into the document."""
    for child in widget.findChildren(QWidget):
        child.blockSignals(True)
    widget.blockSignals(True)
    widget.hide()
    widget.setParent(None)
    widget.deleteLater()


class TypedEditor(QWidget):
    """A type combo plus the chosen type's parameters (connectivity, weight,
    synapse, loss, optimiser); emits ``changed(dict)`` with the full value."""

    changed = Signal(dict)

    def __init__(self, table: dict[str, tuple[Param, ...]], name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self.setObjectName(name)
        self.combo = QComboBox()
        self.combo.setObjectName(f"{name}_type")
        for key in table:
            self.combo.addItem(key, key)
        self.form: ParamForm | None = None
        self.value: dict[str, Any] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.combo)
        self.combo.currentIndexChanged.connect(self._type_changed)

    def set_value(self, value: dict[str, Any]) -> None:
        """Show ``value`` (no signals)."""
        self.value = dict(value)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(value["type"]))
        self.combo.blockSignals(False)
        if self.form is None or self.form.params != self.table[value["type"]]:
            if self.form is not None:
                discard(self.form)
            self.form = ParamForm(self.table[value["type"]])
            self.form.edited.connect(self._param_edited)
            self._layout.addWidget(self.form)
        self.form.set_values(value)

    def _type_changed(self, index: int) -> None:
        kind = self.combo.itemData(index)
        new = {"type": kind, **schema.defaults(self.table[kind])}
        for k in new:  # keep values that carry over (delay, scale_i, ...)
            if k != "type" and k in self.value:
                new[k] = self.value[k]
        self.changed.emit(new)

    def _param_edited(self, name: str, value: Any) -> None:
        self.changed.emit({**self.value, name: value})


class SelectionPanel(QWidget):
    """Edits the selected population or connection."""

    def __init__(self, ctl: DocumentController, canvas: Canvas) -> None:
        super().__init__()
        self.ctl = ctl
        self.canvas = canvas
        self.current: tuple[str, str] | None = None  # ("population"|"connection", id)
        self.pages: list[QWidget] = []
        self._layout = layout = QVBoxLayout(self)
        empty = QLabel("Select a node or a connection on the canvas.")
        empty.setWordWrap(True)
        self._add_page(empty)
        self._build_population_page()
        self._build_connection_page()
        self.issues = QLabel()
        self.issues.setObjectName("selection_issues")
        self.issues.setWordWrap(True)
        self.issues.setStyleSheet("color: #e06060;")
        layout.addWidget(self.issues)
        layout.addStretch(1)
        canvas.selection_changed.connect(self._selection_changed)
        ctl.changed.connect(self.refresh)

    # ---- pages ---------------------------------------------------------
    def _add_page(self, page: QWidget) -> None:
        self.pages.append(page)
        self._layout.addWidget(page)
        page.setVisible(len(self.pages) == 1)

    def page(self) -> int:
        """Index of the visible page: 0 nothing, 1 population, 2 connection."""
        return next(i for i, p in enumerate(self.pages) if not p.isHidden())

    def _show_page(self, index: int) -> None:
        for i, p in enumerate(self.pages):
            p.setVisible(i == index)

    def _build_population_page(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.pop_name = QLineEdit()
        self.pop_name.setObjectName("pop_name")
        self.pop_name.editingFinished.connect(self._rename_pop)
        self.pop_model = QComboBox()
        self.pop_model.setObjectName("pop_model")
        self.pop_model.currentIndexChanged.connect(self._model_changed)
        self.pop_size = QSpinBox()
        self.pop_size.setObjectName("pop_size")
        self.pop_size.setRange(1, 10_000_000)
        self.pop_size.setKeyboardTracking(False)
        self.pop_size.setSuffix(" neurons")
        self.pop_size.valueChanged.connect(lambda v: self._pop_set_size(int(v)))
        self.pop_shape = QLineEdit()
        self.pop_shape.setObjectName("pop_shape")
        self.pop_shape.setPlaceholderText("flat (or height, width, channels)")
        self.pop_shape.setToolTip("Shape for convolution/pooling, e.g. 28, 28, 1; set by the "
                                  "connectivity for their targets")
        self.pop_shape.editingFinished.connect(self._pop_set_shape)
        self.pop_readout = QComboBox()
        self.pop_readout.setObjectName("pop_readout")
        self.pop_readout.addItem("none (hidden)", None)
        for r in schema.READOUTS:
            self.pop_readout.addItem(r, r)
        self.pop_readout.currentIndexChanged.connect(
            lambda i: self._pop_set("readout", self.pop_readout.itemData(i)))
        self.pop_record = QCheckBox("record spikes")
        self.pop_record.setObjectName("pop_record")
        self.pop_record.toggled.connect(lambda v: self._pop_set("record_spikes", bool(v)))
        form.addRow("Name", self.pop_name)
        form.addRow("Model", self.pop_model)
        form.addRow("Size", self.pop_size)
        form.addRow("Shape", self.pop_shape)
        form.addRow("Readout", self.pop_readout)
        form.addRow("", self.pop_record)
        self.pop_params_box = QGroupBox("Parameters")
        self.pop_params_layout = QVBoxLayout(self.pop_params_box)
        self.pop_params: ParamForm | None = None
        form.addRow(self.pop_params_box)
        self.pop_conns = QListWidget()
        self.pop_conns.setObjectName("pop_conns")
        self.pop_conns.setMaximumHeight(90)
        self.pop_conns.itemDoubleClicked.connect(
            lambda item: self.canvas.select([], [item.data(Qt.ItemDataRole.UserRole)]))
        form.addRow("Connections", self.pop_conns)
        self._add_page(page)

    def _build_connection_page(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.conn_name = QLineEdit()
        self.conn_name.setObjectName("conn_name")
        self.conn_name.editingFinished.connect(self._rename_conn)
        self.conn_ends = QLabel()
        self.conn_connectivity = TypedEditor(schema.CONNECTIVITY, "conn_connectivity")
        self.conn_weight = TypedEditor(schema.INITIALIZERS, "conn_weight")
        self.conn_synapse = TypedEditor(schema.SYNAPSES, "conn_synapse")
        for key, ed in (("connectivity", self.conn_connectivity), ("weight", self.conn_weight),
                        ("synapse", self.conn_synapse)):
            ed.changed.connect(lambda v, k=key: self._conn_set(k, v))
        self.conn_max_delay = QSpinBox()
        self.conn_max_delay.setObjectName("conn_max_delay")
        self.conn_max_delay.setRange(-1, 100_000)
        self.conn_max_delay.setSpecialValueText("none")
        self.conn_max_delay.setSuffix(" steps")
        self.conn_max_delay.setKeyboardTracking(False)
        self.conn_max_delay.valueChanged.connect(
            lambda v: self._conn_set("max_delay_steps", None if v < 0 else int(v)))
        form.addRow("Name", self.conn_name)
        form.addRow("From -> to", self.conn_ends)
        form.addRow("Connectivity", self.conn_connectivity)
        form.addRow("Weight", self.conn_weight)
        form.addRow("Synapse", self.conn_synapse)
        form.addRow("Max delay", self.conn_max_delay)
        self._add_page(page)

    # ---- selection / refresh --------------------------------------------
    def _selection_changed(self) -> None:
        pops, conns = self.canvas.selected()
        if len(pops) == 1 and not conns:
            self.current = ("population", pops[0])
        elif len(conns) == 1 and not pops:
            self.current = ("connection", conns[0])
        elif not pops and not conns:
            self.current = None
        else:
            self.current = None
        self.refresh()

    def show_item(self, kind: str, item_id: str) -> None:
        """Edit a population or connection by id."""
        self.current = (kind, item_id)
        self.refresh()

    def refresh(self) -> None:
        """Show the current item's values."""
        project = self.ctl.project
        self.issues.setText("")
        if self.current is None:
            self._show_page(0)
            return
        kind, item_id = self.current
        try:
            item = project.population(item_id) if kind == "population" \
                else project.connection(item_id)
        except KeyError:
            self.current = None
            self._show_page(0)
            return
        issues = self.canvas.issues_for(item_id)
        self.issues.setText("\n".join(f"⚠ {i.message}" for i in issues))
        if kind == "population":
            self._show_population(project, item)
        else:
            self._show_connection(project, item)

    def _show_population(self, project: Project, pop: Any) -> None:
        self._show_page(1)
        widgets = (self.pop_name, self.pop_model, self.pop_size, self.pop_readout,
                   self.pop_record)
        for w in widgets:
            w.blockSignals(True)
        self.pop_name.setText(pop.name)
        self.pop_model.clear()
        role = schema.model_role(pop.model)
        for model, (r, _) in schema.NEURON_MODELS.items():
            if r == role:
                self.pop_model.addItem(schema.MODEL_LABELS[model], model)
        self.pop_model.setCurrentIndex(self.pop_model.findData(pop.model))
        self.pop_size.setValue(pop.size)
        self.pop_shape.setText(", ".join(map(str, pop.shape)) if pop.shape else "")
        self.pop_shape.setStyleSheet("")
        self.pop_readout.setCurrentIndex(self.pop_readout.findData(pop.readout))
        self.pop_readout.setEnabled(role != "input")
        self.pop_record.setChecked(pop.record_spikes)
        for w in widgets:
            w.blockSignals(False)
        params = schema.model_params(pop.model)
        if self.pop_params is None or self.pop_params.params != params:
            if self.pop_params is not None:
                discard(self.pop_params)
            self.pop_params = ParamForm(params)
            self.pop_params.setObjectName("pop_params")
            self.pop_params.edited.connect(self._pop_param)
            self.pop_params_layout.addWidget(self.pop_params)
        self.pop_params.set_values(pop.params)
        self.pop_conns.clear()
        for c in project.connections:
            if pop.id in (c.source, c.target):
                src, tgt = project.population(c.source).name, project.population(c.target).name
                item = QListWidgetItem(f"{src} -> {tgt}  ({c.name})")
                item.setData(Qt.ItemDataRole.UserRole, c.id)
                self.pop_conns.addItem(item)

    def _show_connection(self, project: Project, conn: Any) -> None:
        self._show_page(2)
        self.conn_name.setText(conn.name)
        src, tgt = project.population(conn.source).name, project.population(conn.target).name
        self.conn_ends.setText(f"{src} -> {tgt}" + ("  (recurrent)" if conn.is_recurrent
                                                     else ""))
        self.conn_connectivity.set_value(conn.connectivity)
        self.conn_weight.set_value(conn.weight)
        fixed = conn.connectivity["type"] in schema.NO_WEIGHT
        self.conn_weight.setEnabled(not fixed)
        self.conn_weight.setToolTip("pooling uses fixed weights (1 / window area)" if fixed
                                    else "")
        self.conn_synapse.set_value(conn.synapse)
        self.conn_max_delay.blockSignals(True)
        self.conn_max_delay.setValue(-1 if conn.max_delay_steps is None
                                     else conn.max_delay_steps)
        self.conn_max_delay.blockSignals(False)

    # ---- edits ---------------------------------------------------------
    def _pid(self) -> str | None:
        return self.current[1] if self.current and self.current[0] == "population" else None

    def _cid(self) -> str | None:
        return self.current[1] if self.current and self.current[0] == "connection" else None

    def _pop_set(self, attr: str, value: Any) -> None:
        pid = self._pid()
        if pid is None:
            return

        def fn(p: Project) -> None:
            setattr(p.population(pid), attr, value)

        self.ctl.edit(f"Set {attr.replace('_', ' ')}", fn)

    def _pop_set_size(self, size: int) -> None:
        """A new size makes the population flat (a shape must multiply to the size)."""
        pid = self._pid()
        if pid is None:
            return

        def fn(p: Project) -> None:
            pop = p.population(pid)
            if pop.size != size:
                pop.size, pop.shape = size, None

        self.ctl.edit("Set size", fn)

    def _pop_set_shape(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        text = self.pop_shape.text().replace("x", ",")
        try:
            dims = [int(t) for t in text.split(",") if t.strip()]
            shape = check_shape(dims, None, "shape") if dims else None
        except (ValueError, ProjectError) as exc:
            self.pop_shape.setStyleSheet("border: 1px solid #d04040;")
            why = getattr(exc, "message", "must be whole numbers")
            self.pop_shape.setToolTip(f"Shape {why}; kept the old one")
            return

        def fn(p: Project) -> None:
            pop = p.population(pid)
            pop.shape = shape if shape is None or len(shape) > 1 else None
            if shape is not None:
                pop.size = math.prod(shape)

        self.ctl.edit("Set shape", fn)

    def _pop_param(self, name: str, value: Any) -> None:
        pid = self._pid()
        if pid is None:
            return
        self.ctl.edit(f"Set {name}", lambda p: p.population(pid).params.__setitem__(name, value))

    def _model_changed(self, index: int) -> None:
        pid = self._pid()
        model = self.pop_model.itemData(index)
        if pid is None or model is None:
            return

        def fn(p: Project) -> None:
            pop = p.population(pid)
            params = schema.defaults(schema.model_params(model))
            for k in params:
                if k in pop.params:
                    params[k] = pop.params[k]
            pop.model = model
            pop.params = params

        self.ctl.edit("Change model", fn)

    def _name_ok(self, name: str, own: str) -> bool:
        project = self.ctl.project
        taken = {p.name for p in project.populations if p.id != own} | \
            {c.name for c in project.connections if c.id != own}
        return bool(NAME_RE.match(name)) and name not in taken

    def _rename_pop(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        name = self.pop_name.text().strip()
        if not self._name_ok(name, pid):
            self.pop_name.setToolTip("names are letters, digits and '_' and must be unique")
            self.pop_name.setText(self.ctl.project.population(pid).name)
            return
        self._pop_set("name", name)

    def _rename_conn(self) -> None:
        cid = self._cid()
        if cid is None:
            return
        name = self.conn_name.text().strip()
        if not self._name_ok(name, cid):
            self.conn_name.setText(self.ctl.project.connection(cid).name)
            return
        self._conn_set("name", name)

    def _conn_set(self, attr: str, value: Any) -> None:
        cid = self._cid()
        if cid is None:
            return

        def fn(p: Project) -> None:
            setattr(p.connection(cid), attr, value)

        self.ctl.edit(f"Set {attr.replace('_', ' ')}", fn)


class CompilerPanel(QWidget):
    """Choose the compiler and edit every constructor argument."""

    defaults_applied = Signal(list)

    def __init__(self, ctl: DocumentController) -> None:
        super().__init__()
        self.ctl = ctl
        layout = QVBoxLayout(self)
        self.kind = QComboBox()
        self.kind.setObjectName("compiler_type")
        for key, info in schema.COMPILERS.items():
            self.kind.addItem(info.label, key)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        layout.addWidget(self.kind)
        self.apply_btn = QPushButton("Apply compiler defaults")
        self.apply_btn.setObjectName("apply_defaults")
        self.apply_btn.setToolTip("Set the compiler's default_params on every population and "
                                  "synapse (undoable)")
        self.apply_btn.clicked.connect(self.apply_defaults)
        layout.addWidget(self.apply_btn)
        self.defaults_result = QLabel()
        self.defaults_result.setObjectName("defaults_result")
        self.defaults_result.setWordWrap(True)
        layout.addWidget(self.defaults_result)
        self.params_box = QGroupBox("Arguments")
        self.params_layout = QVBoxLayout(self.params_box)
        self.form: ParamForm | None = None
        layout.addWidget(self.params_box)
        self.loss_box = QGroupBox("Loss")
        self.loss = TypedEditor(schema.LOSSES, "loss")
        self.loss.changed.connect(lambda v: self._set("loss", v))
        QVBoxLayout(self.loss_box).addWidget(self.loss)
        layout.addWidget(self.loss_box)
        self.opt_box = QGroupBox("Optimiser")
        self.optimiser = TypedEditor(schema.OPTIMISERS, "optimiser")
        self.optimiser.changed.connect(lambda v: self._set("optimiser", v))
        QVBoxLayout(self.opt_box).addWidget(self.optimiser)
        layout.addWidget(self.opt_box)
        self.delay_box = QGroupBox("Delay learning")
        dl = QVBoxLayout(self.delay_box)
        self.delay_on = QCheckBox("delay optimiser")
        self.delay_on.setObjectName("delay_optimiser_on")
        self.delay_on.toggled.connect(self._delay_toggled)
        self.delay_opt = TypedEditor(schema.OPTIMISERS, "delay_optimiser")
        self.delay_opt.changed.connect(lambda v: self._set("delay_optimiser", v))
        self.delay_conns = QListWidget()
        self.delay_conns.setObjectName("delay_learn_conns")
        self.delay_conns.setMaximumHeight(90)
        self.delay_conns.itemChanged.connect(self._delay_conns_changed)
        dl.addWidget(self.delay_on)
        dl.addWidget(self.delay_opt)
        dl.addWidget(QLabel("Connections whose delays are learned:"))
        dl.addWidget(self.delay_conns)
        layout.addWidget(self.delay_box)
        self.deep_r_box = QGroupBox("Deep R rewiring")
        dr = QVBoxLayout(self.deep_r_box)
        self.deep_r_conns = QListWidget()
        self.deep_r_conns.setObjectName("deep_r_conns")
        self.deep_r_conns.setMaximumHeight(90)
        self.deep_r_conns.setToolTip("Deep R keeps the number of synapses fixed and moves "
                                     "those whose weight changes sign to random free places "
                                     "(strength: deep_r_l1_strength above)")
        self.deep_r_conns.itemChanged.connect(self._deep_r_conns_changed)
        dr.addWidget(QLabel("Sparse connections to rewire:"))
        dr.addWidget(self.deep_r_conns)
        layout.addWidget(self.deep_r_box)
        layout.addStretch(1)
        ctl.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show the document's compiler."""
        spec = self.ctl.project.compiler
        info = spec.info
        self.kind.blockSignals(True)
        self.kind.setCurrentIndex(self.kind.findData(spec.type))
        self.kind.blockSignals(False)
        if self.form is None or self.form.params != info.params:
            if self.form is not None:
                discard(self.form)
            self.form = ParamForm(info.params)
            self.form.setObjectName("compiler_params")
            self.form.edited.connect(self._param)
            self.params_layout.addWidget(self.form)
        self.form.set_values(spec.params)
        self.loss_box.setVisible(info.has_losses)
        if spec.loss is not None:
            self.loss.set_value(spec.loss)
        self.opt_box.setVisible(info.has_optimiser)
        if spec.optimiser is not None:
            self.optimiser.set_value(spec.optimiser)
        self.delay_box.setVisible(info.has_delay_learning)
        self.delay_on.blockSignals(True)
        self.delay_on.setChecked(spec.delay_optimiser is not None)
        self.delay_on.blockSignals(False)
        self.delay_opt.setVisible(spec.delay_optimiser is not None)
        if spec.delay_optimiser is not None:
            self.delay_opt.set_value(spec.delay_optimiser)
        self._fill_conns(self.delay_conns, spec.delay_learn_conns)
        self.deep_r_box.setVisible(info.has_deep_r)
        self._fill_conns(self.deep_r_conns, spec.deep_r_conns)

    def _fill_conns(self, widget: QListWidget, checked: list[str]) -> None:
        """One checkable row per connection, ticked when its id is in ``checked``."""
        widget.blockSignals(True)
        widget.clear()
        for c in self.ctl.project.connections:
            item = QListWidgetItem(c.name)
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if c.id in checked
                               else Qt.CheckState.Unchecked)
            widget.addItem(item)
        widget.blockSignals(False)

    @staticmethod
    def _checked(widget: QListWidget) -> list[str]:
        return [widget.item(i).data(Qt.ItemDataRole.UserRole) for i in range(widget.count())
                if widget.item(i).checkState() == Qt.CheckState.Checked]

    def _kind_changed(self, index: int) -> None:
        kind = self.kind.itemData(index)
        if kind is None or kind == self.ctl.project.compiler.type:
            return

        def fn(p: Project) -> None:
            old = p.compiler
            new = new_compiler(kind)
            old_t = old.params.get(old.info.timesteps_arg)
            for k in new.params:
                if k in old.params:
                    new.params[k] = old.params[k]
            if old_t is not None:
                new.params[new.info.timesteps_arg] = old_t
            if new.info.has_losses and old.loss is not None:
                new.loss = old.loss
            if new.info.has_optimiser and old.optimiser is not None:
                new.optimiser = old.optimiser
            if new.info.has_deep_r:
                new.deep_r_conns = list(old.deep_r_conns)
            p.compiler = new

        self.ctl.edit(f"Compiler: {schema.COMPILERS[kind].label}", fn)
        pending = apply_compiler_defaults(self.ctl.project.copy())
        label = schema.COMPILERS[kind].label
        if pending:
            self.defaults_result.setText(
                f"{len(pending)} value(s) differ from {label}'s defaults "
                f"(e.g. {pending[0]}). Press \"Apply compiler defaults\" to use them.")
        else:
            self.defaults_result.setText(f"The network already uses {label}'s defaults.")

    def _param(self, name: str, value: Any) -> None:
        self.ctl.edit(f"Set {name}",
                      lambda p: p.compiler.params.__setitem__(name, value))

    def _set(self, attr: str, value: Any) -> None:
        self.ctl.edit(f"Set {attr}", lambda p: setattr(p.compiler, attr, value))

    def _delay_toggled(self, on: bool) -> None:
        value = {"type": "Adam", **schema.defaults(schema.OPTIMISERS["Adam"])} if on else None
        self._set("delay_optimiser", value)

    def _delay_conns_changed(self, _item: QListWidgetItem) -> None:
        self._set("delay_learn_conns", self._checked(self.delay_conns))

    def _deep_r_conns_changed(self, _item: QListWidgetItem) -> None:
        self._set("deep_r_conns", self._checked(self.deep_r_conns))

    def apply_defaults(self) -> list[Change]:
        """Apply the compiler's default_params (one undo step); shows and returns
        what changed."""
        changes = self.ctl.edit(f"Apply {self.ctl.project.compiler.info.label} defaults",
                                apply_compiler_defaults)
        if changes:
            self.defaults_result.setText("Changed:\n" + "\n".join(f"• {c}" for c in changes))
        else:
            self.defaults_result.setText("Nothing to change: the network already uses "
                                         "this compiler's defaults.")
        self.defaults_applied.emit(changes)
        return changes


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
                self.check.setStyleSheet("color: #e06060;")
                return
            problems = data_file_checks(project, summary)
        if ds.source == "none":
            self.check.setText("No dataset: the network can be built and exported but not "
                               "trained.")
            self.check.setStyleSheet("")
        elif problems:
            self.check.setText("\n".join(f"⚠ {i.message}" for i in problems))
            self.check.setStyleSheet("color: #e06060;")
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
                text += f": {info.num_inputs} inputs, {kind}"
            self.check.setText(text)
            self.check.setStyleSheet("color: #50b050;")

    def _file_summary(self, path: str, fmt: str) -> object:
        """Cached summary of a data file, or None while it is being read."""
        import os

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

        def fn(p: Project) -> None:
            ds = p.dataset
            ds.source = source
            if source == "builtin":
                ds.name = ds.name if ds.name in schema.BUILTIN_DATASET_KEYS else "yin_yang"
            else:
                ds.params = {}
            if source == "file" and ds.format not in schema.FILE_FORMATS:
                ds.format = "shd"

        self.ctl.edit("Dataset source", fn)

    def _builtin_changed(self, index: int) -> None:
        name = self.builtin.itemData(index)

        def fn(p: Project) -> None:
            p.dataset.name = name
            p.dataset.params = {}

        self.ctl.edit("Dataset", fn)


class TrainingPanel(QWidget):
    """Epochs, batch size, shuffle, validation split, seed, example limit."""

    def __init__(self, ctl: DocumentController) -> None:
        super().__init__()
        self.ctl = ctl
        form = QFormLayout(self)
        self.epochs = QSpinBox()
        self.epochs.setObjectName("num_epochs")
        self.epochs.setRange(1, 10_000_000)
        self.epochs.setKeyboardTracking(False)
        self.epochs.valueChanged.connect(lambda v: self._set("num_epochs", int(v)))
        self.batch = QSpinBox()
        self.batch.setObjectName("batch_size")
        self.batch.setRange(1, INT_MAX)
        self.batch.setKeyboardTracking(False)
        self.batch.valueChanged.connect(self._batch)
        self.shuffle = QCheckBox("shuffle every epoch")
        self.shuffle.setObjectName("shuffle")
        self.shuffle.toggled.connect(lambda v: self._set("shuffle", bool(v)))
        self.split = NumberEdit(Param("validation_split", "float", 0.0, minimum=0.0,
                                      maximum=0.99))
        self.split.setObjectName("validation_split")
        self.split.committed.connect(lambda v: self._set("validation_split", v))
        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setRange(0, INT_MAX)
        self.seed.setKeyboardTracking(False)
        self.seed.valueChanged.connect(lambda v: self._set("seed", int(v)))
        self.limit = QSpinBox()
        self.limit.setObjectName("max_examples")
        self.limit.setRange(0, INT_MAX)
        self.limit.setSpecialValueText("all")
        self.limit.setKeyboardTracking(False)
        self.limit.valueChanged.connect(lambda v: self._set("max_examples", int(v) or None))
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch)
        form.addRow("", self.shuffle)
        form.addRow("Validation split", self.split)
        form.addRow("Seed", self.seed)
        form.addRow("Max examples", self.limit)
        ctl.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show the document's training settings."""
        t = self.ctl.project.training
        widgets = (self.epochs, self.batch, self.shuffle, self.seed, self.limit)
        for w in widgets:
            w.blockSignals(True)
        self.epochs.setValue(t.num_epochs)
        self.batch.setValue(int(self.ctl.project.compiler.params["batch_size"]))
        self.shuffle.setChecked(t.shuffle)
        self.seed.setValue(t.seed)
        self.limit.setValue(t.max_examples or 0)
        for w in widgets:
            w.blockSignals(False)
        self.split.set_value(t.validation_split)

    def _set(self, attr: str, value: Any) -> None:
        self.ctl.edit(f"Set {attr.replace('_', ' ')}",
                      lambda p: setattr(p.training, attr, value))

    def _batch(self, value: int) -> None:
        self.ctl.edit("Set batch size",
                      lambda p: p.compiler.params.__setitem__("batch_size", int(value)))


class Inspector(QTabWidget):
    """The right-hand dock: Selection, Compiler, Dataset and Training tabs."""

    def __init__(self, ctl: DocumentController, canvas: Canvas) -> None:
        super().__init__()
        self.selection = SelectionPanel(ctl, canvas)
        self.compiler = CompilerPanel(ctl)
        self.dataset = DatasetPanel(ctl)
        self.training = TrainingPanel(ctl)
        for panel, title in ((self.selection, "Selection"), (self.compiler, "Compiler"),
                             (self.dataset, "Dataset"), (self.training, "Training")):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(panel)
            self.addTab(scroll, title)
