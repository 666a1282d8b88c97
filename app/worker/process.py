"""The worker process: build the document, train it, stream messages.

:func:`run_worker` is the ``spawn`` target.  Training uses the library's own
loop (``CompiledTrainingNetwork.train``); everything the GUI sees comes from the
callbacks in :mod:`app.worker.stream`, messages go out through
:mod:`app.worker.control`'s :class:`Sender`.
"""
from __future__ import annotations

import os
import re
import signal
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from app.worker.control import Control, Sender, StopRequested
from app.worker.protocol import WorkerSpec
from app.worker.stream import (
    ControlCallback,
    StreamCallback,
    ValidationStream,
    restore_checkpoint,
)

__all__ = ["Control", "Sender", "StopRequested", "StreamCallback", "run_worker"]


def _where(message: str, network: Any) -> dict[str, str]:
    """The population or connection a library error message names."""
    if network is None:
        return {}
    names = re.findall(r"'([^']+)'", message)
    pops = {p.name for p in network.populations}
    conns = {c.name for c in network.connections}
    for n in names:
        if n in conns:
            return {"connection": n}
        if n in pops:
            return {"population": n}
    return {}


def _field_where(field: str, project: Any) -> dict[str, str]:
    """``connections[0]`` / ``populations[1]`` of a ProjectError, as a name."""
    m = re.match(r"(populations|connections)\[(\d+)\]", field)
    if m is None or project is None:
        return {}
    items = project.populations if m.group(1) == "populations" else project.connections
    i = int(m.group(2))
    if i >= len(items):
        return {}
    return {m.group(1)[:-1]: items[i].name}


def _memory_message(network: Any, cn: Any, stage: str) -> tuple[str, dict[str, str]]:
    """Plain words for a MemoryError, naming the largest population and connection."""
    if network is None:
        return f"out of memory {stage}", {}
    T = getattr(cn, "example_timesteps", None)
    B = getattr(cn, "batch_size", None)
    pop = max(network.populations, key=lambda p: p.num_neurons)
    where: dict[str, str] = {"population": pop.name}
    text = (f"out of memory {stage}: the largest population is '{pop.name}' "
            f"({pop.num_neurons} neurons")
    text += f" x {T} steps x batch {B})" if T and B else ")"
    if network.connections:
        def size(c: Any) -> int:
            return c.source.num_neurons * c.target.num_neurons
        conn = max(network.connections, key=size)
        where["connection"] = conn.name
        text += f", the largest connection is '{conn.name}' (up to {size(conn)} synapses)"
    text += "; lower batch_size, example_timesteps or max_spikes, or limit the examples"
    return text, where


def _metric_name(project: Any) -> str:
    loss = project.compiler.loss
    return "mean_square_error" if loss and loss["type"] == "mean_square_error" \
        else "sparse_categorical_accuracy"


def _dense_weights(project: Any, built: Any, cn: Any) -> dict[str, np.ndarray]:
    from app.project.train import read_trained_weights

    return read_trained_weights(project, built, cn)


def run_worker(spec: WorkerSpec, conn: Any, stop: Any = None, pause: Any = None,
               settings: Any = None) -> None:
    """Process entry point: run ``spec`` and stream messages to ``conn``;
    ``settings`` (optional pipe end) brings sampling changes from the GUI."""
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if spec.nice:
        try:
            os.nice(spec.nice)  # the GUI thread must win the CPU over training
        except (AttributeError, OSError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal belongs to the GUI
    send = Sender(conn)
    control = Control(stop, pause, send, settings)
    send({"kind": "started", "pid": os.getpid(), "run": spec.run, "run_dir": spec.run_dir,
          "mode": spec.mode})
    try:
        _run(spec, send, control)
    finally:
        send.close()


def _run(spec: WorkerSpec, send: Sender, control: Control) -> None:
    network = cn = project = None
    stage = "while building the project"
    history: dict[str, list] = {"batch": [], "epoch": []}
    run_dir = Path(spec.run_dir) if spec.run_dir else None
    stream: StreamCallback | None = None
    try:
        import json

        from app.project.build import build
        from app.project.io import project_from_dict
        from app.worker import runs

        project = project_from_dict(json.loads(spec.project_json), spec.weights)
        if spec.max_examples is not None:
            project.training.max_examples = int(spec.max_examples)
        if spec.backend and spec.backend != "genn" and "backend" in project.compiler.params:
            project.compiler.params["backend"] = spec.backend
        stage = "while checking the project"
        _preflight(project, spec, send)
        if spec.mode == "calibrate" or spec.calibrate:
            stage = "while calibrating the initial weights"
            _calibrate(project, spec, send, control)
            if spec.mode == "calibrate":
                send({"kind": "finished", "run": spec.run, "mode": spec.mode, "weights": {},
                      "metric": None, "value": None})
                return
            stage = "while building the project"
        if spec.backend == "genn" and spec.mode == "train":
            from app.worker import genn_backend

            stage = "while training on GeNN"
            res = genn_backend.train_on_genn(project, spec, send, control.check,
                                             control.new_settings, history)
            send({"kind": "finished", "run": spec.run, "mode": spec.mode,
                  "weights": res.weights, "metric": res.metric, "value": res.value})
            return
        if spec.backend == "genn":
            # evaluate/predict run on our engine, whose forward pass is bit-identical to
            # mlGeNN's (tests/training/test_parity_eventprop.py, test_eprop_parity.py)
            spec.backend = None
        built = build(project, spec.base_dir)
        network = built.network
        metric = _metric_name(project)
        stage = "while compiling the network"
        with built.compiler.compile(built.network) as cn:
            if spec.mode in ("evaluate", "predict"):
                stage = f"during {spec.mode}"
                _evaluate(spec, built, cn, metric, send, control)
                send({"kind": "finished", "run": spec.run, "mode": spec.mode, "weights": {},
                      "metric": metric, "value": None})
                return
            if project.compiler.type == "InferenceCompiler":
                raise ValueError("the Inference compiler does not train; use Evaluate")
            if run_dir is not None:
                if spec.resume_from is not None:
                    old = runs.read_history(run_dir)
                    history["epoch"] = [r for r in old["epoch"] if r["epoch"] <= spec.resume_from]
                    history["batch"] = [r for r in old["batch"] if r["epoch"] <= spec.resume_from]
                runs.update_status(run_dir, status="running", pid=os.getpid(), message="")
            if spec.resume_from is not None and run_dir is not None:
                restore_checkpoint(cn, run_dir, spec.resume_from)
            x, y = built.train_data()
            stream = StreamCallback(spec, send, control, built.network, history, metric)
            num_epochs = spec.num_epochs if spec.num_epochs is not None \
                else project.training.num_epochs
            from app.project.build import schedule_callbacks

            kwargs: dict[str, Any] = {"metrics": metric,
                                      "callbacks": [stream, *schedule_callbacks(project)],
                                      "validation_callbacks": [ValidationStream(stream)]}
            if project.training.validation_split:
                kwargs["validation_split"] = project.training.validation_split
            stage = "during training"
            result = cn.train(x, y, num_epochs=int(num_epochs), start_epoch=spec.start_epoch,
                              shuffle=project.training.shuffle, **kwargs)
            mets = result[0]
            value = next(iter(mets.values())).result if mets else None
            weights = _dense_weights(project, built, cn)
            if run_dir is not None:
                from app.training.serialisers import Numpy

                cn.save(("final",), Numpy(run_dir / "weights"))
                runs.write_history(run_dir, history)
                runs.update_status(run_dir, status="finished", message="finished")
            send({"kind": "finished", "run": spec.run, "weights": weights, "metric": metric,
                  "value": None if value is None else float(value)})
    except StopRequested:
        last = stream._checkpoints[-1] if stream and stream._checkpoints else None
        epoch = stream.epoch if stream else 0
        batch = stream.batch if stream else 0
        msg = f"stopped by the user at epoch {epoch}, batch {batch}"
        if run_dir is not None:
            from app.worker import runs

            runs.write_history(run_dir, history)
            runs.update_status(run_dir, status="stopped", message=msg)
        send({"kind": "stopped", "run": spec.run, "epoch": epoch, "batch": batch,
              "last_checkpoint": last, "message": msg})
    except MemoryError:
        where_stage = stage
        if stream is not None:
            where_stage = f"in epoch {stream.epoch}, batch {stream.batch}"
        text, where = _memory_message(network, cn, where_stage)
        _report(send, run_dir, "MemoryError", text, where)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the GUI
        text = str(exc) or type(exc).__name__
        where = _where(text, network)
        field = getattr(exc, "field", None)
        if field:
            where = {**_field_where(str(field), project), **where, "field": str(field)}
        issues = [{"message": i.message, "field": i.field, "target": i.target, "kind": i.kind}
                  for i in getattr(exc, "issues", [])]
        _report(send, run_dir, type(exc).__name__, text, where, issues)


def _preflight(project: Any, spec: WorkerSpec, send: Sender) -> None:
    """The editor's readiness checks, again, before anything is allocated: raise
    :class:`NotReadyError` naming every field to fix; send warnings on."""
    from app.project.validate import require_ready

    mode = "train" if spec.mode == "calibrate" else spec.mode
    for issue in require_ready(project, spec.base_dir, mode=mode):
        send({"kind": "warning", "run": spec.run, "message": issue.message,
              "field": issue.field, "target": issue.target})


def _calibrate(project: Any, spec: WorkerSpec, send: Sender, control: Control) -> None:
    """Scale the initial weights so every hidden population fires (applied to the
    project trained next, and sent to the window to put into the document)."""
    from app.project.calibrate import apply_calibration, calibrate

    def progress(text: str) -> None:
        send({"kind": "calibration_progress", "run": spec.run, "message": text})

    stopped = control.stop.is_set if control.stop is not None else None
    result = calibrate(project, spec.base_dir, progress=progress, should_stop=stopped)
    if stopped is not None and stopped():
        raise StopRequested()
    apply_calibration(project, result)
    send({"kind": "calibrated", "run": spec.run, "result": result.to_dict(),
          "message": result.summary(), "ok": result.ok})


def _report(send: Sender, run_dir: Path | None, error_type: str, text: str,
            where: dict[str, str], issues: list[dict[str, Any]] | None = None) -> None:
    tb = traceback.format_exc()
    if run_dir is not None:
        from app.worker import runs

        try:
            runs.update_status(run_dir, status="failed", message=text, error_type=error_type,
                               where=where, traceback=tb)
        except OSError:
            pass
    send({"kind": "error", "error_type": error_type, "message": text, "where": where,
          "traceback": tb, "issues": issues or []})


def _evaluate(spec: WorkerSpec, built: Any, cn: Any, metric: str, send: Sender,
              control: Control) -> None:
    x, y = built.test_data()
    n = len(next(iter(x.values())))
    if n == 0:
        raise ValueError("the dataset has no test examples")
    if spec.mode == "evaluate":
        mets, _ = cn.evaluate(x, y, metrics=metric, callbacks=[ControlCallback(control)])
        value = next(iter(mets.values())).result
        send({"kind": "evaluation", "metric": metric, "n": n,
              "accuracy": None if value is None else float(value)})
    else:
        out, _ = cn.predict(x, built.output, callbacks=[ControlCallback(control)])
        readout = np.asarray(out[built.output])
        labels = np.asarray(next(iter(y.values())))
        predicted = np.argmax(readout, axis=-1) if readout.ndim == 2 else readout
        acc = float(np.mean(predicted == labels)) if labels.ndim == 1 else None
        send({"kind": "predictions", "predicted": predicted, "labels": labels,
              "readout": readout, "accuracy": acc, "n": n})
