"""The inspector's panels, one module each: the selected population or
connection, the compiler, the dataset and the training settings."""
from app.editor.panels.common import TypedEditor, discard
from app.editor.panels.compiler import CompilerPanel
from app.editor.panels.dataset import DatasetPanel
from app.editor.panels.selection import SelectionPanel
from app.editor.panels.training import TrainingPanel

__all__ = ["CompilerPanel", "DatasetPanel", "SelectionPanel", "TrainingPanel", "TypedEditor",
           "discard"]
