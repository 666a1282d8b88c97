"""How much memory training a project needs, estimated from the document
alone (nothing allocated), and how much the machine has free.

The terms follow what the engine allocates per batch: neuron state
(batch x neurons), synaptic currents and delay rings (batch x targets x
delay), EventProp's spike tapes (batch x max_spikes x neurons), per-step
output histories and targets (batch x timesteps x outputs), e-prop's
eligibility traces (batch x input synapses), weights with their gradients
and Adam moments, and what the editor's worker records for the plots.
Each term names the document field it grows with, so a refusal can say
which value to lower.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from app.project.document import Project

#: interpreter, numba and library code resident before any array
BASE_BYTES = 300 * 1024 * 1024
#: the worker records one population's voltage for the plots up to this size
VOLTAGE_BUDGET_BYTES = 96 * 1024 * 1024
#: spike recordings are cut into chunks of at most this many entries (8 bytes each)
SPIKE_RECORD_ENTRIES = 1 << 24
#: fraction of the free memory a run may plan to use
USABLE_FRACTION = 0.8


@dataclass(frozen=True)
class MemoryTerm:
    """One allocation: what it is, its size and the field it grows with."""

    what: str
    bytes: int
    field: str
    fix: str = ""


@dataclass
class MemoryEstimate:
    """Bytes training is expected to need, by term (largest first)."""

    terms: list[MemoryTerm] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Sum of every term plus the interpreter's own footprint."""
        return BASE_BYTES + sum(t.bytes for t in self.terms)

    @property
    def largest(self) -> MemoryTerm | None:
        """The term that dominates the estimate."""
        return max(self.terms, key=lambda t: t.bytes, default=None)


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB`` (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def _synapses(project: Project) -> dict[str, int]:
    out = {}
    for c in project.connections:
        n_pre = project.population(c.source).size
        n_post = project.population(c.target).size
        kind = c.connectivity["type"]
        if c.id in project.compiler.deep_r_conns:
            out[c.id] = n_pre * n_post  # Deep R keeps a slot for every pair
        elif kind == "OneToOne":
            out[c.id] = min(n_pre, n_post)
        elif kind == "FixedProbability":
            out[c.id] = int(math.ceil(n_pre * n_post * float(c.connectivity["p"])))
        else:
            out[c.id] = n_pre * n_post
    return out


def _input_spikes_per_example(project: Project, steps: int, dt: float) -> int:
    """Spikes one example brings in: one per input neuron for latency codes, else
    one per input neuron every 10 ms (capped by SpikeInput's own max_spikes)."""
    inp = project.input_population()
    if inp is None:
        return 1
    if project.dataset.source == "builtin" and project.dataset.name != "pattern":
        return inp.size
    if inp.model == "PoissonInput":
        return inp.size * steps
    guess = inp.size * max(1, int(math.ceil(steps * dt / 10.0)))
    return int(min(guess, int(inp.params.get("max_spikes", guess))))


def estimate_training_memory(project: Project) -> MemoryEstimate:
    """Expected peak bytes of one training run of ``project`` (one process)."""
    comp = project.compiler
    B = int(comp.params.get("batch_size", 1))
    T = comp.timesteps
    dt = float(comp.params.get("dt", 1.0))
    steps_f = f"compiler.params.{comp.info.timesteps_arg}"
    batch_f = "compiler.params.batch_size"
    pops = project.populations
    idx = {p.id: i for i, p in enumerate(pops)}
    N = sum(p.size for p in pops)
    biggest = max(pops, key=lambda p: p.size, default=None)
    size_f = f"populations[{idx[biggest.id]}].size" if biggest is not None else batch_f
    syn = _synapses(project)
    S = sum(syn.values())
    big_conn = max(project.connections, key=lambda c: syn[c.id], default=None)
    conn_f = (f"populations[{idx[big_conn.target]}].size" if big_conn is not None
              else size_f)
    targets = {c.target for c in project.connections}
    slots = sum(project.population(t).size for t in targets)
    max_delay = max((int(c.max_delay_steps if c.max_delay_steps is not None
                         else c.connectivity.get("delay", 0)) for c in project.connections),
                    default=0)
    outputs = [p for p in pops if p.readout is not None]
    n_out = sum(p.size for p in outputs)
    threads = os.cpu_count() or 1
    terms: list[MemoryTerm] = []

    big_name = f"'{biggest.name}'" if biggest is not None else "the largest population"
    fixes = {batch_f: f"lower batch_size or make {big_name} smaller",
             steps_f: f"lower {comp.info.timesteps_arg} or batch_size",
             "compiler.params.max_spikes": "lower batch_size or max_spikes (spikes per neuron "
                                           f"per trial), or make {big_name} smaller",
             conn_f: "make the populations of the largest connection smaller or connect them "
                     "sparsely (FixedProbability)"}

    def add(what: str, nbytes: float, fld: str) -> None:
        if fld == "compiler.params.max_spikes" and B > 1024:
            fld = batch_f
        terms.append(MemoryTerm(what, int(nbytes), fld, fixes.get(fld, fixes[batch_f])))

    loss = (comp.loss or {}).get("type", "")
    if comp.type == "EPropCompiler":
        add(f"e-prop neuron state ({B} x {N} neurons)", B * N * (17 * 4 + 3 * 8), batch_f)
        s_in = sum(n for cid, n in syn.items()
                   if project.population(project.connection(cid).target).readout is None)
        alif = any(p.model == "AdaptiveLeakyIntegrateFire" for p in pops)
        add(f"eligibility traces ({B} x {s_in} synapses)", B * s_in * 4 * (2 if alif else 1),
            batch_f)
        add("weight gradients per thread", min(B, threads) * S * 4, conn_f)
        if loss == "mean_square_error":
            add(f"per-step targets ({B} x {T} steps x {n_out} outputs)", B * T * n_out * 4,
                steps_f)
    else:
        add(f"neuron state ({B} x {N} neurons)", B * N * (7 * 4 + 3 * 8), batch_f)
        add(f"synaptic input and delay ring ({B} x {slots} x {max_delay + 2})",
            B * slots * 4 * (max_delay + 2), batch_f)
        if comp.type == "EventPropCompiler":
            cap = int(comp.params.get("max_spikes", 500))
            spiking = sum(p.size for p in pops if p.model in (
                "LeakyIntegrateFire", "AdaptiveLeakyIntegrateFire"))
            ins = _input_spikes_per_example(project, T, dt)
            add(f"spike tapes ({B} x (max_spikes {cap} x {spiking} neurons + {ins} input "
                "spikes))", B * (cap * spiking + ins) * 12, "compiler.params.max_spikes")
            if comp.params.get("per_timestep_loss") or loss == "mean_square_error":
                add(f"per-step output history ({B} x {T} steps x {n_out} outputs)",
                    B * T * n_out * 4, steps_f)
            add("weight gradients per thread", min(B, threads) * S * 4, conn_f)
        poisson = sum(p.size for p in pops if p.model == "PoissonInput")
        if poisson:
            add(f"Poisson rates ({B} x {poisson} neurons)", B * N * 4, batch_f)
    add(f"weights, gradients and Adam moments ({S} synapses)", S * 4 * 5, conn_f)
    hidden = [p for p in pops if p.readout is None and p.model != "SpikeInput"
              and p.model != "PoissonInput"]
    smallest = min((p.size for p in hidden + outputs), default=0)
    add(f"voltage recorded for the plots ({B} x {T} steps x {smallest} neurons)",
        min(B * T * smallest * 4, VOLTAGE_BUDGET_BYTES), steps_f)
    add("spike raster recorded for the plots", min(B * T * N * 8, SPIKE_RECORD_ENTRIES * 8),
        steps_f)
    if project.dataset.source == "builtin" and project.dataset.name == "pattern":
        add(f"pattern targets ({T} steps)", 4 * T * n_out * 8, steps_f)
    terms.sort(key=lambda t: t.bytes, reverse=True)
    return MemoryEstimate(terms)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def free_memory_bytes() -> int | None:
    """Memory this process may still use: the smaller of the machine's available
    memory and what its cgroup (container) limit leaves; None when unknown."""
    avail: int | None = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            avail = None
    cg = Path("/sys/fs/cgroup")
    limit = _read_int(cg / "memory.max")
    used = _read_int(cg / "memory.current")
    if limit is not None and used is not None:
        room = max(0, limit - used)
        avail = room if avail is None else min(avail, room)
    return avail
