"""What goes to the worker process and what comes back (plain, picklable objects).

The GUI sends a :class:`WorkerSpec` once; the worker answers with ``dict``
messages, each with a ``"kind"``:

``started``        ``pid``, ``run``, ``run_dir``, ``mode``
``batch_metrics``  ``run, epoch, batch, step, loss, accuracy`` (classification) or
                   ``mse`` (regression; accuracy None), plus the progress:
                   ``num_batches, num_epochs, start_epoch, samples_per_s, eta_s, fraction``
``epoch_metrics``  ``run, epoch, loss, accuracy, mse`` (training) or ``val_loss,
                   val_accuracy, val_mse`` (after validation)
``raster``         ``population, times (ms), ids, n, t_max, epoch, batch, example``
``voltage``        ``population, t (ms), V [T, k], ids, v_thresh``
``weights``        ``connection, values`` (subsampled), ``mean, std, min, max, count``
``checkpoint``     ``epoch, path``
``paused`` / ``resumed``  ``epoch, batch``
``evaluation``     ``accuracy, loss, n``
``predictions``    ``predicted, labels, accuracy``
``finished``       ``run, weights {connection id: array}``, ``metric``, ``value``
``stopped``        ``run, epoch, batch, last_checkpoint``
``error``          ``error_type, message, traceback, where`` (``population``/``connection``/
                   ``field``), ``issues`` (``NotReadyError``: every preflight error as
                   ``{message, field, target, kind}``)
``warning``        ``run, message, field, target`` (a preflight warning; training goes on)
``calibration_progress``  ``run, message`` (one line per calibration round)
``calibrated``     ``run, result`` (``CalibrationResult.to_dict()``: new initializers per
                   connection id, firing before/after), ``message``, ``ok``
``dead_populations``  ``run, epoch, populations`` (names of hidden populations that fired
                   no spike in the whole epoch), ``message``
``crashed``        (made by the client) ``exitcode, message, last_checkpoint``

Plot kinds are the ones :class:`app.plots.PlotsPanel` reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PLOT_KINDS = ("batch_metrics", "epoch_metrics", "raster", "voltage", "weights", "clear_run")
END_KINDS = ("finished", "stopped", "error", "crashed")
FAULT_ENV = "SPIKE_STUDIO_WORKER_FAULT"  # test hook: "memory_error@E:B" or "hang@E:B"


@dataclass
class WorkerSpec:
    """Everything a worker needs: the serialised document plus run options."""

    project_json: str  # Project.to_dict() as JSON text, weights left out
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # connection id -> array
    base_dir: str | None = None  # resolves relative dataset paths
    mode: str = "train"  # "train" | "evaluate" | "predict" | "calibrate"
    run_dir: str | None = None  # run folder (train mode)
    run: str = "run"  # run name shown in the plots
    num_epochs: int | None = None  # None: the document's
    start_epoch: int = 0
    resume_from: int | None = None  # checkpoint epoch to restore (weights + optimiser)
    backend: str | None = None
    max_examples: int | None = None  # override of training.max_examples
    sample_every: int = 10  # raster/voltage/weights every N batches (and batch 0)
    min_sample_interval_s: float = 0.04  # ... and at most this often (plots redraw ~25/s)
    voltage_population: str | None = None  # population name; None: first hidden
    voltage_neurons: list[int] = field(default_factory=lambda: list(range(8)))
    checkpoint_every: int = 1  # epochs
    max_voltage_points: int = 2000
    max_weight_values: int = 20000
    nice: int = 0  # os.nice increment of the worker (the editor uses 10: GUI first)
    calibrate: bool = False  # calibrate initial weights before training (sends "calibrated")
    extra: dict[str, Any] = field(default_factory=dict)
