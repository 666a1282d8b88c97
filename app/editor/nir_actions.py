"""File > Export > NIR graph and File > Import NIR graph (the window's side of
:mod:`app.project.nir_export` / :mod:`app.project.nir_import`)."""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.project.errors import ProjectError

_FILTER = "NIR graphs (*.nir)"


def _report(window: Any, title: str, text: str, items: list[str]) -> None:
    """A non-modal box listing what NIR could not carry (kept as ``window.nir_report``)."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=window)
    box.setDetailedText("\n".join(items))
    window.nir_report = box
    box.open()


def export_nir_to(window: Any, path: str | Path) -> list[str] | None:
    """Write the window's project as a NIR graph; returns what NIR cannot express
    (also shown in a box), None on error."""
    from app.project.nir_export import write_nir

    try:
        _, notes = write_nir(window.ctl.project, path)
    except (OSError, ProjectError, ValueError) as exc:
        window.show_error("Cannot export", str(exc), traceback.format_exc())
        return None
    if notes:
        _report(window, "Exported to NIR", f"{Path(path).name} written; {len(notes)} "
                "thing(s) NIR cannot express are listed in the details.", notes)
    window.statusBar().showMessage(f"Exported {Path(path).name} as NIR", 4000)
    return notes


def export_nir_dialog(window: Any) -> None:
    """File > Export > NIR graph."""
    stem = window.ctl.path.stem if window.ctl.path else "project"
    path, _ = QFileDialog.getSaveFileName(window, "Export NIR graph", f"{stem}.nir", _FILTER)
    if path:
        export_nir_to(window, path)


def import_nir(window: Any, path: str | Path) -> list[str] | None:
    """Open a NIR graph as a new unsaved project; returns what could not be mapped
    (also shown in a box), None on error."""
    from app.project.nir_import import import_nir_file

    try:
        result = import_nir_file(path)
    except (OSError, ProjectError, ValueError) as exc:
        window.show_error("Cannot import", f"{Path(path).name}: {exc}")
        return None
    if not window.switch_to(result.project, None):  # settles a run of the old project
        return None
    if result.unmapped:
        _report(window, "Imported with omissions", f"{len(result.unmapped)} thing(s) in "
                f"{Path(path).name} could not be mapped; see the details.", result.unmapped)
    window.statusBar().showMessage(f"Imported {Path(path).name}", 4000)
    return result.unmapped


def import_nir_dialog(window: Any) -> None:
    """File > Import NIR graph."""
    if not window.confirm_discard():
        return
    path, _ = QFileDialog.getOpenFileName(window, "Import NIR graph", "", _FILTER)
    if path:
        import_nir(window, path)
