"""The Tab quick search on the canvas: a small popup with a filter box over the
node types (the palette's list); Enter or a double-click picks one."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout


class QuickSearch(QFrame):
    """A non-blocking popup; emits ``chosen(value)`` with the picked entry's data."""

    chosen = Signal(object)

    def __init__(self, entries: list[tuple[str, str, Any]], parent: Any = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("quick_search")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.edit = QLineEdit()
        self.edit.setObjectName("quick_search_text")
        self.edit.setPlaceholderText("Search node types…")
        self.edit.textChanged.connect(self._filter)
        self.edit.installEventFilter(self)
        self.list = QListWidget()
        self.list.setObjectName("quick_search_list")
        for text, tip, data in entries:
            item = QListWidgetItem(text)
            item.setToolTip(tip)
            item.setData(Qt.ItemDataRole.UserRole, data)
            self.list.addItem(item)
        self.list.itemActivated.connect(self._pick)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.resize(240, 40 + 22 * min(8, len(entries)))

    def popup(self, global_pos: QPoint) -> None:
        """Show at ``global_pos`` with an empty filter and the first entry current."""
        self.edit.clear()
        self._filter("")
        self.move(global_pos)
        self.show()
        self.edit.setFocus()

    def visible_texts(self) -> list[str]:
        """Entries that match the filter."""
        return [self.list.item(i).text() for i in range(self.list.count())
                if not self.list.item(i).isHidden()]

    def _filter(self, text: str) -> None:
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hit = text.lower() in item.text().lower()
            item.setHidden(not hit)
            if hit and first is None:
                first = item
        self.list.setCurrentItem(first)

    def _pick(self, item: QListWidgetItem | None = None) -> None:
        item = item or self.list.currentItem()
        if item is None or item.isHidden():
            return
        self.hide()
        self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is self.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._pick()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                self._step(1 if key == Qt.Key.Key_Down else -1)
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(obj, event)

    def _step(self, delta: int) -> None:
        rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not rows:
            return
        current = self.list.currentRow()
        pos = rows.index(current) if current in rows else -1
        self.list.setCurrentRow(rows[max(0, min(len(rows) - 1, pos + delta))])
