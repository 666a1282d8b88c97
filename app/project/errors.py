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
