"""Our public API keeps mlGeNN 2.3.1's calling conventions: parameter names, order and
defaults of the methods we share, read with ``inspect.signature`` from the real
mlGeNN; and ``predict`` returns ``(predictions, callback data)`` as mlGeNN's does.
The remaining differences are listed in the README ("Differences from mlGeNN's API")."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.model import Connection, InputLayer, Layer, Network, Population, SequentialNetwork
from app.model.connectivity import Dense
from app.model.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
from app.training.callbacks import SpikeRecorder
from app.training.compiled import (
    CompiledInferenceNetwork,
    CompiledNetwork,
    CompiledTrainingNetwork,
)
from app.training.compilers import EPropCompiler, EventPropCompiler, InferenceCompiler
from app.training.data import preprocess_spikes

#: mlGeNN's default callbacks are a shared list holding a progress bar; ours are
#: None meaning "a new progress bar" (no object shared between calls).
CALLBACK_ARGS = ("callbacks", "validation_callbacks")
#: Defaults that mean "none" on both sides: ``default_params`` (mlGeNN {}, ours None) and
#: EventProp's regularisation strengths (mlGeNN {} per population, ours 0.0 for all).
EMPTY_DEFAULTS = ("default_params", "reg_lambda_upper", "reg_lambda_lower", "deep_r_conns",
                  "deep_r_record_rewirings")


def _params(func: Any) -> list[tuple[str, Any]]:
    """(name, default) of every parameter; callback defaults reduced to "default"."""
    out = []
    for p in inspect.signature(func).parameters.values():
        default = p.default
        if p.name in CALLBACK_ARGS or p.kind is p.VAR_KEYWORD:
            default = "default"
        elif default is inspect.Parameter.empty:
            default = "required"
        elif isinstance(default, dict | list | tuple) and not default:
            default = "empty"  # mlGeNN's shared {} / [] defaults, ours () / None
        elif p.name in EMPTY_DEFAULTS and default in (None, 0.0):
            default = "empty"
        out.append((p.name, default))
    return out


def _ml(path: str) -> Any:
    module, name = path.rsplit(".", 1)
    return getattr(pytest.importorskip(module), name)


SHARED = [
    ("ml_genn.compilers.inference_compiler.CompiledInferenceNetwork", CompiledInferenceNetwork,
     ["evaluate", "evaluate_batch", "evaluate_batch_iter", "predict"]),
    ("ml_genn.compilers.compiled_training_network.CompiledTrainingNetwork",
     CompiledTrainingNetwork, ["train", "save", "save_connectivity"]),
    ("ml_genn.Network", Network, ["__init__", "load"]),
    ("ml_genn.SequentialNetwork", SequentialNetwork, ["__init__", "load"]),
]


@pytest.mark.parametrize("ml_path, ours, methods", SHARED,
                         ids=[s[0].rsplit(".", 1)[1] for s in SHARED])
def test_shared_methods_have_mlgenns_parameters(ml_path: str, ours: type,
                                                methods: list[str]) -> None:
    ml = _ml(ml_path)
    for name in methods:
        assert _params(getattr(ours, name)) == _params(getattr(ml, name)), name


@pytest.mark.parametrize("name", ["EventPropCompiler", "EPropCompiler", "InferenceCompiler"])
def test_compilers_take_mlgenns_arguments(name: str) -> None:
    ml = _ml(f"ml_genn.compilers.{name}")
    ours = {"EventPropCompiler": EventPropCompiler, "EPropCompiler": EPropCompiler,
            "InferenceCompiler": InferenceCompiler}[name]
    theirs = dict(_params(ml.__init__))
    mine = dict(_params(ours.__init__))
    missing = {k for k in theirs if k not in mine}
    # GeNN's own options (mlGeNN's **genn_kwargs) are taken by our **kwargs and reported
    # as ignored: they have no meaning on our engine, whose ``backend`` picks the engine
    assert missing <= {"genn_kwargs"}, missing
    for k in theirs.keys() - missing:
        assert mine[k] == theirs[k], (name, k)
    assert [p for p, _ in _params(ours.compile)][:3] == \
        [p for p, _ in _params(ml.compile)][:3] == ["self", "network", "name"]


def test_compiled_networks_open_both_ways(tmp_path: Path) -> None:
    """mlGeNN's ``__enter__`` returns None, so its scripts write ``cn = compile(net)`` and
    ``with cn:``; ours supports that and ``with compile(net) as cn:`` too."""
    ml_genn = pytest.importorskip("ml_genn")
    pytest.importorskip("pygenn")
    from ml_genn.compilers import InferenceCompiler as MLInferenceCompiler
    from ml_genn.connectivity import Dense as MLDense
    from ml_genn.neurons import LeakyIntegrate as MLLeakyIntegrate
    from ml_genn.neurons import SpikeInput as MLSpikeInput

    from app.worker.genn_backend import CPU_KIND, compile_in

    ml_net = ml_genn.Network()
    with ml_net:
        a = ml_genn.Population(MLSpikeInput(max_spikes=10), 2)
        b = ml_genn.Population(MLLeakyIntegrate(readout="sum_var"), 2)
        ml_genn.Connection(a, b, MLDense(1.0))
    ml_cn = compile_in(MLInferenceCompiler(5, backend=CPU_KIND), ml_net, tmp_path)
    with ml_cn as entered:
        assert entered is None
    net = Network()
    with net:
        inp = Population(SpikeInput(max_spikes=10), 2)
        out = Population(LeakyIntegrate(readout="sum_var"), 2)
        Connection(inp, out, Dense(1.0))
    cn = InferenceCompiler(5).compile(net, name="both_ways")
    with cn as same:
        assert same is cn and isinstance(cn, CompiledNetwork)
    with cn:  # mlGeNN's way
        pred, _ = cn.predict({inp: [preprocess_spikes(np.array([1.0]), np.array([0]), 2)]},
                             out, callbacks=[])
    assert pred[out].shape == (1, 2) and pred[out][0, 0] > 0


def test_predict_returns_predictions_and_callback_data_like_mlgenn() -> None:
    net = SequentialNetwork()
    with net:
        inp = InputLayer(SpikeInput(max_spikes=20), 3)
        hid = Layer(Dense(np.full((3, 4), 1.5, np.float32)), LeakyIntegrateFire(), 4)
        out = Layer(Dense(np.eye(4, 2, dtype=np.float32)), LeakyIntegrate(readout="sum_var"), 2)
    x = [preprocess_spikes(np.array([1.0, 2.0, 3.0 + k]), np.array([0, 1, 2]), 3)
         for k in range(5)]
    with InferenceCompiler(20, batch_size=2).compile(net) as cn:
        pred, data = cn.predict({inp: x}, out, callbacks=[SpikeRecorder(hid, key="hid")])
        assert list(pred) == [out] and pred[out].shape == (5, 2)
        assert len(data["hid"][0]) == 5  # one spike-time list per example
        assert any(len(t) for t in data["hid"][0])
        both, _ = cn.predict({inp: x}, [out], callbacks=[])
        np.testing.assert_array_equal(both[out], pred[out])
        m, _ = cn.evaluate({inp: x}, {out: np.argmax(pred[out], axis=1)}, callbacks=[])
        assert m[out].result == 1.0  # evaluate and predict see the same readout
        with pytest.raises(ValueError, match="outputs"):
            cn.predict({inp: x}, hid)
