"""Bundled example projects (``resources/examples/*.ssproj``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.project.document import Project
from app.project.io import load_project

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"


@dataclass(frozen=True)
class Example:
    """One bundled example: its file and display title."""

    key: str
    title: str
    path: Path


def examples() -> list[Example]:
    """Every bundled example, sorted by file name."""
    out = []
    for f in sorted(EXAMPLES_DIR.glob("*.ssproj")):
        out.append(Example(f.stem, load_project(f).name, f))
    return out


def load_example(key: str) -> Project:
    """Load a bundled example by key (its file stem)."""
    path = EXAMPLES_DIR / f"{key}.ssproj"
    if not path.is_file():
        raise KeyError(key)
    return load_project(path)
