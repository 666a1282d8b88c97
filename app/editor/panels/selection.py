"""Inspector panel for the selected population or connection.

Every widget edit becomes one undoable document edit through the controller;
the panel redraws from the document on every change.  Fields come from
:mod:`app.project.schema`, so a new neuron model or synapse needs no code here.
"""
from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.editor.canvas import Canvas
from app.editor.controller import DocumentController
from app.editor.fields import (
    ERROR_COLOR,
    FieldError,
    IntEdit,
    NameEdit,
    ParamForm,
    ValueEdit,
    field_row,
)
from app.editor.panels.common import TypedEditor, discard, field_of
from app.project import schema
from app.project.document import Project, check_shape
from app.project.errors import ProjectError
from app.project.palette import resize_population, set_connection_weight

#: What the Weight row says about where a connection's initial weights came from.
WEIGHT_SOURCE_TEXT = {
    "auto": "scaled to fan-in; follows size changes until you edit it",
    "calibrated": "calibrated on data (Run > Calibrate weights)",
    "user": "",
}


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
        self.issues.setStyleSheet(f"color: {ERROR_COLOR};")
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

    def _taken(self, own: str) -> set[str]:
        project = self.ctl.project
        return {p.name for p in project.populations if p.id != own} | \
            {c.name for c in project.connections if c.id != own}

    def _build_population_page(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.pop_name = NameEdit(lambda: self._taken(self._pid() or ""))
        self.pop_name.setObjectName("pop_name")
        self.pop_name.committed.connect(lambda name: self._pop_set("name", name))
        self.pop_model = QComboBox()
        self.pop_model.setObjectName("pop_model")
        self.pop_model.currentIndexChanged.connect(self._model_changed)
        self.pop_size = IntEdit(schema.POPULATION_SIZE)
        self.pop_size.setObjectName("pop_size")
        self.pop_size.committed.connect(lambda v: self._pop_set_size(int(v)))
        self.pop_shape = QLineEdit()
        self.pop_shape.setObjectName("pop_shape")
        self.pop_shape.setPlaceholderText("flat (or height, width, channels)")
        self.pop_shape.setToolTip("Shape for convolution/pooling, e.g. 28, 28, 1; set by the "
                                  "connectivity for their targets")
        self.pop_shape.editingFinished.connect(self._pop_set_shape)
        self.pop_shape_error = FieldError()
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
        form.addRow("Name", field_row(self.pop_name, "", self.pop_name.error))
        form.addRow("Model", self.pop_model)
        form.addRow("Size", field_row(self.pop_size, "neurons", self.pop_size.error))
        form.addRow("Shape", field_row(self.pop_shape, "", self.pop_shape_error))
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
        self.conn_name = NameEdit(lambda: self._taken(self._cid() or ""))
        self.conn_name.setObjectName("conn_name")
        self.conn_name.committed.connect(lambda name: self._conn_set("name", name))
        self.conn_ends = QLabel()
        self.conn_connectivity = TypedEditor(schema.CONNECTIVITY, "conn_connectivity")
        self.conn_weight = TypedEditor(schema.INITIALIZERS, "conn_weight")
        self.conn_synapse = TypedEditor(schema.SYNAPSES, "conn_synapse")
        for key, ed in (("connectivity", self.conn_connectivity), ("synapse", self.conn_synapse)):
            ed.changed.connect(lambda v, k=key: self._conn_set(k, v))
        self.conn_weight.changed.connect(self._set_weight)
        self.conn_weight_source = QLabel()
        self.conn_weight_source.setObjectName("conn_weight_source")
        self.conn_weight_source.setWordWrap(True)
        self.conn_max_delay = IntEdit(schema.MAX_DELAY_STEPS)
        self.conn_max_delay.setObjectName("conn_max_delay")
        self.conn_max_delay.committed.connect(lambda v: self._conn_set("max_delay_steps", v))
        form.addRow("Name", field_row(self.conn_name, "", self.conn_name.error))
        form.addRow("From -> to", self.conn_ends)
        form.addRow("Connectivity", self.conn_connectivity)
        form.addRow("Weight", self.conn_weight)
        form.addRow("", self.conn_weight_source)
        form.addRow("Synapse", self.conn_synapse)
        form.addRow("Max delay", field_row(self.conn_max_delay, "steps",
                                           self.conn_max_delay.error))
        self._add_page(page)

    # ---- selection / refresh --------------------------------------------
    def _selection_changed(self) -> None:
        pops, conns = self.canvas.selected()
        if len(pops) == 1 and not conns:
            self.current = ("population", pops[0])
        elif len(conns) == 1 and not pops:
            self.current = ("connection", conns[0])
        else:
            self.current = None
        self.refresh()

    def show_item(self, kind: str, item_id: str) -> None:
        """Edit a population or connection by id."""
        self.current = (kind, item_id)
        self.refresh()

    def refresh(self) -> None:
        """Show the current item's values and its validation problems."""
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
        if kind == "population":
            self._show_population(project, item)
        else:
            self._show_connection(project, item)
        self._clear_field_problems()
        issues = self.canvas.issues_for(item_id)
        general = [i for i in issues if not self._show_on_field(kind, i.field, i.message)]
        self.issues.setText("\n".join(f"⚠ {i.message}" for i in general))

    def _clear_field_problems(self) -> None:
        for w in (self.pop_size, self.conn_max_delay):
            w.set_problem("")
        for form in (self.pop_params, self.conn_connectivity.form, self.conn_weight.form,
                     self.conn_synapse.form):
            if form is not None:
                form.clear_problems()

    def _show_on_field(self, kind: str, path: str | None, message: str) -> bool:
        """Put a validation problem under the field it names; False if none does."""
        name = field_of(path)
        if name is None:
            return False
        if kind == "population":
            fields: dict[str, ValueEdit] = {"size": self.pop_size}
            if name in fields:
                fields[name].set_problem(message)
                return True
            return self.pop_params is not None and self.pop_params.show_problem(name, message)
        if name == "max_delay_steps":
            self.conn_max_delay.set_problem(message)
            return True
        for ed in (self.conn_connectivity, self.conn_weight, self.conn_synapse):
            if ed.form is not None and ed.form.show_problem(name, message):
                return True
        return False

    def _show_population(self, project: Project, pop: Any) -> None:
        self._show_page(1)
        widgets = (self.pop_name, self.pop_model, self.pop_size, self.pop_readout,
                   self.pop_record)
        for w in widgets:
            w.blockSignals(True)
        self.pop_name.set_value(pop.name)
        self.pop_model.clear()
        role = schema.model_role(pop.model)
        for model, (r, _) in schema.NEURON_MODELS.items():
            if r == role:
                self.pop_model.addItem(schema.MODEL_LABELS.get(model, model), model)
        self.pop_model.setCurrentIndex(self.pop_model.findData(pop.model))
        self.pop_size.set_value(pop.size)
        shape_text = ", ".join(map(str, pop.shape)) if pop.shape else ""
        if shape_text != self.pop_shape.text():
            self.pop_shape_error.show_message("")
            self.pop_shape.setStyleSheet("")
        self.pop_shape.setText(shape_text)
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
            self.pop_params.show()  # shown now, not on the next event loop turn
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
        self.conn_name.set_value(conn.name)
        src, tgt = project.population(conn.source).name, project.population(conn.target).name
        self.conn_ends.setText(f"{src} -> {tgt}" + ("  (recurrent)" if conn.is_recurrent
                                                     else ""))
        self.conn_connectivity.set_value(conn.connectivity)
        self.conn_weight.set_value(conn.weight)
        fixed = conn.connectivity["type"] in schema.NO_WEIGHT
        self.conn_weight.setEnabled(not fixed)
        self.conn_weight.setToolTip("pooling uses fixed weights (1 / window area)" if fixed
                                    else "")
        self.conn_weight_source.setText(WEIGHT_SOURCE_TEXT.get(conn.weight_source, ""))
        self.conn_synapse.set_value(conn.synapse)
        self.conn_max_delay.set_value(conn.max_delay_steps)

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
                resize_population(p, pid, int(size))  # re-derives fan-in weights
                pop.shape = None

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
            why = getattr(exc, "message", "must be whole numbers")
            message = f"shape {why}; kept the old one"
            self.pop_shape.setStyleSheet(f"border: 1px solid {ERROR_COLOR};")
            self.pop_shape.setToolTip(message)
            self.pop_shape_error.show_message(message)
            pop = self.ctl.project.population(pid)
            self.pop_shape.setText(", ".join(map(str, pop.shape)) if pop.shape else "")
            return
        self.pop_shape.setStyleSheet("")
        self.pop_shape_error.show_message("")

        def fn(p: Project) -> None:
            if shape is not None and p.population(pid).size != math.prod(shape):
                resize_population(p, pid, math.prod(shape))
            p.population(pid).shape = shape if shape is None or len(shape) > 1 else None

        self.ctl.edit("Set shape", fn)

    def _set_weight(self, weight: dict[str, Any]) -> None:
        """The user's own initializer: kept through later resizes and calibrations."""
        cid = self._cid()
        if cid is not None:
            self.ctl.edit("Set weight", lambda p: set_connection_weight(p, cid, weight))

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

    def _conn_set(self, attr: str, value: Any) -> None:
        cid = self._cid()
        if cid is None:
            return

        def fn(p: Project) -> None:
            setattr(p.connection(cid), attr, value)

        self.ctl.edit(f"Set {attr.replace('_', ' ')}", fn)
