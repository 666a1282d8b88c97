"""What every compiler shares: argument checks, network checks, Problem reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.model import Network, Population
from app.model.errors import ModelError, bad_arg


@dataclass(frozen=True)
class Problem:
    """One reason a network cannot be compiled, attached to the object it concerns.

    ``kind`` is "population", "connection", "compiler" or "dataset"; ``target``
    the object's name ("" for the compiler itself); ``field`` the argument.
    """

    message: str
    target: str
    kind: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.kind} '{self.target}'" if self.target else self.kind
        return f"{where}: {self.message}"


class CompileError(ModelError):
    """The network cannot be compiled with this compiler; ``problems`` lists why."""

    def __init__(self, compiler: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{compiler} cannot compile this network:\n{lines}")


def check_positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """Validate an integer compiler argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise bad_arg(owner, name, value, f"an integer >= {minimum} is required")
    return int(value)


def rank_batch_size(owner: str, batch_size: int, communicator: Any) -> int:
    """Examples each rank simulates per batch: ``batch_size`` is the total over all
    ranks (as in mlGeNN) and must divide evenly between them."""
    ranks = 1 if communicator is None else int(communicator.num_ranks)
    if batch_size % ranks:
        raise bad_arg(owner, "batch_size", batch_size,
                      f"a multiple of the number of MPI ranks ({ranks}): it is the batch "
                      "size over all ranks, each rank simulating batch_size / ranks")
    return batch_size // ranks


def check_positive_float(owner: str, name: str, value: Any) -> float:
    """Validate a positive float compiler argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise bad_arg(owner, name, value, "a positive number is required")
    return float(value)


def check_backend(owner: str, backend: Any) -> str:
    """Validate a compiler's ``backend`` (the engine that runs the network)."""
    from ..engine import BACKEND_NAMES

    if backend not in BACKEND_NAMES:
        raise bad_arg(owner, "backend", backend,
                      "allowed: 'cpu' (the CPU engine) or 'cuda' (NVIDIA GPU, needs the "
                      "'cuda' extra: pip install \"spike-studio[cuda]\")")
    return str(backend)


def check_cuda_training(owner: str, deep_r: bool = False, delay_learning: bool = False,
                        communicator: Any = None, optimiser: Any = None,
                        exponential_ttfs: bool = False) -> None:
    """Refuse training features the CUDA backend does not implement, naming them
    (``optimiser``, when given, must be Adam: the device runs Adam only)."""
    from ..optimisers import Adam

    not_adam = optimiser is not None and not isinstance(optimiser, Adam)
    missing = [name for name, used in (("Deep R rewiring (deep_r_conns)", deep_r),
                                        ("delay learning (delay_learn_conns)", delay_learning),
                                        ("MPI data parallelism (communicator)",
                                         communicator is not None),
                                        (f"the optimiser {optimiser!r} (Adam only)", not_adam),
                                        ("Wunderlich & Pehle's first-spike loss "
                                         "(ttfs_loss='exponential')", exponential_ttfs))
               if used]
    if missing:
        raise bad_arg(owner, "backend", "cuda",
                      "the cuda backend does not support " + ", ".join(missing)
                      + "; use backend='cpu' for this network")


class Compiler:
    """Base class: ``check(network)`` lists problems, ``compile(network)`` builds."""

    name = "Compiler"

    def check(self, network: Network) -> list[Problem]:
        """Problems that stop ``network`` compiling with this compiler (empty = fine)."""
        problems = []
        if not any(p.neuron.is_input for p in network.populations):
            problems.append(Problem("the network has no input population", "", "compiler"))
        if not any(p.neuron.readout is not None for p in network.populations):
            problems.append(Problem("the network has no output population (a population "
                                    "with a readout)", "", "compiler"))
        for p in network.populations:
            if p.shape is None:
                problems.append(Problem("has no shape: give shape=... or connect it with a "
                                        "connectivity that infers it (Conv2D, pooling, "
                                        "OneToOne, Dense with a weight array)", p.name,
                                        "population", "shape"))
                continue
            if not p.neuron.is_input and not p.incoming_connections:
                problems.append(Problem("receives no connections, so it can never be driven; "
                                        "connect an input or remove it", p.name, "population"))
        return problems

    def _loss_map(self, outputs: list[Population]) -> tuple[dict[str, Any], list[Problem]]:
        """Resolve ``self.losses`` (one loss or {population: loss}) per output population."""
        from ..losses import get_loss

        problems: list[Problem] = []
        losses: dict[str, Any] = {}
        if isinstance(self.losses, dict):
            for k, v in self.losses.items():
                name = k.name if isinstance(k, Population) else str(k)
                try:
                    losses[name] = get_loss(v)
                except ValueError as e:
                    problems.append(Problem(str(e), name, "population", "losses"))
        else:
            try:
                loss = get_loss(self.losses)
                losses = {p.name: loss for p in outputs}
            except ValueError as e:
                problems.append(Problem(str(e), "", "compiler", "losses"))
        for p in outputs:
            if p.name not in losses and not problems:
                problems.append(Problem("has a readout but no loss; add it to 'losses'",
                                        p.name, "population", "losses"))
        return losses, problems

    def raise_problems(self, network: Network) -> None:
        """Raise CompileError listing every problem, if any."""
        problems = self.check(network)
        if problems:
            raise CompileError(self.name, problems)

    def compile(self, network: Network, name: str | None = None) -> Any:
        """Build a compiled network.  ``name`` is accepted for mlGeNN's signature (it names
        GeNN's generated code there); this engine generates no code and ignores it."""
        raise NotImplementedError


def check_network(network: Network, compiler: Compiler) -> list[Problem]:
    """The compile-time checks of ``compiler`` on ``network`` (used live by the editor)."""
    return compiler.check(network)
