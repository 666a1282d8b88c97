"""How Spike Studio's discrete-time neurons correspond to NIR's continuous-time nodes.

Pure arithmetic shared by :mod:`app.project.nir_export` and
:mod:`app.project.nir_import` (no ``nir`` import here).  Units: time constants
and delays in ms (the unit of NIR's documentation), voltages as in the project.

NIR (Neuromorphic Intermediate Representation) defines its neurons as ODEs in
which a spike is a Dirac delta of unit area:

- ``CubaLIF``: ``tau_syn dI/dt = -I + w_in S``, ``tau_mem dv/dt = v_leak - v + r I``,
  a spike when ``v > v_threshold``, then ``v = v_reset``; ``CubaLI`` is the same
  without threshold; ``LIF``/``LI`` have no synaptic current
  (``tau dv/dt = v_leak - v + r S``).

Our timestep (SPEC "One timestep"): a spike emitted in step ``e`` is delivered
in step ``e + 1``: ``x += w``; then ``I = s*x``, ``x *= beta``,
``V = alpha*V + c*I (+ bias)``, with ``alpha = exp(-dt/tau_mem)``,
``beta = exp(-dt/tau_syn)``, ``s = (tau_syn/dt)(1 - beta)`` for an Exponential
synapse with ``scale_i`` (else 1) and ``c = 1 - alpha`` for a neuron with
``scale_i`` (else 1).

Read a spike emitted in step ``e`` as a Dirac at the end of that step,
``t = (e + 1) dt``, and ``V`` of step ``n`` as ``v((n + 1) dt)``.  Then our
update is the exact solution of the NIR ODE sampled every ``dt`` when

- Exponential synapse (CubaLIF/CubaLI, ``w_in = 1``):
  ``r = c*s*(tau_mem - tau_syn)/(alpha - beta)``
  (limit ``c*s*tau**2/(alpha*dt)`` when ``tau_mem == tau_syn``),
- Delta synapse (LIF/LI): ``r = c*tau_mem/alpha``,
- LeakyIntegrate bias: ``v_leak = bias/(1 - alpha)`` (a constant input held
  over the step).

So between spikes our voltages equal NIR's at every sample.  What differs is
the threshold: we test ``V >= v_thresh`` only at the samples, so a spike is
emitted at the end of the step in which ``v`` crossed (up to one ``dt`` later
than the exact crossing) and a crossing that starts and ends between two
samples is missed; the reset happens at the sample too.  Simulators that
integrate NIR with forward Euler (``v += dt/tau*(...)``, Norse, snnTorch) have
their own, larger difference: their decay per step is ``1 - dt/tau`` instead
of ``exp(-dt/tau)``.
"""
from __future__ import annotations

import math

#: ``tau_mem`` given to a population imported from NIR's leak-free ``IF``/``I``
#: (ms); ``exp(-dt/tau)`` rounds to 1.0 in float32 for any dt below 1 s.
NO_LEAK_TAU = 1e12


def decay(dt: float, tau: float) -> float:
    """Per-step decay ``exp(-dt/tau)`` (dt and tau in ms)."""
    return math.exp(-dt / tau)


def one_minus_decay(dt: float, tau: float) -> float:
    """``1 - exp(-dt/tau)`` without cancellation for large ``tau``."""
    return -math.expm1(-dt / tau)


def neuron_gain(tau_mem: float, dt: float, scale_i: bool) -> float:
    """``c``: factor on the input current in ``V = alpha*V + c*I``."""
    return one_minus_decay(dt, tau_mem) if scale_i else 1.0


def synapse_gain(tau_syn: float, dt: float, scale_i: bool) -> float:
    """``s``: factor from the synaptic variable to the current, ``I = s*x``."""
    return (tau_syn / dt) * one_minus_decay(dt, tau_syn) if scale_i else 1.0


def exponential_r(tau_mem: float, tau_syn: float, dt: float, neuron_scale_i: bool,
                  synapse_scale_i: bool) -> float:
    """NIR ``r`` (with ``w_in = 1``) of a neuron behind an Exponential synapse."""
    cs = neuron_gain(tau_mem, dt, neuron_scale_i) * synapse_gain(tau_syn, dt, synapse_scale_i)
    if abs(tau_mem - tau_syn) <= 1e-9 * max(tau_mem, tau_syn):
        return cs * tau_mem * tau_mem / (decay(dt, tau_mem) * dt)
    # alpha - beta, as a difference of expm1 terms (exact also for a huge tau_mem)
    return cs * (tau_mem - tau_syn) / (math.expm1(-dt / tau_mem) - math.expm1(-dt / tau_syn))


def delta_r(tau_mem: float, dt: float, scale_i: bool) -> float:
    """NIR ``r`` of a neuron fed directly (Delta synapse)."""
    return neuron_gain(tau_mem, dt, scale_i) * tau_mem / decay(dt, tau_mem)


def leak_from_bias(bias: float, tau_mem: float, dt: float) -> float:
    """NIR ``v_leak`` equivalent to a LeakyIntegrate ``bias`` added every step."""
    return bias / one_minus_decay(dt, tau_mem)


def bias_from_leak(v_leak: float, tau_mem: float, dt: float) -> float:
    """Inverse of :func:`leak_from_bias`."""
    return v_leak * one_minus_decay(dt, tau_mem)


def euler_tau(tau: float, dt: float) -> float:
    """The time constant a forward-Euler simulator needs for our exact per-step
    decay: ``1 - dt/tau_e == exp(-dt/tau)``."""
    return dt / one_minus_decay(dt, tau)
