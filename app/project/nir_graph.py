"""Walking a NIR graph for the importer: nested graphs inlined, and every chain of
pass-through nodes between two neuron nodes traced into one weight matrix,
bias, delay and synaptic filter (no ``nir`` import here; the module is passed in)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.project.errors import ProjectError

#: NIR node types that become Spike Studio populations.
SPIKING = ("CubaLIF", "LIF", "IF")
INTEGRATORS = ("CubaLI", "LI", "I")
#: Node types a connection may pass through.
PASS = ("Linear", "Affine", "Scale", "Delay", "Flatten")


def values(value: Any) -> np.ndarray:
    """A NIR parameter (number, 0-d or n-d array, tensor-like) as a flat float64 array."""
    return np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()


@dataclass
class Chain:
    """What lies between two population nodes (a chain of pass-through nodes)."""

    weight: np.ndarray | None = None  # (n_post, n_pre); None: identity
    bias: np.ndarray | None = None
    delay: float = 0.0  # ms
    filters: list[str] = field(default_factory=list)  # LI nodes acting as synapses
    scale_only: bool = True  # only Scale nodes (or none): elementwise
    weight_nodes: list[str] = field(default_factory=list)

    def copy(self) -> Chain:
        return Chain(self.weight, self.bias, self.delay, list(self.filters), self.scale_only,
                    list(self.weight_nodes))


class GraphView:
    """A NIR graph flattened to one level: nodes by (dotted) key, edges, neighbours."""

    def __init__(self, graph: Any, nir: Any) -> None:
        self.nir = nir
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        self.flatten(graph, "")

    def flatten(self, graph: Any, prefix: str) -> None:
        """Copy nodes and edges, inlining nested graphs through their Input/Output nodes."""
        nir = self.nir
        inner_in: dict[str, list[str]] = {}
        inner_out: dict[str, list[str]] = {}
        for key, node in graph.nodes.items():
            full = prefix + str(key)
            if isinstance(node, nir.NIRGraph):
                self.flatten(node, full + ".")
                ins = [full + "." + k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
                outs = [full + "." + k for k, n in node.nodes.items()
                        if isinstance(n, nir.Output)]
                inner_in[full] = [b for a, b in self.edges if a in ins]
                inner_out[full] = [a for a, b in self.edges if b in outs]
                self.edges = [(a, b) for a, b in self.edges if a not in ins and b not in outs]
                for k in ins + outs:
                    self.nodes.pop(k, None)
            else:
                self.nodes[full] = node
        for a, b in graph.edges:
            srcs = inner_out.get(prefix + a, [prefix + a])
            dsts = inner_in.get(prefix + b, [prefix + b])
            self.edges += [(s, d) for s in srcs for d in dsts]

    def succ(self, key: str) -> list[str]:
        return [b for a, b in self.edges if a == key]

    def pred(self, key: str) -> list[str]:
        return [a for a, b in self.edges if b == key]

    def kind(self, key: str) -> str:
        return type(self.nodes[key]).__name__

    def is_filter(self, key: str) -> bool:
        """An LI node used as a synaptic filter: it feeds neurons directly."""
        if self.kind(key) != "LI":
            return False
        outs = self.succ(key)
        return bool(outs) and all(self.kind(k) in SPIKING + INTEGRATORS for k in outs)

    def paths(self, pops: dict[str, int], notes: list[str]) -> list[tuple[str, str, Chain]]:
        """Every chain of pass-through nodes from a population node to a population
        node (``pops``: key -> size); problems are appended to ``notes``."""
        found: list[tuple[str, str, Chain]] = []
        for src, size in pops.items():
            self._walk(src, src, Chain(), size, pops, found, set(), notes)
        return found

    def _walk(self, src: str, key: str, path: Chain, width: int, pops: dict[str, int],
              found: list[tuple[str, str, Chain]], seen: set[str], notes: list[str]) -> None:
        for nxt in self.succ(key):
            kind = self.kind(nxt)
            if nxt in pops:
                found.append((src, nxt, path))
                continue
            if kind == "Output" or nxt in seen:
                continue
            step = path.copy()
            node = self.nodes[nxt]
            out_width = width
            if kind in ("Linear", "Affine", "Scale"):
                if kind == "Scale":
                    w = np.diag(values(node.scale))
                else:
                    w = np.asarray(node.weight, dtype=np.float64)
                    step.scale_only = False
                if not np.all(np.isfinite(w)):
                    raise ProjectError(f"NIR node '{nxt}': weights contain NaN or inf")
                if w.ndim != 2 or w.shape[1] != width:
                    notes.append(f"{nxt}: {kind} expects {w.shape[-1]} inputs but gets "
                                 f"{width}; path not imported")
                    continue
                step.weight = w if step.weight is None else w @ step.weight
                if step.bias is not None:
                    step.bias = w @ step.bias
                if kind == "Affine" and np.any(np.asarray(node.bias) != 0):
                    b = values(node.bias)
                    step.bias = b if step.bias is None else step.bias + b
                step.weight_nodes.append(nxt)
                out_width = w.shape[0]
            elif kind == "Delay":
                d = values(node.delay)
                if np.ptp(d) > 1e-9 * max(1.0, float(np.abs(d).max())):
                    notes.append(f"{nxt}: delays differ between neurons ({d.min():g} .. "
                                 f"{d.max():g} ms); using the mean {d.mean():g} ms")
                step.delay += float(d.mean())
            elif kind == "LI" and self.is_filter(nxt):
                step.filters.append(nxt)
            elif kind != "Flatten":
                continue  # the importer lists nodes without an equivalent
            self._walk(src, nxt, step, out_width, pops, found, seen | {nxt}, notes)
