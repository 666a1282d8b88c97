"""The project document: what a user saves, opens, trains and exports.

Plain dataclasses, no Qt.  ``Project.to_dict()`` gives the JSON form and
``parse_project(data)`` validates and migrates it back, raising
:class:`ProjectError` naming the offending field.
"""
from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.project import schema
from app.project.errors import ProjectError
from app.project.schema import Param

ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_NAME = 200
MAX_SIZE = 10_000_000
WEIGHT_SOURCES = ("user", "auto", "calibrated")


@dataclass
class PopulationSpec:
    """A population (a node on the canvas)."""

    id: str
    name: str
    model: str
    size: int
    params: dict[str, Any] = field(default_factory=dict)
    readout: str | None = None
    record_spikes: bool = False
    position: tuple[float, float] = (0.0, 0.0)
    #: (height, width, channels) for 2-D connectivity; None: flat. Its product is ``size``.
    shape: list[int] | None = None

    @property
    def is_input(self) -> bool:
        """True for data-fed models (SpikeInput, PoissonInput)."""
        return schema.model_role(self.model) == "input"

    @property
    def is_output(self) -> bool:
        """True when the population has a readout."""
        return self.readout is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {"id": self.id, "name": self.name, "model": self.model, "size": self.size,
               "params": dict(self.params), "readout": self.readout,
               "record_spikes": self.record_spikes,
               "position": [float(self.position[0]), float(self.position[1])]}
        if self.shape is not None:
            out["shape"] = list(self.shape)
        return out

    @property
    def model_shape(self) -> tuple[int, ...]:
        """The shape given to the library: ``shape`` or ``(size,)``."""
        return tuple(self.shape) if self.shape is not None else (self.size,)


@dataclass
class ConnectionSpec:
    """A connection (an edge on the canvas) from ``source`` to ``target`` ids."""

    id: str
    name: str
    source: str
    target: str
    connectivity: dict[str, Any] = field(default_factory=lambda: {"type": "Dense", "delay": 0})
    weight: dict[str, Any] = field(
        default_factory=lambda: {"type": "Normal", "mean": 0.0, "sd": 1.0})
    synapse: dict[str, Any] = field(default_factory=lambda: {"type": "Delta"})
    max_delay_steps: int | None = None
    #: who chose ``weight``: "user" (kept as is), "auto" (derived from fan-in and the
    #: target's model, re-derived on resize) or "calibrated" (auto, then scaled to data)
    weight_source: str = "user"

    @property
    def weight_is_auto(self) -> bool:
        """The initial weights were derived, not set by the user."""
        return self.weight_source != "user"

    @property
    def is_recurrent(self) -> bool:
        """A population connected to itself."""
        return self.source == self.target

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``weight_source`` only when not the default "user", so files
        without derived weights read the same in older versions)."""
        out = {"id": self.id, "name": self.name, "source": self.source, "target": self.target,
               "connectivity": dict(self.connectivity), "weight": dict(self.weight),
               "synapse": dict(self.synapse), "max_delay_steps": self.max_delay_steps}
        if self.weight_source != "user":
            out["weight_source"] = self.weight_source
        return out


@dataclass
class CompilerSpec:
    """Which compiler and every argument given to its constructor."""

    type: str = "EventPropCompiler"
    params: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] | None = field(
        default_factory=lambda: {"type": "sparse_categorical_crossentropy"})
    optimiser: dict[str, Any] | None = field(
        default_factory=lambda: {"type": "Adam", **schema.defaults(schema.OPTIMISERS["Adam"])})
    delay_optimiser: dict[str, Any] | None = None
    delay_learn_conns: list[str] = field(default_factory=list)
    #: connection ids rewired by Deep R (their strength is ``params["deep_r_l1_strength"]``)
    deep_r_conns: list[str] = field(default_factory=list)

    @property
    def info(self) -> schema.CompilerInfo:
        """Static description of this compiler."""
        return schema.COMPILERS[self.type]

    @property
    def timesteps(self) -> int:
        """example_timesteps (or evaluate_timesteps for inference)."""
        return int(self.params[self.info.timesteps_arg])

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``deep_r_conns`` only when some connection rewires, so files
        without Deep R read the same in older versions)."""
        out = {"type": self.type, "params": dict(self.params),
               "loss": None if self.loss is None else dict(self.loss),
               "optimiser": None if self.optimiser is None else dict(self.optimiser),
               "delay_optimiser": (None if self.delay_optimiser is None
                                   else dict(self.delay_optimiser)),
               "delay_learn_conns": list(self.delay_learn_conns)}
        if self.deep_r_conns:
            out["deep_r_conns"] = list(self.deep_r_conns)
        return out


@dataclass
class DatasetSpec:
    """Where training data comes from and which populations it binds to."""

    source: str = "none"  # "none" | "builtin" | "file"
    name: str = ""  # built-in key
    params: dict[str, Any] = field(default_factory=dict)
    format: str = ""  # "shd" | "npz" for files
    path: str = ""  # training file; relative paths are relative to the project file
    test_path: str = ""  # optional test file of the same format
    input: str | None = None  # population id; None: the only input population
    output: str | None = None  # population id; None: the only output population

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"source": self.source, "name": self.name, "params": dict(self.params),
                "format": self.format, "path": self.path, "test_path": self.test_path,
                "input": self.input,
                "output": self.output}


@dataclass
class TrainingSpec:
    """Settings of the train loop."""

    num_epochs: int = 10
    shuffle: bool = True
    validation_split: float = 0.0
    seed: int = 0
    max_examples: int | None = None
    #: learning-rate schedule applied at each epoch start (OptimiserParamSchedule on the
    #: optimiser's alpha): {"type": "exponential", "factor": f} gives alpha0 * f**epoch;
    #: {"type": "step", "factor": f, "every": n} multiplies alpha by f every n epochs.
    lr_schedule: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {"num_epochs": self.num_epochs, "shuffle": self.shuffle,
               "validation_split": self.validation_split, "seed": self.seed,
               "max_examples": self.max_examples}
        if self.lr_schedule is not None:
            out["lr_schedule"] = dict(self.lr_schedule)
        return out


@dataclass
class Project:
    """The whole document.  ``weights`` (connection id -> array) live in a
    sidecar ``.npz`` next to the JSON file."""

    name: str = "Untitled"
    description: str = ""
    populations: list[PopulationSpec] = field(default_factory=list)
    connections: list[ConnectionSpec] = field(default_factory=list)
    compiler: CompilerSpec = field(default_factory=lambda: new_compiler("EventPropCompiler"))
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    #: values an imported script computed from its data, not known yet:
    #: ``unresolved_key`` -> the script's expression. Each is a validation issue until
    #: the value is edited (``drop_resolved``).
    unresolved: dict[str, str] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------
    def population(self, pid: str) -> PopulationSpec:
        """Population by id (KeyError when absent)."""
        for p in self.populations:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def connection(self, cid: str) -> ConnectionSpec:
        """Connection by id (KeyError when absent)."""
        for c in self.connections:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def inputs(self) -> list[PopulationSpec]:
        """Input populations."""
        return [p for p in self.populations if p.is_input]

    def outputs(self) -> list[PopulationSpec]:
        """Populations with a readout."""
        return [p for p in self.populations if p.is_output]

    def input_population(self) -> PopulationSpec | None:
        """The population the dataset feeds (explicit binding or the only input)."""
        if self.dataset.input is not None:
            return self.population(self.dataset.input)
        ins = self.inputs()
        return ins[0] if len(ins) == 1 else None

    def output_population(self) -> PopulationSpec | None:
        """The population the labels belong to."""
        if self.dataset.output is not None:
            return self.population(self.dataset.output)
        outs = self.outputs()
        return outs[0] if len(outs) == 1 else None

    def new_id(self, prefix: str) -> str:
        """A fresh stable id such as ``p3`` or ``c7``."""
        used = {p.id for p in self.populations} | {c.id for c in self.connections}
        i = 1
        while f"{prefix}{i}" in used:
            i += 1
        return f"{prefix}{i}"

    def unique_name(self, base: str) -> str:
        """A population/connection name not used yet, derived from ``base``."""
        used = {p.name for p in self.populations} | {c.name for c in self.connections}
        if base not in used:
            return base
        i = 2
        while f"{base}_{i}" in used:
            i += 1
        return f"{base}_{i}"

    # ---- (de)serialisation --------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON form (weights are referenced, not embedded)."""
        return {
            "format": schema.FORMAT_NAME,
            "schema_version": schema.SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "populations": [p.to_dict() for p in self.populations],
            "connections": [c.to_dict() for c in self.connections],
            "compiler": self.compiler.to_dict(),
            "dataset": self.dataset.to_dict(),
            "training": self.training.to_dict(),
            "weights": sorted(self.weights),
            **({"unresolved": dict(self.unresolved)} if self.unresolved else {}),
        }

    def copy(self) -> Project:
        """Deep copy (weights arrays copied too)."""
        return copy.deepcopy(self)

    def same_as(self, other: Project) -> bool:
        """Equal documents, including weights."""
        if self.to_dict() != other.to_dict():
            return False
        return all(np.array_equal(self.weights[k], other.weights[k]) for k in self.weights)


def unresolved_key(kind: str, item: str, name: str) -> str:
    """Key of a value an import could not compute: ``population``/``compiler``."""
    return f"{kind}:{item}:{name}"


def unresolved_value(project: Project, key: str) -> Any:
    """The current value behind an unresolved key (None when it no longer exists)."""
    kind, item, name = key.split(":", 2)
    try:
        if kind == "population":
            pop = project.population(item)
            return pop.size if name == "size" else pop.params.get(name)
        if kind == "compiler":
            return project.compiler.params.get(name)
    except KeyError:
        return None
    return None


def drop_resolved(before: Project, after: Project) -> None:
    """Forget unresolved values that an edit set (or whose object was deleted)."""
    for key in list(after.unresolved):
        now = unresolved_value(after, key)
        if now is None or now != unresolved_value(before, key):
            del after.unresolved[key]


def check_lr_schedule(data: Any, path: str) -> dict[str, Any] | None:
    """A learning-rate schedule: exponential (factor) or step (factor, every)."""
    if data is None:
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    keys = {"exponential": {"type", "factor"}, "step": {"type", "factor", "every"}}
    if kind not in keys:
        raise ProjectError("must be {\"type\": \"exponential\", \"factor\": f} or "
                           "{\"type\": \"step\", \"factor\": f, \"every\": n}", path)
    if set(data) != keys[kind]:
        raise ProjectError(f"a {kind} schedule has exactly {sorted(keys[kind])}", path)
    out = {"type": kind, "factor": check_value(Param("factor", "float", 1.0, minimum=0.0,
                                                     exclusive_minimum=True),
                                               data["factor"], f"{path}.factor")}
    if kind == "step":
        out["every"] = _int(data["every"], f"{path}.every", 1)
    return out


# ---------------------------------------------------------------------------
# construction helpers
# ---------------------------------------------------------------------------
def new_population(project: Project, model: str, size: int = 10, name: str | None = None,
                   readout: str | None = None, position: tuple[float, float] = (0.0, 0.0),
                   **params: Any) -> PopulationSpec:
    """A population with every parameter at its default (overridden by ``params``)."""
    p = schema.defaults(schema.model_params(model))
    unknown = set(params) - set(p)
    if unknown:
        raise ProjectError(f"{model} has no parameter {sorted(unknown)[0]!r}", "params")
    p.update(params)
    base = name or {"input": "input"}.get(schema.model_role(model), "output" if readout
                                          else "hidden")
    return PopulationSpec(project.new_id("p"), project.unique_name(base), model, int(size), p,
                          readout, False, (float(position[0]), float(position[1])))


def new_connection(project: Project, source: str, target: str, *,
                   connectivity: str = "Dense", weight: dict[str, Any] | None = None,
                   synapse: dict[str, Any] | None = None, **conn_params: Any) -> ConnectionSpec:
    """A connection between population ids with default connectivity parameters."""
    conn = {"type": connectivity, **schema.defaults(schema.CONNECTIVITY[connectivity])}
    conn.update(conn_params)
    w = weight or {"type": "Normal", "mean": 0.0, "sd": 1.0}
    w = {**schema.defaults(schema.INITIALIZERS[w["type"]]), **w}
    s = synapse or {"type": "Delta"}
    s = {**schema.defaults(schema.SYNAPSES[s["type"]]), **s}
    src = project.population(source).name
    tgt = project.population(target).name
    return ConnectionSpec(project.new_id("c"), project.unique_name(f"{src}_{tgt}"), source,
                          target, conn, w, s)


def new_compiler(kind: str) -> CompilerSpec:
    """A compiler spec with every argument at the compiler's default."""
    info = schema.COMPILERS[kind]
    spec = CompilerSpec(kind, schema.defaults(info.params))
    if not info.has_losses:
        spec.loss = None
    if not info.has_optimiser:
        spec.optimiser = None
    return spec


# ---------------------------------------------------------------------------
# migrations: version n -> n + 1, applied in order on load
# ---------------------------------------------------------------------------
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a raw document to ``schema.SCHEMA_VERSION`` using ``MIGRATIONS``."""
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError("must be an integer", "schema_version")
    if version > schema.SCHEMA_VERSION:
        raise ProjectError(
            f"file was written by a newer Spike Studio (schema {version}; this version reads "
            f"up to {schema.SCHEMA_VERSION})", "schema_version")
    if version < 0:
        raise ProjectError("must not be negative", "schema_version")
    while version < schema.SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"no migration from schema {version}", "schema_version")
        data = step(copy.deepcopy(data))
        version += 1
        data["schema_version"] = version
    return data


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_value(param: Param, value: Any, path: str) -> Any:
    """Validate one parameter value; returns it normalised or raises ProjectError."""
    kind = param.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise ProjectError("must be true or false", path)
        return value
    if kind in ("optfloat", "optint") and value is None:
        return None
    if kind == "str":
        if not isinstance(value, str):
            raise ProjectError("must be text", path)
        return value
    if kind == "choice":
        if value not in param.choices:
            raise ProjectError(f"must be one of {list(param.choices)}", path)
        return value
    if kind in ("pair", "optpair"):
        return check_pair(param, value, path)
    if kind in ("int", "optint"):
        if not isinstance(value, int) or isinstance(value, bool):
            if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
                value = int(value)
            else:
                raise ProjectError("must be a whole number", path)
    elif kind in ("float", "optfloat"):
        if not _is_num(value):
            raise ProjectError("must be a number" + (" or null" if kind == "optfloat" else ""),
                               path)
        value = float(value)
        if not math.isfinite(value):
            raise ProjectError("must be finite", path)
    else:  # pragma: no cover - schema error
        raise ProjectError(f"unknown parameter kind {kind}", path)
    unit = f" {param.unit}" if param.unit and param.unit != "steps" else ""

    def num(x: float) -> str:  # 100000000 reads better than 1e+08 for whole numbers
        return f"{int(x):,}" if kind in ("int", "optint") and float(x).is_integer() else f"{x:g}"

    if param.minimum is not None:
        if param.exclusive_minimum and value <= param.minimum:
            raise ProjectError(f"must be greater than {num(param.minimum)}{unit}", path)
        if value < param.minimum:
            raise ProjectError(f"must be at least {num(param.minimum)}{unit}", path)
    if param.maximum is not None and value > param.maximum:
        raise ProjectError(f"must be at most {num(param.maximum)}{unit}", path)
    return value


def check_pair(param: Param, value: Any, path: str) -> list[int] | None:
    """A (height, width) pair: one whole number for both, or a list of two."""
    if value is None and param.kind == "optpair":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ProjectError("must be a whole number or [height, width]"
                           + (" (or null)" if param.kind == "optpair" else ""), path)
    low = int(param.minimum) if param.minimum is not None else 1
    if min(value) < low:
        raise ProjectError(f"must be at least {low}", path)
    return [int(value[0]), int(value[1])]


def check_shape(data: Any, size: int | None, path: str) -> list[int]:
    """A population shape: 1-3 positive whole numbers whose product is ``size``."""
    if (not isinstance(data, list) or not 1 <= len(data) <= 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                       for v in data)):
        raise ProjectError("must be a list of 1 to 3 positive whole numbers, e.g. "
                           "[28, 28, 1] (height, width, channels)", path)
    if size is not None and math.prod(data) != size:
        raise ProjectError(f"has {math.prod(data)} neurons but size is {size}; make "
                           "size the product of shape", path)
    return [int(v) for v in data]


def check_params(params: tuple[Param, ...], data: Any, path: str,
                 ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate a dict of parameters; missing ones take their default."""
    if not isinstance(data, dict):
        raise ProjectError("must be an object", path)
    known = {p.name: p for p in params}
    for key in data:
        if key not in known and key not in ignore:
            raise ProjectError(f"unknown parameter (allowed: {', '.join(known) or 'none'})",
                               f"{path}.{key}")
    out: dict[str, Any] = {}
    for p in params:
        out[p.name] = check_value(p, data[p.name], f"{path}.{p.name}") if p.name in data \
            else p.default
    return out


def _typed(table: dict[str, tuple[Param, ...]], data: Any, path: str, what: str
           ) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProjectError("must be an object", path)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in table:
        raise ProjectError(f"unknown {what} (allowed: {', '.join(table)})", f"{path}.type")
    return {"type": kind, **check_params(table[kind], data, path, ignore=("type",))}


def _obj(data: Any, path: str, keys: dict[str, bool]) -> dict[str, Any]:
    """Check ``data`` is an object with only ``keys`` (name -> required)."""
    if not isinstance(data, dict):
        raise ProjectError("must be an object", path)
    for k in data:
        if k not in keys:
            raise ProjectError(f"unknown field (allowed: {', '.join(keys)})",
                               f"{path}.{k}" if path else str(k))
    for k, required in keys.items():
        if required and k not in data:
            raise ProjectError("is missing", f"{path}.{k}" if path else k)
    return data


def _str(data: Any, path: str, allow_empty: bool = True, max_len: int = MAX_NAME) -> str:
    if not isinstance(data, str):
        raise ProjectError("must be text", path)
    if not allow_empty and not data.strip():
        raise ProjectError("must not be empty", path)
    if len(data) > max_len:
        raise ProjectError(f"is longer than {max_len} characters", path)
    return data


def _name(data: Any, path: str) -> str:
    if not isinstance(data, str) or not NAME_RE.match(data):
        raise ProjectError("must be 1-100 letters, digits or '_', not starting with a digit",
                           path)
    return data


def _id(data: Any, path: str) -> str:
    if not isinstance(data, str) or not ID_RE.match(data):
        raise ProjectError("must be an id of 1-64 letters, digits, '_' or '-'", path)
    return data


def _int(data: Any, path: str, minimum: int, maximum: int | None = None) -> int:
    return check_value(Param("", "int", 0, minimum=minimum, maximum=maximum), data, path)


def _bool(data: Any, path: str) -> bool:
    return check_value(Param("", "bool", False), data, path)


def parse_population(data: Any, path: str) -> PopulationSpec:
    """Validate one population."""
    d = _obj(data, path, {"id": True, "name": True, "model": True, "size": True,
                          "params": False, "readout": False, "record_spikes": False,
                          "position": False, "shape": False})
    model = d["model"]
    if not isinstance(model, str) or model not in schema.NEURON_MODELS:
        raise ProjectError(f"unknown neuron model (allowed: {', '.join(schema.NEURON_MODELS)})",
                           f"{path}.model")
    readout = d.get("readout")
    if readout is not None:
        if schema.model_role(model) == "input":
            raise ProjectError("input populations have no readout", f"{path}.readout")
        if not isinstance(readout, str) or readout not in schema.READOUTS:
            raise ProjectError(f"unknown readout (allowed: {', '.join(schema.READOUTS)})",
                               f"{path}.readout")
    pos = d.get("position", [0.0, 0.0])
    if (not isinstance(pos, list) or len(pos) != 2 or not all(_is_num(v) for v in pos)
            or not all(math.isfinite(v) for v in pos)):
        raise ProjectError("must be [x, y] with two finite numbers", f"{path}.position")
    size = _int(d["size"], f"{path}.size", 1, MAX_SIZE)
    shape = d.get("shape")
    return PopulationSpec(
        id=_id(d["id"], f"{path}.id"),
        name=_name(d["name"], f"{path}.name"),
        model=model,
        size=size,
        shape=None if shape is None else check_shape(shape, size, f"{path}.shape"),
        params=check_params(schema.model_params(model), d.get("params", {}), f"{path}.params"),
        readout=readout,
        record_spikes=_bool(d.get("record_spikes", False), f"{path}.record_spikes"),
        position=(float(pos[0]), float(pos[1])),
    )


def parse_connection(data: Any, path: str) -> ConnectionSpec:
    """Validate one connection (references are checked by parse_project)."""
    d = _obj(data, path, {"id": True, "name": True, "source": True, "target": True,
                          "connectivity": True, "weight": True, "synapse": True,
                          "max_delay_steps": False, "weight_source": False})
    conn = _typed(schema.CONNECTIVITY, d["connectivity"], f"{path}.connectivity",
                  "connectivity")
    weight = _typed(schema.INITIALIZERS, d["weight"], f"{path}.weight", "weight initializer")
    if weight["type"] == "Uniform" and weight["min"] > weight["max"]:
        raise ProjectError("min must not exceed max", f"{path}.weight.min")
    source = d.get("weight_source", "user")
    if source not in WEIGHT_SOURCES:
        raise ProjectError(f"must be one of {list(WEIGHT_SOURCES)}", f"{path}.weight_source")
    return ConnectionSpec(
        id=_id(d["id"], f"{path}.id"),
        name=_name(d["name"], f"{path}.name"),
        source=_id(d["source"], f"{path}.source"),
        target=_id(d["target"], f"{path}.target"),
        connectivity=conn,
        weight=weight,
        synapse=_typed(schema.SYNAPSES, d["synapse"], f"{path}.synapse", "synapse"),
        max_delay_steps=(None if d.get("max_delay_steps") is None else
                         _int(d["max_delay_steps"], f"{path}.max_delay_steps", 0, 100_000)),
        weight_source=source,
    )


def parse_compiler(data: Any, path: str = "compiler") -> CompilerSpec:
    """Validate the compiler section."""
    d = _obj(data, path, {"type": True, "params": False, "loss": False, "optimiser": False,
                          "delay_optimiser": False, "delay_learn_conns": False,
                          "deep_r_conns": False})
    kind = d["type"]
    if not isinstance(kind, str) or kind not in schema.COMPILERS:
        raise ProjectError(f"unknown compiler (allowed: {', '.join(schema.COMPILERS)})",
                           f"{path}.type")
    info = schema.COMPILERS[kind]
    params = check_params(info.params, d.get("params", {}), f"{path}.params")
    loss = d.get("loss")
    optimiser = d.get("optimiser")
    delay_opt = d.get("delay_optimiser")
    if info.has_losses:
        loss = _typed(schema.LOSSES, loss if loss is not None else
                      {"type": "sparse_categorical_crossentropy"}, f"{path}.loss", "loss")
    elif loss is not None:
        raise ProjectError(f"{info.label} compiler takes no loss", f"{path}.loss")
    if info.has_optimiser:
        optimiser = _typed(schema.OPTIMISERS, optimiser if optimiser is not None else
                           {"type": "Adam"}, f"{path}.optimiser", "optimiser")
    elif optimiser is not None:
        raise ProjectError(f"{info.label} compiler takes no optimiser", f"{path}.optimiser")
    conns = d.get("delay_learn_conns", [])
    if not isinstance(conns, list):
        raise ProjectError("must be a list of connection ids", f"{path}.delay_learn_conns")
    conns = [_id(c, f"{path}.delay_learn_conns[{i}]") for i, c in enumerate(conns)]
    if not info.has_delay_learning:
        if delay_opt is not None:
            raise ProjectError(f"{info.label} compiler does not learn delays",
                               f"{path}.delay_optimiser")
        if conns:
            raise ProjectError(f"{info.label} compiler does not learn delays",
                               f"{path}.delay_learn_conns")
    elif delay_opt is not None:
        delay_opt = _typed(schema.OPTIMISERS, delay_opt, f"{path}.delay_optimiser", "optimiser")
    deep_r = d.get("deep_r_conns", [])
    if not isinstance(deep_r, list):
        raise ProjectError("must be a list of connection ids", f"{path}.deep_r_conns")
    deep_r = [_id(c, f"{path}.deep_r_conns[{i}]") for i, c in enumerate(deep_r)]
    if deep_r and not info.has_deep_r:
        raise ProjectError(f"{info.label} compiler does not rewire connections (Deep R)",
                           f"{path}.deep_r_conns")
    return CompilerSpec(kind, params, loss, optimiser, delay_opt, conns, deep_r)


def _scalars(data: Any, path: str) -> dict[str, Any]:
    """A flat object of JSON scalars (loader keyword arguments)."""
    if not isinstance(data, dict):
        raise ProjectError("must be an object", path)
    out: dict[str, Any] = {}
    for k, v in data.items():
        if not isinstance(k, str) or not NAME_RE.match(k):
            raise ProjectError("must be an argument name", f"{path}.{k}")
        if v is not None and not isinstance(v, bool | int | float | str):
            raise ProjectError("must be a number, text, true/false or null", f"{path}.{k}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ProjectError("must be finite", f"{path}.{k}")
        out[k] = v
    return out


def parse_dataset(data: Any, path: str = "dataset") -> DatasetSpec:
    """Validate the dataset section."""
    d = _obj(data, path, {"source": True, "name": False, "params": False, "format": False,
                          "path": False, "test_path": False, "input": False, "output": False})
    source = d["source"]
    if source not in schema.DATASET_SOURCES:
        raise ProjectError(f"must be one of {list(schema.DATASET_SOURCES)}", f"{path}.source")
    name = _str(d.get("name", ""), f"{path}.name")
    params: dict[str, Any] = {}
    fmt = _str(d.get("format", ""), f"{path}.format")
    fpath = _str(d.get("path", ""), f"{path}.path", max_len=4096)
    tpath = _str(d.get("test_path", ""), f"{path}.test_path", max_len=4096)
    if source == "builtin":
        if name not in schema.BUILTIN_DATASET_KEYS:
            raise ProjectError(
                f"unknown built-in dataset (allowed: {', '.join(schema.BUILTIN_DATASET_KEYS)})",
                f"{path}.name")
        params = _scalars(d.get("params", {}), f"{path}.params")
    elif d.get("params"):
        raise ProjectError("only built-in datasets take parameters", f"{path}.params")
    if source == "file" and fmt not in schema.FILE_FORMATS:
        raise ProjectError(f"must be one of {list(schema.FILE_FORMATS)}", f"{path}.format")
    inp = d.get("input")
    out = d.get("output")
    return DatasetSpec(source, name, params, fmt, fpath, tpath,
                       None if inp is None else _id(inp, f"{path}.input"),
                       None if out is None else _id(out, f"{path}.output"))


def parse_training(data: Any, path: str = "training") -> TrainingSpec:
    """Validate the training section."""
    d = _obj(data, path, {"num_epochs": False, "shuffle": False, "validation_split": False,
                          "seed": False, "max_examples": False, "lr_schedule": False})
    t = TrainingSpec()
    if "shuffle" in d:
        t.shuffle = _bool(d["shuffle"], f"{path}.shuffle")
    for p in schema.TRAINING:  # the ranges the Training tab also uses
        if p.name in d:
            setattr(t, p.name, check_value(p, d[p.name], f"{path}.{p.name}"))
    t.lr_schedule = check_lr_schedule(d.get("lr_schedule"), f"{path}.lr_schedule")
    return t


def parse_project(data: Any) -> Project:
    """Validate (and migrate) a decoded JSON document into a :class:`Project`.

    Weights are not loaded here; see :func:`app.project.io.load_project`.
    """
    return parse_project_with_weight_keys(data)[0]


def parse_project_with_weight_keys(data: Any) -> tuple[Project, list[str]]:
    """As :func:`parse_project`, also returning the connection ids that have
    trained weights in the sidecar file."""
    if not isinstance(data, dict):
        raise ProjectError("a project file must contain a JSON object")
    if data.get("format") != schema.FORMAT_NAME:
        raise ProjectError(f"not a Spike Studio project (expected \"{schema.FORMAT_NAME}\")",
                           "format")
    data = migrate(data)
    d = _obj(data, "", {"format": True, "schema_version": True, "name": False,
                        "description": False, "populations": True, "connections": True,
                        "compiler": True, "dataset": False, "training": False,
                        "weights": False, "unresolved": False})
    pops_raw = d["populations"]
    if not isinstance(pops_raw, list):
        raise ProjectError("must be a list", "populations")
    conns_raw = d["connections"]
    if not isinstance(conns_raw, list):
        raise ProjectError("must be a list", "connections")
    pops = [parse_population(p, f"populations[{i}]") for i, p in enumerate(pops_raw)]
    conns = [parse_connection(c, f"connections[{i}]") for i, c in enumerate(conns_raw)]
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    items: list[tuple[str, PopulationSpec | ConnectionSpec]] = (
        [(f"populations[{i}]", p) for i, p in enumerate(pops)]
        + [(f"connections[{i}]", c) for i, c in enumerate(conns)])
    for path, item in items:
        if item.id in seen_ids:
            raise ProjectError(f"duplicate id {item.id!r}", f"{path}.id")
        seen_ids.add(item.id)
        if item.name in seen_names:
            raise ProjectError(f"duplicate name {item.name!r}", f"{path}.name")
        seen_names.add(item.name)
    by_id = {p.id: p for p in pops}
    pairs: set[tuple[str, str]] = set()
    for i, c in enumerate(conns):
        if c.source not in by_id:
            raise ProjectError(f"no population with id {c.source!r}", f"connections[{i}].source")
        if c.target not in by_id:
            raise ProjectError(f"no population with id {c.target!r}", f"connections[{i}].target")
        if by_id[c.target].is_input:
            raise ProjectError("an input population cannot receive connections",
                               f"connections[{i}].target")
        if (c.source, c.target) in pairs:
            raise ProjectError("a second connection between the same populations",
                               f"connections[{i}]")
        pairs.add((c.source, c.target))
    compiler = parse_compiler(d["compiler"])
    conn_ids = {c.id for c in conns}
    for key in ("delay_learn_conns", "deep_r_conns"):
        for i, cid in enumerate(getattr(compiler, key)):
            if cid not in conn_ids:
                raise ProjectError(f"no connection with id {cid!r}", f"compiler.{key}[{i}]")
    dataset = parse_dataset(d.get("dataset", {"source": "none"}))
    for key in ("input", "output"):
        ref = getattr(dataset, key)
        if ref is not None and ref not in by_id:
            raise ProjectError(f"no population with id {ref!r}", f"dataset.{key}")
    if dataset.input is not None and not by_id[dataset.input].is_input:
        raise ProjectError("must name an input population", "dataset.input")
    if dataset.output is not None and not by_id[dataset.output].is_output:
        raise ProjectError("must name a population with a readout", "dataset.output")
    weights = d.get("weights", [])
    if not isinstance(weights, list) or not all(isinstance(w, str) for w in weights):
        raise ProjectError("must be a list of connection ids", "weights")
    for i, w in enumerate(weights):
        if w not in conn_ids:
            raise ProjectError(f"no connection with id {w!r}", f"weights[{i}]")
    unresolved = d.get("unresolved", {})
    if not isinstance(unresolved, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in unresolved.items()):
        raise ProjectError("must map value keys to the script's expressions", "unresolved")
    project = Project(
        name=_str(d.get("name", "Untitled"), "name"),
        description=_str(d.get("description", ""), "description", max_len=20_000),
        populations=pops, connections=conns, compiler=compiler, dataset=dataset,
        training=parse_training(d.get("training", {})))
    for key, expr in unresolved.items():
        if key.count(":") < 2 or unresolved_value(project, key) is None:
            raise ProjectError(f"no value {key!r} in this project", f"unresolved.{key}")
        project.unresolved[key] = _str(expr, f"unresolved.{key}", max_len=2000)
    return project, list(weights)
