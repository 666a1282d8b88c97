"""Applying a compiler's ``default_params`` to the document's populations
and synapses, reporting what changed."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from app.project import schema
from app.project.document import Project


@dataclass(frozen=True)
class Change:
    """One value changed by :func:`apply_compiler_defaults`."""

    target: str  # population or connection id
    name: str  # its name
    param: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.name}.{self.param}: {self.old!r} -> {self.new!r}"


def compiler_default_params(kind: str) -> dict[str, dict[str, Any]]:
    """``default_params`` of a compiler module keyed by model class name.

    Read from the library (``app.training.compilers.<module>.default_params``)
    when it is installed, else from the schema's copy of the same table.
    """
    info = schema.COMPILERS[kind]
    try:
        module = importlib.import_module(info.module)
        table = module.default_params
    except (ImportError, AttributeError):
        return {k: dict(v) for k, v in info.default_params.items()}
    return {(k if isinstance(k, str) else k.__name__): dict(v) for k, v in table.items()}


def apply_compiler_defaults(project: Project) -> list[Change]:
    """Set every parameter named in the compiler's ``default_params`` on the
    populations (by model) and connections (by synapse); returns the changes."""
    table = compiler_default_params(project.compiler.type)
    changes: list[Change] = []
    for pop in project.populations:
        for param, value in table.get(pop.model, {}).items():
            if param in pop.params and pop.params[param] != value:
                changes.append(Change(pop.id, pop.name, param, pop.params[param], value))
                pop.params[param] = value
    for conn in project.connections:
        for param, value in table.get(conn.synapse["type"], {}).items():
            if param in conn.synapse and conn.synapse[param] != value:
                changes.append(Change(conn.id, conn.name, f"synapse.{param}",
                                      conn.synapse[param], value))
                conn.synapse[param] = value
    return changes


#: Training settings a built-in dataset recommends, per compiler: values that
#: reach the dataset's usual accuracy in a few minutes on a laptop CPU.
DATASET_TRAINING: dict[str, dict[str, dict[str, Any]]] = {
    "yin_yang": {
        "EventPropCompiler": {"batch_size": 32, "num_epochs": 20, "alpha": 0.003},
    },
}


def dataset_training_defaults(project: Project, key: str) -> list[str]:
    """Apply :data:`DATASET_TRAINING` for dataset ``key`` to every setting still at
    a new project's value (the user's own choices stay); returns what changed."""
    from app.project.document import TrainingSpec, new_compiler

    table = DATASET_TRAINING.get(key, {}).get(project.compiler.type, {})
    fresh_comp = new_compiler(project.compiler.type)
    fresh_train = TrainingSpec()
    opt = project.compiler.optimiser
    fresh_opt = fresh_comp.optimiser
    changes: list[str] = []
    for name, value in table.items():
        if name in project.compiler.params:
            holder, fresh = project.compiler.params, fresh_comp.params.get(name)
        elif opt is not None and fresh_opt is not None and name in opt:
            holder, fresh = opt, fresh_opt.get(name)
        elif hasattr(fresh_train, name):
            old = getattr(project.training, name)
            if old == getattr(fresh_train, name) and old != value:
                setattr(project.training, name, value)
                changes.append(f"{name}: {old!r} -> {value!r}")
            continue
        else:
            continue
        if holder[name] == fresh and holder[name] != value:
            changes.append(f"{name}: {holder[name]!r} -> {value!r}")
            holder[name] = value
    return changes
