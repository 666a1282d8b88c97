"""Typed editor widgets built from :class:`app.project.schema.Param`.

Invalid values are refused at the field (red outline, tooltip, value
reverted) so they never reach the document.
"""
from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.project.document import check_value
from app.project.errors import ProjectError
from app.project.schema import Param

INT_MAX = 2**31 - 1


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if (abs(value) < 1e-4 or abs(value) >= 1e7) and value else f"{value:g}"
    return str(value)


class NumberEdit(QLineEdit):
    """A float field that only commits values the Param accepts."""

    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self._value: Any = param.default
        if param.kind == "optfloat":
            self.setPlaceholderText("none")
        self.editingFinished.connect(self._commit)

    def value(self) -> Any:
        """Last accepted value."""
        return self._value

    def set_value(self, value: Any) -> None:
        """Show ``value`` without committing."""
        self._value = value
        self.setText(_fmt(value))
        self._mark(None)

    def _mark(self, error: str | None) -> None:
        self.setStyleSheet("border: 1px solid #d04040;" if error else "")
        self.setToolTip(error or self.param.help)

    def _commit(self) -> None:
        text = self.text().strip()
        try:
            if text == "" and self.param.kind == "optfloat":
                value = None
            else:
                try:
                    raw = float(text)
                except ValueError:
                    raise ProjectError("must be a number", self.param.name) from None
                value = check_value(self.param, raw, self.param.name)
        except ProjectError as exc:
            self._mark(f"{self.param.title} {exc.message}; kept {_fmt(self._value) or 'none'}")
            self.setText(_fmt(self._value))
            return
        self._mark(None)
        if value != self._value:
            self._value = value
            self.committed.emit(value)


def _fmt_pair(value: Any) -> str:
    return "" if value is None else f"{value[0]}, {value[1]}"


class PairEdit(QLineEdit):
    """A (height, width) field: "3" or "3, 2"; empty means none for optional pairs."""

    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self._value: Any = param.default
        self.setPlaceholderText("default" if param.kind == "optpair" else "height, width")
        self.editingFinished.connect(self._commit)

    def value(self) -> Any:
        """Last accepted value."""
        return self._value

    def set_value(self, value: Any) -> None:
        """Show ``value`` without committing."""
        self._value = value
        self.setText(_fmt_pair(value))
        self.setStyleSheet("")
        self.setToolTip(self.param.help)

    def _commit(self) -> None:
        text = self.text().strip()
        try:
            m = re.fullmatch(r"(\d+)\s*(?:[,x]\s*(\d+))?", text)
            if not text:
                raw: Any = None
            elif m is None:
                raise ProjectError("must be a whole number or \"height, width\"",
                                   self.param.name)
            else:
                raw = int(m.group(1)) if m.group(2) is None else [int(m.group(1)),
                                                                   int(m.group(2))]
            value = check_value(self.param, raw, self.param.name)
        except ProjectError as exc:
            self.setStyleSheet("border: 1px solid #d04040;")
            self.setToolTip(f"{self.param.title} {exc.message}; kept "
                            f"{_fmt_pair(self._value) or 'default'}")
            self.setText(_fmt_pair(self._value))
            return
        self.setStyleSheet("")
        if value != self._value:
            self._value = value
            self.committed.emit(value)


class ParamForm(QWidget):
    """A form with one typed widget per Param; emits ``edited(name, value)``."""

    edited = Signal(str, object)

    def __init__(self, params: tuple[Param, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.params = params
        self.widgets: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for p in params:
            w = self._make(p)
            w.setObjectName(f"field_{p.name}")
            w.setToolTip(p.help)
            self.widgets[p.name] = w
            if p.unit and p.kind != "int":
                row = QWidget()
                h = QHBoxLayout(row)
                h.setContentsMargins(0, 0, 0, 0)
                h.addWidget(w, 1)
                h.addWidget(QLabel(p.unit))
                layout.addRow(p.title, row)
            else:
                layout.addRow(p.title, w)

    def _make(self, p: Param) -> QWidget:
        if p.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda v, n=p.name: self.edited.emit(n, bool(v)))
            return w
        if p.kind == "int":
            w = QSpinBox()
            w.setKeyboardTracking(False)
            w.setRange(int(p.minimum) if p.minimum is not None else -INT_MAX,
                       int(p.maximum) if p.maximum is not None else INT_MAX)
            if p.unit:
                w.setSuffix(f" {p.unit}")
            w.valueChanged.connect(lambda v, n=p.name: self.edited.emit(n, int(v)))
            return w
        if p.kind == "choice":
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(
                lambda i, n=p.name, box=w: self.edited.emit(n, box.itemData(i)))
            return w
        if p.kind in ("pair", "optpair"):
            w = PairEdit(p)
            w.committed.connect(lambda v, n=p.name: self.edited.emit(n, v))
            return w
        w = NumberEdit(p)
        w.committed.connect(lambda v, n=p.name: self.edited.emit(n, v))
        return w

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (no signals)."""
        for name, w in self.widgets.items():
            if name not in values:
                continue
            v = values[name]
            w.blockSignals(True)
            try:
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(v))
                elif isinstance(w, QSpinBox):
                    w.setValue(int(v))
                elif isinstance(w, QComboBox):
                    w.setCurrentIndex(max(0, w.findData(v)))
                elif isinstance(w, (NumberEdit, PairEdit)):
                    w.set_value(v)
            finally:
                w.blockSignals(False)
