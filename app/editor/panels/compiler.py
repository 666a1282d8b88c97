"""Inspector panel for the compiler: its type, every constructor argument,
loss, optimiser, delay learning and "Apply compiler defaults" with a list of
what changed."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.editor.controller import DocumentController
from app.editor.fields import ParamForm
from app.editor.panels.common import TypedEditor, discard
from app.project import schema
from app.project.defaults import Change, apply_compiler_defaults
from app.project.document import Project, new_compiler


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
            self.form.show()  # shown now, not on the next event loop turn
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
