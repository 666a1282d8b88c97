"""Run one (import-renamed) mlGeNN example script and log what it achieved.

``python -m _harness_boot SCRIPT`` (under ``mpirun`` for MPI scripts) runs SCRIPT
as ``__main__`` unchanged. It only watches: each ``train`` gets one extra
callback that appends every epoch's metrics and loss to ``$HARNESS_LOG.<rank>``
(JSON lines), ``evaluate`` results and every warning are logged the same way.
"""

from __future__ import annotations

import inspect
import json
import os
import runpy
import sys
import traceback
import warnings
from typing import Any


def _rank() -> int:
    for key in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def _log(record: dict) -> None:
    with open(f"{os.environ['HARNESS_LOG']}.{_rank()}", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _metrics(metrics: Any) -> dict:
    out = {}
    for pop, m in (metrics or {}).items():
        out[getattr(pop, "name", str(pop))] = {
            "metric": type(m).__name__, "result": m.result,
            "outputs": int(getattr(pop, "num_neurons", 0))}
    return out


class _EpochLog:
    """Appends each epoch's training metrics and loss to the log."""

    def set_params(self, compiled_network: Any = None, **kwargs: Any) -> None:
        self._cn = compiled_network

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        _log({"kind": "epoch", "epoch": epoch, "metrics": _metrics(metrics),
              "loss": getattr(self._cn, "epoch_loss", None)})


def _watch() -> None:
    from app.training import compiled

    train = compiled.CompiledTrainingNetwork.train
    evaluate = compiled.CompiledNetwork.evaluate
    train_sig = inspect.signature(train)
    eval_sig = inspect.signature(evaluate)

    def watched_train(*args: Any, **kwargs: Any) -> Any:
        bound = train_sig.bind(*args, **kwargs)
        bound.apply_defaults()
        cbs = bound.arguments["callbacks"]
        bound.arguments["callbacks"] = (
            ["batch_progress_bar"] if cbs is None else list(cbs)) + [_EpochLog()]
        result = train(*bound.args, **bound.kwargs)
        if len(result) == 4:
            _log({"kind": "validation", "metrics": _metrics(result[1])})
        return result

    def watched_evaluate(*args: Any, **kwargs: Any) -> Any:
        bound = eval_sig.bind(*args, **kwargs)
        result = evaluate(*bound.args, **bound.kwargs)
        _log({"kind": "evaluate", "metrics": _metrics(result[0])})
        return result

    compiled.CompiledTrainingNetwork.train = watched_train
    compiled.CompiledNetwork.evaluate = watched_evaluate
    shown = warnings.showwarning

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        _log({"kind": "warning", "category": category.__name__, "message": str(message)})
        shown(message, category, *args, **kwargs)

    warnings.showwarning = show


def main() -> int:
    script = os.path.abspath(sys.argv[1])
    sys.argv = [script, *sys.argv[2:]]
    sys.path.insert(0, os.path.dirname(script))
    _watch()
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        _log({"kind": "exit", "code": code})
        return code
    except BaseException as exc:
        _log({"kind": "error", "error": f"{type(exc).__name__}: {exc}",
              "where": traceback.format_exc().splitlines()[-3:]})
        raise
    _log({"kind": "exit", "code": 0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
