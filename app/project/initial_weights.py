"""Initial weights a palette-built network can learn from.

A connection's initial weights are scaled to its fan-in and to how strongly
one spike moves the target's membrane (its synapse, time constants, dt and
``scale_i``), so that a population with 4 inputs and one with 700 start in
the same regime: spiking targets are driven to around their threshold by the
inputs arriving in a trial, leaky-integrator outputs get unit-sized readouts.
Data-dependent tuning is :mod:`app.project.calibrate`'s job.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.project.document import ConnectionSpec, PopulationSpec, Project

#: summed mean drive of a spiking target's feed-forward inputs, in units of
#: ``v_thresh - v_reset`` (above 1: most neurons fire once every input has spiked)
FEEDFORWARD_MEAN_GAIN = 1.2
#: spread of that summed drive (same units): neurons start diverse
FEEDFORWARD_SD_GAIN = 0.5
#: spread of recurrent drive (mean zero): recurrence starts as a perturbation
RECURRENT_SD_GAIN = 0.3
#: spread of a leaky-integrator output's summed drive, in readout units
OUTPUT_SD_GAIN = 1.0
MAX_PSP_STEPS = 200_000


def psp_peak(target: PopulationSpec, synapse: dict[str, Any], dt: float) -> float:
    """Peak membrane deflection of ``target`` after one presynaptic spike of weight 1.

    Follows the engine's discrete dynamics: an exponential synapse adds
    ``w * iscale_syn`` to its current (``iscale_syn = tau/dt * (1 - beta)`` with
    ``scale_i``), which decays by ``beta = exp(-dt/tau)`` per step; the membrane
    integrates ``iscale_nrn * I`` (``iscale_nrn = 1 - alpha`` with the neuron's
    ``scale_i``) and decays by ``alpha = exp(-dt/tau_mem)``.  A delta synapse
    puts ``w * iscale_nrn`` straight on the membrane.
    """
    tau_mem = float(target.params.get("tau_mem", 20.0))
    alpha = math.exp(-dt / tau_mem)
    iscale_nrn = (1.0 - alpha) if target.params.get("scale_i", False) else 1.0
    if synapse.get("type") != "Exponential":
        return max(iscale_nrn, 1e-12)
    tau = float(synapse["tau"])
    beta = math.exp(-dt / tau)
    iscale_syn = (tau / dt) * (1.0 - beta) if synapse.get("scale_i", False) else 1.0
    horizon = int(min(MAX_PSP_STEPS, max(8.0, 10.0 * max(tau, tau_mem) / dt)))
    t = np.arange(1, horizon + 1, dtype=np.float64)
    if abs(alpha - beta) < 1e-12:
        v = t * alpha ** (t - 1)
    else:
        v = (alpha ** t - beta ** t) / (alpha - beta)
    return max(float(iscale_nrn * iscale_syn * v.max()), 1e-12)


def fan_in(project: Project, conn: ConnectionSpec) -> float:
    """Expected number of presynaptic neurons per target neuron."""
    n_pre = project.population(conn.source).size
    kind = conn.connectivity["type"]
    if kind == "OneToOne":
        return 1.0
    if kind == "FixedProbability":
        return max(1.0, n_pre * float(conn.connectivity["p"]))
    return float(max(1, n_pre))


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def initial_weight(project: Project, conn: ConnectionSpec) -> dict[str, Any]:
    """The ``Normal`` initializer a new connection gets (see the module docstring)."""
    target = project.population(conn.target)
    source = project.population(conn.source)
    dt = float(project.compiler.params.get("dt", 1.0))
    k = psp_peak(target, conn.synapse, dt)
    n = fan_in(project, conn)
    if target.model == "LeakyIntegrate":
        return {"type": "Normal", "mean": 0.0, "sd": _round(OUTPUT_SD_GAIN / (k * math.sqrt(n)))}
    gap = float(target.params.get("v_thresh", 1.0)) - float(target.params.get("v_reset", 0.0))
    gap = gap if gap > 0 else 1.0
    recurrent = conn.source == conn.target or (not source.is_input and any(
        c.source == conn.target and c.target == conn.source for c in project.connections))
    if recurrent:
        return {"type": "Normal", "mean": 0.0,
                "sd": _round(RECURRENT_SD_GAIN * gap / (k * math.sqrt(n)))}
    return {"type": "Normal", "mean": _round(FEEDFORWARD_MEAN_GAIN * gap / (k * n)),
            "sd": _round(FEEDFORWARD_SD_GAIN * gap / (k * math.sqrt(n)))}


def rederive_initial_weights(project: Project, population_ids: list[str] | None = None
                             ) -> list[str]:
    """Re-derive the initial weights of every connection whose weights were not set
    by the user (touching ``population_ids``, or all); returns the connection ids
    changed.  Calibrated connections go back to the fan-in rule (calibrate again)."""
    changed = []
    ids = None if population_ids is None else set(population_ids)
    for conn in project.connections:
        if not conn.weight_is_auto:
            continue
        if ids is not None and conn.source not in ids and conn.target not in ids:
            continue
        new = initial_weight(project, conn)
        if new != conn.weight or conn.weight_source != "auto":
            conn.weight = new
            conn.weight_source = "auto"
            changed.append(conn.id)
    return changed
