"""Headless training of a project document (``spike-studio train PROJECT``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project.build import build, schedule_callbacks
from app.project.document import Project
from app.project.errors import ProjectError
from app.project.io import load_project, save_project


@dataclass
class TrainResult:
    """What :func:`train_project` returns."""

    metric: str  # "accuracy" or "mean_square_error"
    value: float  # final training metric
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # connection id -> weights
    callback_data: Any = None


def _metric_name(project: Project) -> str:
    loss = project.compiler.loss
    return "mean_square_error" if loss and loss["type"] == "mean_square_error" \
        else "sparse_categorical_accuracy"


def train_project(project: Project, base_dir: str | os.PathLike[str] | None = None, *,
                  num_epochs: int | None = None, callbacks: list | None = None) -> TrainResult:
    """Check the project is ready (:func:`app.project.validate.require_ready`),
    build it and train it (InferenceCompiler: evaluate only).

    Trained Dense/OneToOne weights are returned so the caller can store them
    in ``project.weights``.  Raises :class:`~app.project.errors.NotReadyError`
    naming every field to fix before anything is allocated.
    """
    from app.project.validate import require_ready

    mode = "evaluate" if project.compiler.type == "InferenceCompiler" else "train"
    require_ready(project, base_dir, mode=mode)
    built = build(project, base_dir)
    if built.dataset is None:
        raise ProjectError("the project has no dataset; choose one in the Dataset tab",
                           "dataset.source")
    x, y = built.train_data()
    metric = _metric_name(project)
    kwargs: dict[str, Any] = {"metrics": metric}
    if callbacks is not None or project.training.lr_schedule is not None:
        kwargs["callbacks"] = list(callbacks or []) + schedule_callbacks(project)
    with built.compiler.compile(built.network) as compiled:
        if project.compiler.type == "InferenceCompiler":
            metrics, cb = compiled.evaluate(x, y, **kwargs)
        else:
            if project.training.validation_split:
                kwargs["validation_split"] = project.training.validation_split
            metrics, cb = compiled.train(x, y, num_epochs=num_epochs or
                                         project.training.num_epochs,
                                         shuffle=project.training.shuffle, **kwargs)
        weights = read_trained_weights(project, built, compiled)
    return TrainResult("accuracy" if metric != "mean_square_error" else metric,
                       float(metrics[built.output].result), weights, cb)


def read_trained_weights(project: Project, built: Any, compiled: Any) -> dict[str, np.ndarray]:
    """Trained weights the document can store and rebuild from: Dense and OneToOne
    weights and shared convolution kernels (as the connection's weight argument)."""
    from app.project.build import kernel_shape

    out: dict[str, np.ndarray] = {}
    getter = getattr(compiled, "get_weights", None)
    if getter is None:
        return out
    for c in project.connections:
        if c.id in project.compiler.deep_r_conns:
            continue  # rewired: its synapses are no longer where the connectivity puts them
        kind = c.connectivity["type"]
        kshape = kernel_shape(project, c)
        if kind not in ("Dense", "OneToOne") and kshape is None:
            continue
        try:
            conn = built.connections[c.id]
            w = np.asarray(getter(conn), dtype=np.float32)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if kshape is not None:
            if w.shape != kshape:
                continue  # per-synapse weights (e-prop): no kernel to store
            w = np.asarray(conn.connectivity.weight_from_trained(w), np.float32)
        out[c.id] = w
    return out


def train_file(project_path: str | os.PathLike[str], *, num_epochs: int | None = None,
               save_weights: bool = False) -> TrainResult:
    """Headless ``spike-studio train PROJECT``; optionally stores trained weights
    back into the project's sidecar file."""
    path = Path(project_path)
    project = load_project(path)
    result = train_project(project, path.parent, num_epochs=num_epochs)
    if save_weights and result.weights:
        project.weights.update(result.weights)
        save_project(project, path)
    return result
