"""The Runs dock: the open project's run folders (tick to overlay curves,
Resume from the last checkpoint), plus helpers that read a run's files."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.worker import runs

NO_RUNS = "No runs yet: press Train."


def run_item_text(info: Any) -> str:
    """One line per run; epochs count from 1 as everywhere in the window."""
    ckpt = ("no checkpoint" if info.last_checkpoint is None
            else f"checkpoint after epoch {int(info.last_checkpoint) + 1}")
    return (f"{info.name} · {info.status} · epoch {info.epochs_done}/{info.num_epochs} "
            f"done · {ckpt}")


class RunsPanel(QWidget):
    """The project's runs: tick to overlay curves; Resume continues a stopped run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setObjectName("runs_list")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.list)
        self.empty = QLabel(NO_RUNS)
        self.empty.setObjectName("runs_empty")
        layout.addWidget(self.empty)
        row = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        row.addWidget(self.refresh_button)
        row.addWidget(self.resume_button)
        layout.addLayout(row)
        self.detail = QLabel("")
        self.detail.setObjectName("runs_detail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail)
        self.root: Path | None = None

    def fill(self, root: Path | None, overlaid: set[str]) -> None:
        """List the runs under ``root`` (newest first)."""
        self.root = root
        self.list.blockSignals(True)
        self.list.clear()
        for info in runs.list_runs(root) if root is not None else []:
            item = QListWidgetItem(run_item_text(info))
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip(info.message or str(info.path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if info.name in overlaid
                               else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        n = self.list.count()
        self.empty.setText(NO_RUNS if n == 0 else
                           f"{n} run{'s' if n != 1 else ''}; tick one to overlay its curves.")

    def selected_run(self) -> Path | None:
        """Folder of the selected run."""
        item = self.list.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None


def save_copy(project: Any, original: Path | None, target: Path) -> Path:
    """Save ``project`` to ``target`` with its data file paths made absolute (they are
    relative to the original file's folder)."""
    from app.project.io import save_project

    copy = project.copy()
    base = Path(original).resolve().parent if original is not None else Path.cwd()
    ds = copy.dataset
    for attr in ("path", "test_path"):
        value = getattr(ds, attr, "")
        if value and not Path(value).is_absolute():
            setattr(ds, attr, str((base / value).resolve()))
    return save_project(copy, target)


def final_weights(run_dir: Path, project: Any) -> dict[str, np.ndarray]:
    """A finished run's final weights keyed by connection id (Dense/OneToOne only)."""
    out: dict[str, np.ndarray] = {}
    folder = Path(run_dir) / "weights"
    for c in project.connections:
        f = folder / f"final-{c.name}-g.npy"
        if f.is_file() and c.connectivity["type"] in ("Dense", "OneToOne"):
            out[c.id] = np.load(f, allow_pickle=False)
    return out
