"""Errors raised by project loading, validation and building."""
from __future__ import annotations


class ProjectError(Exception):
    """A project document (or its sidecar files) is invalid.

    ``field`` names the offending value as a path such as
    ``populations[2].size``; it is ``""`` for file-level problems.
    """

    def __init__(self, message: str, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class WeightsFileError(ProjectError):
    """The trained-weights sidecar (``NAME.weights.npz``) is missing or unreadable
    while the project file itself is intact: the editor offers to open the
    project without trained weights (``load_project(path, without_weights=True)``)."""


class NotReadyError(ProjectError):
    """:func:`app.project.validate.preflight` found errors; ``issues`` lists them
    (each with its ``field`` and fix), ``field`` is the first one's."""

    def __init__(self, issues: list) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  - {i.field}: {i.message}" if i.field else f"  - {i.message}"
                          for i in self.issues)
        first = self.issues[0] if self.issues else None
        ProjectError.__init__(self, f"not ready to train:\n{lines}",
                              (first.field or "") if first is not None else "")
        self.args = (self.message,)

    def __str__(self) -> str:
        return self.message
