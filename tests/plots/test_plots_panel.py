"""PlotsPanel message routing, themes, toolbar buttons and PNG export."""

import logging

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from app.plots import MESSAGE_KINDS, PlotsPanel


@pytest.fixture
def panel(qtbot):
    widget = PlotsPanel()
    widget.resize(900, 420)
    qtbot.addWidget(widget)
    return widget


def test_module_docstring_documents_every_kind():
    import app.plots.panel as module

    for kind in MESSAGE_KINDS:
        assert f"``{kind}``" in module.__doc__


def test_metrics_messages_route_to_curves(panel):
    for batch, loss in enumerate([1.0, 0.8, 0.6]):
        assert panel.update_from_message({"kind": "batch_metrics", "run": "r1", "epoch": 0,
                                          "batch": batch, "loss": loss, "accuracy": 0.1 * batch})
    assert panel.update_from_message({"kind": "epoch_metrics", "run": "r1", "epoch": 0,
                                      "loss": 0.7, "accuracy": 0.2,
                                      "val_loss": 0.9, "val_accuracy": None})
    x, y = panel.curves.series_data("r1", "batch/loss")
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_array_equal(y, [1.0, 0.8, 0.6])
    np.testing.assert_allclose(panel.curves.series_data("r1", "batch/accuracy")[1], [0, .1, .2])
    assert set(panel.curves.series_names("r1")) == {
        "batch/loss", "batch/accuracy", "epoch/loss", "epoch/accuracy", "epoch/val_loss"}
    assert panel.curves.series_data("r1", "epoch/val_loss")[1].tolist() == [0.9]

    panel.update_from_message({"kind": "clear_run", "run": "r1"})
    assert panel.curves.runs() == []
    panel.update_from_message({"kind": "batch_metrics", "run": "r1", "epoch": 0, "batch": 0,
                               "loss": 5.0, "accuracy": 0.0})
    assert panel.curves.series_data("r1", "batch/loss")[0].tolist() == [0]  # count restarted


def test_raster_voltage_weights_messages(panel):
    times = np.array([1.0, 2.0, 3.0])
    ids = np.array([0, 2, 1])
    assert panel.update_from_message({"kind": "raster", "population": "hidden", "times": times,
                                      "ids": ids, "n": 3, "t_max": 10.0})
    assert panel.raster.current_population() == "hidden"
    np.testing.assert_array_equal(panel.raster.spikes("hidden")[0], times)
    panel.update_from_message({"kind": "raster", "population": "hidden", "append": True,
                               "times": np.array([4.0]), "ids": np.array([0])})
    assert panel.raster.spikes("hidden")[0].size == 4

    t = np.arange(20.0)
    V = np.zeros((20, 2))
    assert panel.update_from_message({"kind": "voltage", "population": "hidden", "t": t,
                                      "V": V, "ids": [4, 6], "v_thresh": 1.0})
    assert panel.voltage.threshold == 1.0
    assert panel.voltage.shown_ids() == [4, 6]

    assert panel.update_from_message({"kind": "weights", "connection": "in->hidden",
                                      "values": np.ones((3, 4))})
    assert panel.weights.weights("in->hidden").size == 12

    panel.redraw_now()
    assert panel.raster.curve.getData()[0].size == 8
    assert panel.weights.bars.getData()[1].sum() == 12


def test_unknown_and_malformed_messages_are_ignored(panel, caplog):
    assert not panel.update_from_message({"kind": "progress", "fraction": 0.5})
    assert not panel.update_from_message({"no": "kind"})
    with caplog.at_level(logging.WARNING):
        assert not panel.update_from_message({"kind": "raster", "population": "p"})
        assert not panel.update_from_message({"kind": "voltage", "t": [0.0, 1.0],
                                              "V": np.zeros((3, 1)), "ids": [0]})
    assert "malformed 'raster'" in caplog.text and "malformed 'voltage'" in caplog.text


def test_only_visible_tab_redraws_on_timer(panel, qtbot):
    panel.show()
    qtbot.waitExposed(panel)
    panel.setCurrentWidget(panel.curves)
    panel.update_from_message({"kind": "weights", "connection": "c", "values": np.ones(5)})
    panel.update_from_message({"kind": "batch_metrics", "run": "r", "epoch": 0, "batch": 0,
                               "loss": 1.0, "accuracy": 0.0})
    qtbot.waitUntil(lambda: not panel.curves.is_dirty, timeout=5000)
    assert panel.weights.is_dirty  # hidden tab waits
    panel.setCurrentWidget(panel.weights)
    qtbot.waitUntil(lambda: not panel.weights.is_dirty, timeout=5000)
    assert panel.weights.bars.getData()[1].sum() == 5


def test_theme_propagates(panel):
    panel.set_theme("light")
    assert panel.theme == "light"
    assert all(p.theme == "light" for p in panel.plots())
    assert panel.curves.graphics.backgroundBrush().color().name() == "#ffffff"


def test_toolbar_buttons_export_through_file_dialog(panel, tmp_path, monkeypatch):
    raster = panel.raster
    raster.set_spikes([1.0, 2.0], [0, 1], 2, 5.0)
    target = tmp_path / "spikes"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    raster.csv_button.click()
    assert (tmp_path / "spikes.csv").read_text().splitlines()[0] == "time_ms,neuron_id"
    raster.png_button.click()
    assert (tmp_path / "spikes.png").read_bytes()[:4] == b"\x89PNG"

    bad = tmp_path / "missing" / "x.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(bad), "")))
    raster.csv_button.click()
    assert raster.error_text.startswith("Export failed")
    # cancelling the dialog does nothing
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    raster.png_button.click()


def test_reset_view_shows_all_data(panel):
    raster = panel.raster
    raster.set_spikes([10.0, 90.0], [0, 9], 10, 100.0)
    raster.redraw_now()
    raster.plot.setXRange(40, 50, padding=0)
    raster.reset_button.click()
    (x0, x1), _ = raster.plot.viewRange()
    assert x0 <= 10.0 and x1 >= 90.0


def test_curves_png_export_size(panel, tmp_path):
    panel.show()
    panel.setCurrentWidget(panel.curves)
    for i in range(20):
        panel.curves.add_point("r", "batch/loss", i, 1 / (i + 1))
    path = tmp_path / "curves.png"
    panel.curves.export_png(path)
    image = QImage(str(path))
    ratio = panel.curves.graphics.devicePixelRatioF()
    assert (image.width(), image.height()) == (
        round(panel.curves.graphics.width() * ratio),
        round(panel.curves.graphics.height() * ratio),
    )
    assert image.width() > 100 and image.height() > 100
