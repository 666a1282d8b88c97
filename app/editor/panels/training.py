"""Inspector panel for the training settings: epochs, batch size, shuffle,
validation split, seed and an example limit (ranges from ``schema.TRAINING``)."""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QWidget

from app.editor.controller import DocumentController
from app.editor.fields import IntEdit, NumberEdit, ValueEdit, field_row
from app.project import schema


def _batch_param() -> schema.Param:
    """The compilers' shared ``batch_size`` argument (same range in each)."""
    for info in schema.COMPILERS.values():
        for p in info.params:
            if p.name == "batch_size":
                return p
    raise KeyError("batch_size")  # pragma: no cover - schema error


class TrainingPanel(QWidget):
    """Epochs, batch size, shuffle, validation split, seed, example limit."""

    def __init__(self, ctl: DocumentController) -> None:
        super().__init__()
        self.ctl = ctl
        form = QFormLayout(self)
        t = schema.TRAINING_BY_NAME
        self.epochs = IntEdit(t["num_epochs"])
        self.epochs.setObjectName("num_epochs")
        self.epochs.committed.connect(lambda v: self._set("num_epochs", int(v)))
        self.batch = IntEdit(_batch_param())
        self.batch.setObjectName("batch_size")
        self.batch.committed.connect(self._batch)
        self.shuffle = QCheckBox("shuffle every epoch")
        self.shuffle.setObjectName("shuffle")
        self.shuffle.toggled.connect(lambda v: self._set("shuffle", bool(v)))
        self.split = NumberEdit(t["validation_split"])
        self.split.setObjectName("validation_split")
        self.split.committed.connect(lambda v: self._set("validation_split", v))
        self.seed = IntEdit(t["seed"])
        self.seed.setObjectName("seed")
        self.seed.committed.connect(lambda v: self._set("seed", int(v)))
        self.limit = IntEdit(t["max_examples"])
        self.limit.setObjectName("max_examples")
        self.limit.setPlaceholderText("all")
        self.limit.committed.connect(lambda v: self._set("max_examples", v))
        rows: list[tuple[str, ValueEdit]] = [("Epochs", self.epochs), ("Batch size", self.batch)]
        for label, w in rows:
            form.addRow(label, field_row(w, "", w.error))
        form.addRow("", self.shuffle)
        for label, w in (("Validation split", self.split), ("Seed", self.seed),
                         ("Max examples", self.limit)):
            form.addRow(label, field_row(w, "", w.error))
        ctl.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show the document's training settings."""
        t = self.ctl.project.training
        self.shuffle.blockSignals(True)
        self.shuffle.setChecked(t.shuffle)
        self.shuffle.blockSignals(False)
        self.epochs.set_value(t.num_epochs)
        self.batch.set_value(int(self.ctl.project.compiler.params["batch_size"]))
        self.seed.set_value(t.seed)
        self.limit.set_value(t.max_examples)
        self.split.set_value(t.validation_split)

    def _set(self, attr: str, value: Any) -> None:
        self.ctl.edit(f"Set {attr.replace('_', ' ')}",
                      lambda p: setattr(p.training, attr, value))

    def _batch(self, value: int) -> None:
        self.ctl.edit("Set batch size",
                      lambda p: p.compiler.params.__setitem__("batch_size", int(value)))
