"""Static description of everything a project document may contain.

One table per kind of object (neuron models, synapses, connectivity, weight
initializers, compilers, datasets).  The loader validates against it, the
inspector builds its typed widgets from it and the exporter writes arguments
in its order, so a field is described exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

SCHEMA_VERSION = 1
FORMAT_NAME = "spike-studio-project"


@dataclass(frozen=True)
class Param:
    """One editable argument: its type, default, unit and allowed range."""

    name: str
    kind: str  # "float" | "int" | "bool" | "optfloat" | "choice" | "str" | "pair" | "optpair"
    default: Any
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[Any, ...] = ()
    label: str = ""
    help: str = ""
    #: physically sensible range, checked before training (not on load, so a
    #: file with an odd value still opens and the Problems list names it)
    sensible_min: float | None = None
    sensible_max: float | None = None
    sensible_why: str = ""

    @property
    def title(self) -> str:
        """Human label for the field."""
        return self.label or self.name.replace("_", " ")


def _f(name: str, default: float, unit: str = "", minimum: float | None = None,
       maximum: float | None = None, exclusive_minimum: bool = False, help: str = "",
       sensible: tuple[float | None, float | None, str] | None = None) -> Param:
    lo, hi, why = sensible if sensible is not None else (None, None, "")
    return Param(name, "float", default, unit, minimum, maximum, exclusive_minimum, help=help,
                 sensible_min=lo, sensible_max=hi, sensible_why=why)


#: time constants above this are not physical for a network trained in trials
MAX_TAU_MS = 1e5
_TAU = (None, MAX_TAU_MS, "time constants are in ms; 1e5 ms is 100 s")
_VOLT = (-1e6, 1e6, "voltages are in units of the threshold, around 1")
_WEIGHT = (-1e6, 1e6, "weights are in units of the threshold, around 1")


def _i(name: str, default: int, minimum: int | None = 0, maximum: int | None = None,
       unit: str = "", help: str = "") -> Param:
    return Param(name, "int", default, unit, minimum, maximum, help=help)


def _b(name: str, default: bool, help: str = "") -> Param:
    return Param(name, "bool", default, help=help)


def _pair(name: str, default: list[int] | None, help: str = "") -> Param:
    """(height, width) of a 2-D operation, stored as a list of two ints; ``None``
    default makes it optional (mlGeNN's default then applies)."""
    return Param(name, "pair" if default is not None else "optpair", default, "", 1,
                 help=help)


TAU_MEM = _f("tau_mem", 20.0, "ms", 0.0, exclusive_minimum=True, help="Membrane time constant",
             sensible=_TAU)
TAU_REFRAC = Param("tau_refrac", "optfloat", None, "ms", 0.0,
                   help="Refractory period (empty: none)", sensible_max=MAX_TAU_MS,
                   sensible_why=_TAU[2])

READOUTS: tuple[str, ...] = ("var", "sum_var", "avg_var", "avg_var_exp_weight", "max_var",
                             "spike_count", "first_spike_time")

# Neuron models: name -> (role, params).  role "input" models feed data in.
NEURON_MODELS: dict[str, tuple[str, tuple[Param, ...]]] = {
    "SpikeInput": ("input", (
        _i("max_spikes", 1000000, 1, help="Spike buffer size over a batch"),
    )),
    "PoissonInput": ("input", (
        _b("signed_spikes", False),
        _i("input_frames", 1, 1),
        _i("input_frame_timesteps", 1, 1),
    )),
    "LeakyIntegrateFire": ("neuron", (
        _f("v_thresh", 1.0, help="Firing threshold", sensible=_VOLT),
        _f("v_reset", 0.0, help="Reset voltage", sensible=_VOLT),
        _f("v", 0.0, help="Initial voltage", sensible=_VOLT),
        TAU_MEM,
        TAU_REFRAC,
        _b("relative_reset", True),
        _b("integrate_during_refrac", True),
        _b("scale_i", False),
    )),
    "AdaptiveLeakyIntegrateFire": ("neuron", (
        _f("v_thresh", 1.0, help="Firing threshold", sensible=_VOLT),
        _f("v_reset", 0.0, help="Reset voltage", sensible=_VOLT),
        _f("v", 0.0, help="Initial voltage", sensible=_VOLT),
        _f("a", 0.0, help="Initial adaptation", sensible=_VOLT),
        _f("beta", 0.0174, help="Adaptation strength",
           sensible=(0.0, 1e3, "adaptation strength is a threshold increment per spike")),
        TAU_MEM,
        TAU_REFRAC,
        _f("tau_adapt", 2000.0, "ms", 0.0, exclusive_minimum=True, sensible=_TAU),
        _b("relative_reset", True),
        _b("integrate_during_refrac", True),
    )),
    "LeakyIntegrate": ("neuron", (
        _f("v", 0.0, help="Initial voltage", sensible=_VOLT),
        _f("bias", 0.0, sensible=_VOLT),
        TAU_MEM,
        _b("scale_i", False),
    )),
    "IntegrateFire": ("neuron", (
        _f("v_thresh", 1.0, help="Firing threshold"),
        _f("v_reset", 0.0, help="Voltage after a spike"),
        _f("v", 0.0, help="Initial voltage"),
    )),
    "IntegrateFireInput": ("input", (
        _f("v_thresh", 1.0, help="Firing threshold"),
        _f("v_reset", 0.0, help="Voltage after a spike"),
        _f("v", 0.0, help="Initial voltage"),
        _i("input_frames", 1, 1, help="Frames per example (values change between frames)"),
        _i("input_frame_timesteps", 1, 1, unit="steps", help="Steps each frame lasts"),
    )),
}

MODEL_LABELS = {
    "SpikeInput": "Spike input",
    "PoissonInput": "Poisson input",
    "LeakyIntegrateFire": "LIF",
    "AdaptiveLeakyIntegrateFire": "ALIF",
    "LeakyIntegrate": "Leaky integrator",
    "IntegrateFire": "Integrate-and-fire",
    "IntegrateFireInput": "Integrate-and-fire input",
}

SYNAPSES: dict[str, tuple[Param, ...]] = {
    "Delta": (),
    "Exponential": (
        _f("tau", 5.0, "ms", 0.0, exclusive_minimum=True, help="Synaptic time constant",
           sensible=_TAU),
        _b("scale_i", False),
    ),
}

DELAY = _i("delay", 0, 0, unit="steps", help="Axonal delay in timesteps")
FILTERS = _i("filters", 8, 1, help="Output channels (number of kernels)")
CONV_SIZE = _pair("conv_size", [3, 3], "Kernel height, width")
CONV_STRIDES = _pair("conv_strides", [1, 1], "Kernel step (rows, columns)")
CONV_PADDING = Param("conv_padding", "choice", "valid", choices=("valid", "same"),
                     help="valid: no padding; same: pad so that stride 1 keeps the size")
FLATTEN = _b("flatten", False, "Give the target a flat (1-D) shape")
POOL_SIZE = _pair("pool_size", [2, 2], "Pooling window height, width")
POOL_STRIDES = _pair("pool_strides", None, "Window step (empty: the pool size)")
# Arguments in mlGeNN's positional order (the exporters write them in this order).
CONNECTIVITY: dict[str, tuple[Param, ...]] = {
    "Dense": (DELAY,),
    "FixedProbability": (
        _f("p", 0.1, "", 0.0, 1.0, help="Connection probability"),
        _b("allow_self_connections", False),
        DELAY,
    ),
    "OneToOne": (DELAY,),
    "Conv2D": (FILTERS, CONV_SIZE, FLATTEN, CONV_STRIDES, CONV_PADDING, DELAY),
    "Conv2DTranspose": (FILTERS, CONV_SIZE, FLATTEN, CONV_STRIDES, CONV_PADDING, DELAY),
    "AvgPool2D": (POOL_SIZE, FLATTEN, POOL_STRIDES, DELAY),
    "AvgPoolConv2D": (FILTERS, POOL_SIZE, CONV_SIZE, FLATTEN, POOL_STRIDES, CONV_PADDING,
                      DELAY),
    "AvgPoolDense2D": (POOL_SIZE, POOL_STRIDES, DELAY),
}
#: Connectivity whose source must have a (height, width, channels) shape.
CONNECTIVITY_2D = ("Conv2D", "Conv2DTranspose", "AvgPool2D", "AvgPoolConv2D", "AvgPoolDense2D")
#: Connectivity that determines its target's shape (mlGeNN infers it).
SHAPE_SETTING = ("Conv2D", "Conv2DTranspose", "AvgPool2D", "AvgPoolConv2D")
#: Connectivity without a weight argument (fixed 1/window-area weights).
NO_WEIGHT = ("AvgPool2D",)

INITIALIZERS: dict[str, tuple[Param, ...]] = {
    "Constant": (_f("value", 1.0, sensible=_WEIGHT),),
    "Normal": (_f("mean", 0.0, sensible=_WEIGHT), _f("sd", 1.0, "", 0.0, sensible=_WEIGHT)),
    "Uniform": (_f("min", 0.0, sensible=_WEIGHT), _f("max", 1.0, sensible=_WEIGHT)),
}

LOSSES: dict[str, tuple[Param, ...]] = {
    "sparse_categorical_crossentropy": (),
    "mean_square_error": (),
    "RelativeMeanSquareError": (_f("delta", 1.0, "ms", 0.0),),
}

_BETA_WHY = "a decay of 1 never forgets and divides by zero in Adam's bias correction"

OPTIMISERS: dict[str, tuple[Param, ...]] = {
    "Adam": (
        _f("alpha", 0.001, "", 0.0, exclusive_minimum=True, help="Learning rate",
           sensible=(None, 1.0, "Adam steps above 1 make weights jump by whole thresholds, "
                                "so training diverges")),
        _f("beta1", 0.9, "", 0.0, 1.0, sensible=(None, 0.9999999, _BETA_WHY)),
        _f("beta2", 0.999, "", 0.0, 1.0, sensible=(None, 0.9999999, _BETA_WHY)),
        _f("epsilon", 1e-8, "", 0.0, exclusive_minimum=True),
    ),
}


@dataclass(frozen=True)
class CompilerInfo:
    """A compiler: its class, module (for default_params) and arguments."""

    name: str
    label: str
    module: str
    timesteps_arg: str
    params: tuple[Param, ...]
    has_losses: bool = True
    has_optimiser: bool = True
    has_delay_learning: bool = False
    #: rewires the connections listed in ``CompilerSpec.deep_r_conns`` with Deep R
    has_deep_r: bool = False
    default_params: dict[str, dict[str, Any]] = field(default_factory=dict)


BACKEND = Param("backend", "choice", "cpu", choices=("cpu", "cuda"),
                help="Simulation backend: the CPU engine, or 'cuda' on an NVIDIA GPU "
                     "(needs the 'cuda' extra)")
DEEP_R_L1 = replace(
    _f("deep_r_l1_strength", 0.01, "", 0.0,
       help="Deep R: L1 pull of every rewired weight towards zero, per example of a batch "
            "(used only when connections are chosen for Deep R below)"),
    label="Deep R L1 strength")

_COMMON_TAIL = (
    _f("dt", 1.0, "ms", 0.0, exclusive_minimum=True, help="Simulation timestep",
       sensible=(1e-4, 100.0, "a timestep is a fraction of the time constants (0.01-1 ms)")),
    _i("batch_size", 1, 1),
    _i("rng_seed", 0, 0),
    _b("kernel_profiling", False),
)

COMPILERS: dict[str, CompilerInfo] = {
    "InferenceCompiler": CompilerInfo(
        "InferenceCompiler", "Inference", "app.training.compilers.inference",
        "evaluate_timesteps",
        (_i("evaluate_timesteps", 100, 1, unit="steps"),) + _COMMON_TAIL + (
            _b("prefer_in_memory_connect", True),
            _b("reset_time_between_batches", True),
            _b("reset_vars_between_batches", True),
            _b("reset_in_syn_between_batches", False),
            BACKEND,
        ),
        has_losses=False, has_optimiser=False,
    ),
    "EventPropCompiler": CompilerInfo(
        "EventPropCompiler", "EventProp", "app.training.compilers.eventprop",
        "example_timesteps",
        (
            _i("example_timesteps", 100, 1, unit="steps"),
            _f("reg_lambda_upper", 0.0, "", 0.0),
            _f("reg_lambda_lower", 0.0, "", 0.0),
            _f("reg_nu_upper", 0.0, "", 0.0),
            _i("max_spikes", 500, 1),
            _b("strict_buffer_checking", False),
            _b("per_timestep_loss", False),
        ) + _COMMON_TAIL[:1] + (
            _f("ttfs_alpha", 0.01, "", 0.0),
            _f("softmax_temperature", 1.0, "", 0.0, exclusive_minimum=True),
        ) + _COMMON_TAIL[1:] + (
            DEEP_R_L1,
            BACKEND,
            Param("ttfs_loss", "choice", "mlgenn", choices=("mlgenn", "exponential"),
                  label="first-spike loss",
                  help="Cross-entropy on first-spike times: mlGeNN's, or Wunderlich & "
                       "Pehle 2021's (softmax at softmax_temperature, regulariser "
                       "ttfs_alpha*(exp(t/ttfs_tau1) - 1))"),
            _f("ttfs_tau1", 6.4, "ms", 0.0, exclusive_minimum=True, sensible=_TAU,
               help="Time constant of the exponential first-spike regulariser"),
            _b("reset_in_syn_between_batches", False,
               help="Start every trial with no synaptic input (mlGeNN carries the input "
                    "of a trial's last steps into the next trial)"),
        ),
        has_delay_learning=True, has_deep_r=True,
        default_params={
            "LeakyIntegrate": {"scale_i": True},
            "LeakyIntegrateFire": {"relative_reset": False, "integrate_during_refrac": False,
                                   "scale_i": True},
            "Exponential": {"scale_i": True},
        },
    ),
    "EPropCompiler": CompilerInfo(
        "EPropCompiler", "e-prop", "app.training.compilers.eprop",
        "example_timesteps",
        (
            _i("example_timesteps", 100, 1, unit="steps"),
            _f("tau_reg", 500.0, "ms", 0.0, exclusive_minimum=True, sensible=_TAU),
            _f("c_reg", 0.001, "", 0.0),
            _f("f_target", 10.0, "Hz", 0.0,
               sensible=(None, 1000.0, "neurons cannot fire faster than 1 kHz")),
            _b("train_output_bias", True),
        ) + _COMMON_TAIL + (
            _b("reset_time_between_batches", True),
            DEEP_R_L1,
            BACKEND,
        ),
        has_deep_r=True,
        default_params={
            "AdaptiveLeakyIntegrateFire": {"relative_reset": True,
                                           "integrate_during_refrac": True},
            "LeakyIntegrate": {"scale_i": False},
            "LeakyIntegrateFire": {"relative_reset": True, "integrate_during_refrac": True,
                                   "scale_i": False},
        },
    ),
}

#: Compiler parameters of Spike Studio's engine that mlGeNN's compiler of that type does not
#: take, with the value that means mlGeNN's behaviour: mlGeNN exports and GeNN runs leave
#: them out (and say so when the project sets another value).
_OURS_ONLY: dict[str, dict[str, Any]] = {
    "EventPropCompiler": {"ttfs_loss": "mlgenn", "ttfs_tau1": 6.4,
                          "reset_in_syn_between_batches": False},
}


def not_in_mlgenn(compiler_type: str) -> dict[str, Any]:
    """Parameters of ``compiler_type`` mlGeNN has no argument for -> their mlGeNN value."""
    return {"backend": "cpu", **_OURS_ONLY.get(compiler_type, {})}


def mlgenn_differences(compiler_type: str, params: dict[str, Any]) -> list[str]:
    """Settings of a compiler that mlGeNN cannot reproduce (one line each)."""
    notes = []
    if compiler_type == "EventPropCompiler" and params.get("ttfs_loss", "mlgenn") != "mlgenn":
        notes.append(f"ttfs_loss={params['ttfs_loss']!r} (ttfs_tau1="
                     f"{params.get('ttfs_tau1', 6.4)!r}) has no mlGeNN equivalent: mlGeNN "
                     "trains first-spike outputs with its own cross-entropy "
                     "(ttfs_loss='mlgenn')")
    if compiler_type == "EventPropCompiler" and params.get("reset_in_syn_between_batches"):
        notes.append("reset_in_syn_between_batches=True has no mlGeNN equivalent: mlGeNN's "
                     "EventProp carries the synaptic input of a trial's last steps into "
                     "the next trial")
    return notes


# ---------------------------------------------------------------------------
# Settings outside params dicts, and relations between params (the inspector
# refuses what these forbid at the field; the loader checks the same ranges)
# ---------------------------------------------------------------------------
SIZE_LIMIT = 10_000_000
POPULATION_SIZE = Param("size", "int", 100, "", 1, SIZE_LIMIT, help="Number of neurons")
MAX_DELAY_STEPS = Param("max_delay_steps", "optint", None, "steps", 0, 100_000,
                        help="Longest learnable delay (empty: none)")
TRAINING: tuple[Param, ...] = (
    Param("num_epochs", "int", 10, "", 1, 10_000_000, label="Epochs",
          help="Passes over the training set"),
    Param("validation_split", "float", 0.0, "", 0.0, 0.99, label="Validation split",
          help="Fraction of the training set held out for validation"),
    Param("seed", "int", 0, "", 0, 2**32 - 1, label="Seed", help="Shuffling and weight seed"),
    Param("max_examples", "optint", None, "", 1, 100_000_000, label="Max examples",
          help="Use only the first N training examples (empty: all)"),
)
TRAINING_BY_NAME = {p.name: p for p in TRAINING}

#: ``(higher, lower, strict)`` parameters of one object that must keep this
#: order: a threshold at or below the reset voltage makes a neuron fire every
#: step; a Uniform range must not be reversed.
ORDERINGS: tuple[tuple[str, str, bool], ...] = (("v_thresh", "v_reset", True),
                                                 ("max", "min", False))


def ordering_problem(values: dict[str, Any], name: str) -> str | None:
    """Why ``values[name]`` breaks an ordering of ``ORDERINGS`` (phrased for the
    field ``name``), or None."""
    for high, low, strict in ORDERINGS:
        if name not in (high, low):
            continue
        a, b = values.get(high), values.get(low)
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            continue
        if (a > b) if strict else (a >= b):
            continue
        word = "above" if strict else "at least"
        if name == high:
            return f"must be {word} {low.replace('_', ' ')} ({b:g})"
        return f"must be {'below' if strict else 'at most'} {high.replace('_', ' ')} ({a:g})"
    return None


# Built-in dataset keys of ``app.training.data.BUILTIN_DATASETS`` (the
# registry itself describes sizes and loader arguments).
BUILTIN_DATASET_KEYS: tuple[str, ...] = ("yin_yang", "digits_latency", "mnist5k_latency",
                                         "pattern")
FILE_FORMATS = ("shd", "npz")
DATASET_SOURCES = ("none", "builtin", "file")


def model_params(model: str) -> tuple[Param, ...]:
    """Parameters of a neuron model (KeyError when unknown)."""
    return NEURON_MODELS[model][1]


def model_role(model: str) -> str:
    """'input' for data-fed models, 'neuron' otherwise."""
    return NEURON_MODELS[model][0]


def defaults(params: tuple[Param, ...]) -> dict[str, Any]:
    """Default value of every parameter, in declaration order (lists copied)."""
    return {p.name: list(p.default) if isinstance(p.default, list) else p.default
            for p in params}
