"""Neuron models: constructor arguments and defaults as in mlGeNN
(docs/training-semantics.md)."""

from __future__ import annotations

from typing import Any

from .errors import bad_arg
from .initializers import check_value
from .params import apply_default_params, check_bool, check_int, check_number
from .readouts import Readout, get_readout


class Neuron:
    """Base class. ``readout`` is set on output populations only."""

    readout: Readout | None = None
    is_input = False
    spiking = True

    def param_dict(self) -> dict[str, Any]:
        """The constructor arguments as a dict (readout by name), for documents and repr."""
        out = {}
        for k, v in vars(self).items():
            out[k] = v.name if isinstance(v, Readout) else v
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.param_dict().items())
        return f"{type(self).__name__}({args})"


class LeakyIntegrateFire(Neuron):
    """Leaky integrate-and-fire neuron."""

    @apply_default_params
    def __init__(self, v_thresh: float = 1.0, v_reset: float = 0.0, v: Any = 0.0,
                 tau_mem: float = 20.0, tau_refrac: float | None = None,
                 relative_reset: bool = True, integrate_during_refrac: bool = True,
                 scale_i: bool = False, readout: str | Readout | None = None) -> None:
        o = "LeakyIntegrateFire"
        self.v_thresh = check_number(o, "v_thresh", v_thresh)
        self.v_reset = check_number(o, "v_reset", v_reset)
        self.v = check_value(o, "v", v)
        self.tau_mem = check_number(o, "tau_mem", tau_mem, positive=True)
        self.tau_refrac = check_number(o, "tau_refrac", tau_refrac, non_negative=True,
                                       allow_none=True)
        self.relative_reset = check_bool(o, "relative_reset", relative_reset)
        self.integrate_during_refrac = check_bool(o, "integrate_during_refrac",
                                                  integrate_during_refrac)
        self.scale_i = check_bool(o, "scale_i", scale_i)
        self.readout = get_readout(readout, o)


class AdaptiveLeakyIntegrateFire(Neuron):
    """LIF with an adaptive threshold ``v_thresh + beta*A`` (A decays with tau_adapt)."""

    @apply_default_params
    def __init__(self, v_thresh: float = 1.0, v_reset: float = 0.0, v: Any = 0.0,
                 a: Any = 0.0, beta: float = 0.0174, tau_mem: float = 20.0,
                 tau_refrac: float | None = None, tau_adapt: float = 2000.0,
                 relative_reset: bool = True, integrate_during_refrac: bool = True,
                 readout: str | Readout | None = None) -> None:
        o = "AdaptiveLeakyIntegrateFire"
        self.v_thresh = check_number(o, "v_thresh", v_thresh)
        self.v_reset = check_number(o, "v_reset", v_reset)
        self.v = check_value(o, "v", v)
        self.a = check_value(o, "a", a)
        self.beta = check_number(o, "beta", beta)
        self.tau_mem = check_number(o, "tau_mem", tau_mem, positive=True)
        self.tau_refrac = check_number(o, "tau_refrac", tau_refrac, non_negative=True,
                                       allow_none=True)
        self.tau_adapt = check_number(o, "tau_adapt", tau_adapt, positive=True)
        self.relative_reset = check_bool(o, "relative_reset", relative_reset)
        self.integrate_during_refrac = check_bool(o, "integrate_during_refrac",
                                                  integrate_during_refrac)
        self.readout = get_readout(readout, o)

    scale_i = False


class LeakyIntegrate(Neuron):
    """Non-spiking leaky integrator, the usual output neuron."""

    spiking = False

    @apply_default_params
    def __init__(self, v: Any = 0.0, bias: Any = 0.0, tau_mem: float = 20.0,
                 scale_i: bool = False, readout: str | Readout | None = None) -> None:
        o = "LeakyIntegrate"
        self.v = check_value(o, "v", v)
        self.bias = check_value(o, "bias", bias)
        self.tau_mem = check_number(o, "tau_mem", tau_mem, positive=True)
        self.scale_i = check_bool(o, "scale_i", scale_i)
        self.readout = get_readout(readout, o)


class SpikeInput(Neuron):
    """Input population replaying preprocessed spike trains (``PreprocessedSpikes``)."""

    is_input = True

    @apply_default_params
    def __init__(self, max_spikes: int = 1000000) -> None:
        self.max_spikes = check_int("SpikeInput", "max_spikes", max_spikes, minimum=1)


class PoissonInput(Neuron):
    """Input population firing with rate x (per ms): a spike when U(0,1) >= exp(-x*dt)."""

    is_input = True

    @apply_default_params
    def __init__(self, signed_spikes: bool = False, input_frames: int = 1,
                 input_frame_timesteps: int = 1) -> None:
        o = "PoissonInput"
        self.signed_spikes = check_bool(o, "signed_spikes", signed_spikes)
        self.input_frames = check_int(o, "input_frames", input_frames, minimum=1)
        self.input_frame_timesteps = check_int(o, "input_frame_timesteps",
                                               input_frame_timesteps, minimum=1)
        if self.signed_spikes:
            raise bad_arg(o, "signed_spikes", True, "signed spikes are not supported yet; "
                          "use two populations for positive and negative input")


class IntegrateFire(Neuron):
    """Non-leaky integrate-and-fire neuron (ANN-to-SNN converted inference):
    ``V += I`` each step; a spike when ``V >= v_thresh``, then ``V = v_reset``."""

    @apply_default_params
    def __init__(self, v_thresh: float = 1.0, v_reset: float = 0.0, v: Any = 0.0,
                 readout: str | Readout | None = None) -> None:
        o = "IntegrateFire"
        self.v_thresh = check_number(o, "v_thresh", v_thresh)
        self.v_reset = check_number(o, "v_reset", v_reset)
        self.v = check_value(o, "v", v)
        self.readout = get_readout(readout, o)

    scale_i = False


class IntegrateFireInput(Neuron):
    """Input population of integrate-and-fire neurons driven by a constant current:
    each step ``V += x`` (x the example's value for the neuron, or its frame's value
    with ``input_frames > 1``, each frame lasting ``input_frame_timesteps`` steps);
    a spike when ``V >= v_thresh``, then ``V = v_reset``. Data are arrays
    (examples, *shape) or (examples, frames, *shape), not spike trains."""

    is_input = True

    @apply_default_params
    def __init__(self, v_thresh: float = 1.0, v_reset: float = 0.0, v: Any = 0.0,
                 input_frames: int = 1, input_frame_timesteps: int = 1) -> None:
        o = "IntegrateFireInput"
        self.v_thresh = check_number(o, "v_thresh", v_thresh)
        self.v_reset = check_number(o, "v_reset", v_reset)
        self.v = check_value(o, "v", v)
        self.input_frames = check_int(o, "input_frames", input_frames, minimum=1)
        self.input_frame_timesteps = check_int(o, "input_frame_timesteps",
                                               input_frame_timesteps, minimum=1)


NEURONS: dict[str, type[Neuron]] = {
    cls.__name__: cls for cls in (LeakyIntegrateFire, AdaptiveLeakyIntegrateFire,
                                  LeakyIntegrate, SpikeInput, PoissonInput, IntegrateFire,
                                  IntegrateFireInput)
}
