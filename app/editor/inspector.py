"""Inspector dock: the Selection, Compiler, Dataset and Training tabs.

Each tab is its own module under :mod:`app.editor.panels`; this one only puts
them in tabs (with scrolling) and routes validation problems to them.
"""
from __future__ import annotations

from PySide6.QtWidgets import QScrollArea, QTabWidget

from app.editor.canvas import Canvas
from app.editor.controller import DocumentController
from app.editor.panels import (
    CompilerPanel,
    DatasetPanel,
    SelectionPanel,
    TrainingPanel,
    TypedEditor,
    discard,
)

TABS = ("Selection", "Compiler", "Dataset", "Training")


class Inspector(QTabWidget):
    """The right-hand dock: Selection, Compiler, Dataset and Training tabs."""

    def __init__(self, ctl: DocumentController, canvas: Canvas) -> None:
        super().__init__()
        self.selection = SelectionPanel(ctl, canvas)
        self.compiler = CompilerPanel(ctl)
        self.dataset = DatasetPanel(ctl)
        self.training = TrainingPanel(ctl)
        for panel, title in zip((self.selection, self.compiler, self.dataset, self.training),
                                TABS, strict=True):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(panel)
            self.addTab(scroll, title)

    def show_tab(self, title: str) -> None:
        """Bring the tab called ``title`` forward."""
        self.setCurrentIndex(TABS.index(title))


__all__ = ["CompilerPanel", "DatasetPanel", "Inspector", "SelectionPanel", "TrainingPanel",
           "TypedEditor", "discard"]
