"""Pieces the inspector panels share: dropping a replaced form safely and the
type-plus-parameters editor (connectivity, weight, synapse, loss, optimiser)."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QVBoxLayout, QWidget

from app.editor.fields import ParamForm
from app.project import schema
from app.project.schema import Param


def discard(widget: QWidget) -> None:
    """Remove a replaced form: silence it and its fields first, so a field
    losing focus while it is destroyed cannot emit into the document."""
    for child in widget.findChildren(QWidget):
        child.blockSignals(True)
    widget.blockSignals(True)
    widget.hide()
    widget.setParent(None)
    widget.deleteLater()


def field_of(path: str | None) -> str | None:
    """Last component of a document field path (``populations[1].params.tau_mem``
    -> ``tau_mem``), or None."""
    if not path:
        return None
    return path.rsplit(".", 1)[-1].split("[", 1)[0] or None


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
            self.form.show()  # shown now, not on the next event loop turn
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
