"""Import an mlGeNN-style script as a project document, without running it.

The script is parsed with :mod:`ast` (never executed or ``eval``-ed).  What is
recognised: imports from ``ml_genn`` (including ``default_params`` of a
compiler module), module-level constants (numbers, text, booleans, ``None``,
dict/list/tuple literals and arithmetic on them; ``int``/``float``/``ceil``/
``sqrt`` of such values), ``Network``/``SequentialNetwork`` contexts with
``Population``/``InputLayer``/``Layer``/``Connection`` calls, neuron, synapse,
connectivity, initializer, loss and optimiser constructors, the compiler
constructor, ``compiled_net.train``/``evaluate`` keywords, ``np.random.seed``
and the ``DATASET`` constant written by :mod:`app.project.mlgenn_export`.

Whatever cannot be mapped is reported in :attr:`ImportResult.unmapped`
(with its line number) and replaced by the default; nothing is dropped
silently.
"""
from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.project import schema
from app.project.document import (
    NAME_RE,
    ConnectionSpec,
    PopulationSpec,
    Project,
    check_value,
    new_compiler,
    parse_dataset,
)
from app.project.errors import ProjectError

#: mlGeNN modules holding a compiler's ``default_params``.
DEFAULT_PARAMS_MODULES: dict[str, str] = {
    "ml_genn.compilers.event_prop_compiler": "EventPropCompiler",
    "ml_genn.compilers.eprop_compiler": "EPropCompiler",
}

_NETWORKS = {"Network", "SequentialNetwork"}
_READOUT_CLASSES = {"AvgVar": "avg_var", "AvgVarExpWeight": "avg_var_exp_weight",
                    "FirstSpikeTime": "first_spike_time", "MaxVar": "max_var",
                    "SpikeCount": "spike_count", "SumVar": "sum_var", "Var": "var"}
_SAFE_CALLS = {"int": int, "float": float, "abs": abs, "round": round,
               "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt}
_SPACING_X, _SPACING_Y = 260.0, 140.0


class Unmapped(Exception):
    """A construct that has no project equivalent."""


@dataclass
class ImportResult:
    """The project read from a script and everything that could not be mapped."""

    project: Project
    unmapped: list[str] = field(default_factory=list)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Reader:
    """One pass over a parsed script."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.names: dict[str, str] = {}  # local name -> qualified ml_genn / numpy / math name
        self.consts: dict[str, Any] = {}
        self.notes: list[str] = []
        self.project = Project(name="Imported mlGeNN script")
        self.vars: dict[str, str] = {}  # script variable -> population id
        self.conn_vars: dict[str, str] = {}  # script variable -> connection id
        self.default_params: str | None = None  # compiler type whose defaults apply
        self.dp_names: dict[str, str] = {}  # local name of a default_params -> compiler type

    # ---- helpers -----------------------------------------------------
    def note(self, node: ast.AST | None, text: str) -> None:
        line = getattr(node, "lineno", None)
        self.notes.append(f"line {line}: {text}" if line else text)

    def qual(self, func: ast.AST) -> str | None:
        """Qualified name of a called name (``ml_genn.neurons.LeakyIntegrateFire``)."""
        if isinstance(func, ast.Name):
            return self.names.get(func.id)
        if isinstance(func, ast.Attribute):
            base = self.qual(func.value)
            return f"{base}.{func.attr}" if base else None
        return None

    def kind(self, node: ast.AST, module: str) -> str | None:
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

    def value(self, node: ast.AST) -> Any:
        """A literal value (constants, arithmetic, whitelisted pure functions)."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.consts:
                return self.consts[node.id]
            raise Unmapped(f"name {node.id!r} is not a module-level constant")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            v = self.value(node.operand)
            return -v if isinstance(node.op, ast.USub) else (
                +v if isinstance(node.op, ast.UAdd) else not v)
        if isinstance(node, ast.BinOp):
            a, b = self.value(node.left), self.value(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.Div: lambda: a / b, ast.FloorDiv: lambda: a // b,
                   ast.Mod: lambda: a % b}
            if isinstance(node.op, ast.Pow) and isinstance(a, int | float) \
                    and isinstance(b, int | float) and abs(b) <= 64:
                return a ** b
            for op, fn in ops.items():
                if isinstance(node.op, op):
                    try:
                        return fn()
                    except (TypeError, ZeroDivisionError) as e:
                        raise Unmapped(str(e)) from None
            raise Unmapped("unsupported operator")
        if isinstance(node, ast.Tuple | ast.List):
            items = [self.value(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise Unmapped("dict unpacking")
            return {self.value(k): self.value(v)  # type: ignore[arg-type]
                    for k, v in zip(node.keys, node.values, strict=True)}
        if isinstance(node, ast.Call) and not node.keywords:
            fname = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else None)
            if isinstance(node.func, ast.Attribute):
                q = self.qual(node.func.value) or ""
                if q not in ("numpy", "math"):
                    fname = None
            if fname in _SAFE_CALLS:
                args = [self.value(a) for a in node.args]
                if all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
                    try:
                        return _SAFE_CALLS[fname](*args)
                    except (TypeError, ValueError) as e:
                        raise Unmapped(str(e)) from None
        raise Unmapped(f"'{ast.unparse(node)}' is not a literal value")

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
               defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """Schema parameters from argument nodes; unknown or invalid ones are noted."""
        out = {**schema.defaults(table), **(defaults or {})}
        known = {p.name: p for p in table}
        for name, node in given.items():
            if name not in known:
                self.note(node, f"{what}: argument {name}={ast.unparse(node)} has no "
                                "Spike Studio equivalent")
                continue
            try:
                out[name] = check_value(known[name], self.value(node), name)
            except (Unmapped, ProjectError) as e:
                self.note(node, f"{what}: {name}={ast.unparse(node)} not mapped ({e}); "
                                f"using {out[name]!r}")
        return out

    # ---- module level ------------------------------------------------
    def read(self) -> ImportResult:
        for node in self.tree.body:
            self.statement(node)
        if not self.project.populations:
            self.note(None, "no populations found in a module-level 'with network:' block")
        self.find_compiler_and_loop()
        self.layout()
        return ImportResult(self.project, self.notes)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                local = a.asname or a.name.split(".")[0]
                self.names[local] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                local = a.asname or a.name
                self.names[local] = f"{node.module}.{a.name}"
                if a.name == "default_params" and node.module in DEFAULT_PARAMS_MODULES:
                    self.dp_names[local] = DEFAULT_PARAMS_MODULES[node.module]
                elif a.name == "default_params":
                    self.note(node, f"default_params of {node.module} not known")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str) and node is self.tree.body[0]:
            self.docstring(node.value.value)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if self.kind(node.value, "") in _NETWORKS:
                self.network_var(target, node.value)
                return
            self.outside(node.value)
            try:
                self.consts[target] = self.value(node.value)
            except Unmapped:
                self.consts.pop(target, None)
        elif isinstance(node, ast.With):
            self.with_block(node)
        elif isinstance(node, ast.If):
            for sub in node.body:
                if isinstance(sub, ast.With):
                    self.with_block(sub)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.outside(node.value)
            q = self.qual(node.value.func)
            if q == "numpy.random.seed" and node.value.args:
                try:
                    self.project.training.seed = int(self.value(node.value.args[0]))
                except (Unmapped, TypeError, ValueError):
                    self.note(node, "np.random.seed argument not a literal; seed 0 used")

    def outside(self, value: ast.AST) -> None:
        """Network objects created outside a network context are listed, not added."""
        what = self.kind(value, "")
        if what in ("Population", "InputLayer", "Layer", "Connection"):
            self.note(value, f"{what} outside a 'with network:' block not imported")

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
        self.consts[target] = _Network(self.kind(call, "") == "SequentialNetwork")
        for a in call.args[:1] + [k.value for k in call.keywords if k.arg == "default_params"]:
            if isinstance(a, ast.Name) and a.id in self.dp_names:
                self.default_params = self.dp_names[a.id]
            else:
                self.note(a, f"network default_params '{ast.unparse(a)}' not recognised")

    def with_block(self, node: ast.With) -> None:
        item = node.items[0].context_expr if node.items else None
        net = self.consts.get(item.id) if isinstance(item, ast.Name) else None
        if not isinstance(net, _Network):
            return
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
            else:
                self.note(st, f"statement in the network block not mapped: "
                              f"{ast.unparse(st).splitlines()[0][:80]}")

    # ---- populations and connections ---------------------------------
    def unique(self, base: str) -> str:
        base = re.sub(r"\W", "_", base)[:90] or "pop"
        if not NAME_RE.match(base):
            base = f"p_{base}"
        return self.project.unique_name(base)

    def population(self, call: ast.Call, var: str | None, layer: bool) -> str | None:
        order = (["connectivity", "neuron", "shape", "synapse", "record_spikes",
                  "record_spike_events", "max_delay_steps", "name"] if layer else
                 ["neuron", "shape", "record_spikes", "record_spike_events", "name"])
        a = self.args(call, order, "population")
        neuron = a.get("neuron")
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
        params = self.params(schema.model_params(model), nargs, model, defaults)
        size = 1
        if "shape" in a:
            try:
                shape = self.value(a["shape"])
                dims = shape if isinstance(shape, tuple | list) else (shape,)
                size = int(math.prod(int(d) for d in dims))
                if len(dims) > 1:
                    self.note(a["shape"], f"shape {tuple(dims)} flattened to {size} neurons")
                if size < 1:
                    raise ValueError("empty shape")
            except (Unmapped, TypeError, ValueError) as e:
                self.note(a["shape"], f"shape '{ast.unparse(a['shape'])}' not mapped ({e}); "
                                      "size 1 used")
                size = 1
        else:
            self.note(call, "population without a shape: size 1 used")
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
                self.note(a["record_spikes"], "record_spikes not a literal")
        if "record_spike_events" in a:
            self.note(a["record_spike_events"], "record_spike_events has no equivalent")
        pop = PopulationSpec(self.project.new_id("p"), self.unique(name), model, size, params,
                             readout, record)
        self.project.populations.append(pop)
        if var:
            self.vars[var] = pop.id
        return pop.id

    def defaults_for(self, cls: str, given: dict[str, ast.AST]) -> dict[str, Any]:
        """The network's default_params for a class, for arguments not given."""
        if self.default_params is None:
            return {}
        table = schema.COMPILERS[self.default_params].default_params.get(cls, {})
        return {k: v for k, v in table.items() if k not in given}

    def readout(self, node: ast.AST | None, model: str) -> str | None:
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

    def connection(self, call: ast.Call, var: str | None, source_id: str | None,
                   target_id: str | None, layer: bool) -> None:
        order = (["connectivity", "neuron", "shape", "synapse", "record_spikes",
                  "record_spike_events", "max_delay_steps", "name"] if layer else
                 ["source", "target", "connectivity", "synapse", "name", "max_delay_steps"])
        a = self.args(call, order, "connection")
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
        conn_node = a.get("connectivity")
        kind = self.kind(conn_node, "connectivity") if conn_node is not None else None
        if kind not in schema.CONNECTIVITY:
            self.note(call, f"connectivity '{ast.unparse(conn_node) if conn_node else '?'}' has "
                            "no Spike Studio equivalent: Dense used")
            connectivity = {"type": "Dense", **schema.defaults(schema.CONNECTIVITY["Dense"])}
            weight = {"type": "Normal", **schema.defaults(schema.INITIALIZERS["Normal"])}
        else:
            assert isinstance(conn_node, ast.Call)
            corder = (["p", "weight", "allow_self_connections", "delay"]
                      if kind == "FixedProbability" else ["weight", "delay"])
            cargs = self.args(conn_node, corder, kind)
            weight = self.weight(cargs.pop("weight", None), conn_node)
            connectivity = {"type": kind,
                            **self.params(schema.CONNECTIVITY[kind], cargs, kind)}
        synapse = self.synapse(a.get("synapse"))
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
                self.note(a["max_delay_steps"], f"max_delay_steps not mapped ({e})")
        conn = ConnectionSpec(self.project.new_id("c"), self.unique(name), source_id,
                              target_id, connectivity, weight, synapse, mds)
        self.project.connections.append(conn)
        if var:
            self.conn_vars[var] = conn.id

    def weight(self, node: ast.AST | None, where: ast.AST) -> dict[str, Any]:
        default = {"type": "Normal", **schema.defaults(schema.INITIALIZERS["Normal"])}
        if node is None:
            self.note(where, "connectivity without a weight: Normal(0, 1) used")
            return default
        kind = self.kind(node, "initializers")
        if kind is not None:
            if kind not in schema.INITIALIZERS or kind == "Constant":
                self.note(node, f"initializer {kind} has no equivalent: Normal(0, 1) used")
                return default
            assert isinstance(node, ast.Call)
            table = schema.INITIALIZERS[kind]
            given = self.args(node, [p.name for p in table], kind)
            return {"type": kind, **self.params(table, given, kind)}
        try:
            v = self.value(node)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return {"type": "Constant", "value": float(v)}
        except Unmapped:
            pass
        self.note(node, f"weight '{ast.unparse(node)[:60]}' (array or expression) not mapped: "
                        "Normal(0, 1) used")
        return default

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

    # ---- compiler and train loop -------------------------------------
    def find_compiler_and_loop(self) -> None:
        compilers = [n for n in ast.walk(self.tree)
                     if isinstance(n, ast.Call) and self.kind(n, "compilers") is not None]
        known = [n for n in compilers if self.kind(n, "compilers") in schema.COMPILERS]
        for n in compilers:
            if n not in known:
                self.note(n, f"compiler {self.kind(n, 'compilers')} has no Spike Studio "
                             "equivalent")
        if not known:
            self.note(None, "no compiler found: EventPropCompiler defaults used")
        else:
            training = [n for n in known if self.kind(n, "compilers") != "InferenceCompiler"]
            chosen = (training or known)[0]
            for n in known:
                if n is not chosen:
                    self.note(n, f"another compiler ({self.kind(n, 'compilers')}) ignored")
            self.compiler(chosen)
        self.train_loop()
        self.dataset()

    def compiler(self, call: ast.Call) -> None:
        kind = self.kind(call, "compilers")
        assert kind is not None
        info = schema.COMPILERS[kind]
        spec = new_compiler(kind)
        order = [info.timesteps_arg] + (["losses", "optimiser"] if info.has_losses else [])
        order += [p.name for p in info.params if p.name not in order]
        given = self.args(call, order, kind)
        losses = given.pop("losses", None)
        optimiser = given.pop("optimiser", None)
        delay_opt = given.pop("delay_optimiser", None)
        delay_conns = given.pop("delay_learn_conns", None)
        if info.has_losses:
            if losses is None:
                self.note(call, f"{kind} without losses: sparse_categorical_crossentropy used")
            else:
                spec.loss = self.loss(losses)
        if info.has_optimiser and optimiser is not None:
            spec.optimiser = self.optimiser(optimiser)
        if delay_opt is not None:
            spec.delay_optimiser = self.optimiser(delay_opt)
        if delay_conns is not None:
            items = delay_conns.elts if isinstance(delay_conns, ast.List | ast.Tuple) else []
            if not items and not isinstance(delay_conns, ast.List | ast.Tuple):
                self.note(delay_conns, "delay_learn_conns not a list: ignored")
            for e in items:
                cid = self.conn_vars.get(e.id) if isinstance(e, ast.Name) else None
                if cid is None:
                    self.note(e, f"delay_learn_conns entry '{ast.unparse(e)}' is not an "
                                 "imported connection")
                else:
                    spec.delay_learn_conns.append(cid)
        spec.params = self.params(info.params, given, kind)
        self.project.compiler = spec

    def loss(self, node: ast.AST) -> dict[str, Any]:
        if isinstance(node, ast.Dict):
            if len(node.values) != 1:
                self.note(node, "one loss per output is not supported: the first is used")
            node = node.values[0] if node.values else ast.Constant(None)
        kind = self.kind(node, "losses")
        if kind is not None:
            if kind == "RelativeMeanSquareError":
                assert isinstance(node, ast.Call)
                table = schema.LOSSES[kind]
                return {"type": kind, **self.params(table, self.args(node, ["delta"], kind),
                                                    kind)}
            name = _snake(kind)
            if name in schema.LOSSES and not (isinstance(node, ast.Call)
                                              and (node.args or node.keywords)):
                return {"type": name}
        else:
            try:
                name = self.value(node)
                if name in schema.LOSSES and name != "RelativeMeanSquareError":
                    return {"type": name}
            except Unmapped:
                pass
        self.note(node, f"loss '{ast.unparse(node)}' not mapped: "
                        "sparse_categorical_crossentropy used")
        return {"type": "sparse_categorical_crossentropy"}

    def optimiser(self, node: ast.AST) -> dict[str, Any]:
        kind = self.kind(node, "optimisers")
        if kind is None:
            try:
                kind = str(self.value(node)).capitalize()
            except Unmapped:
                kind = None
        if kind not in schema.OPTIMISERS:
            self.note(node, f"optimiser '{ast.unparse(node)}' not mapped: Adam used")
            kind = "Adam"
        table = schema.OPTIMISERS[kind]
        given = self.args(node, [p.name for p in table], kind) \
            if isinstance(node, ast.Call) else {}
        return {"type": kind, **self.params(table, given, kind)}

    def train_loop(self) -> None:
        t = self.project.training
        if isinstance(self.consts.get("MAX_EXAMPLES"), int):
            t.max_examples = self.consts["MAX_EXAMPLES"]
        for n in ast.walk(self.tree):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                    and n.func.attr in ("train", "evaluate") and n.args):
                continue
            self.bind(n)
            if n.func.attr != "train":
                continue
            given = self.args(n, ["x", "y", "num_epochs", "start_epoch", "shuffle"], "train")
            for key, check in (("num_epochs", lambda v: int(v) >= 1),
                               ("shuffle", lambda v: isinstance(v, bool)),
                               ("validation_split", lambda v: 0 <= float(v) <= 0.99)):
                if key in given:
                    try:
                        v = self.value(given[key])
                        if not check(v):
                            raise Unmapped(f"{v!r} out of range")
                        setattr(t, key, v)
                    except (Unmapped, TypeError, ValueError) as e:
                        self.note(given[key], f"train {key} not mapped ({e})")
            for key in given:
                if key not in ("x", "y", "num_epochs", "shuffle", "validation_split", "metrics",
                               "callbacks", "validation_callbacks"):
                    self.note(given[key], f"train argument {key} not mapped")
            return

    def bind(self, call: ast.Call) -> None:
        """Bind the dataset to the populations the train/evaluate call feeds."""
        for node, attr in zip(call.args[:2], ("input", "output"), strict=False):
            if isinstance(node, ast.Dict) and len(node.keys) == 1 \
                    and isinstance(node.keys[0], ast.Name) and node.keys[0].id in self.vars:
                pid = self.vars[node.keys[0].id]
                many = (self.project.inputs() if attr == "input" else self.project.outputs())
                if len(many) > 1 and pid in {p.id for p in many}:
                    setattr(self.project.dataset, attr, pid)

    def dataset(self) -> None:
        raw = self.consts.get("DATASET")
        if raw is None:
            self.note(None, "dataset loading is not mapped (no DATASET constant): choose the "
                            "data in the Dataset tab")
            return
        try:
            ds = parse_dataset(raw)
        except ProjectError as e:
            self.note(None, f"DATASET constant not valid ({e}): dataset not imported")
            return
        ds.input, ds.output = self.project.dataset.input, self.project.dataset.output
        self.project.dataset = ds

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


@dataclass
class _Network:
    sequential: bool


def import_mlgenn_source(source: str, filename: str = "<script>") -> ImportResult:
    """Read an mlGeNN script's text into a project (raises SyntaxError when it
    is not Python)."""
    tree = ast.parse(source, filename=filename)
    return _Reader(tree).read()


def import_mlgenn_file(path: str | os.PathLike[str]) -> ImportResult:
    """Read an mlGeNN script file into a project; the script is never run.

    Raises ``ValueError`` for a Spike Studio project file (open it instead).
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".ssproj" or _is_project_json(text):
        raise ValueError(f"{p.name} is a Spike Studio project, not an mlGeNN script: open it "
                         f"(spike-studio {p.name}) instead of importing it")
    result = import_mlgenn_source(text, str(p))
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
