"""The project document a user saves: network graph, compiler, dataset,
training settings and trained weights (no Qt).

Public entry points: :func:`load_project`, :func:`save_project`,
:func:`build`, :func:`export_script` / :func:`write_script`, the examples in
:mod:`app.project.examples` and :class:`ProjectError`.
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
from app.project.errors import ProjectError
from app.project.export import export_file, export_script, write_script
from app.project.io import load_project, save_project
from app.project.train import TrainResult, train_file, train_project

__all__ = [
    "BuiltProject", "CompilerSpec", "ConnectionSpec", "DatasetSpec", "PopulationSpec", "Project",
    "ProjectError", "TrainResult", "TrainingSpec", "build", "export_file", "export_script",
    "load_project", "new_compiler", "new_connection", "new_population", "parse_project",
    "save_project", "train_file", "train_project", "write_script",
]
