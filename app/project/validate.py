"""Problems of a project, located on the population, connection or panel
they concern.  Network/compiler checks come from the library's own
``app.training.compilers.check_network`` (the compile-time checks), so the
canvas and ``compile()`` never disagree; this module adds only what is
about the document itself (dataset binding and shapes)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.project.build import build_compiler, build_network, resolve_path
from app.project.document import Project
from app.project.errors import ProjectError


@dataclass(frozen=True)
class Issue:
    """One problem: ``target`` is a population/connection id ("" for panels)."""

    message: str
    target: str = ""
    kind: str = "compiler"  # "population" | "connection" | "compiler" | "dataset"
    field: str | None = None


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


def library_checks(project: Project) -> list[Issue]:
    """Issues found by ``check_network`` (or by building the network)."""
    try:
        network, pops, conns = build_network(project, use_weights=False)
        compiler = build_compiler(project, conns)
    except ProjectError as exc:
        target, kind = _target_of_field(project, exc.field)
        return [Issue(exc.message, target, kind, exc.field or None)]
    try:
        from app.training.compilers import check_network
    except ImportError:  # compilers not available: nothing more to check
        return []
    by_name = {p.name: (p.id, "population") for p in project.populations}
    by_name.update({c.name: (c.id, "connection") for c in project.connections})
    out = []
    for prob in check_network(network, compiler):
        target, kind = by_name.get(getattr(prob, "target", "") or "", ("", prob.kind))
        out.append(Issue(prob.message, target, prob.kind or kind, getattr(prob, "field", None)))
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
    if inp is not None and inp.model == "IntegrateFireInput":
        issues.append(Issue(
            f"'{inp.name}' (integrate-and-fire input) takes input values, but datasets give "
            "spike trains; use a Spike input, or feed values from a script "
            "(File > Export script)", inp.id, "population", "model"))
    if ds.source == "builtin":
        try:
            from app.training.data import BUILTIN_DATASETS
        except ImportError:
            return issues
        info = BUILTIN_DATASETS.get(ds.name)
        if info is None:
            return issues
        if inp is not None and inp.size != info.num_inputs:
            issues.append(Issue(
                f"{info.name} has {info.num_inputs} input neurons but '{inp.name}' has "
                f"{inp.size}; set its size to {info.num_inputs}", inp.id, "population",
                "size"))
        if out is not None and out.size != info.num_outputs:
            issues.append(Issue(
                f"{info.name} has {info.num_outputs} outputs but '{out.name}' has {out.size}; "
                f"set its size to {info.num_outputs}", out.id, "population", "size"))
        loss = project.compiler.loss
        if loss is not None:
            regression = info.num_classes is None
            if regression and loss["type"] != "mean_square_error":
                issues.append(Issue(f"{info.name} is a regression task: use the "
                                    "mean_square_error loss", "", "compiler", "loss"))
            if not regression and loss["type"] == "mean_square_error":
                issues.append(Issue(f"{info.name} has class labels: use a classification "
                                    "loss", "", "compiler", "loss"))
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
                                name))
        else:
            issues.append(Issue(f"the imported script computes {name} from its data "
                                f"({expr}); set it in the Compiler tab", "", "compiler",
                                name))
    return issues


def validate_project(project: Project, base_dir: str | Path | None = None) -> list[Issue]:
    """Every problem the canvas shows and training refuses."""
    return library_checks(project) + dataset_checks(project, base_dir) \
        + unresolved_checks(project)


@dataclass(frozen=True)
class DataFileSummary:
    """What a data file holds, read without pickle or executing anything."""

    num_examples: int
    num_inputs: int  # largest neuron id + 1 (or the file's own count)
    num_classes: int | None  # None: float targets (regression)
    latest_spike_ms: float


def summarise_data_file(path: str | Path, fmt: str) -> DataFileSummary:
    """Read a SHD ``.h5`` or spikes ``.npz`` far enough to check its shapes.

    Raises :class:`ProjectError` (field ``dataset.path``) for unreadable files.
    """
    import numpy as np

    path = Path(path)
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
                            f"{summary.num_inputs}", inp.id, "population", "size"))
    if out is not None and summary.num_classes is not None and out.size < summary.num_classes:
        issues.append(Issue(f"the file has {summary.num_classes} classes but '{out.name}' has "
                            f"{out.size} neurons; set its size to {summary.num_classes}",
                            out.id, "population", "size"))
    dt = float(project.compiler.params["dt"])
    last = (project.compiler.timesteps - 1) * dt
    if project.dataset.format == "npz" and summary.latest_spike_ms > last:
        need = int(summary.latest_spike_ms / dt) + 2
        issues.append(Issue(f"the file has spikes up to {summary.latest_spike_ms:g} ms but "
                            f"trials end at {last:g} ms; set "
                            f"{project.compiler.info.timesteps_arg} to at least {need}", "",
                            "compiler", project.compiler.info.timesteps_arg))
    return issues
