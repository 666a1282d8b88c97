"""Import an mlGeNN-style script as a project document, without running it.

The script is parsed with :mod:`ast` (never executed or ``eval``-ed). Names are
resolved to what they were last assigned before their use, at module level
and inside ``with``/``if``/``for`` blocks (:mod:`app.project.mlgenn_values`);
``if`` blocks with a literal condition follow the branch the script would
take. What is recognised: imports from ``ml_genn`` (including
``default_params`` of a compiler module), ``Network``/``SequentialNetwork``
contexts with ``Population``/``InputLayer``/``Layer``/``Connection`` calls,
neuron, synapse, connectivity (convolution and pooling included),
initializer, loss and optimiser constructors, weights read with ``np.load``
from ``.npy`` files next to the script, the compiler constructor, the
``train``/``evaluate`` call with its callbacks (:mod:`app.project.mlgenn_training`),
``np.random.seed``, the datasets of mlGeNN's examples and the ``DATASET``
constant written by :mod:`app.project.mlgenn_export`.

Whatever cannot be mapped is reported in :attr:`ImportResult.unmapped` with
its line number, saying what was used instead; values the script computes
from its data stay open questions (``Project.unresolved``) that the editor
lists as problems until they are set. Nothing is dropped silently.
"""
from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project import schema
from app.project.document import (
    NAME_RE,
    ConnectionSpec,
    PopulationSpec,
    Project,
    check_value,
    unresolved_key,
)
from app.project.errors import ProjectError
from app.project.mlgenn_values import DataDerived, Unmapped, Values

#: mlGeNN modules holding a compiler's ``default_params``.
DEFAULT_PARAMS_MODULES: dict[str, str] = {
    "ml_genn.compilers.event_prop_compiler": "EventPropCompiler",
    "ml_genn.compilers.eprop_compiler": "EPropCompiler",
}

_NETWORKS = {"Network", "SequentialNetwork"}
_READOUT_CLASSES = {"AvgVar": "avg_var", "AvgVarExpWeight": "avg_var_exp_weight",
                    "FirstSpikeTime": "first_spike_time", "MaxVar": "max_var",
                    "SpikeCount": "spike_count", "SumVar": "sum_var", "Var": "var"}
_POP_ARGS = ["neuron", "shape", "record_spikes", "record_spike_events", "name"]
_LAYER_ARGS = ["connectivity", "neuron", "shape", "synapse", "record_spikes",
               "record_spike_events", "max_delay_steps", "name"]
_CONN_ARGS = ["source", "target", "connectivity", "synapse", "name", "max_delay_steps"]
_SPACING_X, _SPACING_Y = 260.0, 140.0
#: Arguments mlGeNN's 2-D connectivity cannot do without.
_REQUIRED = {"Conv2D": ("filters", "conv_size"), "Conv2DTranspose": ("filters", "conv_size"),
             "AvgPool2D": ("pool_size",), "AvgPoolConv2D": ("filters", "pool_size", "conv_size"),
             "AvgPoolDense2D": ("pool_size",)}

__all__ = ["ImportResult", "Unmapped", "import_mlgenn_source", "import_mlgenn_file",
           "import_to_project_file"]


@dataclass
class ImportResult:
    """The project read from a script, everything that could not be mapped, and how
    the things without a one-to-one equivalent were mapped (``mapped``)."""

    project: Project
    unmapped: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)


@dataclass
class _Network:
    sequential: bool


@dataclass
class TrainCall:
    """A ``train``/``evaluate`` call and the loop it sits in (None at top level)."""

    call: ast.Call
    loop: ast.For | ast.While | None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Reader:
    """One pass over a parsed script."""

    def __init__(self, tree: ast.Module, base_dir: Path | None) -> None:
        self.tree = tree
        self.v = Values(base_dir)
        self.notes: list[str] = []
        self.mapped: list[str] = []
        self.project = Project(name="Imported mlGeNN script")
        self.vars: dict[str, str] = {}  # script variable -> population id
        self.conn_vars: dict[str, str] = {}  # script variable -> connection id
        self.layer_conns: dict[str, str] = {}  # Layer's population id -> its connection id
        self.default_params: str | None = None  # compiler type whose defaults apply
        self.dp_names: dict[str, str] = {}  # local name of a default_params -> compiler type
        self.networks: dict[str, _Network] = {}
        self.compilers: list[ast.Call] = []
        self.train_calls: list[TrainCall] = []
        self.classes: dict[str, ast.ClassDef] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.calls_seen: list[ast.Call] = []  # every call outside network blocks
        self.layer_shape_unknown: dict[str, ast.AST] = {}  # pop id -> where
        self.data_noted = False  # a note about the data was given already

    # ---- helpers -----------------------------------------------------
    def note(self, node: ast.AST | None, text: str) -> None:
        line = getattr(node, "lineno", None)
        self.notes.append(f"line {line}: {text}" if line else text)

    def overrides_defaults(self, node: ast.Assign) -> bool:
        """``A, B = f(A, B)`` with ``f`` defined in the script (e.g. command-line options
        defaulting to the values above): the names keep their values, said in ``mapped``."""
        value = node.value
        if len(node.targets) != 1 or not isinstance(value, ast.Call) or value.keywords \
                or not isinstance(value.func, ast.Name) or value.func.id not in self.functions:
            return False
        target = node.targets[0]
        names = [target] if isinstance(target, ast.Name) else getattr(target, "elts", [])
        ids = [n.id for n in names if isinstance(n, ast.Name)]
        args = [a.id for a in value.args if isinstance(a, ast.Name)]
        if not ids or ids != args or len(args) != len(value.args) or len(ids) != len(names):
            return False
        self.told(node, f"{', '.join(ids)} may be overridden by {value.func.id}() when the "
                        "script runs; the values assigned before are used")
        return True

    def told(self, node: ast.AST | None, text: str) -> None:
        """How something without a one-to-one equivalent was mapped."""
        line = getattr(node, "lineno", None)
        self.mapped.append(f"line {line}: {text}" if line else text)

    def qual(self, func: ast.AST) -> str | None:
        return self.v.qual(func)

    def value(self, node: ast.AST) -> Any:
        return self.v.value(node)

    def kind(self, node: ast.AST | None, module: str) -> str | None:
        """Class name when ``node`` is a call of a class of ``ml_genn.<module>``."""
        if not isinstance(node, ast.Call):
            return None
        q = self.qual(node.func)
        if q is None:
            return None
        parts = q.split(".")
        if parts[0] != "ml_genn":
            return None
        if module == "" and len(parts) == 2:
            return parts[1]
        if len(parts) >= 3 and parts[1] == module:
            return parts[-1]
        return None

    def pick(self, node: ast.AST | None) -> ast.AST | None:
        """A name resolved to its definition; a conditional expression to the branch its
        (literal) condition takes."""
        for _ in range(20):
            if node is None:
                return None
            node = self.v.resolve(node)
            if not isinstance(node, ast.IfExp):
                return node
            try:
                node = node.body if self.value(node.test) else node.orelse
            except Unmapped:
                self.note(node, f"condition '{ast.unparse(node.test)}' is not a literal: "
                                "its first branch is used")
                node = node.body
        return node

    def args(self, call: ast.Call, order: list[str], what: str) -> dict[str, ast.AST]:
        """Positional and keyword argument nodes by parameter name."""
        out: dict[str, ast.AST] = {}
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred) or i >= len(order):
                self.note(a, f"{what}: extra positional argument '{ast.unparse(a)}' ignored")
                continue
            out[order[i]] = a
        for k in call.keywords:
            if k.arg is None:
                self.note(k.value, f"{what}: '**{ast.unparse(k.value)}' ignored")
                continue
            out[k.arg] = k.value
        return out

    def params(self, table: tuple[schema.Param, ...], given: dict[str, ast.AST], what: str,
               defaults: dict[str, Any] | None = None,
               unresolved: tuple[str, str] | None = None) -> dict[str, Any]:
        """Schema parameters from argument nodes; unknown or invalid ones are noted.
        ``unresolved`` = (kind, item): data-derived values become open questions."""
        out = {**schema.defaults(table), **(defaults or {})}
        known = {p.name: p for p in table}
        for name, node in given.items():
            if name not in known:
                self.note(node, f"{what}: argument {name}={ast.unparse(node)} has no "
                                "Spike Studio equivalent")
                continue
            try:
                out[name] = check_value(known[name], self.value(node), name)
            except DataDerived as e:
                if name == "max_spikes":
                    self.told(node, f"{what}: max_spikes is computed from data ({e.expr}); "
                                    f"{out[name]!r} kept: Spike Studio sizes its spike "
                                    "buffers itself")
                elif unresolved is not None:
                    key = unresolved_key(unresolved[0], unresolved[1], name)
                    self.project.unresolved[key] = e.expr
                    self.note(node, f"{what}: {name} is computed from data ({e.expr}); "
                                    f"{out[name]!r} kept until you set it")
                else:
                    self.note(node, f"{what}: {name}={ast.unparse(node)} is computed from "
                                    f"data; using {out[name]!r}")
            except (Unmapped, ProjectError) as e:
                self.note(node, f"{what}: {name}={ast.unparse(node)} not mapped ({e}); "
                                f"using {out[name]!r}")
        return out

    # ---- statements --------------------------------------------------
    def read(self) -> ImportResult:
        from app.project import mlgenn_training as training
        from app.project.shapes import apply_inferred_shapes

        self.block(self.tree.body, None, top=True)
        if not self.project.populations:
            self.note(None, "no populations found in a 'with network:' block")
        training.read_training(self)
        apply_inferred_shapes(self.project)
        for pid, where in self.layer_shape_unknown.items():
            pop = self.project.population(pid)
            if pop.shape is None and pid not in {c.target for c in self.project.connections
                                                 if c.connectivity["type"]
                                                 in schema.SHAPE_SETTING}:
                key = unresolved_key("population", pid, "size")
                self.project.unresolved[key] = "no shape given and none can be inferred"
                self.note(where, f"'{pop.name}' has no shape and its connectivity does not "
                                 "give one: size 1 kept until you set it")
        self.layout()
        return ImportResult(self.project, self.notes, self.mapped)

    def block(self, body: list[ast.stmt], loop: ast.For | ast.While | None,
              top: bool = False) -> None:
        for node in body:
            self.statement(node, loop, top and node is self.tree.body[0])

    def statement(self, node: ast.stmt, loop: ast.For | ast.While | None,
                  first: bool = False) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.v.imported(node)
            if isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    if a.name != "default_params":
                        continue
                    if node.module in DEFAULT_PARAMS_MODULES:
                        self.dp_names[a.asname or a.name] = DEFAULT_PARAMS_MODULES[node.module]
                    else:
                        self.note(node, f"default_params of {node.module} not known")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            if first:
                self.docstring(node.value.value)
        elif isinstance(node, ast.ClassDef):
            self.classes[node.name] = node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.functions[node.name] = node  # type: ignore[assignment]
        elif isinstance(node, ast.Assign):
            self.scan_calls(node.value, loop)
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and self.kind(node.value, "") in _NETWORKS:
                self.network_var(node.targets[0].id, node.value)  # type: ignore[arg-type]
                return
            if self.overrides_defaults(node):
                return
            for t in node.targets:
                self.v.assign(t, node.value)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            if isinstance(node.target, ast.Name) and node.value is not None:
                self.v.env[node.target.id] = node  # type: ignore[assignment]
        elif isinstance(node, ast.With):
            if not self.network_block(node):
                self.block(node.body, loop)
        elif isinstance(node, ast.If):
            self.if_block(node, loop)
        elif isinstance(node, (ast.For, ast.While)):
            if isinstance(node, ast.For):  # the loop variable: not a literal
                marker = ast.Name(id=f"<item of the loop at line {node.lineno}>")
                self.v.assign(node.target, marker)
            self.block(node.body, node)
        elif isinstance(node, ast.Try):
            self.block(node.body, loop)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.scan_calls(node.value, loop)
            q = self.qual(node.value.func)
            if q == "numpy.random.seed" and node.value.args:
                try:
                    self.project.training.seed = int(self.value(node.value.args[0]))
                except (Unmapped, TypeError, ValueError):
                    self.note(node, "np.random.seed argument not a literal; seed 0 used")

    def if_block(self, node: ast.If, loop: ast.For | ast.While | None) -> None:
        """A literal condition follows the branch the script takes; otherwise both."""
        try:
            taken = bool(self.value(node.test))
        except Unmapped:
            self.block(node.body, loop)
            self.block(node.orelse, loop)
            return
        self.block(node.body if taken else node.orelse, loop)

    def scan_calls(self, value: ast.AST, loop: ast.For | ast.While | None) -> None:
        """Compilers, train/evaluate calls and stray network objects in an expression."""
        for n in ast.walk(value):
            if not isinstance(n, ast.Call):
                continue
            what = self.kind(n, "")
            if what in ("Population", "InputLayer", "Layer", "Connection"):
                self.note(n, f"{what} outside a 'with network:' block not imported")
            elif self.kind(n, "compilers") is not None:
                self.compilers.append(n)
            elif isinstance(n.func, ast.Attribute) and n.func.attr in ("train", "evaluate") \
                    and (n.args or n.keywords):
                self.train_calls.append(TrainCall(n, loop))
            self.calls_seen.append(n)

    def docstring(self, text: str) -> None:
        lines = text.strip().splitlines()
        if not lines:
            return
        first = re.sub(r"\s+-\s+exported from Spike Studio.*$", "", lines[0]).strip()
        self.project.name = first[:200] or self.project.name
        paras = "\n".join(lines[1:]).strip().split("\n\n")
        desc = [p for p in paras if p and not p.startswith("Rebuilds the project")]
        if len(desc) < len(paras):  # written by Spike Studio: keep the description only
            self.project.description = "\n".join(" ".join(p.split()) for p in desc)

    def network_var(self, target: str, call: ast.Call) -> None:
        self.networks[target] = _Network(self.kind(call, "") == "SequentialNetwork")
        for a in call.args[:1] + [k.value for k in call.keywords if k.arg == "default_params"]:
            if isinstance(a, ast.Name) and a.id in self.dp_names:
                self.default_params = self.dp_names[a.id]
            else:
                self.note(a, f"network default_params '{ast.unparse(a)}' not recognised")

    def network_block(self, node: ast.With) -> bool:
        item = node.items[0].context_expr if node.items else None
        if not (isinstance(item, ast.Name) and item.id in self.networks):
            return False
        previous: str | None = None
        for st in node.body:
            call: ast.AST | None = None
            target: str | None = None
            if isinstance(st, ast.Assign) and len(st.targets) == 1:
                call = st.value
                if isinstance(st.targets[0], ast.Name):
                    target = st.targets[0].id
            elif isinstance(st, ast.Expr):
                call = st.value
            what = self.kind(call, "") if call is not None else None
            if what in ("Population", "InputLayer"):
                pid = self.population(call, target, layer=False)  # type: ignore[arg-type]
                previous = pid or previous
            elif what == "Layer":
                pid = self.population(call, target, layer=True)  # type: ignore[arg-type]
                if pid is not None:
                    if previous is None:
                        self.note(st, "Layer without a preceding layer: not connected")
                    else:
                        self.connection(call, None, previous, pid, layer=True)  # type: ignore[arg-type]
                    previous = pid
            elif what == "Connection":
                self.connection(call, target, None, None, layer=False)  # type: ignore[arg-type]
            elif isinstance(st, ast.Assign):
                for t in st.targets:  # e.g. a weight initializer used further down
                    self.v.assign(t, st.value)
            elif not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)):
                self.note(st, f"statement in the network block not mapped: "
                              f"{ast.unparse(st).splitlines()[0][:80]}")
        return True

    # ---- populations -------------------------------------------------
    def unique(self, base: str) -> str:
        base = re.sub(r"\W", "_", base)[:90] or "pop"
        if not NAME_RE.match(base):
            base = f"p_{base}"
        return self.project.unique_name(base)

    def population(self, call: ast.Call, var: str | None, layer: bool) -> str | None:
        a = self.args(call, _LAYER_ARGS if layer else _POP_ARGS, "population")
        neuron = self.pick(a.get("neuron"))
        model = self.kind(neuron, "neurons") if neuron is not None else None
        if model not in schema.NEURON_MODELS:
            self.note(call, f"neuron model '{ast.unparse(neuron) if neuron else '?'}' has no "
                            "Spike Studio equivalent: population not imported")
            return None
        assert isinstance(neuron, ast.Call)
        nargs = self.args(neuron, [p.name for p in schema.model_params(model)] + ["readout"],
                          model)
        readout = self.readout(nargs.pop("readout", None), model)
        defaults = self.defaults_for(model, nargs)
        pid = self.project.new_id("p")
        params = self.params(schema.model_params(model), nargs, model, defaults,
                             unresolved=("population", pid))
        name = var or model.lower()
        if "name" in a:
            try:
                name = str(self.value(a["name"]))
            except Unmapped:
                self.note(a["name"], "population name not a literal; variable name used")
        record = False
        if "record_spikes" in a:
            try:
                record = bool(self.value(a["record_spikes"]))
            except Unmapped:
                self.note(a["record_spikes"], "record_spikes not a literal: off")
        if "record_spike_events" in a:
            self.note(a["record_spike_events"], "record_spike_events has no equivalent")
        pop = PopulationSpec(pid, self.unique(name), model, 1, params, readout, record)
        self.project.populations.append(pop)
        self.shape(pop, a.get("shape"), call)
        if var:
            self.vars[var] = pop.id
        return pop.id

    def shape(self, pop: PopulationSpec, node: ast.AST | None, call: ast.Call) -> None:
        """Size and shape from the shape argument; data-derived ones stay questions."""
        if node is None or (isinstance(node, ast.Constant) and node.value is None):
            self.layer_shape_unknown[pop.id] = call  # settled once connections are read
            return
        self.v.facts_used.clear()
        try:
            shape = self.value(node)
            dims = tuple(int(d) for d in (shape if isinstance(shape, tuple | list)
                                          else (shape,)))
            if not dims or min(dims) < 1:
                raise Unmapped("empty shape")
        except DataDerived as e:
            pop.size = 1
            self.project.unresolved[unresolved_key("population", pop.id, "size")] = e.expr
            self.note(node, f"size of '{pop.name}' is computed from data ({e.expr}): size 1 "
                            "kept until you set it")
            return
        except (Unmapped, TypeError, ValueError) as e:
            pop.size = 1
            self.project.unresolved[unresolved_key("population", pop.id, "size")] = \
                ast.unparse(node)
            self.note(node, f"shape '{ast.unparse(node)}' not mapped ({e}): size 1 kept "
                            "until you set it")
            return
        pop.size = int(math.prod(dims))
        if len(dims) == 3:
            pop.shape = list(dims)
        elif len(dims) > 1:
            self.note(node, f"shape {dims} flattened to {pop.size} neurons")
        if self.v.facts_used:
            self.told(node, f"size of '{pop.name}' = {pop.size} from "
                            f"{', '.join(sorted(self.v.facts_used))} "
                            f"({self.v.source(node)})")

    def defaults_for(self, cls: str, given: dict[str, ast.AST]) -> dict[str, Any]:
        """The network's default_params for a class, for arguments not given."""
        if self.default_params is None:
            return {}
        table = schema.COMPILERS[self.default_params].default_params.get(cls, {})
        return {k: v for k, v in table.items() if k not in given}

    def readout(self, node: ast.AST | None, model: str) -> str | None:
        node = self.pick(node)
        if node is None:
            return None
        if schema.model_role(model) == "input":
            self.note(node, "input populations have no readout: ignored")
            return None
        name: Any = None
        cls = self.kind(node, "readouts")
        if cls is not None:
            name = _READOUT_CLASSES.get(cls)
        else:
            try:
                name = self.value(node)
            except Unmapped:
                name = None
        if name is None:
            return None
        if name not in schema.READOUTS:
            self.note(node, f"readout '{ast.unparse(node)}' not mapped: none used")
            return None
        return name

    # ---- connections -------------------------------------------------
    def connection(self, call: ast.Call, var: str | None, source_id: str | None,
                   target_id: str | None, layer: bool) -> None:
        a = self.args(call, _LAYER_ARGS if layer else _CONN_ARGS, "connection")
        if not layer:
            ends = []
            for key in ("source", "target"):
                node = a.get(key)
                pid = self.vars.get(node.id) if isinstance(node, ast.Name) else None
                if pid is None:
                    self.note(call, f"connection {key} '{ast.unparse(node) if node else '?'}' "
                                    "is not an imported population: connection not imported")
                    return
                ends.append(pid)
            source_id, target_id = ends
        assert source_id is not None and target_id is not None
        if self.project.population(target_id).is_input:
            self.note(call, "connection into an input population: not imported")
            return
        if any(c.source == source_id and c.target == target_id for c in self.project.connections):
            self.note(call, "second connection between the same populations: not imported")
            return
        cid = self.project.new_id("c")
        conn_node = self.pick(a.get("connectivity"))
        kind = self.kind(conn_node, "connectivity") if conn_node is not None else None
        array: np.ndarray | None = None
        if kind not in schema.CONNECTIVITY:
            self.note(call, f"connectivity '{ast.unparse(conn_node) if conn_node else '?'}' has "
                            "no Spike Studio equivalent: Dense with Normal(0, 1) weights used")
            connectivity = {"type": "Dense", **schema.defaults(schema.CONNECTIVITY["Dense"])}
            weight = {"type": "Normal", **schema.defaults(schema.INITIALIZERS["Normal"])}
        else:
            assert isinstance(conn_node, ast.Call)
            table = schema.CONNECTIVITY[kind]
            corder = (["p", "weight", "allow_self_connections", "delay"]
                      if kind == "FixedProbability" else
                      [p.name for p in table] if kind in schema.NO_WEIGHT else
                      ["weight"] + [p.name for p in table])
            cargs = self.args(conn_node, corder, kind)
            if kind in schema.NO_WEIGHT:  # unused: the document's default for a new one
                weight = {"type": "Normal", **schema.defaults(schema.INITIALIZERS["Normal"])}
                if "weight" in cargs:
                    self.note(cargs["weight"], f"{kind} has fixed weights: weight ignored")
                    cargs.pop("weight")
            else:
                weight, array = self.weight(cargs.pop("weight", None), conn_node)
            connectivity = {"type": kind, **self.params(table, cargs, kind)}
            for req in _REQUIRED.get(kind, ()):
                if req not in cargs:
                    self.note(conn_node, f"{kind} without {req} (required by mlGeNN): "
                                         f"{connectivity[req]!r} used")
        synapse = self.synapse(self.pick(a.get("synapse")))
        src, tgt = self.project.population(source_id), self.project.population(target_id)
        name = f"{src.name}_{tgt.name}"
        if not layer and "name" in a and not (
                isinstance(a["name"], ast.Constant) and a["name"].value is None):
            try:
                name = str(self.value(a["name"]))
            except Unmapped:
                self.note(a["name"], "connection name not a literal; generated")
        mds = None
        if "max_delay_steps" in a:
            try:
                v = self.value(a["max_delay_steps"])
                mds = None if v is None else int(v)
            except (Unmapped, TypeError, ValueError) as e:
                self.note(a["max_delay_steps"], f"max_delay_steps not mapped ({e}): none")
        conn = ConnectionSpec(cid, self.unique(name), source_id, target_id, connectivity,
                              weight, synapse, mds)
        self.project.connections.append(conn)
        if array is not None:
            self.weight_array(conn, array, conn_node)
        if var:
            self.conn_vars[var] = conn.id
        if layer:
            self.layer_conns[target_id] = conn.id

    def weight(self, node: ast.AST | None, where: ast.AST
               ) -> tuple[dict[str, Any], np.ndarray | None]:
        """(initializer spec, array) of a weight argument; an array read from a file is
        returned to become the connection's trained weights."""
        default = {"type": "Normal", **schema.defaults(schema.INITIALIZERS["Normal"])}
        if node is None:
            self.note(where, "connectivity without a weight: Normal(0, 1) used")
            return default, None
        original = node
        node = self.pick(node)
        kind = self.kind(node, "initializers")
        if kind is not None:
            if kind not in schema.INITIALIZERS or kind == "Constant":
                self.note(node, f"initializer {kind} has no equivalent: Normal(0, 1) used")
                return default, None
            assert isinstance(node, ast.Call)
            table = schema.INITIALIZERS[kind]
            given = self.args(node, [p.name for p in table], kind)
            return {"type": kind, **self.params(table, given, kind)}, None
        try:
            v = self.value(original)
        except Unmapped as e:
            text = ast.unparse(original)
            expr = e.expr if isinstance(e, DataDerived) else text
            shown = f"'{text}'" if expr == text else f"'{text}' (= {expr[:120]})"
            self.note(original, f"weight {shown} is not a literal, an initializer or a "
                                "readable .npy file: Normal(0, 1) used")
            return default, None
        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"type": "Constant", "value": float(v)}, None
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.number):
            return {"type": "Constant", "value": 0.0}, v
        self.note(original, f"weight '{ast.unparse(original)[:60]}' not mapped: Normal(0, 1) "
                            "used")
        return default, None

    def weight_array(self, conn: ConnectionSpec, array: np.ndarray, where: ast.AST) -> None:
        """Weights read from a .npy file: the target's size, and trained weights."""
        src, tgt = self.project.population(conn.source), self.project.population(conn.target)
        kind = conn.connectivity["type"]
        if kind == "Dense" and array.ndim == 2:
            if tgt.id in self.layer_shape_unknown:
                tgt.size = int(array.shape[1])
                del self.layer_shape_unknown[tgt.id]
                self.told(where, f"size of '{tgt.name}' = {tgt.size} from the weight array's "
                                 "columns")
            if array.shape == (src.size, tgt.size):
                self.project.weights[conn.id] = array.astype(np.float32)
                self.told(where, f"weights of '{conn.name}' {array.shape} loaded from the .npy "
                                 "file as trained weights")
                return
        self.note(where, f"weight array of shape {array.shape} does not fit '{conn.name}' "
                         f"({kind}, {src.size} -> {tgt.size}): Constant(0) used")

    def synapse(self, node: ast.AST | None) -> dict[str, Any]:
        kind = "Delta"
        given: dict[str, ast.AST] = {}
        if node is not None:
            k = self.kind(node, "synapses")
            if k is None:
                try:
                    k = str(self.value(node)).capitalize()
                except Unmapped:
                    k = None
            if k not in schema.SYNAPSES:
                self.note(node, f"synapse '{ast.unparse(node)}' has no equivalent: Delta used")
                k = "Delta"
            kind = k
            if isinstance(node, ast.Call):
                given = self.args(node, [p.name for p in schema.SYNAPSES[kind]], kind)
        defaults = self.defaults_for(kind, given)
        return {"type": kind, **self.params(schema.SYNAPSES[kind], given, kind, defaults)}

    # ---- layout ------------------------------------------------------
    def layout(self) -> None:
        """Columns left to right by distance from the inputs (recurrent edges ignored)."""
        pops = self.project.populations
        depth = {p.id: 0 for p in pops}
        for _ in range(len(pops)):
            changed = False
            for c in self.project.connections:
                if c.source != c.target and depth[c.target] < depth[c.source] + 1 \
                        and depth[c.source] + 1 < len(pops):
                    depth[c.target] = depth[c.source] + 1
                    changed = True
            if not changed:
                break
        rows: dict[int, int] = {}
        for p in pops:
            d = depth[p.id]
            p.position = (d * _SPACING_X, rows.get(d, 0) * _SPACING_Y)
            rows[d] = rows.get(d, 0) + 1


def import_mlgenn_source(source: str, filename: str = "<script>",
                         base_dir: str | os.PathLike[str] | None = None) -> ImportResult:
    """Read an mlGeNN script's text into a project (raises SyntaxError when it is not
    Python). ``base_dir``: the script's folder, where ``np.load`` files are looked for."""
    tree = ast.parse(source, filename=filename)
    return _Reader(tree, Path(base_dir) if base_dir is not None else None).read()


def import_mlgenn_file(path: str | os.PathLike[str]) -> ImportResult:
    """Read an mlGeNN script file into a project; the script is never run.

    Raises ``ValueError`` for a Spike Studio project file (open it instead).
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".ssproj" or _is_project_json(text):
        raise ValueError(f"{p.name} is a Spike Studio project, not an mlGeNN script: open it "
                         f"(spike-studio {p.name}) instead of importing it")
    result = import_mlgenn_source(text, str(p), p.parent)
    if result.project.name == "Imported mlGeNN script":
        result.project.name = p.stem
    return result


def _is_project_json(text: str) -> bool:
    head = text.lstrip()[:4096]
    return head.startswith("{") and '"spike-studio-project"' in head


def import_to_project_file(script: str | os.PathLike[str],
                           out: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """Headless ``spike-studio import SCRIPT -o PROJECT.ssproj``."""
    from app.project.io import save_project

    result = import_mlgenn_file(script)
    return save_project(result.project, out), result.unmapped
