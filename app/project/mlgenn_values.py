"""Values of an mlGeNN script's expressions, worked out from its syntax tree alone.

The importer never runs a script. This module follows assignments in source
order (module level and inside ``with``/``if``/``for`` blocks, so a name is
resolved to what it was last assigned before its use), folds literals and
arithmetic, and knows a few facts about the datasets mlGeNN's examples load
(tonic's SHD: 700 channels, 20 classes; the ``mnist`` package: 28 x 28
images, 10 classes). What stays unknown raises :class:`DataDerived` carrying
the script's expression, so the importer can keep it as a question instead of
inventing a number. ``np.load`` of a ``.npy`` file next to the script is read
with ``allow_pickle=False`` (data only, no code).
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_SAFE_CALLS = {"int": int, "float": float, "abs": abs, "round": round, "len": len,
               "min": min, "max": max, "ceil": math.ceil, "floor": math.floor,
               "sqrt": math.sqrt, "prod": lambda v: math.prod(v)}
_MAX_DEPTH = 40


class Unmapped(Exception):
    """A construct that has no project equivalent."""


class DataDerived(Unmapped):
    """A value the script computes from data (or anything run-time): ``expr`` is the
    script's text of it, following names back to their definitions."""

    def __init__(self, expr: str) -> None:
        super().__init__(f"computed from data: {expr}")
        self.expr = expr


@dataclass(frozen=True)
class DatasetFacts:
    """What is known about a dataset object a script creates."""

    name: str
    sensor_size: tuple[int, ...]
    classes: int

    def attr(self, name: str) -> Any:
        if name == "sensor_size":
            return self.sensor_size
        if name == "classes":
            return tuple(range(self.classes))
        raise AttributeError(name)


@dataclass(frozen=True)
class ArrayFacts:
    """An array whose shape (not values) is known, e.g. mnist.train_images()."""

    shape: tuple[int, ...]
    source: str


#: Dataset constructors of the examples: qualified name -> facts.
DATASETS = {"tonic.datasets.SHD": DatasetFacts("SHD", (700, 1, 1), 20),
            "tonic.datasets.hsd.SHD": DatasetFacts("SHD", (700, 1, 1), 20)}
#: Functions of the ``mnist`` package -> the shape of what they return.
MNIST = {"mnist.train_images": (60000, 28, 28), "mnist.test_images": (10000, 28, 28),
         "mnist.train_labels": (60000,), "mnist.test_labels": (10000,)}


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Values:
    """Names in scope and the evaluation of expressions (literals only)."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self.names: dict[str, str] = {}  # local name -> qualified imported name
        self.env: dict[str, ast.AST] = {}  # variable -> expression last assigned to it
        self.base_dir = base_dir
        self.loaded: dict[str, np.ndarray] = {}  # .npy path -> array read
        #: names of the dataset facts the last evaluations used (cleared by the caller)
        self.facts_used: set[str] = set()
        self._depth = 0

    # ---- scope -------------------------------------------------------
    def qual(self, func: ast.AST) -> str | None:
        """Qualified name of a called name (``ml_genn.neurons.LeakyIntegrateFire``)."""
        if isinstance(func, ast.Name):
            if func.id in self.names:
                return self.names[func.id]
            node = self.env.get(func.id)
            if isinstance(node, (ast.Name, ast.Attribute)) and node is not func:
                return self.qual(node)  # an alias: cls = ml_genn.neurons.Foo
            return None
        if isinstance(func, ast.Attribute):
            base = self.qual(func.value)
            return f"{base}.{func.attr}" if base else None
        return None

    def imported(self, node: ast.stmt) -> None:
        """Record an import statement's names."""
        if isinstance(node, ast.Import):
            for a in node.names:
                local = a.asname or a.name.split(".")[0]
                self.names[local] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                self.names[a.asname or a.name] = f"{node.module}.{a.name}"

    def assign(self, target: ast.AST, value: ast.AST) -> None:
        """Remember ``target = value`` (tuple targets: each name becomes unknown)."""
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            self.names.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self.assign(t, v)
            else:
                for t in target.elts:
                    self.assign(t, value)

    def resolve(self, node: ast.AST) -> ast.AST:
        """Follow a name to the expression it was last assigned (once per step)."""
        seen = 0
        while isinstance(node, ast.Name) and node.id in self.env and seen < _MAX_DEPTH:
            nxt = self.env[node.id]
            if nxt is node:
                break
            node = nxt
            seen += 1
        return node

    def source(self, node: ast.AST) -> str:
        """The script's text of ``node``, with the definitions of the names it uses."""
        text = ast.unparse(node)
        defs: list[str] = []
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in self.env:
                d = f"{n.id} = {ast.unparse(self.env[n.id])}"
                if d not in defs and len(defs) < 3:
                    defs.append(d)
        out = text if not defs else f"{text}, where {'; '.join(defs)}"
        return out if len(out) <= 300 else out[:297] + "..."

    # ---- evaluation --------------------------------------------------
    def value(self, node: ast.AST) -> Any:
        """A literal value (constants, arithmetic, known data facts)."""
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise Unmapped("expression too deep")
            return self._value(node)
        finally:
            self._depth -= 1

    def _value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.env:
                target = self.env[node.id]
                try:
                    return self.value(target)
                except Unmapped:
                    raise DataDerived(_short(f"{node.id} = {self.source(target)}")) from None
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            raise DataDerived(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            v = self.value(node.operand)
            return -v if isinstance(node.op, ast.USub) else (
                +v if isinstance(node.op, ast.UAdd) else not v)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.BoolOp):
            vals = [self.value(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self.value(node.body if self.value(node.test) else node.orelse)
        if isinstance(node, ast.Tuple | ast.List):
            items = [self.value(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise Unmapped("dict unpacking")
            return {self.value(k): self.value(v)  # type: ignore[arg-type]
                    for k, v in zip(node.keys, node.values, strict=True)}
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            index = self.value(node.slice)
            if isinstance(base, ArrayFacts):
                if isinstance(index, int):
                    return ArrayFacts(base.shape[1:], base.source)
                raise DataDerived(ast.unparse(node))
            try:
                return base[index]
            except (TypeError, IndexError, KeyError) as e:
                raise Unmapped(str(e)) from None
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise DataDerived(ast.unparse(node))

    def _binop(self, node: ast.BinOp) -> Any:
        a, b = self.value(node.left), self.value(node.right)
        if isinstance(node.op, ast.Pow):
            if isinstance(a, int | float) and isinstance(b, int | float) and abs(b) <= 64:
                return a ** b
            raise Unmapped("unsupported power")
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
               ast.Div: lambda: a / b, ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b}
        for op, fn in ops.items():
            if isinstance(node.op, op):
                try:
                    return fn()
                except (TypeError, ZeroDivisionError) as e:
                    raise Unmapped(str(e)) from None
        raise Unmapped("unsupported operator")

    def _compare(self, node: ast.Compare) -> bool:
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node)
            fns = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                   ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
                   ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
                   ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b}
            fn = fns.get(type(op))
            if fn is None:
                raise Unmapped("unsupported comparison")
            try:
                if not fn(left, right):
                    return False
            except TypeError as e:
                raise Unmapped(str(e)) from None
            left = right
        return True

    def _attribute(self, node: ast.Attribute) -> Any:
        q = self.qual(node)
        if q in ("numpy.pi", "math.pi"):
            return math.pi
        if q in ("numpy.e", "math.e"):
            return math.e
        base = self.value(node.value)
        if isinstance(base, DatasetFacts):
            try:
                return base.attr(node.attr)
            except AttributeError:
                raise DataDerived(ast.unparse(node)) from None
        if isinstance(base, (ArrayFacts, np.ndarray)) and node.attr == "shape":
            return tuple(base.shape)
        raise DataDerived(ast.unparse(node))

    def _call(self, node: ast.Call) -> Any:
        q = self.qual(node.func)
        if q in DATASETS:
            self.facts_used.add(f"{DATASETS[q].name} (tonic)")
            return DATASETS[q]
        if q in MNIST:
            self.facts_used.add("MNIST (mnist package)")
            return ArrayFacts(MNIST[q], q)
        if q in ("numpy.load",) and node.args:
            return self.load_npy(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "reshape" \
                and q is None:
            base = self.value(node.func.value)
            shape = [self.value(a) for a in node.args]
            return self._reshape(base, shape[0] if len(shape) == 1 else tuple(shape))
        if q in ("numpy.reshape",) and len(node.args) == 2:
            return self._reshape(self.value(node.args[0]), self.value(node.args[1]))
        fname = None
        if isinstance(node.func, ast.Name) and node.func.id not in self.env \
                and node.func.id not in self.names:
            fname = node.func.id
        elif q is not None and q.split(".")[0] in ("numpy", "math"):
            fname = q.split(".")[-1]
        if fname in _SAFE_CALLS and not node.keywords:
            args = [self.value(a) for a in node.args]
            if fname == "len" and args and isinstance(args[0], ArrayFacts):
                return args[0].shape[0]
            try:
                return _SAFE_CALLS[fname](*args)
            except (TypeError, ValueError) as e:
                raise Unmapped(str(e)) from None
        raise DataDerived(ast.unparse(node))

    @staticmethod
    def _reshape(base: Any, shape: Any) -> ArrayFacts:
        if not isinstance(base, (ArrayFacts, np.ndarray)):
            raise Unmapped("reshape of an unknown array")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        total = math.prod(base.shape)
        if shape.count(-1) == 1:
            known = math.prod(s for s in shape if s != -1)
            shape = tuple(total // known if s == -1 else s for s in shape)
        return ArrayFacts(shape, getattr(base, "source", "array"))

    def load_npy(self, node: ast.Call) -> np.ndarray:
        """``np.load("file.npy")`` relative to the script: the array (data only)."""
        try:
            name = self.value(node.args[0])
        except Unmapped:
            raise DataDerived(ast.unparse(node)) from None
        if not isinstance(name, str) or not name.endswith(".npy"):
            raise DataDerived(ast.unparse(node))
        if self.base_dir is None:
            raise DataDerived(f"{ast.unparse(node)} (the script's folder is not known)")
        path = (self.base_dir / name).resolve()
        if str(path) not in self.loaded:
            try:
                self.loaded[str(path)] = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise DataDerived(f"{ast.unparse(node)} ({e})") from None
        return self.loaded[str(path)]
