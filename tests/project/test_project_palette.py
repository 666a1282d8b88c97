"""A palette-built network learns: fan-in initial weights that follow resizes,
calibration on data, and the proof on Yin-Yang (issue 13)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.project.build import build
from app.project.calibrate import CalibrationResult, apply_calibration, calibrate
from app.project.document import Project
from app.project.initial_weights import psp_peak
from app.project.io import dumps, loads
from app.project.palette import (
    add_population,
    choose_builtin_dataset,
    connect,
    resize_population,
    set_connection_weight,
)


def palette_yin_yang() -> tuple[Project, list[str]]:
    """Input -> LIF -> LeakyIntegrate as a user builds it: drop three nodes, connect
    them, resize the input to 4 and the output to 3, pick Yin-Yang; no weight edited."""
    p = Project()
    inp = add_population(p, "SpikeInput", (0.0, 0.0))
    hid = add_population(p, "LeakyIntegrateFire", (300.0, 0.0))
    out = add_population(p, "LeakyIntegrate", (600.0, 0.0))
    c1 = connect(p, inp.id, hid.id)
    c2 = connect(p, hid.id, out.id)
    resize_population(p, inp.id, 4)
    resize_population(p, out.id, 3)
    choose_builtin_dataset(p, "yin_yang")
    return p, [c1.id, c2.id]


def test_new_connections_scale_with_fan_in_and_follow_resizes() -> None:
    p = Project()
    inp = add_population(p, "SpikeInput")
    hid = add_population(p, "LeakyIntegrateFire")
    conn = connect(p, inp.id, hid.id)
    assert conn.weight_source == "auto" and inp.size == 10
    w10 = dict(conn.weight)
    assert w10["mean"] > 0 and w10["sd"] > 0
    assert resize_population(p, inp.id, 40) == [conn.id]
    w40 = p.connection(conn.id).weight
    assert w40["mean"] == pytest.approx(w10["mean"] / 4, rel=1e-3)  # mean drive ~ 1/fan-in
    assert w40["sd"] == pytest.approx(w10["sd"] / 2, rel=1e-3)  # spread ~ 1/sqrt(fan-in)
    set_connection_weight(p, conn.id, {"type": "Normal", "mean": 0.5, "sd": 0.1})
    assert resize_population(p, inp.id, 4) == []  # the user's weights stay
    assert p.connection(conn.id).weight == {"type": "Normal", "mean": 0.5, "sd": 0.1}
    again = loads(dumps(p))  # "who set it" survives a save
    assert again.connection(conn.id).weight_source == "user"


def test_initial_weights_follow_the_target_model() -> None:
    p = Project()
    inp = add_population(p, "SpikeInput")
    hid = add_population(p, "LeakyIntegrateFire")
    out = add_population(p, "LeakyIntegrate")
    c_in = connect(p, inp.id, hid.id)
    c_rec = connect(p, hid.id, hid.id)
    c_out = connect(p, hid.id, out.id)
    assert c_rec.weight["mean"] == 0.0 and c_out.weight["mean"] == 0.0
    before = dict(c_in.weight)
    p.population(hid.id).params["v_thresh"] = 2.0  # twice the gap to threshold
    from app.project.initial_weights import rederive_initial_weights

    rederive_initial_weights(p)
    assert p.connection(c_in.id).weight["mean"] == pytest.approx(2 * before["mean"], rel=1e-3)
    exp_peak = psp_peak(hid, c_in.synapse, 1.0)
    p.connection(c_in.id).synapse = {"type": "Delta"}  # a different kick per unit weight
    rederive_initial_weights(p)
    ratio = exp_peak / psp_peak(hid, {"type": "Delta"}, 1.0)
    assert p.connection(c_in.id).weight["mean"] == pytest.approx(2 * before["mean"] * ratio,
                                                                 rel=1e-3)


def test_psp_peak_matches_the_engine() -> None:
    """One input spike of weight 1 into a LIF that cannot fire: the membrane's peak
    is what the initial-weight rule assumes (EventProp synapse, scale_i)."""
    from app.training.callbacks import VarRecorder
    from app.training.data.spikes import preprocess_spikes

    p = Project()
    inp = add_population(p, "SpikeInput")
    hid = add_population(p, "LeakyIntegrateFire")
    inp.size = 1
    hid.size = 1
    hid.params["v_thresh"] = 1e5
    out = add_population(p, "LeakyIntegrate")
    out.size = 1
    conn = connect(p, inp.id, hid.id)
    set_connection_weight(p, conn.id, {"type": "Constant", "value": 1.0})
    connect(p, hid.id, out.id)
    p.compiler.params.update(dt=0.1, example_timesteps=600, batch_size=1)
    built = build(p, with_data=False)
    hidden = built.populations[hid.id]
    with built.compiler.compile(built.network) as cn:
        spikes = [preprocess_spikes(np.array([1.0]), np.array([0]), 1)]
        _, data = cn.evaluate({built.input: spikes}, {built.output: np.array([0])},
                              callbacks=[VarRecorder(hidden, "V", key="v")])
    peak = float(np.max(data["v"][0]))
    assert peak == pytest.approx(psp_peak(hid, conn.synapse, 0.1), rel=0.02)


def test_calibrate_wakes_a_dead_population_and_quiets_a_loud_one() -> None:
    p, (c1, _c2) = palette_yin_yang()
    set_connection_weight(p, c1, {"type": "Normal", "mean": 0.0, "sd": 1 / math.sqrt(10)})
    result = calibrate(p, num_batches=2)
    (before,) = result.before.values()
    (after,) = result.after.values()
    assert before.rate_hz == 0.0 and result.ok, result.summary()
    target = result.target
    assert target.min_rate_hz <= after.rate_hz <= target.max_rate_hz
    assert after.active_fraction >= target.min_active
    scale = result.scales[c1]
    assert scale > 1 and result.weights[c1]["sd"] == pytest.approx(scale / math.sqrt(10),
                                                                   rel=1e-3)
    assert p.connection(c1).weight["sd"] == pytest.approx(1 / math.sqrt(10))  # not applied
    assert apply_calibration(p, CalibrationResult.from_dict(result.to_dict())) == [c1]
    assert p.connection(c1).weight == result.weights[c1]
    assert p.connection(c1).weight_source == "user"  # still the user's connection

    set_connection_weight(p, c1, {"type": "Normal", "mean": 50.0, "sd": 10.0})
    loud = calibrate(p, num_batches=2)
    assert loud.ok and loud.scales[c1] < 1
    assert list(loud.before.values())[0].rate_hz > loud.target.max_rate_hz


def test_palette_built_yin_yang_reaches_90_percent_in_its_default_epochs() -> None:
    """The issue's network, built and trained exactly as the editor would."""
    p, _ = palette_yin_yang()
    assert p.training.num_epochs <= 30 and p.compiler.params["batch_size"] >= 16
    from app.project.validate import is_ready, preflight

    assert is_ready(preflight(p))
    built = build(p)
    x, y = built.train_data()
    tx, ty = built.test_data()
    with built.compiler.compile(built.network) as cn:
        metrics, _ = cn.train(x, y, num_epochs=p.training.num_epochs,
                              shuffle=p.training.shuffle, callbacks=[])
        test, _ = cn.evaluate(tx, ty, callbacks=[])
    train_acc = metrics[built.output].result
    test_acc = test[built.output].result
    assert train_acc >= 0.9 and test_acc >= 0.9, (train_acc, test_acc)
