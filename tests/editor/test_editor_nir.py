"""File > Export > NIR graph and File > Import NIR graph in the window."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
nir = pytest.importorskip("nir")

from app.editor import nir_actions  # noqa: E402
from app.project.examples import EXAMPLES_DIR  # noqa: E402


@pytest.fixture
def window(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.editor.main_window import MainWindow

    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(w, "show_error", lambda *a, **k: setattr(w, "_last_error", a))
    return w


def test_menu_entries_export_and_import_give_the_same_project(window, tmp_path: Path) -> None:
    export = window.actions_by_name["export_nir"]
    assert export.text() == "&NIR graph…"
    assert window.actions_by_name["export_script"].parent() is export.parent()
    assert "import_nir" in window.actions_by_name
    window.open_example(EXAMPLES_DIR / "shd_eprop.ssproj")
    before = window.ctl.project.copy()
    out = tmp_path / "shd.nir"
    notes = nir_actions.export_nir_to(window, out)
    assert notes and any("adaptation" in n for n in notes)
    assert "adaptation" in window.nir_report.detailedText()
    window.nir_report.close()
    assert nir_actions.import_nir(window, out) == []
    assert window.ctl.project.same_as(before)
    assert window.ctl.path is None  # a new, unsaved project
    assert len(window.canvas.graph.all_nodes()) == len(before.populations)


def test_foreign_graph_is_laid_out_and_bad_files_reported(window, tmp_path: Path) -> None:
    ones = np.ones(3, np.float32)
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2])}),
        "w": nir.Linear(weight=np.ones((3, 2), np.float32)),
        "lif": nir.LIF(tau=10 * ones, r=ones, v_leak=0 * ones, v_threshold=ones,
                       v_reset=0 * ones),
        "w2": nir.Linear(weight=np.ones((3, 3), np.float32)),
        "li": nir.LI(tau=10 * ones, r=ones, v_leak=0 * ones),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }, edges=[("input", "w"), ("w", "lif"), ("lif", "w2"), ("w2", "li"), ("li", "output")])
    path = tmp_path / "foreign.nir"
    nir.write(path, graph)
    unmapped = nir_actions.import_nir(window, path)
    assert unmapped and "NIR has no timestep" in window.nir_report.detailedText()
    window.nir_report.close()
    xs = [p.position[0] for p in window.ctl.project.populations]
    assert xs == sorted(xs) and len(set(xs)) == 3  # one column per layer
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"junk")
    assert nir_actions.import_nir(window, bad) is None
    assert window._last_error[0] == "Cannot import"
