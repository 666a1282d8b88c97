"""InferenceCompiler: run a trained network forward (evaluate / predict)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from app.model import Network
from app.model.params import check_bool

from ..compiled import CompiledInferenceNetwork
from ..engine import get_backend
from ..engine.layout import build_layout
from ..genn_compat import accept_genn_kwargs
from .base import (
    Compiler,
    check_backend,
    check_positive_float,
    check_positive_int,
    rank_batch_size,
)

default_params: dict = {}


class InferenceCompiler(Compiler):
    """Forward-only compiler (mlGeNN's InferenceCompiler arguments; other keywords are
    GeNN settings to mlGeNN and are ignored with one warning)."""

    name = "InferenceCompiler"

    def __init__(self, evaluate_timesteps: int, dt: float = 1.0, batch_size: int = 1,
                 rng_seed: int = 0, kernel_profiling: bool = False,
                 prefer_in_memory_connect: bool = True, reset_time_between_batches: bool = True,
                 reset_vars_between_batches: bool = True,
                 reset_in_syn_between_batches: bool = False, communicator: Any = None,
                 backend: str = "cpu", **kwargs: Any) -> None:
        o = "InferenceCompiler"
        self.ignored_kwargs = accept_genn_kwargs(
            o, kwargs, inspect.signature(InferenceCompiler).parameters,
            dict.fromkeys(("losses", "optimiser", "example_timesteps"),
                          "EventPropCompiler or EPropCompiler (training)"))
        self.evaluate_timesteps = check_positive_int(o, "evaluate_timesteps", evaluate_timesteps)
        self.dt = check_positive_float(o, "dt", dt)
        self.batch_size = check_positive_int(o, "batch_size", batch_size)
        self.rng_seed = check_positive_int(o, "rng_seed", rng_seed, minimum=0)
        self.kernel_profiling = check_bool(o, "kernel_profiling", kernel_profiling)
        self.prefer_in_memory_connect = prefer_in_memory_connect
        self.reset_time_between_batches = check_bool(o, "reset_time_between_batches",
                                                     reset_time_between_batches)
        self.reset_vars_between_batches = check_bool(o, "reset_vars_between_batches",
                                                     reset_vars_between_batches)
        self.reset_in_syn_between_batches = check_bool(o, "reset_in_syn_between_batches",
                                                       reset_in_syn_between_batches)
        self.communicator = communicator
        self.backend = check_backend(o, backend)

    def compile(self, network: Network, name: str | None = None) -> CompiledInferenceNetwork:
        """Check the network and build a CompiledInferenceNetwork."""
        self.raise_problems(network)
        # as mlGeNN: in-memory (sparse) convolutions get per-synapse weights, procedural
        # ones one shared kernel (the same numbers unless weights come from an initializer)
        layout = build_layout(network, self.dt, np.random.default_rng(self.rng_seed),
                              tie_kernels=not self.prefer_in_memory_connect)
        per_rank = rank_batch_size(self.name, self.batch_size, self.communicator)
        sim = get_backend(self.backend)(layout, per_rank, self.dt,
                                        self.evaluate_timesteps, self.kernel_profiling)
        return CompiledInferenceNetwork(network, layout, sim, self.dt, self.evaluate_timesteps,
                               self.batch_size, self.communicator,
                               reset_vars=self.reset_vars_between_batches,
                               reset_in_syn=self.reset_in_syn_between_batches,
                               rng_seed=self.rng_seed)
