"""File > Export as mlGeNN script and File > Import mlGeNN script in the window."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from app.project.examples import EXAMPLES_DIR  # noqa: E402


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKE_STUDIO_STATE_DIR", str(tmp_path / "state"))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from app.editor.main_window import MainWindow

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "config"))
    w = MainWindow(autosave=False)
    qtbot.addWidget(w)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(w, "show_error", lambda *a, **k: setattr(w, "_last_error", a))
    return w


def test_menu_export_then_import_gives_the_same_network(window, tmp_path: Path) -> None:
    assert {"export_mlgenn", "import_mlgenn"} <= set(window.actions_by_name)
    window.open_example(EXAMPLES_DIR / "shd_eprop.ssproj")
    before = window.ctl.project.to_dict()
    out = tmp_path / "shd.py"
    assert window.export_mlgenn_to(out)
    assert "from ml_genn.compilers import EPropCompiler" in out.read_text()
    assert window.import_mlgenn(out) == []
    after = window.ctl.project.to_dict()
    for d in (before, after):
        for p in d["populations"]:
            p.pop("position")
    assert after == before
    assert window.ctl.path is None  # a new, unsaved project


def test_import_lists_unmapped_and_reports_bad_files(window, tmp_path: Path) -> None:
    script = tmp_path / "odd.py"
    script.write_text("from ml_genn import Network, Population\n"
                      "from ml_genn.neurons import FewSpikeRelu\n"
                      "net = Network()\nwith net:\n    a = Population(FewSpikeRelu(), 3)\n")
    unmapped = window.import_mlgenn(script)
    assert unmapped and any("FewSpikeRelu" in u for u in unmapped)
    assert "FewSpikeRelu" in window.import_report.detailedText()
    window.import_report.close()
    bad = tmp_path / "bad.py"
    bad.write_text("with (:\n")
    assert window.import_mlgenn(bad) is None
    assert window._last_error[0] == "Cannot import"
