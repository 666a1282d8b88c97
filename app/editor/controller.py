"""The open document, its file path and its undo stack.

Every edit goes through :meth:`DocumentController.edit`, which snapshots the
document before and after and pushes one undo command; views (canvas,
inspector) redraw from :attr:`DocumentController.project` on ``changed``.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.project.document import Project, drop_resolved
from app.project.shapes import apply_inferred_shapes


class _Snapshot(QUndoCommand):
    def __init__(self, ctl: DocumentController, label: str, before: Project, after: Project,
                 merge_key: str | None) -> None:
        super().__init__(label)
        self.ctl = ctl
        self.before = before
        self.after = after
        self.merge_key = merge_key

    def id(self) -> int:  # noqa: A003 - Qt API
        return 1 if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if isinstance(other, _Snapshot) and other.merge_key == self.merge_key:
            self.after = other.after
            return True
        return False

    def redo(self) -> None:
        self.ctl._set(self.after)

    def undo(self) -> None:
        self.ctl._set(self.before)


class DocumentController(QObject):
    """Owns the project document; the single source of truth for all views."""

    changed = Signal()  # document content changed (edit, undo, redo, open)
    file_changed = Signal()  # path or saved state changed
    replaced = Signal()  # another document was opened (new, open, example, import)

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project or Project()
        self.path: Path | None = None
        #: tells this unsaved document's runs folder from other unsaved documents' ones
        self.unsaved_key = uuid.uuid4().hex[:8]
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    def _on_clean_changed(self, _clean: bool) -> None:
        self.file_changed.emit()

    # ---- editing -------------------------------------------------------
    def edit(self, label: str, fn: Callable[[Project], Any],
             merge_key: str | None = None) -> Any:
        """Apply ``fn`` to a copy of the document as one undoable step.

        Returns ``fn``'s result; nothing is pushed when the document is unchanged.
        ``merge_key``: consecutive edits with the same key merge into one step.
        """
        before = self.project.copy()
        after = before.copy()
        result = fn(after)
        # convolution/pooling targets follow their connectivity, as in mlGeNN
        apply_inferred_shapes(after)
        drop_resolved(before, after)
        if after.same_as(before):
            return result
        self.undo_stack.push(_Snapshot(self, label, before, after, merge_key))
        return result

    def _set(self, project: Project) -> None:
        self.project = project.copy()
        self.changed.emit()

    # ---- file state ----------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Unsaved changes exist."""
        return not self.undo_stack.isClean()

    def replace(self, project: Project, path: Path | None) -> None:
        """Open another document (clears undo history)."""
        self.undo_stack.clear()
        self.path = path
        self.unsaved_key = uuid.uuid4().hex[:8]
        self.project = project.copy()
        self.undo_stack.setClean()
        self.replaced.emit()
        self.changed.emit()
        self.file_changed.emit()

    def mark_unsaved(self) -> None:
        """The document differs from its file although nothing was edited (opened
        without its trained weights): saving or closing asks first."""
        self.undo_stack.resetClean()
        self.file_changed.emit()

    def runs_key(self) -> str:
        """Name of an unsaved document's runs folder: its name plus a per-document key,
        so two unsaved "Untitled" projects never share runs."""
        return f"{self.project.name or 'Untitled'}-{self.unsaved_key}"

    def mark_saved(self, path: Path) -> None:
        """Record a successful save to ``path``."""
        self.path = path
        self.undo_stack.setClean()
        self.file_changed.emit()

    def title(self) -> str:
        """Window title: project name, file name and ``*`` when unsaved."""
        name = self.project.name or "Untitled"
        file = self.path.name if self.path else "unsaved"
        return f"{name} ({file}){' *' if self.dirty else ''} - Spike Studio"
