"""Export a project document as a standalone Python training script."""
from __future__ import annotations

import keyword
import os
import textwrap
from pathlib import Path
from typing import Any

from app.project import schema
from app.project.build import resolve_path
from app.project.document import ConnectionSpec, PopulationSpec, Project
from app.project.io import atomic_write_bytes

_RESERVED = {
    "np", "argparse", "args", "parser", "network", "compiler", "compiled_net", "dataset",
    "metrics", "weights", "Population", "Connection", "Network", "x_train", "y_train",
    "x_test", "y_test", "limit", "main", "cb_data", "result", "print", "data",
} | set(schema.NEURON_MODELS) | set(schema.SYNAPSES) | set(schema.CONNECTIVITY) \
  | set(schema.INITIALIZERS) | set(schema.COMPILERS) | {"Adam", "RelativeMeanSquareError",
                                                         "BUILTIN_DATASETS", "load_shd",
                                                         "load_npz_spikes"}


def _call(head: str, args: list[str], indent: int, close: str = ")") -> list[str]:
    """``head(arg, arg, ...)`` wrapped to 99 columns, continuation lines
    indented by ``indent + 4``."""
    one = " " * indent + head + "(" + ", ".join(args) + close
    if len(one) <= 99:
        return [one]
    lines = [" " * indent + head + "("]
    pad = " " * (indent + 4)
    cur = pad
    for i, a in enumerate(args):
        piece = a + ("," if i < len(args) - 1 else close)
        if cur.strip() and len(cur) + 1 + len(piece) > 99:
            lines.append(cur.rstrip())
            cur = pad
        cur += ("" if not cur.strip() else " ") + piece
    lines.append(cur.rstrip())
    return lines


def _var(name: str) -> str:
    if keyword.iskeyword(name) or name in _RESERVED:
        return f"{name}_pop"
    return name


def _lit(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def _kwargs(values: dict[str, Any], params: tuple[schema.Param, ...]) -> str:
    return ", ".join(f"{p.name}={_lit(values[p.name])}" for p in params if p.name in values)


def _neuron_args(pop: PopulationSpec) -> list[str]:
    args = [f"{p.name}={_lit(pop.params[p.name])}" for p in schema.model_params(pop.model)]
    if pop.readout is not None:
        args.append(f"readout={pop.readout!r}")
    return args


def _weight(conn: ConnectionSpec, has_trained: bool) -> str:
    if has_trained:
        return f"weights[{conn.id!r}]"
    w = conn.weight
    if w["type"] == "Constant":
        return _lit(float(w["value"]))
    return f"{w['type']}({_kwargs(w, schema.INITIALIZERS[w['type']])})"


def connectivity_2d_expr(conn: ConnectionSpec, weight: str) -> str:
    """Constructor of a convolution/pooling connectivity with every argument (shared
    with the mlGeNN exporter: the signatures are mlGeNN's)."""
    from app.project.shapes import connectivity_args

    c = conn.connectivity
    args = [] if c["type"] in schema.NO_WEIGHT else [f"weight={weight}"]
    args += [f"{k}={c[k]!r}" for k in connectivity_args(conn)]
    return f"{c['type']}({', '.join(args)})"


def schedule_source(project: Project, indent: int) -> list[str]:
    """``def alpha_schedule(epoch, alpha)`` for the project's learning-rate schedule (the
    form the mlGeNN importer reads back), or nothing."""
    sched = project.training.lr_schedule
    opt = project.compiler.optimiser
    if sched is None or opt is None or not project.compiler.info.has_optimiser:
        return []
    pad = " " * indent
    lines = [f"{pad}def alpha_schedule(epoch, alpha):"]
    if sched["type"] == "exponential":
        lines.append(f"{pad}    return {float(opt['alpha'])!r} * {float(sched['factor'])!r} "
                     "** epoch")
    else:
        lines += [f"{pad}    if epoch % {int(sched['every'])} == 0 and epoch != 0:",
                  f"{pad}        return alpha * {float(sched['factor'])!r}",
                  f"{pad}    return alpha"]
    return lines + [""]


def population_shape_expr(pop: PopulationSpec) -> str:
    """The shape argument of a population: its size, or its (h, w, c) shape."""
    return repr(tuple(pop.shape)) if pop.shape else str(pop.size)


def _connectivity(conn: ConnectionSpec, weight: str) -> str:
    c = conn.connectivity
    if c["type"] in schema.CONNECTIVITY_2D:
        return connectivity_2d_expr(conn, weight)
    if c["type"] == "FixedProbability":
        return (f"FixedProbability({_lit(c['p'])}, {weight}, "
                f"allow_self_connections={c['allow_self_connections']!r}, "
                f"delay={c['delay']!r})")
    return f"{c['type']}({weight}, delay={c['delay']!r})"


def _synapse(conn: ConnectionSpec) -> str:
    s = conn.synapse
    return f"{s['type']}({_kwargs(s, schema.SYNAPSES[s['type']])})"


def _optimiser(spec: dict[str, Any]) -> str:
    return f"{spec['type']}({_kwargs(spec, schema.OPTIMISERS[spec['type']])})"


def export_script(project: Project, weights_file: str | os.PathLike[str] | None = None,
                  base_dir: str | os.PathLike[str] | None = None) -> str:
    """Python source that rebuilds the project's network, compiler and dataset
    with ``app.model``/``app.training`` and trains (or evaluates) it.

    ``weights_file``: the project's sidecar ``.weights.npz`` (used when the
    project has trained weights); ``base_dir`` resolves a relative data path.
    The script accepts ``--epochs``, ``--max-examples`` and (for file
    datasets) ``--data``.
    """
    info = project.compiler.info
    pops = project.populations
    conns = project.connections
    use_weights = bool(project.weights) and weights_file is not None
    names = {p.id: _var(p.name) for p in pops}
    lines: list[str] = []
    add = lines.append

    title = project.name or "Spike Studio project"
    add(f'"""{title} - exported from Spike Studio.')
    add("")
    if project.description:
        for para in project.description.replace('"""', "'''").replace("\\", "/").splitlines():
            lines.extend(textwrap.wrap(para, 88) or [""])
        add("")
    add("Rebuilds the project's network, compiler and dataset and trains it.")
    add("Run: python this_script.py [--epochs N] [--max-examples N]")
    add('"""')
    add("import argparse")
    add("")
    add("import numpy as np")
    add("")
    add("from app.model import Connection, Network, Population")
    used_conn = sorted({c.connectivity["type"] for c in conns})
    if used_conn:
        add(f"from app.model.connectivity import {', '.join(used_conn)}")
    weighted = [c for c in conns if c.connectivity["type"] not in schema.NO_WEIGHT]
    used_init = sorted({c.weight["type"] for c in weighted} - {"Constant"}) if not use_weights \
        else sorted({c.weight["type"] for c in weighted if c.id not in project.weights}
                    - {"Constant"})
    if used_init:
        add(f"from app.model.initializers import {', '.join(used_init)}")
    add(f"from app.model.neurons import {', '.join(sorted({p.model for p in pops}))}")
    used_syn = sorted({c.synapse["type"] for c in conns})
    if used_syn:
        add(f"from app.model.synapses import {', '.join(used_syn)}")
    add(f"from app.training.compilers import {project.compiler.type}")
    loss = project.compiler.loss
    if info.has_losses and loss is not None and loss["type"] == "RelativeMeanSquareError":
        add("from app.training.losses import RelativeMeanSquareError")
    if info.has_optimiser:
        opts = {project.compiler.optimiser["type"]} if project.compiler.optimiser else set()
        if project.compiler.delay_optimiser:
            opts.add(project.compiler.delay_optimiser["type"])
        if opts:
            add(f"from app.training.optimisers import {', '.join(sorted(opts))}")
    ds = project.dataset
    if schedule_source(project, 0) and project.compiler.type != "InferenceCompiler" \
            and project.dataset.source != "none":
        add("from app.training.callbacks import OptimiserParamSchedule")
    if ds.source == "builtin":
        add("from app.training.data import BUILTIN_DATASETS")
    elif ds.source == "file":
        loader_name = "load_shd" if ds.format == "shd" else "load_npz_spikes"
        add(f"from app.training.data import {loader_name}")
    add("")
    add("parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])")
    add(f"parser.add_argument(\"--epochs\", type=int, default={project.training.num_epochs})")
    limit_default = project.training.max_examples
    add(f"parser.add_argument(\"--max-examples\", type=int, default={limit_default!r},")
    add("                    help=\"use at most this many examples per split\")")
    if ds.source == "file":
        data_path = str(resolve_path(ds.path, base_dir)) if ds.path else ""
        add(f"parser.add_argument(\"--data\", default={data_path!r},")
        add(f"                    help=\"path of the {ds.format.upper()} data file\")")
    add(f"parser.add_argument(\"--batch-size\", type=int, "
        f"default={project.compiler.params['batch_size']})")
    add("args = parser.parse_args()")
    add(f"np.random.seed({project.training.seed})")
    add("")

    # ---- dataset
    has_data = ds.source != "none" and project.input_population() is not None \
        and project.output_population() is not None
    if ds.source == "builtin":
        kw = ", ".join(f"{k}={_lit(v)}" for k, v in ds.params.items())
        add(f"dataset = BUILTIN_DATASETS[{ds.name!r}].load({kw})")
        add("x_train, y_train = dataset.train_spikes, dataset.train_labels")
        add("x_test, y_test = dataset.test_spikes, dataset.test_labels")
    elif ds.source == "file":
        fmt = ds.format.upper()
        add("if not args.data:")
        add(f"    parser.error(\"this project needs a {fmt} file: pass --data PATH\")")
        inp_pop = project.input_population()
        n_in = inp_pop.size if inp_pop is not None else 700
        if ds.format == "shd":
            dt = float(project.compiler.params["dt"])
            t_max = project.compiler.timesteps * dt
            add(f"x_train, y_train = load_shd(args.data, dt={dt!r}, max_time={t_max!r}, "
                f"num_inputs={n_in})")
        else:
            add(f"x_train, y_train = load_npz_spikes(args.data, num_inputs={n_in})")
    if ds.source != "none":
        add("if args.max_examples is not None:")
        add("    x_train, y_train = x_train[:args.max_examples], y_train[:args.max_examples]")
        if ds.source == "builtin":
            add("    x_test, y_test = x_test[:args.max_examples], y_test[:args.max_examples]")
        add("")

    if use_weights:
        add(f"weights = np.load({str(weights_file)!r}, allow_pickle=False)")
        add("")

    # ---- network
    add("network = Network()")
    add("with network:")
    add("    # Populations")
    for p in pops:
        rec = ", record_spikes=True" if p.record_spikes else ""
        lines.extend(_call(f"{names[p.id]} = Population({p.model}", _neuron_args(p), 4,
                           close="),"))
        add(f"        {population_shape_expr(p)}{rec}, name={p.name!r})")
    if conns:
        add("")
        add("    # Connections")
    for c in conns:
        named = c.id in project.compiler.delay_learn_conns or c.id in project.compiler.deep_r_conns
        conn_var = f"{_var(c.name)}" if named else None
        prefix = f"    {conn_var} = " if conn_var else "    "
        w = _weight(c, use_weights and c.id in project.weights)
        extra = f", max_delay_steps={c.max_delay_steps}" if c.max_delay_steps is not None else ""
        add(f"{prefix}Connection({names[c.source]}, {names[c.target]},")
        add(f"        {_connectivity(c, w)},")
        add(f"        {_synapse(c)}, name={c.name!r}{extra})")
    add("")

    # ---- compiler
    spec = project.compiler
    args: list[str] = [f"{p.name}={_lit(spec.params[p.name])}" if p.name != "batch_size"
                       else "batch_size=args.batch_size" for p in info.params]
    if info.has_losses and loss is not None:
        if loss["type"] == "RelativeMeanSquareError":
            args.insert(1, f"losses=RelativeMeanSquareError({_lit(loss['delta'])})")
        else:
            args.insert(1, f"losses={loss['type']!r}")
    if info.has_optimiser and spec.optimiser is not None:
        args.insert(2, f"optimiser={_optimiser(spec.optimiser)}")
    if info.has_delay_learning:
        if spec.delay_optimiser is not None:
            args.append(f"delay_optimiser={_optimiser(spec.delay_optimiser)}")
        if spec.delay_learn_conns:
            dl = ", ".join(_var(project.connection(c).name) for c in spec.delay_learn_conns)
            args.append(f"delay_learn_conns=[{dl}]")
    if info.has_deep_r and spec.deep_r_conns:
        dr = ", ".join(_var(project.connection(c).name) for c in spec.deep_r_conns)
        args.append(f"deep_r_conns=[{dr}]")
    lines.extend(_call(f"compiler = {spec.type}", args, 0))
    add("compiled_net = compiler.compile(network)")
    add("")

    if not has_data:
        add("with compiled_net:")
        add("    print(\"Network compiled; the project has no dataset bound to an input and an "
            "output.\")")
        return "\n".join(lines) + "\n"
    inp = names[project.input_population().id]  # type: ignore[union-attr]
    out = names[project.output_population().id]  # type: ignore[union-attr]
    regression = loss is not None and loss["type"] == "mean_square_error"
    metric = '"mean_square_error"' if regression else '"sparse_categorical_accuracy"'
    what = "MSE" if regression else "accuracy"
    scale = "" if regression else "100 * "
    unit = "" if regression else "%"
    add("with compiled_net:")
    if spec.type == "InferenceCompiler":
        xs, ys = ("x_test", "y_test") if ds.source == "builtin" else ("x_train", "y_train")
        add(f"    metrics, _ = compiled_net.evaluate({{{inp}: {xs}}}, {{{out}: {ys}}},")
        add(f"                                       metrics={metric})")
        add(f"    print(f\"Test {what} = {{{scale}metrics[{out}].result}}{unit}\")")
        return "\n".join(lines) + "\n"
    vs = project.training.validation_split
    sched = schedule_source(project, 4)
    lines.extend(sched)
    add(f"    metrics, cb_data = compiled_net.train({{{inp}: x_train}}, {{{out}: y_train}},")
    if sched:
        add("                                          callbacks=[\"batch_progress_bar\", "
            "OptimiserParamSchedule(\"alpha\", alpha_schedule)],")
    add("                                          num_epochs=args.epochs,")
    add(f"                                          shuffle={project.training.shuffle!r},")
    if vs:
        add(f"                                          validation_split={vs!r},")
    add(f"                                          metrics={metric})")
    add(f"    print(f\"Train {what} = {{{scale}metrics[{out}].result}}{unit}\")")
    return "\n".join(lines) + "\n"


def write_script(project: Project, path: str | os.PathLike[str],
                 project_path: str | os.PathLike[str] | None = None) -> Path:
    """Export to ``path`` atomically; ``project_path`` locates sidecar weights
    and relative data files."""
    from app.project.io import weights_path

    wfile = None
    base = None
    if project_path is not None:
        base = Path(project_path).parent
        if project.weights and weights_path(project_path).is_file():
            wfile = weights_path(project_path).resolve()
    src = export_script(project, wfile, base)
    atomic_write_bytes(path, src.encode("utf-8"))
    return Path(path)


def export_file(project_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Headless ``spike-studio export PROJECT -o script.py``: load and export."""
    from app.project.io import load_project

    return write_script(load_project(project_path), out_path, project_path)
