"""Static description of everything a project document may contain.

One table per kind of object (neuron models, synapses, connectivity, weight
initializers, compilers, datasets).  The loader validates against it, the
inspector builds its typed widgets from it and the exporter writes arguments
in its order, so a field is described exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
FORMAT_NAME = "spike-studio-project"


@dataclass(frozen=True)
class Param:
    """One editable argument: its type, default, unit and allowed range."""

    name: str
    kind: str  # "float" | "int" | "bool" | "optfloat" | "optint" | "choice" | "str"
    default: Any
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[Any, ...] = ()
    label: str = ""
    help: str = ""
    exclusive_maximum: bool = False

    @property
    def title(self) -> str:
        """Human label for the field."""
        return self.label or self.name.replace("_", " ")


def _f(name: str, default: float, unit: str = "", minimum: float | None = None,
       maximum: float | None = None, exclusive_minimum: bool = False, help: str = "",
       exclusive_maximum: bool = False) -> Param:
    return Param(name, "float", default, unit, minimum, maximum, exclusive_minimum, help=help,
                 exclusive_maximum=exclusive_maximum)


def _i(name: str, default: int, minimum: int | None = 0, maximum: int | None = None,
       unit: str = "", help: str = "", label: str = "") -> Param:
    return Param(name, "int", default, unit, minimum, maximum, label=label, help=help)


def _b(name: str, default: bool, help: str = "") -> Param:
    return Param(name, "bool", default, help=help)


# Physically sensible ranges.  Voltages are in the models' own (dimensionless)
# units, where the threshold is O(1); 1e4 leaves room for mV-scaled models
# while refusing overflow-sized values.  Times are in ms: 1e5 ms (100 s) is far
# above any membrane or synaptic time constant.
VOLTAGE_LIMIT = 1e4
TAU_LIMIT_MS = 1e5
TIMESTEPS_LIMIT = 1_000_000
SIZE_LIMIT = 10_000_000


def _v(name: str, default: float, help: str) -> Param:
    return _f(name, default, "", -VOLTAGE_LIMIT, VOLTAGE_LIMIT, help=help)


def _tau(name: str, default: float, help: str = "", maximum: float = TAU_LIMIT_MS) -> Param:
    return _f(name, default, "ms", 0.0, maximum, exclusive_minimum=True, help=help)


TAU_MEM = _tau("tau_mem", 20.0, "Membrane time constant")
TAU_REFRAC = Param("tau_refrac", "optfloat", None, "ms", 0.0, 1e4,
                   help="Refractory period (empty: none)")

#: ``(higher, lower)`` parameter pairs of one object that must keep this order,
#: e.g. a threshold above the reset voltage (otherwise a neuron fires every step).
ORDERINGS: tuple[tuple[str, str], ...] = (("v_thresh", "v_reset"), ("max", "min"))


def ordering_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each pair of ``ORDERINGS`` that ``values`` breaks."""
    out = []
    for high, low in ORDERINGS:
        a, b = values.get(high), values.get(low)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not a > b:
            out.append((high, f"must be above {low.replace('_', ' ')} ({b:g})"))
    return out

READOUTS: tuple[str, ...] = ("var", "sum_var", "avg_var", "avg_var_exp_weight", "max_var",
                             "spike_count", "first_spike_time")

# Neuron models: name -> (role, params).  role "input" models feed data in.
NEURON_MODELS: dict[str, tuple[str, tuple[Param, ...]]] = {
    "SpikeInput": ("input", (
        _i("max_spikes", 1000000, 1, 100_000_000, help="Spike buffer size over a batch"),
    )),
    "PoissonInput": ("input", (
        _b("signed_spikes", False),
        _i("input_frames", 1, 1, TIMESTEPS_LIMIT),
        _i("input_frame_timesteps", 1, 1, TIMESTEPS_LIMIT),
    )),
    "LeakyIntegrateFire": ("neuron", (
        _v("v_thresh", 1.0, "Firing threshold (above the reset voltage)"),
        _v("v_reset", 0.0, "Reset voltage"),
        _v("v", 0.0, "Initial voltage"),
        TAU_MEM,
        TAU_REFRAC,
        _b("relative_reset", True),
        _b("integrate_during_refrac", True),
        _b("scale_i", False),
    )),
    "AdaptiveLeakyIntegrateFire": ("neuron", (
        _v("v_thresh", 1.0, "Firing threshold (above the reset voltage)"),
        _v("v_reset", 0.0, "Reset voltage"),
        _v("v", 0.0, "Initial voltage"),
        _v("a", 0.0, "Initial adaptation"),
        _f("beta", 0.0174, "", -VOLTAGE_LIMIT, VOLTAGE_LIMIT, help="Adaptation strength"),
        TAU_MEM,
        TAU_REFRAC,
        _tau("tau_adapt", 2000.0, "Adaptation time constant", maximum=1e7),
        _b("relative_reset", True),
        _b("integrate_during_refrac", True),
    )),
    "LeakyIntegrate": ("neuron", (
        _v("v", 0.0, "Initial voltage"),
        _v("bias", 0.0, "Constant input current"),
        TAU_MEM,
        _b("scale_i", False),
    )),
}

MODEL_LABELS = {
    "SpikeInput": "Spike input",
    "PoissonInput": "Poisson input",
    "LeakyIntegrateFire": "LIF",
    "AdaptiveLeakyIntegrateFire": "ALIF",
    "LeakyIntegrate": "Leaky integrator",
}

SYNAPSES: dict[str, tuple[Param, ...]] = {
    "Delta": (),
    "Exponential": (
        _tau("tau", 5.0, "Synaptic time constant"),
        _b("scale_i", False),
    ),
}

DELAY = _i("delay", 0, 0, 100_000, unit="steps", help="Axonal delay in timesteps")
CONNECTIVITY: dict[str, tuple[Param, ...]] = {
    "Dense": (DELAY,),
    "FixedProbability": (
        _f("p", 0.1, "", 0.0, 1.0, help="Connection probability"),
        _b("allow_self_connections", False),
        DELAY,
    ),
    "OneToOne": (DELAY,),
}

INITIALIZERS: dict[str, tuple[Param, ...]] = {
    "Constant": (_v("value", 1.0, "Every weight"),),
    "Normal": (_v("mean", 0.0, "Mean weight"),
               _f("sd", 1.0, "", 0.0, VOLTAGE_LIMIT, help="Standard deviation")),
    "Uniform": (_v("min", 0.0, "Lowest weight"), _v("max", 1.0, "Highest weight (above min)")),
}

LOSSES: dict[str, tuple[Param, ...]] = {
    "sparse_categorical_crossentropy": (),
    "mean_square_error": (),
    "RelativeMeanSquareError": (_f("delta", 1.0, "ms", 0.0, TAU_LIMIT_MS),),
}

OPTIMISERS: dict[str, tuple[Param, ...]] = {
    "Adam": (
        _f("alpha", 0.001, "", 0.0, 10.0, exclusive_minimum=True, help="Learning rate"),
        _f("beta1", 0.9, "", 0.0, 1.0, exclusive_maximum=True),
        _f("beta2", 0.999, "", 0.0, 1.0, exclusive_maximum=True),
        _f("epsilon", 1e-8, "", 0.0, 1.0, exclusive_minimum=True),
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
    default_params: dict[str, dict[str, Any]] = field(default_factory=dict)


BACKEND = Param("backend", "choice", "cpu", choices=("cpu",), help="Simulation backend")

_COMMON_TAIL = (
    _f("dt", 1.0, "ms", 0.0, 100.0, exclusive_minimum=True, help="Simulation timestep"),
    _i("batch_size", 1, 1, 65_536),
    _i("rng_seed", 0, 0, 2**32 - 1),
    _b("kernel_profiling", False),
)

COMPILERS: dict[str, CompilerInfo] = {
    "InferenceCompiler": CompilerInfo(
        "InferenceCompiler", "Inference", "app.training.compilers.inference",
        "evaluate_timesteps",
        (_i("evaluate_timesteps", 100, 1, TIMESTEPS_LIMIT, unit="steps"),) + _COMMON_TAIL + (
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
            _i("example_timesteps", 100, 1, TIMESTEPS_LIMIT, unit="steps"),
            _f("reg_lambda_upper", 0.0, "", 0.0, 1e6),
            _f("reg_lambda_lower", 0.0, "", 0.0, 1e6),
            _f("reg_nu_upper", 0.0, "", 0.0, 1e4),
            _i("max_spikes", 500, 1, 10_000_000),
            _b("strict_buffer_checking", False),
            _b("per_timestep_loss", False),
        ) + _COMMON_TAIL[:1] + (
            _f("ttfs_alpha", 0.01, "", 0.0, 1e3),
            _f("softmax_temperature", 1.0, "", 0.0, 1e6, exclusive_minimum=True),
        ) + _COMMON_TAIL[1:] + (BACKEND,),
        has_delay_learning=True,
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
            _i("example_timesteps", 100, 1, TIMESTEPS_LIMIT, unit="steps"),
            _tau("tau_reg", 500.0, "Firing-rate regularisation time constant", maximum=1e7),
            _f("c_reg", 0.001, "", 0.0, 1e6),
            _f("f_target", 10.0, "Hz", 0.0, 1e4),
            _b("train_output_bias", True),
        ) + _COMMON_TAIL + (
            _b("reset_time_between_batches", True),
            BACKEND,
        ),
        default_params={
            "AdaptiveLeakyIntegrateFire": {"relative_reset": True,
                                           "integrate_during_refrac": True},
            "LeakyIntegrate": {"scale_i": False},
            "LeakyIntegrateFire": {"relative_reset": True, "integrate_during_refrac": True,
                                   "scale_i": False},
        },
    ),
}

# Object-level settings (not inside a params dict), with their ranges.
POPULATION_SIZE = _i("size", 100, 1, SIZE_LIMIT, unit="neurons", help="Number of neurons")
MAX_DELAY_STEPS = Param("max_delay_steps", "optint", None, "steps", 0, 100_000,
                        help="Longest learnable delay (empty: none)")
TRAINING: tuple[Param, ...] = (
    _i("num_epochs", 10, 1, 1_000_000, label="Epochs", help="Passes over the training set"),
    Param("validation_split", "float", 0.0, "", 0.0, 0.99, label="Validation split",
          help="Fraction of the training set held out for validation"),
    _i("seed", 0, 0, 2**32 - 1, label="Seed", help="Shuffling and weight seed"),
    Param("max_examples", "optint", None, "", 1, 100_000_000, label="Max examples",
          help="Use only the first N training examples (empty: all)"),
)
TRAINING_BY_NAME = {p.name: p for p in TRAINING}

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
    """Default value of every parameter, in declaration order."""
    return {p.name: p.default for p in params}
