"""Document operations behind the editor's palette and inspector (no Qt).

The window calls these inside ``DocumentController.edit`` so a network built
by hand (add nodes, connect them, resize, pick a dataset) starts from values
that train: populations with the compiler's parameters, connections with
fan-in-scaled initial weights (:mod:`app.project.initial_weights`) that follow
later size changes until the user sets them, and a built-in dataset that
brings its timestep, trial length and sensible training settings.
"""
from __future__ import annotations

import math
from typing import Any

from app.project import schema
from app.project.defaults import dataset_training_defaults
from app.project.document import (
    ConnectionSpec,
    PopulationSpec,
    Project,
    new_connection,
    new_population,
)
from app.project.errors import ProjectError
from app.project.initial_weights import initial_weight, rederive_initial_weights

#: readout of a new LeakyIntegrate output (summed voltage: on palette-built
#: Yin-Yang it trains to ~94 % where max_var stalls near 75 %)
OUTPUT_READOUT = "sum_var"


def palette_population(project: Project, model: str, position: tuple[float, float] = (0.0, 0.0)
                       ) -> PopulationSpec:
    """The population a node dropped from the palette stands for (not yet added).

    Inputs get 10 neurons, hidden populations 100, a ``LeakyIntegrate`` is an
    output (10 neurons, the compiler's usual readout); parameters follow the
    compiler (EventProp: no relative reset, scaled input; e-prop: a refractory
    period).
    """
    kind = project.compiler.type
    if model == "LeakyIntegrate":
        pop = new_population(project, model, 10, "output",
                             readout=OUTPUT_READOUT, position=position)
        if kind == "EventPropCompiler":
            pop.params["scale_i"] = True
        return pop
    if schema.model_role(model) == "input":
        return new_population(project, model, 10, "input", position=position)
    pop = new_population(project, model, 100, "hidden", position=position)
    if kind == "EPropCompiler" and model in ("LeakyIntegrateFire",
                                              "AdaptiveLeakyIntegrateFire"):
        pop.params["tau_refrac"] = 5.0  # e-prop needs a refractory period
    if kind == "EventPropCompiler" and model == "LeakyIntegrateFire":
        pop.params.update(relative_reset=False, integrate_during_refrac=False, scale_i=True)
    return pop


def palette_connection(project: Project, source: str, target: str) -> ConnectionSpec:
    """A new connection between population ids (not yet added): a synapse suiting
    the compiler and initial weights derived from fan-in and the target's model,
    marked ``weight_source = "auto"`` so resizing re-derives them."""
    if project.compiler.type == "EventPropCompiler":
        synapse = {"type": "Exponential", "tau": 5.0, "scale_i": True}
    else:
        synapse = {"type": "Delta"}
    conn = new_connection(project, source, target, synapse=synapse)
    conn.weight = initial_weight(project, conn)
    conn.weight_source = "auto"
    return conn


def add_population(project: Project, model: str, position: tuple[float, float] = (0.0, 0.0)
                   ) -> PopulationSpec:
    """:func:`palette_population`, added to the document."""
    pop = palette_population(project, model, position)
    project.populations.append(pop)
    return pop


def connect(project: Project, source: str, target: str) -> ConnectionSpec:
    """:func:`palette_connection`, added to the document."""
    conn = palette_connection(project, source, target)
    project.connections.append(conn)
    return conn


def resize_population(project: Project, population_id: str, size: int) -> list[str]:
    """Set a population's size and re-derive the initial weights of the connections
    touching it that the user has not set; returns those connection ids."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ProjectError("must be a whole number of neurons, at least 1", "size")
    project.population(population_id).size = int(size)
    return rederive_initial_weights(project, [population_id])


def set_connection_weight(project: Project, connection_id: str, weight: dict[str, Any]
                          ) -> None:
    """The user's own initializer for a connection: kept through later resizes."""
    conn = project.connection(connection_id)
    conn.weight = dict(weight)
    conn.weight_source = "user"


def choose_builtin_dataset(project: Project, key: str) -> list[str]:
    """Bind a built-in dataset: the compiler takes its timestep and trial length
    (so example_timesteps x dt covers every example), training settings still at
    a new project's values take the dataset's recommended ones
    (:func:`app.project.defaults.dataset_training_defaults`), and the bound input
    and output populations take the dataset's sizes.
    Returns a line per change for the status bar."""
    if key not in schema.BUILTIN_DATASET_KEYS:
        raise ProjectError(f"unknown built-in dataset (allowed: "
                           f"{', '.join(schema.BUILTIN_DATASET_KEYS)})", "dataset.name")
    from app.training.data import BUILTIN_DATASETS

    info = BUILTIN_DATASETS[key]
    ds = project.dataset
    ds.source, ds.name, ds.params = "builtin", key, {}
    ds.format = ds.path = ds.test_path = ""
    changes: list[str] = []
    comp = project.compiler
    dt = float(info.default_kwargs.get("dt", info.dt))
    duration = float(info.default_kwargs.get("example_time", info.example_timesteps * info.dt))
    steps = int(math.ceil(round(duration / dt, 9)))
    arg = comp.info.timesteps_arg
    for name, value in (("dt", dt), (arg, steps)):
        if comp.params.get(name) != value:
            changes.append(f"{name}: {comp.params.get(name)!r} -> {value!r}")
            comp.params[name] = value
    changes += dataset_training_defaults(project, key)
    for pop, want in ((project.input_population(), info.num_inputs),
                      (project.output_population(), info.num_outputs)):
        if pop is not None and pop.size != want:
            changes.append(f"{pop.name}.size: {pop.size} -> {want}")
            resize_population(project, pop.id, want)
    rederive_initial_weights(project)
    return changes
