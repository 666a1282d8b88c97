"""Typed editor widgets built from :class:`app.project.schema.Param`.

A value is refused at the field, never silently changed: the field keeps the
previous value and shows why in a visible line under it (plus a red outline
and the same text as tooltip), so bad values never reach the document.
Integer fields are line edits too: a spin box would quietly turn "-1" into 1,
"0.2" into 2 or clamp 99999999999, which is exactly what must not happen.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.project import schema
from app.project.document import NAME_RE, check_value
from app.project.errors import ProjectError
from app.project.schema import Param
from app.project.validate import sensible_problem

INT_MAX = 2**31 - 1
ERROR_COLOR = "#e06060"
_INT_RE = re.compile(r"[+-]?\d+")

#: Extra check of a parsed value: returns a reason to refuse it, or None.
Check = Callable[[Any], "str | None"]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):  # a (height, width) pair
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value) if (abs(value) < 1e-4 or abs(value) >= 1e7) and value else f"{value:g}"
    return str(value)


class FieldError(QLabel):
    """The visible reason a field refused a value (hidden when there is none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("field_error")
        self.setWordWrap(True)
        self.setStyleSheet(f"color: {ERROR_COLOR}; font-size: 9pt;")
        self.setVisible(False)

    def show_message(self, text: str) -> None:
        """Show ``text`` (empty hides the line) and scroll it into view."""
        self.setText(text)
        self.setVisible(bool(text))
        self.updateGeometry()
        if self.parentWidget() is not None:
            self.parentWidget().updateGeometry()
        if text:
            parent = self.parentWidget()
            while parent is not None and not isinstance(parent, QScrollArea):
                parent = parent.parentWidget()
            if parent is not None:
                parent.ensureWidgetVisible(self)


class ValueEdit(QLineEdit):
    """A line edit that commits only values its Param (and checks) accept.

    ``committed(value)`` fires for an accepted new value; a refused one keeps
    the previous value and fills :attr:`error` (a :class:`FieldError` that the
    form places under the field).
    """

    committed = Signal(object)
    refused = Signal(str)

    def __init__(self, param: Param, parent: QWidget | None = None,
                 checks: list[Check] | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.checks: list[Check] = list(checks or [])
        self._value: Any = param.default
        self._problem = ""  # from validation; shown when there is no refusal to show
        self._refusal = ""
        self.error = FieldError()
        if param.kind in ("optfloat", "optint"):
            self.setPlaceholderText("none")
        self.setToolTip(param.help)
        self.editingFinished.connect(self._commit)
        self.textEdited.connect(lambda _t: self._mark(None))

    def value(self) -> Any:
        """Last accepted value."""
        return self._value

    def set_value(self, value: Any) -> None:
        """Show ``value`` without committing (a pending refusal stays visible
        until the value really changes)."""
        if value != self._value:
            self._mark(None)
        self._value = value
        self.setText(_fmt(value))

    def error_text(self) -> str:
        """The reason shown for the last refusal ("" when none)."""
        return self.error.text() if not self.error.isHidden() else ""

    def enter(self, text: str) -> bool:
        """Type ``text`` and commit it, as a user would; True when accepted."""
        self.setText(text)
        return self._commit()

    def _mark(self, refusal: str | None) -> None:
        """Show why a value was refused (None: no refusal; a validation problem of the
        current value still shows)."""
        self._refusal = refusal or ""
        self._show()

    def _show(self) -> None:
        error = self._refusal or self._problem
        self.setStyleSheet(f"border: 1px solid {ERROR_COLOR};" if error else "")
        self.setToolTip(error or self.param.help)
        self.error.show_message(error)

    def set_problem(self, message: str) -> None:
        """A validation problem of the current value ("" clears it)."""
        self._problem = message
        self._show()

    def parse(self, text: str) -> Any:
        """Text -> value (raises ProjectError). Subclasses override."""
        raise NotImplementedError

    def _commit(self) -> bool:
        text = self.text().strip()
        if text == _fmt(self._value):  # unchanged (also right after a refusal)
            return True
        try:
            value = self.parse(text)
            if value is not None:
                value = check_value(self.param, value, self.param.name)
                reason = sensible_problem(self.param, value)
                if reason:
                    raise ProjectError(reason, self.param.name)
            for check in self.checks:
                reason = check(value)
                if reason:
                    raise ProjectError(reason, self.param.name)
        except ProjectError as exc:
            kept = _fmt(self._value) or "none"
            # the line sits under the field: no need to repeat its name there
            message = f"{exc.message}; kept {kept}"
            self.setText(_fmt(self._value))
            self._mark(message)
            self.setToolTip(f"{self.param.title} {exc.message}; kept {kept}")
            self.refused.emit(message)
            return False
        self._mark(None)
        self.setText(_fmt(value))
        if value != self._value:
            self._value = value
            self.committed.emit(value)
        return True


class NumberEdit(ValueEdit):
    """A float field (``float`` or ``optfloat`` Param)."""

    def parse(self, text: str) -> Any:
        if text == "" and self.param.kind == "optfloat":
            return None
        if text == "":
            raise ProjectError("must not be empty", self.param.name)
        try:
            value = float(text)
        except ValueError:
            raise ProjectError("must be a number", self.param.name) from None
        if not math.isfinite(value):
            raise ProjectError("must be finite", self.param.name)
        return value


class IntEdit(ValueEdit):
    """A whole-number field (``int`` or ``optint`` Param); Up/Down step by one."""

    def parse(self, text: str) -> Any:
        if text == "" and self.param.kind == "optint":
            return None
        if text == "":
            raise ProjectError("must not be empty", self.param.name)
        clean = text.replace(",", "").replace("_", "").replace(" ", "")
        if not _INT_RE.fullmatch(clean):
            raise ProjectError("must be a whole number", self.param.name)
        value = int(clean)
        if abs(value) > 2**63:
            raise ProjectError("is far too large", self.param.name)
        return value

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        step = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1}.get(Qt.Key(event.key()))
        if step is not None and isinstance(self._value, int):
            self.enter(str(self._value + step))
            return
        super().keyPressEvent(event)


class PairEdit(ValueEdit):
    """A (height, width) field (``pair``/``optpair`` Param): "3", "3, 2" or "3x2";
    empty means mlGeNN's default for an optional pair."""

    _PAIR_RE = re.compile(r"(\d+)\s*(?:[,x]\s*(\d+))?")

    def __init__(self, param: Param, parent: QWidget | None = None,
                 checks: list[Check] | None = None) -> None:
        super().__init__(param, parent, checks)
        self.setPlaceholderText("default" if param.kind == "optpair" else "height, width")

    def parse(self, text: str) -> Any:
        if text == "" and self.param.kind == "optpair":
            return None
        m = self._PAIR_RE.fullmatch(text)
        if m is None:
            raise ProjectError('must be a whole number or "height, width"', self.param.name)
        return int(m.group(1)) if m.group(2) is None else [int(m.group(1)), int(m.group(2))]


class NameEdit(QLineEdit):
    """A population/connection name: refused with a visible reason when empty,
    malformed or already used (``taken`` returns the names in use by others)."""

    committed = Signal(str)

    def __init__(self, taken: Callable[[], set[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.taken = taken
        self.error = FieldError()
        self._value = ""
        self.editingFinished.connect(self._commit)
        self.textEdited.connect(lambda _t: self._mark(None))

    def set_value(self, name: str) -> None:
        """Show ``name`` without committing."""
        if name != self._value:
            self._mark(None)
        self._value = name
        self.setText(name)

    def error_text(self) -> str:
        """The reason shown for the last refusal ("" when none)."""
        return self.error.text() if not self.error.isHidden() else ""

    def enter(self, text: str) -> bool:
        """Type ``text`` and commit it; True when accepted."""
        self.setText(text)
        return self._commit()

    def reason(self, name: str) -> str | None:
        """Why ``name`` cannot be used, or None."""
        if not name:
            return "a name must not be empty"
        if not NAME_RE.match(name):
            return "use letters, digits and '_', not starting with a digit"
        if name in self.taken():
            return f"'{name}' is already used"
        return None

    def _mark(self, error: str | None) -> None:
        self.setStyleSheet(f"border: 1px solid {ERROR_COLOR};" if error else "")
        self.setToolTip(error or "letters, digits and '_'; unique in the project")
        self.error.show_message(error or "")

    def _commit(self) -> bool:
        name = self.text().strip()
        if name == self._value:
            return True
        reason = self.reason(name)
        if reason:
            self.setText(self._value)
            self._mark(f"{reason}; kept '{self._value}'")
            return False
        self._mark(None)
        self._value = name
        self.committed.emit(name)
        return True


def field_row(widget: QWidget, unit: str = "", error: FieldError | None = None) -> QWidget:
    """``widget`` with its unit after it and its error line under it."""
    row = QWidget()
    v = QVBoxLayout(row)
    v.setContentsMargins(0, 0, 0, 0)
    v.setSpacing(1)
    h = QHBoxLayout()
    h.setContentsMargins(0, 0, 0, 0)
    h.addWidget(widget, 1)
    if unit:
        h.addWidget(QLabel(unit))
    v.addLayout(h)
    if error is not None:
        v.addWidget(error)
    return row


def make_edit(p: Param, checks: list[Check] | None = None) -> ValueEdit:
    """The line edit for an int/optint, pair/optpair or float/optfloat Param."""
    cls = (IntEdit if p.kind in ("int", "optint") else
           PairEdit if p.kind in ("pair", "optpair") else NumberEdit)
    return cls(p, checks=checks)


class ParamForm(QWidget):
    """A form with one typed widget per Param; emits ``edited(name, value)``.

    Pairs of ``schema.ORDERINGS`` (threshold above reset, max above min) are
    checked against the other values shown, so the pair is refused at the field.
    """

    edited = Signal(str, object)

    def __init__(self, params: tuple[Param, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.params = params
        self.values: dict[str, Any] = schema.defaults(params)
        self.widgets: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for p in params:
            w = self._make(p)
            w.setObjectName(f"field_{p.name}")
            if not isinstance(w, ValueEdit):
                w.setToolTip(p.help)
            self.widgets[p.name] = w
            if isinstance(w, ValueEdit):
                layout.addRow(p.title, field_row(w, p.unit, w.error))
            else:
                layout.addRow(p.title, w)

    def _ordering_check(self, name: str) -> Check:
        return lambda value: schema.ordering_problem({**self.values, name: value}, name)

    def _make(self, p: Param) -> QWidget:
        if p.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda v, n=p.name: self._emit(n, bool(v)))
            return w
        if p.kind == "choice":
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(
                lambda i, n=p.name, box=w: self._emit(n, box.itemData(i)))
            return w
        w = make_edit(p, [self._ordering_check(p.name)])
        w.committed.connect(lambda v, n=p.name: self._emit(n, v))
        return w

    def _emit(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.edited.emit(name, value)

    def error_text(self, name: str) -> str:
        """The refusal shown under field ``name`` ("" when none)."""
        w = self.widgets[name]
        return w.error_text() if isinstance(w, ValueEdit) else ""

    def show_problem(self, name: str, message: str) -> bool:
        """Show a validation problem under field ``name`` (False if no such field)."""
        w = self.widgets.get(name)
        if isinstance(w, ValueEdit):
            w.set_problem(message)
            return True
        return False

    def clear_problems(self) -> None:
        """Forget the validation problems shown (refusals stay until the next edit)."""
        for w in self.widgets.values():
            if isinstance(w, ValueEdit) and w._problem:
                w.set_problem("")

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (no signals)."""
        self.values.update({k: v for k, v in values.items() if k in self.widgets})
        for name, w in self.widgets.items():
            if name not in values:
                continue
            v = values[name]
            w.blockSignals(True)
            try:
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(v))
                elif isinstance(w, QComboBox):
                    w.setCurrentIndex(max(0, w.findData(v)))
                elif isinstance(w, ValueEdit):
                    w.set_value(v)
            finally:
                w.blockSignals(False)
