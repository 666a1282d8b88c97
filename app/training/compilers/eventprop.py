"""EventPropCompiler: exact gradients for LIF networks (Wunderlich & Pehle 2021).

Each batch runs the forward pass (recording spike times and (x - V) per
spike), then the adjoint pass backwards in time, then one Adam step. Unlike
mlGeNN, every batch's gradient is applied (docs/training-semantics.md, "Deliberate differences").
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.model import Connection, Network, Population
from app.model.conv import KERNEL_CONNECTIVITY, AvgPool2D, AvgPoolDense2D
from app.model.errors import bad_arg
from app.model.neurons import (
    AdaptiveLeakyIntegrateFire,
    LeakyIntegrate,
    LeakyIntegrateFire,
    PoissonInput,
)
from app.model.params import check_bool
from app.model.readouts import AvgVar, AvgVarExpWeight, FirstSpikeTime, MaxVar, SumVar, Var
from app.model.synapses import Exponential

from ..callbacks import CallbackList
from ..compiled import CompiledTrainingNetwork, Trainable, TrainingError
from ..engine import eventprop_kernels as EK
from ..engine import get_backend, optim
from ..engine import kernels as K
from ..engine.cpu import EventPropDrive
from ..engine.layout import build_layout
from ..engine.passes import OVERFLOW
from ..genn_compat import accept_genn_kwargs
from ..losses import (
    FirstSpikeCrossentropy,
    MeanSquareError,
    RelativeMeanSquareError,
    SparseCategoricalCrossentropy,
    softmax,
)
from ..optimisers import get_optimiser
from .base import (
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
    LeakyIntegrateFire: {"relative_reset": False, "integrate_during_refrac": False,
                         "scale_i": True},
    LeakyIntegrate: {"scale_i": True},
    Exponential: {"scale_i": True},
}

_SCE_READOUTS = (AvgVar, SumVar, AvgVarExpWeight, MaxVar)


#: Cross-entropy losses on first-spike times (``first_spike_time`` readout):
#: ``"mlgenn"`` is mlGeNN 2.3's (softmax of -t at temperature 1, its terms divided by
#: softmax_temperature, regulariser ttfs_alpha/(1.01 T - t)); ``"exponential"`` is
#: Wunderlich & Pehle 2021's: -log softmax(-t/softmax_temperature)_label
#: + ttfs_alpha*(exp(t_label/ttfs_tau1) - 1). Both push a silent label neuron with a
#: phantom spike at the trial end (docs/training-semantics.md).
TTFS_LOSSES = ("mlgenn", "exponential")


class EventPropCompiler(Compiler):
    """Compile a network for EventProp training (mlGeNN's arguments and defaults).

    Beyond mlGeNN (the defaults are mlGeNN's behaviour): ``ttfs_loss`` (see
    ``TTFS_LOSSES``) and ``ttfs_tau1`` (ms) choose the first-spike cross-entropy;
    ``reset_in_syn_between_batches=True`` starts every trial with no synaptic input, as
    InferenceCompiler's option of that name (mlGeNN's EventProp lets the input from
    spikes of a trial's last steps reach the next trial of that batch slot).
    """

    name = "EventPropCompiler"

    def __init__(self, example_timesteps: int, losses: Any, optimiser: Any = "adam",
                 reg_lambda_upper: Any = 0.0, reg_lambda_lower: Any = 0.0,
                 reg_nu_upper: float = 0.0, max_spikes: int = 500,
                 strict_buffer_checking: bool = False, per_timestep_loss: bool = False,
                 dt: float = 1.0, ttfs_alpha: float = 0.01, softmax_temperature: float = 1.0,
                 batch_size: int = 1, rng_seed: int = 0, kernel_profiling: bool = False,
                 communicator: Any = None, delay_optimiser: Any = None,
                 delay_learn_conns: Sequence[Connection] = (), backend: str = "cpu",
                 deep_r_conns: Sequence = (), deep_r_l1_strength: float = 0.01,
                 deep_r_record_rewirings: dict | None = None, ttfs_loss: str = "mlgenn",
                 ttfs_tau1: float = 6.4, reset_in_syn_between_batches: bool = False,
                 **kwargs: Any) -> None:
        o = "EventPropCompiler"
        self.ignored_kwargs = accept_genn_kwargs(
            o, kwargs, inspect.signature(EventPropCompiler).parameters,
            dict.fromkeys(("tau_reg", "c_reg", "f_target", "train_output_bias",
                           "reset_time_between_batches"), "EPropCompiler"))
        self.example_timesteps = check_positive_int(o, "example_timesteps", example_timesteps)
        self.losses = losses
        self.optimiser = get_optimiser(optimiser)
        self.reg_lambda_upper = reg_lambda_upper
        self.reg_lambda_lower = reg_lambda_lower
        for name, val in (("reg_lambda_upper", reg_lambda_upper),
                          ("reg_lambda_lower", reg_lambda_lower)):
            vals = val.values() if isinstance(val, dict) else [val]
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in vals):
                raise bad_arg(o, name, val, "a number >= 0 or a dict {population: number}")
        if isinstance(reg_nu_upper, bool) or not isinstance(reg_nu_upper, (int, float)) \
                or reg_nu_upper < 0:
            raise bad_arg(o, "reg_nu_upper", reg_nu_upper, "a number >= 0")
        self.reg_nu_upper = float(reg_nu_upper)
        self.max_spikes = check_positive_int(o, "max_spikes", max_spikes)
        self.strict_buffer_checking = check_bool(o, "strict_buffer_checking",
                                                 strict_buffer_checking)
        self.per_timestep_loss = check_bool(o, "per_timestep_loss", per_timestep_loss)
        self.dt = check_positive_float(o, "dt", dt)
        if isinstance(ttfs_alpha, bool) or not isinstance(ttfs_alpha, (int, float)) \
                or ttfs_alpha < 0:
            raise bad_arg(o, "ttfs_alpha", ttfs_alpha, "a number >= 0")
        self.ttfs_alpha = float(ttfs_alpha)
        self.softmax_temperature = check_positive_float(o, "softmax_temperature",
                                                        softmax_temperature)
        if ttfs_loss not in TTFS_LOSSES:
            raise bad_arg(o, "ttfs_loss", ttfs_loss, " or ".join(map(repr, TTFS_LOSSES)))
        self.ttfs_loss = ttfs_loss
        self.ttfs_tau1 = check_positive_float(o, "ttfs_tau1", ttfs_tau1)
        self.reset_in_syn_between_batches = check_bool(o, "reset_in_syn_between_batches",
                                                       reset_in_syn_between_batches)
        self.batch_size = check_positive_int(o, "batch_size", batch_size)
        self.rng_seed = check_positive_int(o, "rng_seed", rng_seed, minimum=0)
        self.kernel_profiling = check_bool(o, "kernel_profiling", kernel_profiling)
        self.communicator = communicator
        self.delay_optimiser = (get_optimiser(delay_optimiser) if delay_optimiser is not None
                                else None)
        self.delay_learn_conns = list(delay_learn_conns)
        if self.delay_learn_conns and self.delay_optimiser is None:
            self.delay_optimiser = get_optimiser("adam")
        self.backend = check_backend(o, backend)
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
        """EventProp's requirements (docs/training-semantics.md): LIF hidden, Exponential
        synapses, one tau_syn."""
        problems = super().check(network)
        outputs = [p for p in network.populations if p.neuron.readout is not None]
        if len(outputs) > 1:
            problems.append(Problem("EventProp trains one output population; this network "
                                    f"has {len(outputs)}: {[p.name for p in outputs]}",
                                    "", "compiler"))
        losses, lp = self._loss_map(outputs)
        problems += lp
        for p in network.populations:
            nrn = p.neuron
            if nrn.is_input:
                continue
            if p in outputs:
                loss = losses.get(p.name)
                ro = nrn.readout
                if isinstance(nrn, LeakyIntegrate):
                    if isinstance(loss, SparseCategoricalCrossentropy):
                        if self.per_timestep_loss and not isinstance(ro, (AvgVar, SumVar)):
                            problems.append(Problem(
                                "per-timestep cross-entropy needs an avg_var or sum_var "
                                "readout", p.name, "population", "readout"))
                        elif not isinstance(ro, _SCE_READOUTS):
                            problems.append(Problem(
                                f"readout '{ro.name}' cannot be trained with cross-entropy; use "
                                "avg_var, sum_var, avg_var_exp_weight or max_var",
                                p.name, "population", "readout"))
                    elif isinstance(loss, MeanSquareError):
                        if not isinstance(ro, Var):
                            problems.append(Problem(
                                "mean_square_error needs the 'var' readout (per-timestep "
                                "targets)", p.name, "population", "readout"))
                    elif loss is not None:
                        problems.append(Problem(
                            f"{loss!r} needs LIF output neurons with first_spike_time",
                            p.name, "population", "losses"))
                elif isinstance(nrn, LeakyIntegrateFire):
                    if not isinstance(ro, FirstSpikeTime):
                        problems.append(Problem(
                            "LIF output neurons need the first_spike_time readout with "
                            "EventProp", p.name, "population", "readout"))
                    elif loss is not None and not isinstance(
                            loss, (SparseCategoricalCrossentropy, RelativeMeanSquareError)):
                        problems.append(Problem(
                            "first_spike_time outputs train with "
                            "sparse_categorical_crossentropy or RelativeMeanSquareError",
                            p.name, "population", "losses"))
                else:
                    problems.append(Problem(
                        f"{type(nrn).__name__} output neurons are not supported by EventProp; "
                        "use LeakyIntegrate or LeakyIntegrateFire", p.name, "population",
                        "neuron"))
            elif isinstance(nrn, AdaptiveLeakyIntegrateFire):
                problems.append(Problem(
                    "EventProp supports LIF hidden neurons only; use LeakyIntegrateFire or "
                    "train ALIF networks with EPropCompiler", p.name, "population", "neuron"))
            elif not isinstance(nrn, (LeakyIntegrateFire, LeakyIntegrate)):
                problems.append(Problem(
                    f"EventProp supports LIF hidden neurons only, not {type(nrn).__name__} "
                    "(IntegrateFire is for converted-network inference with "
                    "InferenceCompiler)", p.name, "population", "neuron"))
            elif isinstance(nrn, LeakyIntegrate):
                problems.append(Problem(
                    "a LeakyIntegrate population without readout cannot be hidden; give it a "
                    "readout or use LeakyIntegrateFire", p.name, "population", "neuron"))
            taus = set()
            for c in p.incoming_connections:
                if not isinstance(c.synapse, Exponential):
                    problems.append(Problem(
                        "EventProp needs Exponential synapses; change the synapse to "
                        "Exponential(tau)", c.name, "connection", "synapse"))
                else:
                    taus.add(c.synapse.tau)
            if len(taus) > 1:
                problems.append(Problem(
                    f"incoming Exponential synapses have different tau values {sorted(taus)}; "
                    "EventProp needs one tau_syn per population", p.name, "population",
                    "synapse"))
            if isinstance(nrn, LeakyIntegrateFire) and nrn.tau_refrac is not None:
                problems.append(Problem(
                    "EventProp does not support refractory periods; set tau_refrac to None",
                    p.name, "population", "tau_refrac"))
        for c in network.connections:
            table_kernel = isinstance(c.connectivity, KERNEL_CONNECTIVITY) and not isinstance(
                c.connectivity, (AvgPool2D, AvgPoolDense2D))
            d = c.connectivity.delay
            if table_kernel and not (isinstance(d, (int, float)) and float(d) == 0.0):
                problems.append(Problem(
                    f"EventProp trains {type(c.connectivity).__name__} as one shared kernel, "
                    "which cannot have delays (as in mlGeNN); set delay to 0",
                    c.name, "connection", "delay"))
        for name, msg in self._new_deep_r().problems():
            problems.append(Problem(msg, name, "connection", "deep_r_conns"))
        for c in self.delay_learn_conns:
            if c.max_delay_steps is None:
                problems.append(Problem("delay learning needs max_delay_steps on the "
                                        "connection", c.name, "connection", "max_delay_steps"))
        return problems

    # ----- compile -----------------------------------------------------------------------
    def _lambda_for(self, reg: Any, pop: Population) -> float:
        if isinstance(reg, dict):
            for k, v in reg.items():
                if (k.name if isinstance(k, Population) else k) == pop.name:
                    return float(v)
            return 0.0
        return float(reg)

    def compile(self, network: Network, name: str | None = None) -> EventPropCompiledNetwork:
        """Check the network and build an EventProp training network."""
        self.raise_problems(network)
        outputs = [p for p in network.populations if p.neuron.readout is not None]
        losses, _ = self._loss_map(outputs)
        event_pops = {p.name for p in network.populations
                      if p.neuron.is_input and p.outgoing_connections}
        event_pops |= {p.name for p in network.populations
                       if isinstance(p.neuron, LeakyIntegrateFire)}
        layout = build_layout(network, self.dt, np.random.default_rng(self.rng_seed), event_pops)
        deep_r = self._new_deep_r()
        if deep_r:
            layout = deep_r.expand(layout)
        if self.backend == "cuda":
            check_cuda_training(self.name, deep_r=bool(deep_r),
                                delay_learning=bool(self.delay_learn_conns),
                                communicator=self.communicator,
                                exponential_ttfs=self.ttfs_loss == "exponential")
        per_rank = rank_batch_size(self.name, self.batch_size, self.communicator)
        sim = get_backend(self.backend)(layout, per_rank, self.dt,
                                        self.example_timesteps, self.kernel_profiling)
        # batch_size is the total over all MPI ranks: the loss terms divide by it, so N
        # ranks summing their gradients reproduce one process with the whole batch
        T, dt, B = self.example_timesteps, self.dt, self.batch_size
        f = np.float32
        full_batch = B
        P = len(layout.populations)
        bk_i = np.zeros((P, K.N_BI), np.int64)
        bk_f = np.zeros((P, K.N_BF), np.float32)
        out = outputs[0]
        for i, p in enumerate(layout.populations):
            nrn = p.neuron
            if nrn.is_input:
                continue
            tau_m = nrn.tau_mem
            tau_s = next(c.synapse.tau for c in p.incoming_connections)
            bk_f[i, K.BF_ALPHA] = np.exp(-dt / tau_m)
            bk_f[i, K.BF_BETA] = np.exp(-dt / tau_s)
            bk_i[i, K.BI_READOUT] = -1
            if p is out:
                bk_f[i, K.BF_A] = tau_m / (tau_m - tau_s)
                loss = losses[p.name]
                if isinstance(nrn, LeakyIntegrate):
                    bk_i[i, K.BI_ROLE] = K.BK_OUT_LI
                    bk_f[i, K.BF_DENOM] = f(f(tau_m) * f(B)) * f(T * dt)
                    bk_f[i, K.BF_LTS] = 1.0 / (dt * T)
                    if isinstance(loss, MeanSquareError):
                        bk_i[i, K.BI_LOSS] = K.LOSS_MSE
                    else:
                        bk_i[i, K.BI_LOSS] = (K.LOSS_SCE_STEP if self.per_timestep_loss
                                              else K.LOSS_SCE)
                    from ..engine.layout import READOUT_CODES
                    bk_i[i, K.BI_READOUT] = READOUT_CODES[type(nrn.readout)]
                else:
                    bk_i[i, K.BI_ROLE] = K.BK_OUT_LIF
                    bk_f[i, K.BF_VTH] = nrn.v_thresh
                    bk_f[i, K.BF_DENOM] = B
                    bk_f[i, K.BF_TEMP] = self.softmax_temperature
                    bk_f[i, K.BF_TTFS_ALPHA] = self.ttfs_alpha
                    t_ms = T * dt
                    bk_f[i, K.BF_PHANTOM] = self.ttfs_alpha / (0.0001 * t_ms * t_ms) / B
                    bk_f[i, K.BF_FST_SCALE] = 1.01 * t_ms
                    bk_f[i, K.BF_TAU1] = self.ttfs_tau1
                    if isinstance(loss, RelativeMeanSquareError):
                        bk_i[i, K.BI_LOSS] = K.LOSS_RMSE
                        bk_f[i, K.BF_DELTA] = loss.delta
                    elif self.ttfs_loss == "mlgenn":
                        bk_i[i, K.BI_LOSS] = K.LOSS_TTFS_SCE
                    else:
                        bk_i[i, K.BI_LOSS] = K.LOSS_TTFS_EXP
                        # a silent label neuron counts as firing at the trial end: its
                        # phantom spike carries the loss's slope there (the cross-entropy
                        # term is per example, from the kernel's softmax; this is the
                        # regulariser's)
                        bk_f[i, K.BF_PHANTOM] = (self.ttfs_alpha / self.ttfs_tau1
                                                 * np.exp(t_ms / self.ttfs_tau1))
                        losses[p.name] = FirstSpikeCrossentropy(
                            self.softmax_temperature, self.ttfs_alpha, self.ttfs_tau1, t_ms)
            else:
                bk_i[i, K.BI_ROLE] = K.BK_HIDDEN
                bk_f[i, K.BF_A] = tau_m / (tau_s - tau_m)
                bk_f[i, K.BF_VTH] = nrn.v_thresh
                up = self._lambda_for(self.reg_lambda_upper, p)
                lo = self._lambda_for(self.reg_lambda_lower, p)
                if up != 0.0 or lo != 0.0:
                    bk_i[i, K.BI_REG] = 1
                    bk_i[i, K.BI_NU] = int(self.reg_nu_upper * full_batch)
                    bk_f[i, K.BF_REG_UP] = up / (full_batch * full_batch)
                    bk_f[i, K.BF_REG_LO] = lo / (full_batch * full_batch)
        trainables = []
        dnames = {c.name for c in self.delay_learn_conns}
        # gradients are the backward kernel's per-thread partial sums (views into
        # the simulator's buffers), added up by the optimiser step
        grad_parts, dgrad_parts = sim.gradient_buffers(bool(dnames))
        for k, c in enumerate(layout.connections):
            sl = layout.conn_slice(c.name)
            kernel = layout.kernels.get(c.name)
            if kernel is not None:  # shared convolution kernel: train the kernel itself
                trainables.append(Trainable(c.name, "weight", kernel,
                                            np.zeros_like(kernel), self.optimiser))
            elif c.connectivity.trainable:
                trainables.append(Trainable(c.name, "weight", layout.weights[sl],
                                            grad_parts[k], self.optimiser, chunked=True))
            if c.name in dnames:
                trainables.append(Trainable(c.name, "delay", layout.delays[sl],
                                            dgrad_parts[k], self.delay_optimiser,
                                            clamp=(0.0, float(c.max_delay_steps)),
                                            chunked=True))
        cn = EventPropCompiledNetwork(
            network, layout, sim, self.dt, T, B, self.communicator,
            reset_vars=True, reset_in_syn=self.reset_in_syn_between_batches, zero_step=T - 1,
            rng_seed=self.rng_seed,
            optimiser=self.optimiser, trainables=trainables, losses=losses, deep_r=deep_r)
        cn.configure(self, bk_i, bk_f, dnames)
        return cn


class EventPropCompiledNetwork(CompiledTrainingNetwork):
    """Training network whose batches run forward, then the EventProp adjoint pass."""

    def configure(self, compiler: EventPropCompiler, bk_i: np.ndarray, bk_f: np.ndarray,
                  delay_conns: set[str]) -> None:
        """Store what the backward pass needs (called once by the compiler)."""
        self.compiler = compiler
        self.bk_i = bk_i
        self.bk_f = bk_f
        lay = self.layout
        self.conn_train = np.array([c.connectivity.trainable for c in lay.connections],
                                   np.int8)
        self.conn_dtrain = np.array([c.name in delay_conns for c in lay.connections], np.int8)
        self.out_pop = self.outputs[0]
        self.out_index = lay.pop_index[self.out_pop.name]
        self.loss_code = int(bk_i[self.out_index, K.BI_LOSS])
        if self.loss_code in (K.LOSS_MSE, K.LOSS_SCE_STEP):
            self.sim.enable_output_history(self.out_pop.name)
        self.record_lambdas: list[str] = []
        self.last_lambdas: np.ndarray | None = None
        #: train a pass's batches in one engine call where possible (``_train_pass_fused``)
        self.fuse_passes = True
        self._event_caps = {p.name: compiler.max_spikes for p in lay.populations
                            if lay.pop_i[lay.pop_index[p.name], 7]}
        T, n_out = self.example_timesteps, self.out_pop.num_neurons
        per_step = self.loss_code in (K.LOSS_MSE, K.LOSS_SCE_STEP)
        self.drive = EventPropDrive.allocate(
            EK.DRIVE_GIVEN if per_step else EK.DRIVE_FROM_READOUT, self.out_index,
            np.float32(T * self.dt), self.sim.B, T if per_step else 1, n_out)
        # per-thread gradient rows of every connection (views into the engine's buffers)
        grad_parts, _ = self.sim.gradient_views()
        self._grad_rows = {c.name: grad_parts[k] for k, c in enumerate(lay.connections)}
        # batch spike counts are needed (and summed over ranks) only for regularisation
        self._need_counts = bool(np.any(bk_i[:, K.BI_REG] != 0))
        # a PoissonInput can fire every step
        self._poisson_events = max((self.example_timesteps * p.num_neurons
                                    for p in self.inputs
                                    if isinstance(p.neuron, PoissonInput)), default=0)

    def _metric_pred(self, pop_name: str, out: dict[str, np.ndarray]) -> np.ndarray:
        """With MSE (per-timestep targets), compare V at every step, not just the last."""
        if self.loss_code == K.LOSS_MSE and pop_name == self.out_pop.name:
            return self.sim.out_hist[:len(out[pop_name])].copy()
        return out[pop_name]

    def _inputs_staged(self, max_events: int) -> None:
        """Grow the event tape when an example has more input events than it holds."""
        need = max(max_events, self._poisson_events, 1)
        if need > getattr(self, "_input_cap", 0):
            self._input_cap = max(need, 2 * getattr(self, "_input_cap", 0))
            self.sim.enable_events(self._event_caps, self._input_cap)

    def _idle_train_batch(self) -> dict[str, np.ndarray]:
        """No examples on this rank: join the spike-count sum with zeros."""
        if self.communicator is not None and self._need_counts:
            self.communicator.reduce_sum(np.zeros(self.sim.nspk.shape[1:], np.int64))
        return self._empty_outputs()

    def _fusable(self, cbl: CallbackList) -> bool:
        """Whether a batch can run as one fused kernel call (``CPUSimulator.train_trial``):
        a per-trial loss, nothing recorded, no per-step callbacks, no regularisation,
        no kernel profiling."""
        if self.drive.mode != EK.DRIVE_FROM_READOUT or self._need_counts \
                or self.record_lambdas or not hasattr(self.sim, "train_trial") \
                or self.sim.profiler.enabled:  # profiling times the passes separately
            return False
        if not cbl.callbacks:
            return True
        rv, rs = cbl.recording_requests()
        return not (rv or rs or cbl.has("on_timestep_begin") or cbl.has("on_timestep_end"))

    #: a fused pass runs as calls of about this many seconds each (Ctrl-C and other
    #: Python signals are seen between calls)
    FUSED_CALL_S = 0.1

    def _train_pass_fused(self, x: dict[str, Any], y: dict[str, Any],
                          batches: list[np.ndarray], step: int, cbl: CallbackList,
                          metrics: dict,
                          live: Callable[[int], float]) -> tuple[int, float] | None:
        """The pass in few engine calls (``CPUSimulator.train_epoch``, each ~
        ``FUSED_CALL_S`` of batches, or a callback's shorter ``fused_call_s``) where
        every batch would run as a fused trial (``_fusable``), every callback lets
        batches run together (``CallbackList.batches_may_run_together``: a progress
        bar does, a recorder does not; their batch hooks run after each call), one
        SpikeInput population without encoders, integer labels, one rank and one Adam
        step of all trainables (``Adam.many_args``); the metrics and losses are then
        computed from each batch's readouts and per-slot losses exactly as the
        per-batch loop does. A batch a callback asks to see live
        (``CallbackList.batches_until_live``: the worker's plot samples) runs as
        ``live(k)``, the per-batch loop's body, between engine calls. With
        ``fuse_passes`` False (or anything else missing) the per-batch loop runs."""
        sim = self.sim
        if (not self.fuse_passes or not cbl.batches_may_run_together() or not batches
                or not self._fusable(cbl)
                or self.encoders or len(x) != 1 or not hasattr(sim, "fused_pass_possible")
                or not self.reset_vars or not self._together()):
            return None
        lens = np.fromiter(map(len, batches), np.int64, len(batches))
        if not sim.fused_pass_possible(int(lens.max()), self.bk_i, self.conn_dtrain):
            return None
        ts = self.trainables
        many_args = getattr(ts[0].optimiser, "many_args", None)
        yy = y[self.out_pop.name]
        items = [(t.param, t.grad, t.state) for t in ts]
        if many_args is None or yy.ndim != 1 or lens.min() == 0 \
                or many_args(items, np.arange(0), True) is None \
                or self._slot_loss(np.zeros(1, np.float32)) is None:
            return None
        strict = self.compiler.strict_buffer_checking
        B = int(lens.max())
        idx = np.zeros((len(batches), B), np.int64)
        for k, b in enumerate(batches):
            idx[k, :len(b)] = b
        labels = yy[idx].astype(np.int64)
        (name, examples), = x.items()
        R_out = np.zeros((len(batches), B, self.out_pop.num_neurons), np.float32)
        xent_out = np.zeros((len(batches), B), np.float32)
        cap = cbl.fused_call_s()
        call_s = self.FUSED_CALL_S if cap is None else min(self.FUSED_CALL_S, cap)
        loss_sum = 0.0
        k0 = 0
        per_call = 4
        while k0 < len(batches):
            ahead = cbl.batches_until_live(k0)
            if ahead == 0:
                loss_sum += live(k0)
                k0 += 1
                continue
            k1 = min(len(batches), k0 + per_call, k0 + (ahead or len(batches)))
            self._begin_trial()  # the resets the kernel will do itself, for each batch
            t0 = time.perf_counter()
            res = sim.train_epoch(name, examples, idx[k0:k1], lens[k0:k1], labels[k0:k1],
                                  self.zero_step, self.reset_in_syn, strict, self.bk_i,
                                  self.bk_f, self.conn_train, self.conn_dtrain, self.drive,
                                  many_args(items, np.arange(step + k0, step + k1), True),
                                  R_out[k0:k1], xent_out[k0:k1], self._inputs_staged)
            if res is None:  # the engine declined: the rest batch by batch
                if k0 == 0:
                    return None
                for k in range(k0, len(batches)):
                    loss_sum += live(k)
                break
            elapsed = time.perf_counter() - t0
            done, status, which = res
            self.replaying_batches = True
            try:
                for k in range(k0, k0 + done):
                    cbl.on_batch_begin(k)
                    nb = int(lens[k])
                    for pop, m in metrics.items():
                        m.update(y[pop.name][batches[k]], R_out[k, :nb], self.communicator)
                    self.last_loss = self._slot_loss(xent_out[k, :nb])
                    loss_sum += self.last_loss * nb
                    cbl.on_batch_end(k, metrics)
            finally:
                self.replaying_batches = False
            if status == OVERFLOW:
                self._check_overflow(int(lens[k0 + done]))
            if status != optim.OK:
                self._step_failed(ts[which], status, step + k0 + done)
            ran = k1 - k0  # sized from what ran: a call cut short by a live batch is short
            per_call = max(1, min(4 * ran, int(ran * call_s / max(elapsed, 1e-6))))
            k0 = k1
        return step + len(batches), loss_sum

    def _check_overflow(self, n: int) -> None:
        """With strict_buffer_checking, stop when a neuron outran its spike buffer."""
        bad = self.sim.ev_ovf[:n]
        if not np.any(bad >= 0):
            return
        lay = self.layout
        gi = int(bad[bad >= 0][0])
        pop = next(p for p in lay.populations
                   if lay.pop_slice(p.name).start <= gi < lay.pop_slice(p.name).stop)
        raise TrainingError(
            f"spike buffer overflow in population '{pop.name}' (neuron "
            f"{gi - lay.pop_slice(pop.name).start}): more than max_spikes="
            f"{self.compiler.max_spikes} spikes in one trial; raise max_spikes "
            "(see calc_max_spikes) or add spike regularisation")

    def _train_batch(self, x: dict[str, Any], y: dict[str, Any], idx: np.ndarray,
                     cbl: CallbackList, example_ids: Any) -> dict[str, np.ndarray]:
        n = len(idx)
        sim = self.sim
        yy = y[self.out_pop.name][idx]
        labels = yy.astype(np.int64, copy=False) if yy.ndim == 1 else self._no_labels(n)
        if self._fusable(cbl):
            self._begin_trial()
            self._inputs_staged(sim.set_inputs_indexed(x, idx))
            sim.train_trial(n, self.zero_step, self.bk_i, self.bk_f, self.conn_train,
                            self.conn_dtrain, labels, self.drive)
            if self.compiler.strict_buffer_checking and np.any(sim.ev_ovf[:n] >= 0):
                for t in self.trainables:  # this batch's gradient must not be applied
                    t.grad[...] = 0
                self._check_overflow(n)
            self._collect_kernel_grads()
            sl = self.layout.pop_slice(self.out_pop.name)
            return {self.out_pop.name: sim.R[:n, sl].copy()}
        out = self._forward(x, idx, cbl, example_ids)
        if self.compiler.strict_buffer_checking:
            self._check_overflow(n)
        t0 = time.perf_counter()
        d = self.drive
        if self.loss_code == K.LOSS_MSE:
            d.val[:n] = yy.astype(np.float32) - sim.out_hist[:n]
        elif self.loss_code == K.LOSS_SCE_STEP:
            d.val[:n] = softmax(sim.out_hist[:n], axis=-1)
        if self._need_counts:
            counts = sim.nspk[:n].sum(axis=0).astype(np.int64)
            if self.communicator is not None:
                counts = self.communicator.reduce_sum(counts)
        else:
            counts = sim._no_counts
        self._timed("loss", t0)  # per-trial losses: computed inside the backward kernel
        self.last_lambdas = sim.backward(n, self.bk_i, self.bk_f, self.conn_train,
                                         self.conn_dtrain, labels, d, counts,
                                         self.record_lambdas)
        self._collect_kernel_grads()
        return out

    def _slot_loss(self, xent: np.ndarray) -> float | None:
        """A batch's loss from the per-slot values the kernel left in ``xent``: the
        mean cross-entropy, or the relative mean square error where the simulator's
        kernel computes it per slot (``slot_rmse``); None for other losses."""
        if self.loss_code == K.LOSS_SCE:  # np.mean's value, without its overhead
            return float(np.add.reduce(xent) / len(xent))
        if self.loss_code == K.LOSS_RMSE and getattr(self.sim, "slot_rmse", False):
            return float(np.mean(xent, dtype=np.float64))
        return None

    def _batch_loss(self, pop_name: str, y: np.ndarray, out: dict[str, np.ndarray]) -> float:
        """Cross-entropy straight from the per-slot values the kernel computed with
        the backward pass's softmax, and the relative mean square error where the
        simulator's kernel computes it per slot (``slot_rmse``); other losses as in
        the base class."""
        if pop_name == self.out_pop.name:
            loss = self._slot_loss(self.drive.xent[:len(y)])
            if loss is not None:
                return loss
        return super()._batch_loss(pop_name, y, out)

    def _collect_kernel_grads(self) -> None:
        """Shared convolution kernels: add the batch's per-synapse gradient (the sum of
        the per-thread rows) to the kernel's gradient, and clear those rows."""
        lay = self.layout
        for t in self.trainables:
            if t.kind == "weight" and t.name in lay.kernels:
                rows = self._grad_rows[t.name]
                g = rows[0].copy()
                for c in range(1, rows.shape[0]):
                    g += rows[c]
                t.grad += lay.kernel_grad(t.name, g)
                rows[:] = 0

    def _no_labels(self, n: int) -> np.ndarray:
        """Class labels placeholder for per-step regression targets."""
        return np.zeros(n, np.int64)


__all__ = ["EventPropCompiler", "default_params"]
