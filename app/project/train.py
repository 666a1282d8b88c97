"""Headless training of a project document (``spike-studio train PROJECT``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project.build import build
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
    if callbacks is not None:
        kwargs["callbacks"] = callbacks
    with built.compiler.compile(built.network) as compiled:
        if project.compiler.type == "InferenceCompiler":
            metrics, cb = compiled.evaluate(x, y, **kwargs)
        else:
            if project.training.validation_split:
                kwargs["validation_split"] = project.training.validation_split
            metrics, cb = compiled.train(x, y, num_epochs=num_epochs or
                                         project.training.num_epochs,
                                         shuffle=project.training.shuffle, **kwargs)
        weights = _read_weights(project, built, compiled)
    return TrainResult("accuracy" if metric != "mean_square_error" else metric,
                       float(metrics[built.output].result), weights, cb)


def _read_weights(project: Project, built: Any, compiled: Any) -> dict[str, np.ndarray]:
    """Dense/OneToOne weights after training, when the compiled network exposes them."""
    out: dict[str, np.ndarray] = {}
    getter = getattr(compiled, "get_weights", None)
    if getter is None:
        return out
    for c in project.connections:
        if c.connectivity["type"] not in ("Dense", "OneToOne"):
            continue
        try:
            w = np.asarray(getter(built.connections[c.id]), dtype=np.float32)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
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
