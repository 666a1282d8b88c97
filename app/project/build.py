"""Turn a project document into library objects: network, compiler, data."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.project import schema
from app.project.document import ConnectionSpec, PopulationSpec, Project
from app.project.errors import ProjectError


@dataclass
class BuiltProject:
    """What :func:`build` returns.  Unpacks as ``network, compiler, dataset``."""

    network: Any
    compiler: Any
    dataset: Any  # app.training.data.SpikeDataset or None
    populations: dict[str, Any] = field(default_factory=dict)  # id -> Population
    connections: dict[str, Any] = field(default_factory=dict)  # id -> Connection
    input: Any = None  # the Population the data feeds
    output: Any = None  # the Population the labels belong to

    def __iter__(self):  # noqa: D105 - unpacking convenience
        return iter((self.network, self.compiler, self.dataset))

    def train_data(self) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """``({input: spikes}, {output: labels})`` for ``compiled.train``."""
        if self.dataset is None or self.input is None or self.output is None:
            raise ProjectError("the project has no dataset bound to an input and an output",
                               "dataset")
        return ({self.input: self.dataset.train_spikes},
                {self.output: self.dataset.train_labels})

    def test_data(self) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """``({input: spikes}, {output: labels})`` of the test split."""
        if self.dataset is None or self.input is None or self.output is None:
            raise ProjectError("the project has no dataset bound to an input and an output",
                               "dataset")
        return ({self.input: self.dataset.test_spikes}, {self.output: self.dataset.test_labels})


def neuron_object(pop: PopulationSpec) -> Any:
    """The ``app.model.neurons`` object of a population."""
    from app.model import neurons

    cls = getattr(neurons, pop.model)
    kwargs = dict(pop.params)
    if pop.readout is not None:
        kwargs["readout"] = pop.readout
    return cls(**kwargs)


def initializer_object(weight: dict[str, Any]) -> Any:
    """Weight initializer (or a plain number for ``Constant``)."""
    from app.model import initializers

    kind = weight["type"]
    if kind == "Constant":
        return float(weight["value"])
    args = {k: v for k, v in weight.items() if k != "type"}
    return getattr(initializers, kind)(**args)


def connectivity_object(conn: ConnectionSpec, weight: Any) -> Any:
    """The ``app.model.connectivity`` object of a connection."""
    from app.model import connectivity
    from app.project.shapes import connectivity_args

    c = conn.connectivity
    kind = c["type"]
    if kind == "FixedProbability":
        return connectivity.FixedProbability(c["p"], weight, c["allow_self_connections"],
                                             c["delay"])
    if kind in schema.CONNECTIVITY_2D:
        args = connectivity_args(conn)
        if kind in schema.NO_WEIGHT:
            return getattr(connectivity, kind)(**args)
        return getattr(connectivity, kind)(weight, **args)
    return getattr(connectivity, kind)(weight, c["delay"])


def kernel_shape(project: Project, conn: ConnectionSpec) -> tuple[int, ...] | None:
    """Shape of a convolution's kernel (the trained weights of a tied kernel), or None."""
    kind = conn.connectivity["type"]
    src = project.population(conn.source)
    if kind not in ("Conv2D", "Conv2DTranspose", "AvgPoolConv2D") or src.shape is None \
            or len(src.shape) != 3:
        return None
    c = conn.connectivity
    kh, kw = c["conv_size"]
    if kind == "Conv2DTranspose":
        return (kh, kw, c["filters"], src.shape[2])
    return (kh, kw, src.shape[2], c["filters"])


def synapse_object(conn: ConnectionSpec) -> Any:
    """The ``app.model.synapses`` object of a connection."""
    from app.model import synapses

    s = conn.synapse
    if s["type"] == "Exponential":
        return synapses.Exponential(s["tau"], s["scale_i"])
    return synapses.Delta()


def trained_weight(project: Project, conn: ConnectionSpec) -> np.ndarray | None:
    """The trained weight array of a connection, shape-checked, or None."""
    arr = project.weights.get(conn.id)
    if arr is None:
        return None
    kind = conn.connectivity["type"]
    n_pre = project.population(conn.source).size
    n_post = project.population(conn.target).size
    want = {"Dense": (n_pre, n_post), "OneToOne": (n_pre,)}.get(kind) \
        or kernel_shape(project, conn)
    if want is None:
        raise ProjectError(f"trained weights cannot be restored for {kind} connectivity",
                           f"weights.{conn.id}")
    if tuple(arr.shape) != want:
        raise ProjectError(f"trained weights have shape {tuple(arr.shape)} but the connection "
                           f"needs {want}; clear the weights or undo the size change",
                           f"weights.{conn.id}")
    return arr


def build_network(project: Project, use_weights: bool = True) -> tuple[Any, dict, dict]:
    """Build the ``app.model.Network``; returns (network, populations, connections) maps.

    Raises :class:`ProjectError` naming the population or connection whose
    arguments the model layer refused.
    """
    from app.model import Connection, Network, Population
    from app.model.errors import ModelError

    network = Network()
    pops: dict[str, Any] = {}
    conns: dict[str, Any] = {}
    with network:
        for i, p in enumerate(project.populations):
            try:
                pops[p.id] = Population(neuron_object(p), p.model_shape,
                                        record_spikes=p.record_spikes, name=p.name)
            except ModelError as exc:
                raise ProjectError(str(exc), f"populations[{i}]") from None
        for i, c in enumerate(project.connections):
            try:
                weight = trained_weight(project, c) if use_weights else None
                if weight is None:
                    weight = initializer_object(c.weight)
                conns[c.id] = Connection(pops[c.source], pops[c.target],
                                         connectivity_object(c, weight), synapse_object(c),
                                         name=c.name, max_delay_steps=c.max_delay_steps)
            except ModelError as exc:
                raise ProjectError(str(exc), f"connections[{i}]") from None
    return network, pops, conns


def schedule_callbacks(project: Project) -> list[Any]:
    """The learning-rate schedule of the training settings as library callbacks."""
    sched = project.training.lr_schedule
    opt = project.compiler.optimiser
    if sched is None or opt is None or not project.compiler.info.has_optimiser:
        return []
    from app.training.callbacks import OptimiserParamSchedule

    factor = float(sched["factor"])
    if sched["type"] == "exponential":
        alpha0 = float(opt["alpha"])
        return [OptimiserParamSchedule("alpha",
                                       lambda epoch, alpha: alpha0 * factor ** epoch)]
    every = int(sched["every"])
    return [OptimiserParamSchedule(
        "alpha", lambda epoch, alpha: alpha * factor if epoch and epoch % every == 0
        else alpha)]


def _optimiser(spec: dict[str, Any] | None) -> Any:
    if spec is None:
        return None
    from app.training import optimisers

    args = {k: v for k, v in spec.items() if k != "type"}
    return getattr(optimisers, spec["type"])(**args)


def _loss(spec: dict[str, Any] | None) -> Any:
    if spec is None:
        return None
    if spec["type"] == "RelativeMeanSquareError":
        from app.training import losses

        return losses.RelativeMeanSquareError(spec["delta"])
    return spec["type"]


def compiler_kwargs(project: Project, connections: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """Keyword arguments of the compiler constructor (objects built)."""
    spec = project.compiler
    info = spec.info
    kwargs: dict[str, Any] = dict(spec.params)
    if info.has_losses:
        kwargs["losses"] = _loss(spec.loss)
    if info.has_optimiser:
        kwargs["optimiser"] = _optimiser(spec.optimiser)
    if info.has_delay_learning:
        if spec.delay_optimiser is not None:
            kwargs["delay_optimiser"] = _optimiser(spec.delay_optimiser)
        if spec.delay_learn_conns:
            conns = connections or {}
            kwargs["delay_learn_conns"] = [conns[c] for c in spec.delay_learn_conns
                                           if c in conns]
    if info.has_deep_r and spec.deep_r_conns:
        conns = connections or {}
        kwargs["deep_r_conns"] = [conns[c] for c in spec.deep_r_conns if c in conns]
    return kwargs


def build_compiler(project: Project, connections: dict[str, Any] | None = None) -> Any:
    """The compiler object of the project."""
    compilers = importlib.import_module("app.training.compilers")
    cls = getattr(compilers, project.compiler.type, None)
    if cls is None:
        raise ProjectError(f"{project.compiler.type} is not available in this installation",
                           "compiler.type")
    try:
        return cls(**compiler_kwargs(project, connections))
    except (TypeError, ValueError) as exc:
        raise ProjectError(str(exc), "compiler") from None


def resolve_path(path: str, base_dir: str | Path | None) -> Path:
    """A dataset path made absolute against the project's folder."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def load_file_split(project: Project, path: Path) -> tuple[list, np.ndarray]:
    """(spikes, labels) of one data file, binned to the compiler's dt and cut
    to its trial length; labels are required."""
    from app.training import data

    ds = project.dataset
    inp = project.input_population()
    num_inputs = inp.size if inp is not None else None
    limit = project.training.max_examples
    if ds.format == "shd":
        dt = float(project.compiler.params["dt"])
        spikes, labels = data.load_shd(path, dt=dt, max_time=project.compiler.timesteps * dt,
                                       num_inputs=num_inputs or 700, max_examples=limit)
    else:
        spikes, labels = data.load_npz_spikes(path, num_inputs=num_inputs)
        if labels is None:
            raise ProjectError(f"{path.name} has no 'labels' (or 'targets') array",
                               "dataset.path")
        if limit is not None:
            spikes, labels = spikes[:limit], labels[:limit]
    return list(spikes), np.asarray(labels)


def load_dataset(project: Project, base_dir: str | Path | None = None) -> Any:
    """Load the project's dataset (a ``SpikeDataset``) or None when it has none."""
    ds = project.dataset
    if ds.source == "none":
        return None
    from app.training import data

    try:
        if ds.source == "builtin":
            registry = data.BUILTIN_DATASETS
            if ds.name not in registry:
                raise ProjectError(f"built-in dataset {ds.name!r} is not available",
                                   "dataset.name")
            dataset = registry[ds.name].load(**ds.params)
        else:
            if not ds.path:
                raise ProjectError("choose the data file (Dataset tab)", "dataset.path")
            path = resolve_path(ds.path, base_dir)
            if not path.is_file():
                raise ProjectError(f"file {path} does not exist", "dataset.path")
            train_x, train_y = load_file_split(project, path)
            test_x: list = []
            test_y = np.zeros((0,) + train_y.shape[1:], train_y.dtype)
            if ds.test_path:
                tpath = resolve_path(ds.test_path, base_dir)
                if not tpath.is_file():
                    raise ProjectError(f"file {tpath} does not exist", "dataset.test_path")
                test_x, test_y = load_file_split(project, tpath)
            regression = train_y.dtype.kind == "f"
            out = project.output_population()
            num_classes = None if regression else (
                out.size if out is not None else int(train_y.max(initial=0)) + 1)
            dataset = data.SpikeDataset(
                train_spikes=train_x, train_labels=train_y, test_spikes=test_x,
                test_labels=test_y, num_inputs=train_x[0].end_spikes.shape[0] if train_x
                else 0, num_outputs=out.size if out is not None else 0,
                num_classes=num_classes,
                example_timesteps=project.compiler.timesteps,
                dt=float(project.compiler.params["dt"]), name=path.stem)
    except ProjectError:
        raise
    except (data.DatasetError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(str(exc), "dataset") from None
    limit = project.training.max_examples
    if limit is not None and dataset is not None:
        dataset = limit_dataset(dataset, limit)
    return dataset


def limit_dataset(dataset: Any, limit: int) -> Any:
    """A copy of a SpikeDataset keeping at most ``limit`` examples per split."""
    import copy

    out = copy.copy(dataset)
    out.train_spikes = list(dataset.train_spikes[:limit])
    out.train_labels = dataset.train_labels[:limit]
    out.test_spikes = list(dataset.test_spikes[:limit])
    out.test_labels = dataset.test_labels[:limit]
    if getattr(dataset, "validation_spikes", None) is not None:
        out.validation_spikes = list(dataset.validation_spikes[:limit])
        out.validation_labels = dataset.validation_labels[:limit]
    if getattr(dataset, "targets", None) is not None:
        out.targets = dataset.targets[:limit]
    return out


def build(project: Project, base_dir: str | Path | None = None, *, with_data: bool = True,
          use_weights: bool = True) -> BuiltProject:
    """Document -> (network, compiler, dataset) plus id maps.

    ``base_dir`` resolves relative dataset paths (the project file's folder).
    """
    if project.unresolved:
        key, expr = next(iter(project.unresolved.items()))
        raise ProjectError(f"{len(project.unresolved)} value(s) of the imported script come "
                           f"from its data and are not set yet, e.g. {key.split(':')[-1]} = "
                           f"{expr}; set them (they are listed as problems)",
                           "unresolved." + key)
    network, pops, conns = build_network(project, use_weights)
    compiler = build_compiler(project, conns)
    dataset = load_dataset(project, base_dir) if with_data else None
    inp = project.input_population()
    out = project.output_population()
    return BuiltProject(network, compiler, dataset, pops, conns,
                        pops.get(inp.id) if inp else None, pops.get(out.id) if out else None)
