"""Calibrate initial weights on data so every hidden population fires.

:func:`calibrate` runs a few forward batches of the bound dataset (with the
project's own compiler, so the dynamics are the ones training will see),
measures how often each hidden (spiking, readout-free) population fires and
scales the initial weights of the connections into it until its firing
falls in a target range.  Populations are settled in order of their
distance from the inputs, since a population's firing depends on those
upstream.  Weights are only scaled, so each connection's initializer keeps
its shape: a ``Normal(mean, sd)`` becomes ``Normal(s*mean, s*sd)``.

No Qt: the editor calls it from a worker process or thread and applies the
result to the document with :func:`apply_calibration` (one undoable edit).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project.document import Project
from app.project.errors import ProjectError


@dataclass(frozen=True)
class CalibrationTarget:
    """Firing every hidden population should reach.

    ``min_rate_hz``/``max_rate_hz`` bound the mean rate over neurons and
    examples; ``min_active`` is the fraction of neurons that must spike at
    least once in a typical example (so a few saturated neurons cannot pass
    for a working population).
    """

    min_rate_hz: float = 2.0
    max_rate_hz: float = 60.0
    min_active: float = 0.2


@dataclass(frozen=True)
class PopulationActivity:
    """Measured firing of one population over the calibration examples."""

    population: str  # id
    name: str
    rate_hz: float  # mean spikes per neuron per second
    active_fraction: float  # fraction of neurons spiking at least once, per example

    def verdict(self, target: CalibrationTarget) -> int:
        """-1 too quiet, +1 too loud, 0 in range."""
        if self.rate_hz > target.max_rate_hz:
            return 1
        if self.rate_hz < target.min_rate_hz or self.active_fraction < target.min_active:
            return -1
        return 0

    def describe(self) -> str:
        """``'hidden': 12.3 Hz, 45 % of neurons active``."""
        return (f"'{self.name}': {self.rate_hz:.3g} Hz, "
                f"{100 * self.active_fraction:.0f} % of neurons active")


@dataclass
class CalibrationResult:
    """What :func:`calibrate` found; apply it with :func:`apply_calibration`."""

    scales: dict[str, float] = field(default_factory=dict)  # connection id -> factor
    weights: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> initializer
    before: dict[str, PopulationActivity] = field(default_factory=dict)  # population id ->
    after: dict[str, PopulationActivity] = field(default_factory=dict)
    rounds: int = 0
    target: CalibrationTarget = field(default_factory=CalibrationTarget)

    @property
    def ok(self) -> bool:
        """Every hidden population ends in the target range."""
        return all(a.verdict(self.target) == 0 for a in self.after.values())

    def summary(self) -> str:
        """One line per hidden population, before -> after, for the status bar."""
        lines = []
        for pid, after in self.after.items():
            before = self.before.get(pid)
            state = {0: "in range", -1: "still too quiet", 1: "still too loud"}[
                after.verdict(self.target)]
            start = f"{before.rate_hz:.3g} Hz -> " if before is not None else ""
            lines.append(f"'{after.name}': {start}{after.rate_hz:.3g} Hz, "
                         f"{100 * after.active_fraction:.0f} % active ({state})")
        return "\n".join(lines) if lines else "no hidden spiking population to calibrate"

    def to_dict(self) -> dict[str, Any]:
        """Plain form (for the worker's message to the window)."""
        def act(a: PopulationActivity) -> dict[str, Any]:
            return {"population": a.population, "name": a.name, "rate_hz": a.rate_hz,
                    "active_fraction": a.active_fraction}
        return {"scales": dict(self.scales), "weights": {k: dict(v) for k, v in
                                                         self.weights.items()},
                "before": {k: act(v) for k, v in self.before.items()},
                "after": {k: act(v) for k, v in self.after.items()},
                "rounds": self.rounds, "ok": self.ok, "summary": self.summary(),
                "target": {"min_rate_hz": self.target.min_rate_hz,
                           "max_rate_hz": self.target.max_rate_hz,
                           "min_active": self.target.min_active}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationResult:
        """Inverse of :meth:`to_dict`."""
        def act(d: dict[str, Any]) -> PopulationActivity:
            return PopulationActivity(str(d["population"]), str(d["name"]),
                                      float(d["rate_hz"]), float(d["active_fraction"]))
        return cls({k: float(v) for k, v in data["scales"].items()},
                   {k: dict(v) for k, v in data["weights"].items()},
                   {k: act(v) for k, v in data["before"].items()},
                   {k: act(v) for k, v in data["after"].items()}, int(data["rounds"]),
                   CalibrationTarget(**data["target"]))


def scaled_initializer(weight: dict[str, Any], scale: float) -> dict[str, Any]:
    """An initializer whose samples are ``scale`` times the original's."""
    out = dict(weight)
    keys = {"Constant": ("value",), "Normal": ("mean", "sd"), "Uniform": ("min", "max")}
    for k in keys[weight["type"]]:
        out[k] = float(f"{float(weight[k]) * scale:.4g}")
    return out


def apply_calibration(project: Project, result: CalibrationResult) -> list[str]:
    """Put the calibrated initializers into the document (connections the user set
    stay marked as the user's); returns the connection ids changed."""
    changed = []
    for cid, weight in result.weights.items():
        try:
            conn = project.connection(cid)
        except KeyError:
            continue
        if conn.weight != weight:
            conn.weight = dict(weight)
            if conn.weight_source != "user":
                conn.weight_source = "calibrated"
            changed.append(cid)
    return changed


class _SpikeCounter:
    """Callback counting spikes per population per example (library hooks)."""

    def __init__(self, names: list[str], slices: dict[str, slice], pop: Any) -> None:
        self.pop = pop  # CallbackList.on_recording passes this population's start
        self.names = names
        self.slices = slices
        self.spikes = {n: 0 for n in names}
        self.active = {n: 0.0 for n in names}
        self.examples = 0

    def recording_request(self) -> tuple[list, list]:
        return [], list(self.names)

    def on_recording(self, rec: Any, example_ids: Any, start: Any, dt: float) -> None:
        if rec.spike_ids is None:
            return
        for ids in rec.spike_ids:
            self.examples += 1
            for n in self.names:
                sl = self.slices[n]
                mine = ids[(ids >= sl.start) & (ids < sl.stop)]
                self.spikes[n] += int(mine.size)
                self.active[n] += np.unique(mine).size / max(1, sl.stop - sl.start)


def _depths(project: Project) -> dict[str, int]:
    """Distance (in connections) of every population from the inputs."""
    depth = {p.id: 0 for p in project.populations if p.is_input}
    frontier = list(depth)
    while frontier:
        nxt = []
        for c in project.connections:
            if c.source in frontier and c.target not in depth:
                depth[c.target] = depth[c.source] + 1
                nxt.append(c.target)
        frontier = nxt
    return depth


def hidden_populations(project: Project) -> list[str]:
    """Ids of the spiking populations without a readout, nearest the inputs first."""
    depth = _depths(project)
    hidden = [p for p in project.populations if not p.is_input and p.readout is None
              and p.model in ("LeakyIntegrateFire", "AdaptiveLeakyIntegrateFire")]
    return [p.id for p in sorted(hidden, key=lambda p: depth.get(p.id, 1 << 30))]


def calibrate(project: Project, base_dir: str | Path | None = None, *,
              target: CalibrationTarget | None = None, num_batches: int = 4,
              max_rounds: int = 16, progress: Callable[[str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> CalibrationResult:
    """Scale the initial weights into every hidden population until it fires in
    ``target``'s range on ``num_batches`` batches of the training data.

    The project is not changed (see :func:`apply_calibration`).  Each round
    runs the batches once; a population out of range has the weights of every
    connection into it scaled by a bracketing search on a log scale (x4 until
    the range is crossed, then halving the interval), nearest-the-input
    populations first.  Raises :class:`ProjectError` when the project cannot
    be built or has no data.
    """
    from app.project.build import build

    target = target or CalibrationTarget()
    say = progress or (lambda _msg: None)
    work = project.copy()
    work.weights = {}
    batch = int(work.compiler.params.get("batch_size", 1))
    work.training.max_examples = max(1, num_batches * batch)
    built = build(work, base_dir, use_weights=False)
    if built.dataset is None:
        raise ProjectError("calibration needs data; choose a dataset in the Dataset tab",
                           "dataset.source")
    x, y = built.train_data()
    hidden = hidden_populations(work)
    result = CalibrationResult(target=target)
    if not hidden:
        return result
    names = {p.id: p.name for p in work.populations}
    incoming = {pid: [c.id for c in work.connections if c.target == pid] for pid in hidden}
    scale = {pid: 1.0 for pid in hidden}
    bracket: dict[str, list[float | None]] = {pid: [None, None] for pid in hidden}
    dt = float(work.compiler.params["dt"])
    with built.compiler.compile(built.network) as cn:
        base = {cid: np.array(cn.get_weights(built.connections[cid]), copy=True)
                for pid in hidden for cid in incoming[pid]}
        slices = {names[pid]: cn.layout.pop_slice(names[pid]) for pid in hidden}
        trial_s = cn.example_timesteps * dt / 1000.0

        def measure() -> dict[str, PopulationActivity]:
            counter = _SpikeCounter([names[p] for p in hidden], slices,
                                    built.network.populations[0])
            if hasattr(cn, "reset_state"):
                cn.reset_state()
            cn.evaluate(x, y, callbacks=[counter])
            n_ex = max(1, counter.examples)
            out = {}
            for pid in hidden:
                nm = names[pid]
                size = slices[nm].stop - slices[nm].start
                out[pid] = PopulationActivity(
                    pid, nm, counter.spikes[nm] / (n_ex * size * trial_s),
                    counter.active[nm] / n_ex)
            return out

        activity = measure()
        result.before = dict(activity)
        for rnd in range(max_rounds):
            if should_stop is not None and should_stop():
                break
            pending = [pid for pid in hidden if activity[pid].verdict(target) != 0]
            if not pending:
                break
            # settle the populations nearest the inputs first: their firing drives the rest
            first = pending[0]
            depth = _depths(work)
            now = [pid for pid in pending if depth.get(pid) == depth.get(first)]
            for pid in now:
                lo, hi = bracket[pid]
                s = scale[pid]
                if activity[pid].verdict(target) < 0:
                    lo = s
                    s = s * 4.0 if hi is None else math.sqrt(lo * hi)
                else:
                    hi = s
                    s = s / 4.0 if lo is None else math.sqrt(lo * hi)
                bracket[pid] = [lo, hi]
                scale[pid] = s
                for cid in incoming[pid]:
                    cn.set_weights(built.connections[cid], base[cid] * np.float32(s))
            result.rounds = rnd + 1
            activity = measure()
            say(f"calibration round {rnd + 1}: "
                + "; ".join(activity[p].describe() for p in hidden))
    result.after = dict(activity)
    for pid in hidden:
        for cid in incoming[pid]:
            if scale[pid] != 1.0:
                result.scales[cid] = scale[pid]
                result.weights[cid] = scaled_initializer(project.connection(cid).weight,
                                                         scale[pid])
    return result
