"""Import a NIR graph (``.nir``) as a project document.

Neuron nodes become populations (``Input`` -> SpikeInput, ``CubaLIF``/``LIF``/
``IF`` -> LIF, ``CubaLI``/``LI``/``I`` -> leaky integrator); every path of
``Linear``/``Affine``/``Scale``/``Delay``/``Flatten`` nodes (and at most one
``LI`` acting as a synaptic filter) from one population to another becomes a
connection with the composed weight matrix, the summed delay and an
Exponential synapse for a ``Cuba*`` target or a filter, Delta otherwise;
``Output`` nodes give their populations a readout.  Parameters are converted
with :mod:`app.project.nir_mapping` (the inverse of the export); NIR's ``r``
and ``w_in`` are folded into the weights, which is exact.

Graphs written by :mod:`app.project.nir_export` carry our settings in
``metadata["spike_studio"]`` (JSON text): ids, names, positions, readouts, the
discrete-time flags (``scale_i``, reset, refractory period), the compiler,
dataset and training settings.  Values NIR holds (time constants, thresholds,
weights) are taken from the NIR nodes; the metadata only fills in what NIR
cannot say, so a graph edited elsewhere imports as edited.

Whatever cannot be mapped is listed in :attr:`NirImportResult.unmapped`.
The file is read with ``h5py`` through ``nir.read``; nothing in it is run.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project import nir_mapping as nm
from app.project import schema
from app.project.document import (
    ConnectionSpec,
    PopulationSpec,
    Project,
    new_compiler,
    parse_compiler,
    parse_connection,
    parse_dataset,
    parse_population,
    parse_project,
    parse_training,
)
from app.project.errors import ProjectError
from app.project.nir_export import META_KEY, META_VERSION, require_nir, weights_digest
from app.project.nir_graph import INTEGRATORS, PASS, SPIKING, Chain, GraphView, values

_SPACING_X, _SPACING_Y = 260.0, 140.0
#: Discrete-time flags of a population imported without our metadata: EventProp's
#: conventions (absolute reset, as NIR; currents scaled so weights do not depend on dt).
_FOREIGN_LIF = {"tau_refrac": None, "relative_reset": False, "integrate_during_refrac": False,
                "scale_i": True}


@dataclass
class NirImportResult:
    """The project read from a NIR graph and everything that could not be mapped."""

    project: Project
    unmapped: list[str] = field(default_factory=list)


@dataclass
class _Pop:
    """A population node being imported."""

    key: str
    kind: str  # NIR type name
    size: int
    spec: PopulationSpec
    tau_syn: float | None = None  # the node's own synaptic filter (Cuba*)
    r: np.ndarray | None = None  # NIR r * w_in per neuron (None for inputs)
    leak: np.ndarray | None = None  # v_leak per neuron, Affine biases added


def _meta(node: Any) -> dict[str, Any] | None:
    raw = (getattr(node, "metadata", None) or {}).get(META_KEY)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _same(a: float, b: float) -> bool:
    """Equal up to the float32 storage of NIR arrays."""
    return math.isclose(a, b, rel_tol=2e-7, abs_tol=1e-30)


class _Importer:
    def __init__(self, graph: Any, nir: Any, name: str) -> None:
        self.notes: list[str] = []
        self.graph = GraphView(graph, nir)
        self.nodes = self.graph.nodes
        gm = _meta(graph)
        if gm is not None and gm.get("meta_version") != META_VERSION:
            self.notes.append(f"Spike Studio metadata version {gm.get('meta_version')} not "
                              "understood: ignored")
            gm = None
        self.gm = gm or {}
        dt = self.gm.get("dt")
        if isinstance(dt, int | float) and not isinstance(dt, bool) and dt > 0:
            self.dt = float(dt)
        else:
            self.dt = 1.0
            self.notes.append("NIR has no timestep: dt = 1 ms chosen (the weights and "
                              "leak values below are converted for this dt)")
        self.project = Project(name=str(self.gm.get("name") or name)[:200])
        self.pops: dict[str, _Pop] = {}
        self.used_names: set[str] = set()
        self.used_ids: set[str] = set()

    # ---- names and values -----------------------------------------------
    def name(self, wanted: str | None, key: str) -> str:
        base = wanted if wanted and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", wanted) \
            else re.sub(r"\W", "_", key)[:90] or "node"
        if not re.match(r"[A-Za-z_]", base):
            base = f"n_{base}"
        name, i = base, 2
        while name in self.used_names:
            name, i = f"{base}_{i}", i + 1
        self.used_names.add(name)
        return name

    def ident(self, wanted: str | None, prefix: str) -> str:
        if wanted and re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", wanted) \
                and wanted not in self.used_ids:
            self.used_ids.add(wanted)
            return wanted
        i = 1
        while f"{prefix}{i}" in self.used_ids:
            i += 1
        self.used_ids.add(f"{prefix}{i}")
        return f"{prefix}{i}"

    def scalar(self, key: str, what: str, value: Any, size: int) -> float:
        """One value for the population (NIR allows one per neuron)."""
        a = values(value)
        if a.size not in (1, size):
            raise ProjectError(f"NIR node '{key}': {what} has {a.size} values for {size} "
                               "neurons")
        if not np.all(np.isfinite(a)):
            raise ProjectError(f"NIR node '{key}': {what} is not finite")
        if a.size > 1 and np.ptp(a) > 1e-6 * max(1.0, float(np.max(np.abs(a)))):
            self.notes.append(f"{key}: {what} differs between neurons ({a.min():g} .. "
                              f"{a.max():g}); Spike Studio populations share one value: "
                              f"using the mean {a.mean():g}")
        return float(a.mean())

    def per_neuron(self, key: str, what: str, value: Any, size: int) -> np.ndarray:
        """Per-neuron values (NIR allows one per neuron or one for all)."""
        a = values(value)
        if a.size not in (1, size) or not np.all(np.isfinite(a)):
            raise ProjectError(f"NIR node '{key}': {what} must be {size} finite values")
        return np.full(size, a[0]) if a.size == 1 else a

    # ---- sizes ----------------------------------------------------------
    def size_of(self, key: str) -> int | None:
        node = self.nodes[key]
        kind = self.graph.kind(key)
        if kind == "Input":
            shape = np.asarray(node.input_type["input"]).ravel()
            return int(np.prod(shape)) if shape.size else None
        for attr in ("v_threshold", "tau_mem", "tau", "r"):
            if hasattr(node, attr) and values(getattr(node, attr)).size > 1:
                return int(values(getattr(node, attr)).size)
        for p in self.graph.pred(key):
            if self.graph.kind(p) in ("Linear", "Affine"):
                return int(np.asarray(self.nodes[p].weight).shape[-2])
        for s in self.graph.succ(key):
            if self.graph.kind(s) in ("Linear", "Affine"):
                return int(np.asarray(self.nodes[s].weight).shape[-1])
            if self.graph.kind(s) == "Output":
                return int(np.prod(np.asarray(self.nodes[s].output_type["output"]).ravel()))
        return 1

    # ---- populations ----------------------------------------------------
    def populations(self) -> None:
        for key, node in self.nodes.items():
            kind = self.graph.kind(key)
            if kind == "Input" or kind in SPIKING or (kind in INTEGRATORS
                                                       and not self.graph.is_filter(key)):
                size = self.size_of(key)
                if not size or size < 1:
                    self.notes.append(f"{key}: {kind} node of unknown size not imported")
                    continue
                self.pops[key] = self.population(key, node, kind, size)
            elif kind not in PASS + ("Output", "LI"):
                self.notes.append(f"{key}: NIR {kind} node has no Spike Studio equivalent; "
                                  "paths through it are not imported")

    def population(self, key: str, node: Any, kind: str, size: int) -> _Pop:
        meta = _meta(node) or {}
        saved: PopulationSpec | None = None
        if meta:
            try:
                saved = parse_population(meta, key)
            except ProjectError as e:
                self.notes.append(f"{key}: Spike Studio metadata not valid ({e}): ignored")
        if saved is not None and saved.size != size:
            saved = None
        name = self.name(saved.name if saved else None, key)
        pid = self.ident(saved.id if saved else None, "p")
        if kind == "Input":
            model = saved.model if saved and saved.is_input else "SpikeInput"
            params = dict(saved.params) if saved and saved.model == model else \
                schema.defaults(schema.model_params(model))
            spec = PopulationSpec(pid, name, model, size, params, None,
                                  saved.record_spikes if saved else False,
                                  saved.position if saved else (0.0, 0.0))
            return _Pop(key, kind, size, spec)
        spiking = kind in SPIKING
        wanted = ("LeakyIntegrateFire", "AdaptiveLeakyIntegrateFire") if spiking \
            else ("LeakyIntegrate",)
        model = saved.model if saved and saved.model in wanted else wanted[0]
        params = {**schema.defaults(schema.model_params(model)),
                  **(_FOREIGN_LIF if spiking and saved is None else {})}
        if not spiking and saved is None:
            params["scale_i"] = True
        if saved is not None and saved.model == model:
            params.update(saved.params)
        pop = _Pop(key, kind, size, PopulationSpec(
            pid, name, model, size, params, saved.readout if saved else None,
            saved.record_spikes if saved else False, saved.position if saved else (0.0, 0.0)))
        if kind in ("IF", "I"):
            self.exact(params, "tau_mem", nm.NO_LEAK_TAU)
            if "scale_i" in params:
                params["scale_i"] = False
            self.notes.append(f"{key}: NIR {kind} has no leak: imported with tau_mem = "
                              f"{nm.NO_LEAK_TAU:g} ms (no measurable leak)")
            # dv/dt = R I is the limit of tau dv/dt = -v + (R tau) I
            pop.r = self.per_neuron(key, "r", node.r, size) * nm.NO_LEAK_TAU
            pop.leak = np.zeros(size)
        else:
            tau = node.tau_mem if kind.startswith("Cuba") else node.tau
            self.exact(params, "tau_mem", self.scalar(key, "tau_mem", tau, size))
            pop.r = self.per_neuron(key, "r", node.r, size)
            if kind.startswith("Cuba"):
                pop.tau_syn = self.scalar(key, "tau_syn", node.tau_syn, size)
                pop.r = pop.r * self.per_neuron(key, "w_in", node.w_in, size)
            pop.leak = self.per_neuron(key, "v_leak", node.v_leak, size)
        if spiking:
            self.exact(params, "v_thresh", self.scalar(key, "v_threshold", node.v_threshold,
                                                       size))
            self.exact(params, "v_reset", self.scalar(key, "v_reset", node.v_reset, size))
        return pop

    @staticmethod
    def exact(params: dict[str, Any], name: str, value: float) -> None:
        """Set ``params[name]`` unless it already holds the value up to float32."""
        old = params.get(name)
        if not (isinstance(old, float | int) and _same(float(old), value)):
            params[name] = value

    # ---- connections ----------------------------------------------------
    def connections(self) -> None:
        pairs: dict[tuple[str, str], ConnectionSpec] = {}
        sizes = {k: p.size for k, p in self.pops.items()}
        for src, tgt, path in self.graph.paths(sizes, self.notes):
            s, t = self.pops[src], self.pops[tgt]
            what = f"path {src} -> {tgt}"
            if t.kind == "Input":
                self.notes.append(f"{what}: an Input node cannot receive connections; "
                                  "not imported")
                continue
            if s.kind in INTEGRATORS:
                self.notes.append(f"{what}: the source {src} is a leaky integrator whose "
                                  "voltage NIR passes on, but Spike Studio connections carry "
                                  "spikes only; not imported")
                continue
            if (s.spec.id, t.spec.id) in pairs:
                self.notes.append(f"{what}: a second path between the same populations; "
                                  "not imported")
                continue
            conn = self.connection(s, t, path, what)
            if conn is not None:
                pairs[(s.spec.id, t.spec.id)] = conn
                self.project.connections.append(conn)

    def connection(self, s: _Pop, t: _Pop, path: Chain, what: str) -> ConnectionSpec | None:
        dt = self.dt
        filters = ([] if t.tau_syn is None else [t.key]) + path.filters
        if len(filters) > 1:
            self.notes.append(f"{what}: {len(filters)} synaptic filters in series "
                              f"({', '.join(filters)}); Spike Studio has one per connection; "
                              "not imported")
            return None
        weight = path.weight if path.weight is not None else np.eye(t.size, s.size)
        if weight.shape != (t.size, s.size):
            self.notes.append(f"{what}: weights of shape {weight.shape} do not connect "
                              f"{s.size} to {t.size} neurons; not imported")
            return None
        wnode = path.weight_nodes[-1] if path.weight_nodes else None
        meta = _meta(self.nodes[wnode]) if wnode else None
        saved: ConnectionSpec | None = None
        if meta:
            try:
                saved = parse_connection({k: v for k, v in meta.items()
                                          if k not in ("weights", "sha256")}, wnode or "")
            except ProjectError as e:
                self.notes.append(f"{wnode}: Spike Studio metadata not valid ({e}): ignored")
        prm = t.spec.params
        tau_mem = float(prm["tau_mem"])
        n_scale = bool(prm.get("scale_i", False))
        if filters:
            fkey = filters[0]
            if fkey == t.key:
                tau_syn, r_total = float(t.tau_syn), t.r  # type: ignore[arg-type]
            else:
                f = self.nodes[fkey]
                tau_syn = self.scalar(fkey, "tau", f.tau, t.size)
                r_total = t.r * self.per_neuron(fkey, "r", f.r, t.size)  # type: ignore[operator]
                if np.any(values(f.v_leak) != 0):
                    self.notes.append(f"{fkey}: v_leak of a synaptic filter ignored")
            syn_scale = saved.synapse.get("scale_i") if saved and \
                saved.synapse["type"] == "Exponential" else None
            synapse = {"type": "Exponential", "tau": tau_syn,
                       "scale_i": True if syn_scale is None else bool(syn_scale)}
            if saved and saved.synapse["type"] == "Exponential" \
                    and _same(saved.synapse["tau"], tau_syn):
                synapse["tau"] = saved.synapse["tau"]
            ours = nm.exponential_r(tau_mem, synapse["tau"], dt, n_scale, synapse["scale_i"])
        else:
            synapse = {"type": "Delta"}
            r_total = t.r  # type: ignore[assignment]
            ours = nm.delta_r(tau_mem, dt, n_scale)
        gain = np.asarray(r_total, dtype=np.float64) / ours
        if path.bias is not None and t.kind == "IF":
            self.notes.append(f"{what}: an Affine bias into a leak-free IF is a constant drift "
                              "of the voltage, which Spike Studio's LIF cannot hold; ignored")
        elif path.bias is not None:
            t.leak = t.leak + r_total * path.bias  # type: ignore[operator]
            if filters:
                self.notes.append(f"{what}: the Affine bias enters through a synaptic filter; "
                                  "imported as a constant leak offset (equal once the filter "
                                  "has settled)")
        if np.all(np.abs(gain - 1.0) <= 1e-5):
            w_post_pre = weight.astype(np.float32)
        else:
            w_post_pre = (weight * gain[:, None]).astype(np.float32)
        delay_steps = path.delay / dt
        delay = int(round(delay_steps))
        if abs(delay_steps - delay) > 1e-6 * max(1.0, delay_steps):
            self.notes.append(f"{what}: delay {path.delay:g} ms is not a whole number of "
                              f"steps of {dt:g} ms; rounded to {delay} steps")
        project = self.project
        cid = self.ident(saved.id if saved else None, "c")
        name = self.name(saved.name if saved else None,
                         wnode or f"{s.spec.name}_{t.spec.name}")
        diagonal = s.size == t.size and np.count_nonzero(w_post_pre - np.diag(
            np.diag(w_post_pre))) == 0
        kind = saved.connectivity["type"] if saved else ("OneToOne" if path.scale_only
                                                          and s.size == t.size else "Dense")
        if kind == "OneToOne" and not diagonal:
            kind = "Dense"
        conn = ConnectionSpec(cid, name, s.spec.id, t.spec.id,
                              {"type": kind, **schema.defaults(schema.CONNECTIVITY[kind])},
                              synapse=synapse)
        if saved and saved.connectivity["type"] == kind:
            conn.connectivity = dict(saved.connectivity)
        conn.connectivity["delay"] = delay
        if saved:
            conn.weight = dict(saved.weight)
            conn.max_delay_steps = saved.max_delay_steps
        else:
            conn.weight = {"type": "Normal", "mean": float(np.mean(w_post_pre)),
                           "sd": float(np.std(w_post_pre))}
        initial = meta is not None and meta.get("weights") == "initial" \
            and meta.get("sha256") == weights_digest(w_post_pre)
        if kind == "FixedProbability" and not initial:
            conn.connectivity = {"type": "Dense", "delay": delay}
            self.notes.append(f"{name}: FixedProbability connection imported as Dense with the "
                              "graph's weights (zeros where no synapse)")
            kind = "Dense"
        if not initial:
            project.weights[cid] = np.diag(w_post_pre).copy() if kind == "OneToOne" \
                else np.ascontiguousarray(w_post_pre.T)
        return conn

    # ---- outputs, settings, layout --------------------------------------
    def outputs(self) -> None:
        for key in self.nodes:
            if self.graph.kind(key) != "Output":
                continue
            for p in self.graph.pred(key):
                pop = self.pops.get(p)
                if pop is None:
                    self.notes.append(f"{key}: Output fed by {p}, which is not a population; "
                                      "no readout set")
                    continue
                if pop.spec.is_input or pop.spec.readout is not None:
                    continue
                readout = "spike_count" if pop.kind in SPIKING else "avg_var"
                pop.spec.readout = readout
                self.notes.append(f"{pop.spec.name}: NIR has no readouts: '{readout}' chosen "
                                  "for its Output")

    def finish_leaks(self) -> None:
        """Turn v_leak (with folded Affine biases) into our parameters."""
        for pop in self.pops.values():
            if pop.leak is None:
                continue
            prm = pop.spec.params
            leak = self.scalar(pop.key, "v_leak", pop.leak, pop.size)
            if pop.kind in INTEGRATORS:
                bias = nm.bias_from_leak(leak, float(prm["tau_mem"]), self.dt)
                if not _same(nm.leak_from_bias(float(prm["bias"]), float(prm["tau_mem"]),
                                               self.dt), leak):
                    prm["bias"] = bias
            elif leak != 0.0:
                prm["v_thresh"] = float(prm["v_thresh"]) - leak
                prm["v_reset"] = float(prm["v_reset"]) - leak
                prm["v"] = 0.0
                self.notes.append(f"{pop.key}: v_leak={leak:g} imported by measuring voltages "
                                  "from the leak level (threshold and reset shifted by it)")

    def settings(self) -> None:
        gm, project = self.gm, self.project
        desc = gm.get("description")
        if isinstance(desc, str):
            project.description = desc[:20_000]
        for key, parse, attr in (("compiler", parse_compiler, "compiler"),
                                 ("dataset", parse_dataset, "dataset"),
                                 ("training", parse_training, "training")):
            if key in gm:
                try:
                    setattr(project, attr, parse(gm[key]))
                except ProjectError as e:
                    self.notes.append(f"graph metadata: {e}; default {key} used")
        if "compiler" not in gm or project.compiler.params.get("dt") != self.dt:
            project.compiler = new_compiler("InferenceCompiler")
            project.compiler.params["dt"] = self.dt
            self.notes.append("no Spike Studio compiler settings: Inference compiler with "
                              f"dt = {self.dt:g} ms (choose a trainer in the Compiler tab)")
        ids = {p.id for p in project.populations}
        ds = project.dataset
        for attr in ("input", "output"):
            if getattr(ds, attr) not in ids | {None}:
                setattr(ds, attr, None)
        conn_ids = {c.id for c in project.connections}
        project.compiler.delay_learn_conns = [c for c in project.compiler.delay_learn_conns
                                              if c in conn_ids]
        project.compiler.deep_r_conns = [c for c in project.compiler.deep_r_conns
                                         if c in conn_ids]

    def order(self) -> None:
        """The exported order of populations and connections (else layer by layer)."""
        order = self.gm.get("order")
        rank = {k: i for i, k in enumerate(order)} if isinstance(order, list) else {}
        far = len(rank)
        self.project.populations.sort(key=lambda p: (rank.get(p.id, far), p.position))
        self.project.connections.sort(key=lambda c: rank.get(c.id, far))

    def layout(self) -> None:
        """Keep exported positions; otherwise columns by distance from the inputs."""
        pops = self.project.populations
        if pops and all(_meta(self.nodes[p.key]) for p in self.pops.values()):
            return
        depth = {p.id: 0 for p in pops}
        for _ in range(len(pops)):
            changed = False
            for c in self.project.connections:
                if c.source != c.target and depth[c.target] < depth[c.source] + 1 < len(pops):
                    depth[c.target] = depth[c.source] + 1
                    changed = True
            if not changed:
                break
        rows: dict[int, int] = {}
        for p in pops:
            d = depth[p.id]
            p.position = (d * _SPACING_X, rows.get(d, 0) * _SPACING_Y)
            rows[d] = rows.get(d, 0) + 1

    def read(self) -> NirImportResult:
        self.populations()
        self.project.populations = [p.spec for p in self.pops.values()]
        self.connections()
        self.outputs()
        self.finish_leaks()
        self.settings()
        self.layout()
        self.order()
        if not self.project.populations:
            self.notes.append("the graph has no neuron or Input nodes")
        data = self.project.to_dict()
        data["weights"] = []
        checked = parse_project(data)  # same validation as opening a project file
        checked.weights = self.project.weights
        return NirImportResult(checked, self.notes)


def import_nir_graph(graph: Any, name: str = "Imported NIR graph") -> NirImportResult:
    """Map a ``nir.NIRGraph`` onto a project (ProjectError for values it cannot use)."""
    nir = require_nir()
    try:
        return _Importer(graph, nir, name).read()
    except (ValueError, TypeError, IndexError) as exc:
        raise ProjectError(f"NIR graph not understood: {exc}") from None


def read_nir(path: str | os.PathLike[str]) -> Any:
    """Read a ``.nir`` file (HDF5) with ``nir.read``; ProjectError if it is not one."""
    nir = require_nir()
    p = Path(path)
    if not p.is_file():
        raise ProjectError(f"file {p} does not exist")
    try:
        return nir.read(p, type_check=False)
    except Exception as exc:  # noqa: BLE001 - h5py/nir raise many kinds for bad files
        raise ProjectError(f"{p.name} is not a readable NIR graph ({type(exc).__name__}: "
                           f"{exc})") from None


def import_nir_file(path: str | os.PathLike[str]) -> NirImportResult:
    """Read a NIR file into a project; nothing in the file is run."""
    p = Path(path)
    return import_nir_graph(read_nir(p), p.stem)


def import_nir_to_project_file(path: str | os.PathLike[str],
                               out: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """Headless ``spike-studio import net.nir -o PROJECT.ssproj``."""
    from app.project.io import save_project

    result = import_nir_file(path)
    return save_project(result.project, out), result.unmapped
