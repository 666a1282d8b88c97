"""The project document a user saves: network graph, compiler, dataset,
training settings and trained weights (no Qt).

Public entry points: :func:`load_project`, :func:`save_project`,
:func:`build`, :func:`export_script` / :func:`write_script`, the examples in
:mod:`app.project.examples` and :class:`ProjectError`; :func:`preflight` (is
it ready to train?), the palette's document operations in
:mod:`app.project.palette` and :func:`app.project.calibrate.calibrate`.
"""
from app.project.build import BuiltProject, build
from app.project.document import (
    CompilerSpec,
    ConnectionSpec,
    DatasetSpec,
    PopulationSpec,
    Project,
    TrainingSpec,
    new_compiler,
    new_connection,
    new_population,
    parse_project,
)
from app.project.errors import NotReadyError, ProjectError, WeightsFileError
from app.project.export import export_file, export_script, write_script
from app.project.io import load_project, save_project
from app.project.train import TrainResult, train_file, train_project
from app.project.validate import Issue, is_ready, preflight, require_ready

__all__ = [
    "BuiltProject", "CompilerSpec", "ConnectionSpec", "DatasetSpec", "Issue", "NotReadyError",
    "PopulationSpec", "Project", "ProjectError", "TrainResult", "TrainingSpec",
    "WeightsFileError", "build", "export_file", "export_script", "is_ready", "load_project",
    "new_compiler", "new_connection", "new_population", "parse_project", "preflight",
    "require_ready", "save_project", "train_file", "train_project", "write_script",
]
