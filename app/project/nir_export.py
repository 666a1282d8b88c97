"""Export a project as a NIR graph (``.nir``, the Neuromorphic Intermediate Representation).

Every population becomes a node named after it (``Input`` for spike inputs,
``CubaLIF``/``LIF`` for LIF and ALIF neurons, ``CubaLI``/``LI`` for leaky
integrators), every connection a ``Linear`` node holding its weights
(``weight[post, pre]``: the trained weights, or the initial ones drawn as the
engine draws them), followed by a ``Delay`` node when it has a delay; each
population with a readout feeds an ``Output`` node.  Parameters follow
:mod:`app.project.nir_mapping`, under which our discrete-time update is the
exact sampled solution of the NIR equations.  A population receiving synapses
of different kinds gets a plain ``LIF``/``LI`` node and each Exponential
connection its own ``LI`` node as the synaptic filter.

What NIR cannot express (refractory periods, adaptation, subtractive reset,
initial voltages, Poisson rate coding, readouts, training settings) is
returned as a list of notes for the user.  It is also kept, with every
project setting, in the nodes' and graph's ``metadata["spike_studio"]`` (JSON
text), which NIR tools ignore and :mod:`app.project.nir_import` reads back so
that export followed by import gives the same document.

The ``nir`` package is an optional extra (``pip install 'spike-studio[nir]'``);
it is imported only when a graph is built.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project import nir_mapping as nm
from app.project.document import ConnectionSpec, PopulationSpec, Project
from app.project.errors import ProjectError
from app.project.io import atomic_write_bytes, load_project

#: Key of our entry in NIR ``metadata`` dictionaries (its value is JSON text).
META_KEY = "spike_studio"
#: Version of the metadata layout written by this module.
META_VERSION = 1
NIR_SUFFIX = ".nir"


def require_nir() -> Any:
    """The ``nir`` module, or a :class:`ProjectError` saying how to install it."""
    try:
        import nir
    except ImportError:
        raise ProjectError("NIR export and import need the optional 'nir' package: "
                           "pip install 'spike-studio[nir]'") from None
    return nir


def weights_digest(weight: np.ndarray) -> str:
    """SHA-256 of a float32 weight matrix: tells an untouched initial matrix
    from one changed by another tool."""
    return hashlib.sha256(np.ascontiguousarray(weight, dtype=np.float32).tobytes()).hexdigest()


@dataclass
class NirExport:
    """A NIR graph built from a project and what it could not express."""

    graph: Any  # nir.NIRGraph
    unmapped: list[str] = field(default_factory=list)


def _meta(data: dict[str, Any]) -> dict[str, str]:
    return {META_KEY: json.dumps(data, sort_keys=True, allow_nan=False)}


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, value, dtype=np.float32)


def connection_matrices(project: Project) -> dict[str, np.ndarray]:
    """Dense ``[pre, post]`` float32 weights of every connection: the trained ones
    where the project has them, otherwise drawn from the initializers exactly as
    the engine draws them (compiler ``rng_seed``), zeros where no synapse exists."""
    from app.project.build import build_network
    from app.training.engine.layout import build_layout

    network, _, conns = build_network(project, use_weights=True)
    dt = float(project.compiler.params["dt"])
    seed = int(project.compiler.params.get("rng_seed", 0))
    layout = build_layout(network, dt, np.random.default_rng(seed))
    out: dict[str, np.ndarray] = {}
    for c in project.connections:
        table = layout.tables[conns[c.id].name]
        n_pre = project.population(c.source).size
        n_post = project.population(c.target).size
        rows = np.repeat(np.arange(n_pre), np.diff(table.row_ptr))
        dense = np.zeros((n_pre, n_post), dtype=np.float32)
        dense[rows, table.post] = table.weight
        out[c.id] = dense
    return out


class _Exporter:
    def __init__(self, project: Project, nir: Any) -> None:
        self.project = project
        self.nir = nir
        self.dt = float(project.compiler.params["dt"])
        self.notes: list[str] = []
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []

    def key(self, base: str) -> str:
        """A node name not used yet (population and connection names are unique)."""
        used = set(self.nodes) | {p.name for p in self.project.populations} \
            | {c.name for c in self.project.connections}
        name, i = base, 2
        while name in used:
            name, i = f"{base}_{i}", i + 1
        return name

    # ---- neurons ------------------------------------------------------
    def synapses_into(self, pop: PopulationSpec) -> list[dict[str, Any]]:
        """Distinct synapse specs of the connections a population receives."""
        kinds: list[dict[str, Any]] = []
        for c in self.project.connections:
            if c.target == pop.id and self.spiking(c.source) and c.synapse not in kinds:
                kinds.append(c.synapse)
        return kinds

    def spiking(self, pid: str) -> bool:
        return self.project.population(pid).model != "LeakyIntegrate"

    def neuron(self, pop: PopulationSpec) -> tuple[Any, float, dict[str, Any] | None]:
        """(NIR node, r of a directly fed input, shared Exponential synapse or None)."""
        nir, n, dt = self.nir, pop.size, self.dt
        prm = pop.params
        tau_mem = float(prm["tau_mem"])
        scale_i = bool(prm.get("scale_i", False))
        kinds = self.synapses_into(pop)
        shared = kinds[0] if len(kinds) == 1 and kinds[0]["type"] == "Exponential" else None
        r_direct = nm.delta_r(tau_mem, dt, scale_i)
        meta = _meta(pop.to_dict())
        if pop.model == "LeakyIntegrate":
            v_leak = _full(n, nm.leak_from_bias(float(prm["bias"]), tau_mem, dt))
            if shared is not None:
                r = nm.exponential_r(tau_mem, shared["tau"], dt, scale_i, shared["scale_i"])
                node = nir.CubaLI(tau_syn=_full(n, shared["tau"]), tau_mem=_full(n, tau_mem),
                                  r=_full(n, r), v_leak=v_leak, w_in=_full(n, 1.0), metadata=meta)
            else:
                node = nir.LI(tau=_full(n, tau_mem), r=_full(n, r_direct), v_leak=v_leak,
                              metadata=meta)
            return node, r_direct, shared
        v_th, v_reset = _full(n, prm["v_thresh"]), _full(n, prm["v_reset"])
        if shared is not None:
            r = nm.exponential_r(tau_mem, shared["tau"], dt, scale_i, shared["scale_i"])
            node = nir.CubaLIF(tau_syn=_full(n, shared["tau"]), tau_mem=_full(n, tau_mem),
                               r=_full(n, r), v_leak=_full(n, 0.0), v_threshold=v_th,
                               v_reset=v_reset, w_in=_full(n, 1.0), metadata=meta)
        else:
            node = nir.LIF(tau=_full(n, tau_mem), r=_full(n, r_direct), v_leak=_full(n, 0.0),
                           v_threshold=v_th, v_reset=v_reset, metadata=meta)
        self.note_lif(pop)
        return node, r_direct, shared

    def note_lif(self, pop: PopulationSpec) -> None:
        prm, name = pop.params, pop.name
        if pop.model == "AdaptiveLeakyIntegrateFire":
            self.notes.append(f"{name}: spike-frequency adaptation (beta={prm['beta']:g}, "
                              f"tau_adapt={prm['tau_adapt']:g} ms) is not in NIR; exported as "
                              "a LIF without adaptation")
        if prm.get("tau_refrac") not in (None, 0.0):
            self.notes.append(f"{name}: refractory period tau_refrac={prm['tau_refrac']:g} ms "
                              "is not in NIR; the receiving tool will not hold the neuron "
                              "after a spike")
        if prm.get("relative_reset"):
            self.notes.append(f"{name}: subtractive reset (V -= v_thresh - v_reset) is not in "
                              f"NIR, which resets to v_reset={prm['v_reset']:g}; use your "
                              "tool's subtractive reset (Norse: reset_subtract) to match")

    def population(self, pop: PopulationSpec) -> tuple[float, dict[str, Any] | None]:
        nir = self.nir
        if pop.is_input:
            self.nodes[pop.name] = nir.Input(input_type={"input": np.array([pop.size])},
                                             metadata=_meta(pop.to_dict()))
            if pop.model == "PoissonInput":
                self.notes.append(f"{pop.name}: Poisson rate coding is not in NIR; the Input "
                                  "node takes spike trains (encode rates before feeding it)")
            return 0.0, None
        node, r_direct, shared = self.neuron(pop)
        self.nodes[pop.name] = node
        v0 = pop.params.get("v", 0.0)
        if v0 != 0.0 or pop.params.get("a", 0.0) != 0.0:
            self.notes.append(f"{pop.name}: initial state (v={v0:g}) is not in NIR; tools "
                              "start from rest")
        if pop.readout is not None:
            out = self.key(f"{pop.name}_output")
            self.nodes[out] = nir.Output(output_type={"output": np.array([pop.size])},
                                         metadata=_meta({"population": pop.name}))
            self.edges.append((pop.name, out))
            what = "spikes" if pop.model != "LeakyIntegrate" else "membrane voltage"
            self.notes.append(f"{pop.name}: readout '{pop.readout}' is not in NIR; the Output "
                              f"node carries the {what} and the receiving tool computes the "
                              "readout")
        return r_direct, shared

    # ---- connections --------------------------------------------------
    def connection(self, c: ConnectionSpec, weight: np.ndarray, trained: bool,
                   targets: dict[str, tuple[float, dict[str, Any] | None]]) -> None:
        nir, dt = self.nir, self.dt
        src = self.project.population(c.source)
        tgt = self.project.population(c.target)
        if not self.spiking(c.source):
            self.notes.append(f"{c.name}: its source {src.name} is a leaky integrator, which "
                              "never spikes here but would pass its voltage in NIR; not exported")
            return
        meta = c.to_dict()
        meta["weights"] = "trained" if trained else "initial"
        meta["sha256"] = weights_digest(weight.T)
        self.nodes[c.name] = nir.Linear(weight=np.ascontiguousarray(weight.T, dtype=np.float32),
                                        metadata=_meta(meta))
        self.edges.append((src.name, c.name))
        last = c.name
        delay = int(c.connectivity.get("delay", 0))
        if delay:
            key = self.key(f"{c.name}_delay")
            self.nodes[key] = nir.Delay(delay=_full(tgt.size, delay * dt),
                                        metadata=_meta({"connection": c.name}))
            self.edges.append((last, key))
            last = key
        r_direct, shared = targets[c.target]
        if c.synapse["type"] == "Exponential" and shared is None:
            tau_mem = float(tgt.params["tau_mem"])
            r = nm.exponential_r(tau_mem, c.synapse["tau"], dt,
                                 bool(tgt.params.get("scale_i", False)), c.synapse["scale_i"])
            key = self.key(f"{c.name}_synapse")
            self.nodes[key] = nir.LI(tau=_full(tgt.size, c.synapse["tau"]),
                                     r=_full(tgt.size, r / r_direct),
                                     v_leak=_full(tgt.size, 0.0),
                                     metadata=_meta({"connection": c.name}))
            self.edges.append((last, key))
            last = key
        self.edges.append((last, tgt.name))
        if not trained:
            w = c.weight
            init = ", ".join(f"{k}={v:g}" for k, v in w.items() if k != "type")
            self.notes.append(f"{c.name}: no trained weights; exported the initial weights "
                              f"drawn from {w['type']}({init}) with rng_seed "
                              f"{self.project.compiler.params.get('rng_seed', 0)}")
        if c.id in self.project.compiler.delay_learn_conns:
            self.notes.append(f"{c.name}: EventProp learns this connection's delays but the "
                              "project stores only weights; the Delay node holds the initial "
                              "delay")

    def build(self) -> NirExport:
        project = self.project
        matrices = connection_matrices(project)
        targets = {p.id: self.population(p) for p in project.populations}
        for c in project.connections:
            self.connection(c, matrices[c.id], c.id in project.weights, targets)
        comp = project.compiler
        if comp.type == "EPropCompiler" and comp.params.get("train_output_bias") \
                and project.weights:
            for p in project.outputs():
                if p.model == "LeakyIntegrate":
                    self.notes.append(f"{p.name}: the output bias e-prop trains "
                                      "(train_output_bias) is not stored in the project; "
                                      f"exported the bias parameter {p.params['bias']:g}")
        self.notes.append(f"training set-up ({comp.info.label} compiler, loss, optimiser, "
                          "dataset, epochs) is not part of NIR: kept in the graph's metadata "
                          "for Spike Studio only")
        meta = {k: v for k, v in project.to_dict().items()
                if k not in ("populations", "connections", "weights")}
        meta.update(exporter="spike-studio", meta_version=META_VERSION, dt=self.dt,
                    order=[p.id for p in project.populations]
                    + [c.id for c in project.connections])
        graph = self.nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata=_meta(meta),
                                  type_check=True)
        return NirExport(graph, self.notes)


def project_to_nir(project: Project) -> NirExport:
    """Build the NIR graph of a project (raises ProjectError when the project
    cannot be built or the ``nir`` package is missing)."""
    nir = require_nir()
    if not project.populations:
        raise ProjectError("the project has no populations to export", "populations")
    return _Exporter(project, nir).build()


def nir_bytes(graph: Any) -> bytes:
    """The HDF5 bytes NIR's writer produces for ``graph``."""
    nir = require_nir()
    buf = io.BytesIO()
    nir.write(buf, graph)
    return buf.getvalue()


def write_nir(project: Project, path: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """Write ``project`` as a NIR file atomically; returns (path, what NIR cannot express)."""
    result = project_to_nir(project)
    out = Path(path)
    atomic_write_bytes(out, nir_bytes(result.graph))
    return out, result.unmapped


def export_nir_file(project_path: str | os.PathLike[str],
                    out: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """Headless ``spike-studio export PROJECT --to nir -o net.nir``."""
    return write_nir(load_project(project_path), out)
