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


def validate_project(project: Project, base_dir: str | Path | None = None) -> list[Issue]:
    """Every problem the canvas shows and training refuses."""
    return library_checks(project) + dataset_checks(project, base_dir)
