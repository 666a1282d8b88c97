"""Is a project ready to train?  :func:`preflight` answers with a list of
:class:`Issue`, each located on the population, connection or panel it
concerns and naming the field to change and how.

The editor's Problems list ("ready to train" when it holds no error) and the
worker before its first batch run the same :func:`preflight`, so a project
the editor calls ready does train.  Network/compiler checks come from the
library's own ``app.training.compilers.check_network`` (the compile-time
checks), so the canvas and ``compile()`` never disagree; this module adds
what is about the document: dataset binding, shapes and durations,
physically sensible parameters, trained-weight shapes and a memory estimate
against the machine's free memory.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.project import schema
from app.project.build import build_compiler, build_network, resolve_path
from app.project.document import Project
from app.project.errors import ProjectError
from app.project.memory import (
    USABLE_FRACTION,
    estimate_training_memory,
    free_memory_bytes,
    human_bytes,
)

#: one trial longer than this many steps takes hours per example
MAX_TIMESTEPS = 10_000_000


@dataclass(frozen=True)
class Issue:
    """One problem: ``target`` is a population/connection id ("" for panels);
    ``field`` the document path of the value to change (``populations[1].size``,
    ``compiler.params.dt``, ``dataset.path``...).  ``severity`` "error" stops
    training; "warning" is shown but the project is still ready."""

    message: str
    target: str = ""
    kind: str = "compiler"  # "population" | "connection" | "compiler" | "dataset"
    field: str | None = None
    severity: str = "error"


def is_ready(issues: list[Issue]) -> bool:
    """True when no issue is an error (warnings do not stop training)."""
    return not any(i.severity == "error" for i in issues)


def _pop_field(project: Project, pid: str, sub: str) -> str:
    i = next(i for i, p in enumerate(project.populations) if p.id == pid)
    return f"populations[{i}].{sub}"


def _target_of_field(project: Project, field: str) -> tuple[str, str]:
    for prefix, items, kind in (("populations[", project.populations, "population"),
                                ("connections[", project.connections, "connection")):
        if field.startswith(prefix):
            try:
                idx = int(field[len(prefix):field.index("]")])
                return items[idx].id, kind
            except (ValueError, IndexError):
                return "", kind
    if field.startswith("weights."):
        return field[len("weights."):], "connection"
    if field.startswith("dataset"):
        return "", "dataset"
    return "", "compiler"


_POP_FIELDS = {"neuron": "model", "readout": "readout", "connections": "",
               "tau_refrac": "params.tau_refrac"}
_CONN_FIELDS = {"delay": "connectivity.delay", "max_delay_steps": "max_delay_steps",
                "source": "source", "synapse": "synapse"}


def _document_field(project: Project, kind: str, target: str, field: str | None) -> str:
    """A library Problem's (kind, target id, argument) as a document path."""
    if field == "losses":
        return "compiler.loss"
    if field == "deep_r_conns":
        return "compiler.deep_r_conns"
    if kind == "population" and target:
        i = next(i for i, p in enumerate(project.populations) if p.id == target)
        sub = _POP_FIELDS.get(field or "", f"params.{field}" if field else "")
        return f"populations[{i}]" + (f".{sub}" if sub else "")
    if kind == "connection" and target:
        i = next(i for i, c in enumerate(project.connections) if c.id == target)
        sub = _CONN_FIELDS.get(field or "", field or "")
        return f"connections[{i}]" + (f".{sub}" if sub else "")
    if field:
        return field if "." in field else f"compiler.params.{field}"
    return "compiler"


def library_checks(project: Project) -> list[Issue]:
    """Issues found by ``check_network`` (or by building the network)."""
    try:
        network, pops, conns = build_network(project, use_weights=False)
        compiler = build_compiler(project, conns)
    except ProjectError as exc:
        target, kind = _target_of_field(project, exc.field)
        return [Issue(exc.message, target, kind, exc.field or "compiler")]
    try:
        from app.training.compilers import check_network
    except ImportError:  # compilers not available: nothing more to check
        return []
    by_name = {p.name: (p.id, "population") for p in project.populations}
    by_name.update({c.name: (c.id, "connection") for c in project.connections})
    out = []
    for prob in check_network(network, compiler):
        target, kind = by_name.get(getattr(prob, "target", "") or "", ("", prob.kind))
        kind = prob.kind or kind
        field = _document_field(project, kind if target else "compiler", target,
                                getattr(prob, "field", None))
        out.append(Issue(prob.message, target, kind, field))
    return out


def dataset_checks(project: Project, base_dir: str | Path | None = None) -> list[Issue]:
    """Shape checks of the dataset against the input and output populations
    (from the registry's metadata; nothing is loaded)."""
    ds = project.dataset
    issues: list[Issue] = []
    if ds.source == "none":
        return issues
    inp = project.input_population()
    out = project.output_population()
    if inp is None:
        issues.append(Issue("the dataset needs exactly one input population (or pick one in "
                            "the Dataset tab)", "", "dataset", "dataset.input"))
    if out is None:
        issues.append(Issue("the dataset needs exactly one population with a readout (or "
                            "pick one in the Dataset tab)", "", "dataset", "dataset.output"))
    if inp is not None and inp.model == "PoissonInput":
        issues.append(Issue(
            f"'{inp.name}' is a Poisson input, which takes firing rates, but the dataset gives "
            "spike trains; make it a Spike input", inp.id, "population",
            _pop_field(project, inp.id, "model")))
    if inp is not None and inp.model == "IntegrateFireInput":
        issues.append(Issue(
            f"'{inp.name}' (integrate-and-fire input) takes input values, but datasets give "
            "spike trains; use a Spike input, or feed values from a script "
            "(File > Export script)", inp.id, "population",
            _pop_field(project, inp.id, "model")))
    if ds.source == "builtin":
        try:
            from app.training.data import BUILTIN_DATASETS
        except ImportError:
            return issues
        info = BUILTIN_DATASETS.get(ds.name)
        if info is None:
            return issues
        want = info.input_count(ds.params)
        if inp is not None and inp.size != want:
            issues.append(Issue(
                f"{info.name} has {want} input neurons but '{inp.name}' has "
                f"{inp.size}; set its size to {want}", inp.id, "population",
                _pop_field(project, inp.id, "size")))
        if out is not None and out.size != info.num_outputs:
            issues.append(Issue(
                f"{info.name} has {info.num_outputs} outputs but '{out.name}' has {out.size}; "
                f"set its size to {info.num_outputs}", out.id, "population",
                _pop_field(project, out.id, "size")))
        loss = project.compiler.loss
        if loss is not None:
            regression = info.num_classes is None
            if regression and loss["type"] != "mean_square_error":
                issues.append(Issue(f"{info.name} is a regression task: use the "
                                    "mean_square_error loss", "", "compiler", "compiler.loss"))
            if not regression and loss["type"] == "mean_square_error":
                issues.append(Issue(f"{info.name} has class labels: use a classification "
                                    "loss", "", "compiler", "compiler.loss"))
        dt = ds.params.get("dt", info.default_kwargs.get("dt", info.dt))
        if isinstance(dt, int | float) and abs(float(dt) - project.compiler.params["dt"]) > 1e-9:
            issues.append(Issue(f"the dataset is encoded with dt = {dt} ms but the compiler "
                                f"uses dt = {project.compiler.params['dt']} ms", "",
                                "dataset", "dataset.params.dt"))
    elif ds.source == "file":
        if not ds.path:
            issues.append(Issue(f"choose your {ds.format.upper()} file", "", "dataset",
                                "dataset.path"))
        elif not resolve_path(ds.path, base_dir).is_file():
            issues.append(Issue(f"file not found: {ds.path}", "", "dataset", "dataset.path"))
    return issues


def unresolved_checks(project: Project) -> list[Issue]:
    """Values an imported script computed from its data: each must be set by hand."""
    issues = []
    for key, expr in project.unresolved.items():
        kind, item, name = key.split(":", 2)
        if kind == "population":
            pop = project.population(item)
            what = "size" if name == "size" else name
            issues.append(Issue(f"the imported script computes the {what} of '{pop.name}' "
                                f"from its data ({expr}); set it", item, "population",
                                _pop_field(project, item, name if name in ("size", "shape")
                                           else f"params.{name}")))
        else:
            issues.append(Issue(f"the imported script computes {name} from its data "
                                f"({expr}); set it in the Compiler tab", "", "compiler",
                                f"compiler.params.{name}"))
    return issues


def validate_project(project: Project, base_dir: str | Path | None = None) -> list[Issue]:
    """Every problem the canvas shows and training refuses: :func:`preflight`
    without reading data files it has not read before (the editor calls this
    on every edit; the Dataset tab reads files in the background)."""
    return preflight(project, base_dir, read_files=False)


@dataclass(frozen=True)
class DataFileSummary:
    """What a data file holds, read without pickle or executing anything."""

    num_examples: int
    num_inputs: int  # largest neuron id + 1 (or the file's own count)
    num_classes: int | None  # None: float targets (regression)
    latest_spike_ms: float


_SUMMARIES: dict[tuple[str, str, int, int], DataFileSummary | ProjectError] = {}


def _summary_key(path: Path, fmt: str) -> tuple[str, str, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(Path(path).resolve()), fmt, st.st_mtime_ns, st.st_size)


def cached_data_summary(path: str | Path, fmt: str) -> DataFileSummary | ProjectError | None:
    """The summary (or read error) of a data file already read unchanged, or None."""
    key = _summary_key(Path(path), fmt)
    return None if key is None else _SUMMARIES.get(key)


def summarise_data_file(path: str | Path, fmt: str) -> DataFileSummary:
    """Read a SHD ``.h5`` or spikes ``.npz`` far enough to check its shapes
    (remembered until the file changes).

    Raises :class:`ProjectError` (field ``dataset.path``) for unreadable files.
    """
    path = Path(path)
    key = _summary_key(path, fmt)
    known = _SUMMARIES.get(key) if key is not None else None
    if isinstance(known, ProjectError):
        raise known
    if known is not None:
        return known
    try:
        summary = _read_data_file(path, fmt)
    except ProjectError as exc:
        if key is not None:
            _SUMMARIES[key] = exc
        raise
    if key is not None:
        if len(_SUMMARIES) > 64:
            _SUMMARIES.clear()
        _SUMMARIES[key] = summary
    return summary


def _read_data_file(path: Path, fmt: str) -> DataFileSummary:
    import numpy as np

    try:
        if fmt == "shd":
            import h5py

            with h5py.File(path, "r") as f:
                for key in ("spikes/times", "spikes/units", "labels"):
                    if key not in f:
                        raise ProjectError(f"{path.name} has no '{key}': not the SHD layout",
                                           "dataset.path")
                labels = np.asarray(f["labels"][:])
                units = f["spikes/units"][:]
                times = f["spikes/times"][:]
            max_unit = max((int(u.max()) for u in units if len(u)), default=-1)
            latest = max((float(t.max()) for t in times if len(t)), default=0.0) * 1000.0
            return DataFileSummary(len(labels), max(max_unit + 1, 700),
                                   int(labels.max()) + 1 if len(labels) else 0, latest)
        from app.training.data import load_npz_spikes

        spikes, labels = load_npz_spikes(path)
        n_in = int(spikes[0].end_spikes.shape[0]) if spikes else 0
        latest = max((float(s.spike_times.max()) for s in spikes if len(s.spike_times)),
                     default=0.0)
        if labels is None:
            raise ProjectError(f"{path.name} has no 'labels' (or 'targets') array",
                               "dataset.path")
        labels = np.asarray(labels)
        classes = None if labels.dtype.kind == "f" else int(labels.max()) + 1 if len(labels) \
            else 0
        return DataFileSummary(len(spikes), n_in, classes, latest)
    except ProjectError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise ProjectError(f"cannot read {path.name}: {exc}", "dataset.path") from None


def data_file_checks(project: Project, summary: DataFileSummary) -> list[Issue]:
    """Shape checks of a data file's summary against the input and output populations."""
    issues: list[Issue] = []
    inp = project.input_population()
    out = project.output_population()
    if inp is not None and inp.size < summary.num_inputs:
        issues.append(Issue(f"the file has {summary.num_inputs} input channels but "
                            f"'{inp.name}' has {inp.size}; set its size to "
                            f"{summary.num_inputs}", inp.id, "population",
                            _pop_field(project, inp.id, "size")))
    if out is not None and summary.num_classes is not None and out.size < summary.num_classes:
        issues.append(Issue(f"the file has {summary.num_classes} classes but '{out.name}' has "
                            f"{out.size} neurons; set its size to {summary.num_classes}",
                            out.id, "population", _pop_field(project, out.id, "size")))
    dt = float(project.compiler.params["dt"])
    last = (project.compiler.timesteps - 1) * dt
    if project.dataset.format == "npz" and summary.latest_spike_ms > last:
        need = int(summary.latest_spike_ms / dt) + 2
        issues.append(Issue(f"the file has spikes up to {summary.latest_spike_ms:g} ms but "
                            f"trials end at {last:g} ms; set "
                            f"{project.compiler.info.timesteps_arg} to at least {need}", "",
                            "compiler", f"compiler.params.{project.compiler.info.timesteps_arg}"))
    return issues


# ---------------------------------------------------------------------------
# preflight: everything checked before a worker's first batch
# ---------------------------------------------------------------------------
def sensible_problem(param: schema.Param, value: Any) -> str | None:
    """Why ``value`` is outside ``param``'s physically sensible range (None: fine).

    The editor's fields can call this to refuse a value as it is typed."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    lo, hi = param.sensible_min, param.sensible_max
    if (lo is None or value >= lo) and (hi is None or value <= hi):
        return None
    unit = f" {param.unit}" if param.unit and param.unit != "steps" else ""
    if lo is not None and hi is not None:
        want = f"between {lo:g} and {hi:g}{unit}"
    elif hi is not None:
        want = f"to at most {hi:g}{unit}"
    else:
        want = f"to at least {lo:g}{unit}"
    why = f" ({param.sensible_why})" if param.sensible_why else ""
    return f"{param.name} = {value:g}{unit} is not physically sensible{why}; set it {want}"


#: parameters whose odd values train badly rather than break: a warning only
WARN_ONLY = frozenset({"alpha"})


def _param_issues(params: tuple[schema.Param, ...], values: dict[str, Any], prefix: str,
                  who: str, target: str, kind: str) -> list[Issue]:
    out = []
    for p in params:
        problem = sensible_problem(p, values.get(p.name))
        if problem:
            out.append(Issue(f"{who}{problem}", target, kind, f"{prefix}.{p.name}",
                             "warning" if p.name in WARN_ONLY else "error"))
    return out


def range_checks(project: Project) -> list[Issue]:
    """Parameters outside physically sensible ranges (huge time constants, a
    threshold below the reset, runaway weights, a trial of a billion steps)."""
    issues: list[Issue] = []
    for i, pop in enumerate(project.populations):
        who = f"'{pop.name}': "
        issues += _param_issues(schema.model_params(pop.model), pop.params,
                                f"populations[{i}].params", who, pop.id, "population")
        if "v_thresh" in pop.params and "v_reset" in pop.params:
            th, reset = pop.params["v_thresh"], pop.params["v_reset"]
            if th <= reset:
                issues.append(Issue(
                    f"{who}v_thresh = {th:g} is not above v_reset = {reset:g}, so the neuron "
                    "would fire on every step; set v_thresh above v_reset (usually 1 and 0)",
                    pop.id, "population", f"populations[{i}].params.v_thresh"))
    for i, conn in enumerate(project.connections):
        who = f"'{conn.name}': "
        for part, table in (("weight", schema.INITIALIZERS), ("synapse", schema.SYNAPSES),
                            ("connectivity", schema.CONNECTIVITY)):
            spec = getattr(conn, part)
            issues += _param_issues(table[spec["type"]], spec, f"connections[{i}].{part}", who,
                                    conn.id, "connection")
    comp = project.compiler
    issues += _param_issues(comp.info.params, comp.params, "compiler.params", "", "", "compiler")
    for part in ("optimiser", "delay_optimiser"):
        spec = getattr(comp, part)
        if spec is not None:
            issues += _param_issues(schema.OPTIMISERS[spec["type"]], spec, f"compiler.{part}",
                                    f"{part}: ", "", "compiler")
    if comp.timesteps > MAX_TIMESTEPS:
        arg = comp.info.timesteps_arg
        issues.append(Issue(
            f"{arg} = {comp.timesteps:,} steps per trial would take hours for every example; "
            f"set it to what the data needs (at most {MAX_TIMESTEPS:,})", "", "compiler",
            f"compiler.params.{arg}"))
    return issues


def eventprop_checks(project: Project) -> list[Issue]:
    """EventProp's hidden-neuron adjoint divides by ``tau_syn - tau_mem``: the two
    must differ (the library's compile step would fail with a division by zero)."""
    if project.compiler.type != "EventPropCompiler":
        return []
    issues = []
    for i, pop in enumerate(project.populations):
        if pop.is_input or pop.readout is not None or "tau_mem" not in pop.params:
            continue
        for conn in project.connections:
            syn = conn.synapse
            if conn.target == pop.id and syn["type"] == "Exponential" \
                    and float(syn["tau"]) == float(pop.params["tau_mem"]):
                issues.append(Issue(
                    f"'{pop.name}': tau_mem = {pop.params['tau_mem']:g} ms equals the synaptic "
                    f"tau of '{conn.name}'; EventProp needs them different: change tau_mem "
                    "(e.g. 20 ms) or the synapse's tau", pop.id, "population",
                    f"populations[{i}].params.tau_mem"))
                break
    return issues


def weights_checks(project: Project) -> list[Issue]:
    """Trained weights (the ``.weights.npz`` sidecar) whose shape no longer fits
    their connection (a population was resized after training)."""
    from app.project.build import trained_weight

    issues = []
    for conn in project.connections:
        if conn.id not in project.weights:
            continue
        try:
            trained_weight(project, conn)
        except ProjectError as exc:
            issues.append(Issue(f"'{conn.name}': {exc.message}", conn.id, "connection",
                                exc.field))
    return issues


def builtin_duration(project: Project) -> tuple[float, int | None] | None:
    """(duration of one example in ms, exact steps the targets need or None) of the
    bound built-in dataset; None when unknown."""
    ds = project.dataset
    try:
        from app.training.data import BUILTIN_DATASETS
    except ImportError:
        return None
    info = BUILTIN_DATASETS.get(ds.name)
    if info is None:
        return None
    kwargs: dict[str, Any] = {**info.default_kwargs, **ds.params}
    dt = float(kwargs.get("dt", info.dt))
    if info.num_classes is None:  # per-step regression targets
        steps = int(kwargs.get("trial_steps", info.example_timesteps))
        return steps * dt, steps
    if kwargs.get("encoding", "linear") != "linear":
        return None
    return float(kwargs.get("example_time", info.example_timesteps * info.dt)), None


def _dataset_title(key: str) -> str:
    try:
        from app.training.data import BUILTIN_DATASETS
    except ImportError:
        return key
    info = BUILTIN_DATASETS.get(key)
    return info.name if info is not None else key


def duration_checks(project: Project, summary: DataFileSummary | None = None) -> list[Issue]:
    """Trials (``example_timesteps x dt``) long enough for the examples."""
    comp = project.compiler
    arg = comp.info.timesteps_arg
    field = f"compiler.params.{arg}"
    dt = float(comp.params["dt"])
    T = comp.timesteps
    ds = project.dataset
    issues: list[Issue] = []
    if ds.source == "builtin":
        known = builtin_duration(project)
        if known is None:
            return issues
        duration, exact = known
        title = _dataset_title(ds.name)
        if exact is not None and T != exact:
            issues.append(Issue(
                f"the {title} targets have one value per step for {exact} steps but trials "
                f"have {T}; set {arg} to {exact}", "", "compiler", field))
        elif exact is None and T * dt < duration - 1e-6 * max(1.0, duration):
            need = int(math.ceil(round(duration / dt, 6)))
            issues.append(Issue(
                f"{title} examples last {duration:g} ms but a trial is {T} x {dt:g} ms = "
                f"{T * dt:g} ms, so later input spikes would never arrive; set {arg} to at "
                f"least {need}", "", "compiler", field))
    elif ds.source == "file" and summary is not None and ds.format == "shd":
        if summary.latest_spike_ms > T * dt:
            need = int(math.ceil(summary.latest_spike_ms / dt))
            issues.append(Issue(
                f"the file has spikes up to {summary.latest_spike_ms:g} ms but trials end at "
                f"{T * dt:g} ms; later spikes are dropped (set {arg} to {need} to keep them)",
                "", "compiler", field, "warning"))
    return issues


def memory_checks(project: Project, free_bytes: int | None = None) -> list[Issue]:
    """Refuse a project whose estimated memory exceeds what the machine has free
    (before anything is allocated)."""
    free = free_memory_bytes() if free_bytes is None else free_bytes
    if free is None:
        return []
    est = estimate_training_memory(project)
    if est.total <= USABLE_FRACTION * free:
        return []
    big = est.largest
    assert big is not None
    target, kind = _target_of_field(project, big.field)
    return [Issue(
        f"training needs about {human_bytes(est.total)} of memory (mostly {big.what}: "
        f"{human_bytes(big.bytes)}) but {human_bytes(free)} are free; {big.fix}",
        target, kind if target else "compiler", big.field)]


def _data_summary(project: Project, base_dir: str | Path | None, read_files: bool
                  ) -> DataFileSummary | ProjectError | None:
    ds = project.dataset
    if ds.source != "file" or not ds.path:
        return None
    path = resolve_path(ds.path, base_dir)
    if not path.is_file():
        return None
    if not read_files:
        return cached_data_summary(path, ds.format)
    try:
        return summarise_data_file(path, ds.format)
    except ProjectError as exc:
        return exc


def preflight(project: Project, base_dir: str | Path | None = None, *, mode: str = "train",
              read_files: bool = True, free_bytes: int | None = None) -> list[Issue]:
    """Everything that would stop ``project`` training (or evaluating, ``mode``
    "evaluate"/"predict"), found before anything is allocated: the network build
    and compile-time checks for the chosen compiler, dataset bound and shaped
    right, trial length against the examples' duration, physically sensible
    parameters, trained-weight shapes and memory against ``free_bytes`` (default:
    the machine's free memory).  An empty list (or only warnings) means ready.

    ``read_files=False`` uses only data-file summaries already read (the editor
    calls it on every edit); the worker reads them.
    """
    issues = (unresolved_checks(project) + library_checks(project) + range_checks(project)
              + eventprop_checks(project) + weights_checks(project))
    comp = project.compiler
    if mode == "train" and comp.type == "InferenceCompiler":
        issues.append(Issue("the Inference compiler only evaluates; choose EventProp or "
                            "e-prop to train", "", "compiler", "compiler.type"))
    ds = project.dataset
    if ds.source == "none":
        issues.append(Issue("no dataset: choose a built-in dataset or a data file in the "
                            "Dataset tab", "", "dataset", "dataset.source"))
    else:
        issues += dataset_checks(project, base_dir)
        summary = _data_summary(project, base_dir, read_files)
        if isinstance(summary, ProjectError):
            issues.append(Issue(summary.message, "", "dataset", summary.field or "dataset.path"))
            summary = None
        elif summary is not None:
            issues += data_file_checks(project, summary)
        issues += duration_checks(project, summary)
    issues += memory_checks(project, free_bytes)
    return issues


def require_ready(project: Project, base_dir: str | Path | None = None, *,
                  mode: str = "train") -> list[Issue]:
    """Run :func:`preflight` (reading data files); raise
    :class:`~app.project.errors.NotReadyError` listing every error, else return
    the warnings."""
    from app.project.errors import NotReadyError

    issues = preflight(project, base_dir, mode=mode)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise NotReadyError(errors)
    return issues
