"""EPropCompiler: online e-prop training (Bellec et al. 2020) with mlGeNN's arguments.

Hidden LIF/ALIF populations with Delta synapses (recurrent allowed) learn from
eligibility traces and a learning signal fed back symmetrically through the
output weights; LeakyIntegrate outputs learn from their error. Nothing the
learning needs is stored per timestep, so memory does not grow with
``example_timesteps`` (only the output voltage is kept when targets come per
timestep, for the metric and the reported loss).
State (V, traces, errors) carries over between trials, as in mlGeNN; Adam
runs at the end of every batch with the global batch index as its step.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.model import Network
from app.model.errors import bad_arg
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    IntegrateFireInput,
    LeakyIntegrate,
    LeakyIntegrateFire,
    SpikeInput,
)
from app.model.params import check_bool
from app.model.readouts import AvgVar, SumVar, Var
from app.model.synapses import Delta

from ..callbacks import CallbackList
from ..compiled import CompiledTrainingNetwork, Trainable
from ..engine import eprop_kernels as EK
from ..engine import get_eprop_backend
from ..engine.eprop_sim import EPropSimulator
from ..engine.layout import build_layout
from ..genn_compat import accept_genn_kwargs
from ..losses import MeanSquareError, SparseCategoricalCrossentropy
from ..optimisers import get_optimiser
from .base import (
    CompileError,
    Compiler,
    Problem,
    check_backend,
    check_cuda_training,
    check_positive_float,
    check_positive_int,
    rank_batch_size,
)
from .deep_r import DeepR

default_params = {
    AdaptiveLeakyIntegrateFire: {"relative_reset": True, "integrate_during_refrac": True},
    LeakyIntegrate: {"scale_i": False},
    LeakyIntegrateFire: {"relative_reset": True, "integrate_during_refrac": True,
                         "scale_i": False},
}

#: Arguments of EventPropCompiler that e-prop does not have.
EVENTPROP_ONLY = ("reg_lambda_upper", "reg_lambda_lower", "reg_nu_upper", "max_spikes",
                  "strict_buffer_checking", "per_timestep_loss", "ttfs_alpha",
                  "softmax_temperature", "delay_optimiser", "delay_learn_conns")

_READOUTS = {Var: EK.RD_VAR, SumVar: EK.RD_SUM, AvgVar: EK.RD_AVG}


def _check_non_negative(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not np.isfinite(value) or value < 0:
        raise bad_arg(owner, name, value, "a number >= 0 is required")
    return float(value)


class EPropCompiler(Compiler):
    """Compile a network for e-prop training (mlGeNN's EPropCompiler arguments).

    EventProp-only arguments such as ``max_spikes`` or ``reg_lambda_upper`` are
    reported by :meth:`check` (and make :meth:`compile` raise ``CompileError``)
    naming the argument; other unknown keywords are GeNN settings to mlGeNN
    (``device_select_method``, ...) and are ignored with one warning.
    ``deep_r_conns`` rewires those connections with Deep R (see ``deep_r.py``).
    """

    name = "EPropCompiler"

    def __init__(self, example_timesteps: int, losses: Any, optimiser: Any = "adam",
                 tau_reg: float = 500.0, c_reg: float = 0.001, f_target: float = 10.0,
                 train_output_bias: bool = True, dt: float = 1.0, batch_size: int = 1,
                 rng_seed: int = 0, kernel_profiling: bool = False,
                 reset_time_between_batches: bool = True, communicator: Any = None,
                 deep_r_conns: Sequence = (), deep_r_l1_strength: float = 0.01,
                 deep_r_record_rewirings: dict | None = None,
                 backend: str = "cpu", **kwargs: Any) -> None:
        o = "EPropCompiler"
        self.example_timesteps = check_positive_int(o, "example_timesteps", example_timesteps)
        self.losses = losses
        self.optimiser = get_optimiser(optimiser)
        self.tau_reg = check_positive_float(o, "tau_reg", tau_reg)
        self.c_reg = _check_non_negative(o, "c_reg", c_reg)
        self.f_target = _check_non_negative(o, "f_target", f_target)
        self.train_output_bias = check_bool(o, "train_output_bias", train_output_bias)
        self.dt = check_positive_float(o, "dt", dt)
        self.batch_size = check_positive_int(o, "batch_size", batch_size)
        self.rng_seed = check_positive_int(o, "rng_seed", rng_seed, minimum=0)
        self.kernel_profiling = check_bool(o, "kernel_profiling", kernel_profiling)
        self.reset_time_between_batches = check_bool(o, "reset_time_between_batches",
                                                     reset_time_between_batches)
        self.communicator = communicator
        self.backend = check_backend(o, backend)
        self.extra_kwargs = {k: v for k, v in kwargs.items() if k in EVENTPROP_ONLY}
        self.ignored_kwargs = accept_genn_kwargs(
            o, {k: v for k, v in kwargs.items() if k not in EVENTPROP_ONLY},
            inspect.signature(EPropCompiler).parameters, {})
        self.deep_r_conns = list(deep_r_conns)
        self.deep_r_l1_strength = deep_r_l1_strength
        self.deep_r_record_rewirings = dict(deep_r_record_rewirings or {})
        self._new_deep_r()  # checks the arguments now

    def _new_deep_r(self) -> DeepR:
        """Deep R state for one compiled network."""
        return DeepR(self.deep_r_conns, self.deep_r_l1_strength,
                     self.deep_r_record_rewirings, self.rng_seed, self.name)

    # ----- checks ------------------------------------------------------------------------
    def check(self, network: Network) -> list[Problem]:
        """e-prop's requirements (docs/training-semantics.md): every reason this network
        cannot be trained."""
        problems = super().check(network)
        for k in self.extra_kwargs:
            problems.append(Problem(f"'{k}' is an EventPropCompiler argument; e-prop has no "
                                    "such option (remove it or use EventPropCompiler)",
                                    "", "compiler", k))
        for name, msg in self._new_deep_r().problems():
            problems.append(Problem(msg, name, "connection", "deep_r_conns"))
        outputs = [p for p in network.populations if p.neuron.readout is not None]
        losses, lp = self._loss_map(outputs)
        problems += lp
        tau_mems: dict[float, list[str]] = {}
        tau_adapts: dict[float, list[str]] = {}
        for p in network.populations:
            nrn = p.neuron
            if nrn.is_input:
                if not isinstance(nrn, (SpikeInput, IntegrateFireInput)):
                    problems.append(Problem(
                        f"{type(nrn).__name__} inputs are not supported by e-prop yet; use "
                        "SpikeInput with spike trains", p.name, "population", "neuron"))
                continue
            if p in outputs:
                if not isinstance(nrn, LeakyIntegrate):
                    problems.append(Problem(
                        f"e-prop output neurons must be LeakyIntegrate, not "
                        f"{type(nrn).__name__}", p.name, "population", "neuron"))
                elif type(nrn.readout) not in _READOUTS:
                    problems.append(Problem(
                        f"readout '{nrn.readout.name}' is not supported by e-prop; use "
                        "'var' (regression), 'sum_var' or 'avg_var'", p.name, "population",
                        "readout"))
                loss = losses.get(p.name)
                if loss is not None and not isinstance(
                        loss, (SparseCategoricalCrossentropy, MeanSquareError)):
                    problems.append(Problem(
                        f"e-prop trains with sparse_categorical_crossentropy or "
                        f"mean_square_error, not {loss!r}", p.name, "population", "losses"))
                for c in p.outgoing_connections:
                    problems.append(Problem(
                        "an output population cannot project further with e-prop; remove "
                        "this connection", c.name, "connection", "source"))
                continue
            # hidden population
            if not isinstance(nrn, (LeakyIntegrateFire, AdaptiveLeakyIntegrateFire)):
                hint = (" (a LeakyIntegrate population without readout cannot be hidden)"
                        if isinstance(nrn, LeakyIntegrate) else "")
                problems.append(Problem(
                    f"e-prop hidden neurons must be LeakyIntegrateFire or "
                    f"AdaptiveLeakyIntegrateFire, not {type(nrn).__name__}{hint}",
                    p.name, "population", "neuron"))
                continue
            if isinstance(nrn, LeakyIntegrateFire) and nrn.tau_refrac is None:
                problems.append(Problem(
                    "e-prop LIF hidden neurons need a refractory period; set tau_refrac "
                    "(e.g. 5.0 ms)", p.name, "population", "tau_refrac"))
            if not any(c.target.neuron.readout is not None for c in p.outgoing_connections):
                problems.append(Problem(
                    "every e-prop hidden population must connect directly to an output "
                    "population (its learning signal comes back through those weights)",
                    p.name, "population", "connections"))
            tau_mems.setdefault(float(nrn.tau_mem), []).append(p.name)
            if isinstance(nrn, AdaptiveLeakyIntegrateFire):
                tau_adapts.setdefault(float(nrn.tau_adapt), []).append(p.name)
        for what, taus in (("tau_mem", tau_mems), ("tau_adapt", tau_adapts)):
            if len(taus) > 1:
                desc = "; ".join(f"{t:g} ms: {', '.join(n)}" for t, n in sorted(taus.items()))
                ref = max(taus, key=lambda t: len(taus[t]))
                for t, names in sorted(taus.items()):
                    for n in names if t != ref else ():
                        problems.append(Problem(
                            f"e-prop needs one {what} shared by all hidden populations, "
                            f"found {desc}", n, "population", what))
        for c in network.connections:
            if not isinstance(c.synapse, Delta):
                problems.append(Problem(
                    f"e-prop supports Delta synapses only, not {type(c.synapse).__name__}; "
                    "change the synapse to Delta", c.name, "connection", "synapse"))
            d = c.connectivity.delay
            zero_delay = (np.isscalar(d) and float(d) == 0.0) or (
                isinstance(d, (np.ndarray, list, tuple)) and not np.any(np.asarray(d)))
            if c.max_delay_steps is not None or not zero_delay:
                problems.append(Problem(
                    "e-prop does not support synaptic delays; set delay to 0",
                    c.name, "connection", "delay"))
        return problems

    # ----- compile -----------------------------------------------------------------------
    def compile(self, network: Network, name: str | None = None) -> EPropCompiledNetwork:
        """Check the network (raising CompileError) and build an e-prop training network."""
        problems = self.check(network)
        if problems:
            raise CompileError(self.name, problems)
        outputs = [p for p in network.populations if p.neuron.readout is not None]
        losses, _ = self._loss_map(outputs)
        hidden = [p for p in network.populations
                  if not p.neuron.is_input and p.neuron.readout is None]
        tau_mem = float(hidden[0].neuron.tau_mem) if hidden else 20.0
        tau_adapt = next((float(p.neuron.tau_adapt) for p in hidden
                          if isinstance(p.neuron, AdaptiveLeakyIntegrateFire)), None)
        # mlGeNN's e-prop builds convolutions as GeNN SPARSE connectivity: every synapse
        # gets its own weight and learns on its own (no shared kernel)
        layout = build_layout(network, self.dt, np.random.default_rng(self.rng_seed),
                              tie_kernels=False)
        deep_r = self._new_deep_r()
        if deep_r:
            layout = deep_r.expand(layout)
        out_losses = {p.name: (EK.LOSS_MSE if isinstance(losses[p.name], MeanSquareError)
                               else EK.LOSS_SCE) for p in outputs}
        out_readouts = {p.name: _READOUTS[type(p.neuron.readout)] for p in outputs}
        if self.backend == "cuda":
            check_cuda_training(self.name, deep_r=bool(deep_r), communicator=self.communicator,
                                optimiser=self.optimiser)
        per_rank = rank_batch_size(self.name, self.batch_size, self.communicator)
        sim = get_eprop_backend(self.backend)(layout, per_rank, self.dt, self.example_timesteps,
                             out_losses, out_readouts, tau_mem, tau_adapt, self.tau_reg,
                             self.c_reg, self.f_target, self.train_output_bias,
                             self.kernel_profiling)
        trainables = []
        for c in layout.connections:
            sl = layout.conn_slice(c.name)
            trainables.append(Trainable(c.name, "weight", layout.weights[sl],
                                        np.zeros(sl.stop - sl.start, np.float32),
                                        self.optimiser))
        if self.train_output_bias:
            for p in outputs:
                sl = layout.pop_slice(p.name)
                trainables.append(Trainable(p.name, "bias", layout.bias[sl],
                                            np.zeros(sl.stop - sl.start, np.float32),
                                            self.optimiser))
        cn = EPropCompiledNetwork(
            network, layout, sim, self.dt, self.example_timesteps, self.batch_size,
            self.communicator, reset_vars=False, reset_in_syn=False, rng_seed=self.rng_seed,
            optimiser=self.optimiser, trainables=trainables, losses=losses,
            deep_r=deep_r)
        cn.reset_time = self.reset_time_between_batches
        return cn


class EPropCompiledNetwork(CompiledTrainingNetwork):
    """Training network whose batches run the online e-prop kernel (no backward pass)."""

    sim: EPropSimulator  # or engine.cuda.eprop_sim.CUDAEPropSimulator (backend='cuda')
    reset_time: bool = True
    #: output populations whose targets come per timestep (set by ``_check_data``): their
    #: voltage is recorded every step so metrics and losses score the whole trial
    step_targets: frozenset = frozenset()

    def _check_data(self, x: dict[str, Any], y: dict[str, Any] | None) -> int:
        n = super()._check_data(x, y)
        if y is not None:
            self.step_targets = frozenset(k for k, v in y.items() if np.ndim(v) == 3)
        return n

    def _metric_pred(self, pop_name: str, out: dict[str, np.ndarray]) -> np.ndarray:
        """With per-timestep targets, V at every step of the trial (as EventProp's and
        the GeNN backend's), not just the readout of the last step."""
        hist = getattr(self, "_step_history", {}).get(pop_name)
        return out[pop_name] if hist is None else hist

    def _run(self, x: dict[str, Any], y: dict[str, Any] | None, idx: np.ndarray,
             cbl: CallbackList, example_ids: Sequence[int], learn: bool
             ) -> dict[str, np.ndarray]:
        n = len(idx)
        sim = self.sim
        sim.reset_readouts()
        sim.set_inputs(self._batch_inputs(x, idx), n)
        if y is not None:
            sim.set_labels({k: np.asarray(v)[idx] for k, v in y.items()}, n)
        else:
            sim.set_labels({}, n)
        rv, rs = cbl.recording_requests()
        step_cb = cbl if (cbl.has("on_timestep_begin") or cbl.has("on_timestep_end")) else None
        own = [(p, "V") for p in sorted(self.step_targets) if (p, "V") not in rv]
        rec = sim.run_trial(n, learn, rv + own, rs, step_cb, self.reset_time)
        self._step_history = {p: rec.values[:n, :, rec.var_slices[(p, "V")]]
                              for p in self.step_targets}
        if rv or rs:
            starts = {p.name: int(self.layout.pop_slice(p.name).start)
                      for p in self.network.populations}
            cbl.on_recording(rec, example_ids, starts, self.dt)
        self._last_recording = rec
        T = self.example_timesteps
        self.last_squared_error = {
            p.name: sim.squared_error(p.name)[:n].sum(axis=1) / (T * p.num_neurons)
            for p in self.outputs if isinstance(self.losses[p.name], MeanSquareError)}
        return {p.name: sim.readout(p.name)[:n] for p in self.outputs}

    def _forward(self, x: dict[str, Any], idx: np.ndarray, cbl: CallbackList,
                 example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """Evaluation/prediction: the same dynamics and readouts, no learning."""
        return self._run(x, None, idx, cbl, example_ids, learn=False)

    def _train_batch(self, x: dict[str, Any], y: dict[str, Any], idx: np.ndarray,
                     cbl: CallbackList, example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """One batch of online learning; leaves DeltaG/DeltaBias in the trainables."""
        out = self._run(x, y, idx, cbl, example_ids, learn=True)
        g, db = self.sim.take_gradients()
        for t in self.trainables:
            if t.kind == "weight":
                t.grad += g[self.layout.conn_slice(t.name)]
            else:
                t.grad += db[self.layout.pop_slice(t.name)]
        return out

    def optimise(self, step: int) -> None:
        """Adam on every weight and bias, then refresh the kernel's weight copies."""
        super().optimise(step)
        self.sim.refresh_weights()

    def reset_state(self) -> None:
        """Forget carried-over state (V, traces, errors) and pending gradients."""
        self.sim.reset_state()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for p in self.outputs:
            if hasattr(p.neuron, "bias"):
                p.neuron.bias = self.layout.bias[self.layout.pop_slice(p.name)].copy()


__all__ = ["EPropCompiler", "EPropCompiledNetwork", "default_params", "EVENTPROP_ONLY"]
