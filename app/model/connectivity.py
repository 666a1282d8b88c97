"""Connectivity: which neurons connect, with what weights and delays.

Everything is turned into one sparse (CSR) layout by ``build_synapses`` so the
engine handles Dense, FixedProbability, OneToOne and the 2-D convolution and
pooling types (``conv.py``) the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import bad_arg
from .initializers import Initializer, check_value, materialise
from .params import check_bool, check_number


class Connectivity:
    """Base class holding ``weight`` and ``delay``."""

    def __init__(self, weight: Any, delay: Any, owner: str) -> None:
        self.weight = check_value(owner, "weight", weight)
        if isinstance(delay, (Initializer, np.ndarray, list, tuple)):
            self.delay = check_value(owner, "delay", delay)
        else:
            self.delay = check_number(owner, "delay", delay, non_negative=True)

    #: False for fixed weights that training leaves alone (pooling).
    trainable = True

    @property
    def is_dense_layout(self) -> bool:
        """True when weights are stored as a dense [pre, post] matrix."""
        return False

    def connect(self, source: Any, target: Any) -> None:
        """Called when a Connection is made: infer the target's shape where the
        connectivity determines it (as mlGeNN does), or check it."""

    def weight_from_trained(self, weights: np.ndarray) -> np.ndarray | None:
        """The ``weight`` argument that reproduces trained weights (as returned by
        ``get_weights``), or None when they cannot be written back."""
        return weights

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not isinstance(v, np.ndarray))
        return f"{type(self).__name__}({args})"


class Dense(Connectivity):
    """All-to-all connectivity; weight shape [pre, post]."""

    def __init__(self, weight: Any, delay: Any = 0) -> None:
        super().__init__(weight, delay, "Dense")

    @property
    def is_dense_layout(self) -> bool:
        return True

    def connect(self, source: Any, target: Any) -> None:
        """A 2-D weight array sets the target's size to its number of columns."""
        w = self.weight
        if not isinstance(w, np.ndarray) or w.ndim != 2:
            return
        n_src, n_tgt = w.shape
        if source.shape is not None and source.num_neurons != n_src:
            raise bad_arg("Dense", "weight", f"array of shape {w.shape}",
                          f"{source.num_neurons} rows (source '{source.name}') are required")
        if target.shape is None:
            target.shape = (int(n_tgt),)
        elif target.num_neurons != n_tgt:
            raise bad_arg("Dense", "weight", f"array of shape {w.shape}",
                          f"{target.num_neurons} columns (target '{target.name}') are "
                          "required; or leave the target's size out to take it from the "
                          "weights")


class FixedProbability(Connectivity):
    """Each pre->post pair connects with probability ``p``."""

    def __init__(self, p: float, weight: Any, allow_self_connections: bool = False,
                 delay: Any = 0) -> None:
        super().__init__(weight, delay, "FixedProbability")
        self.p = check_number("FixedProbability", "p", p, non_negative=True)
        if self.p > 1.0:
            raise bad_arg("FixedProbability", "p", p, "a probability in [0, 1] is required")
        self.allow_self_connections = check_bool("FixedProbability", "allow_self_connections",
                                                 allow_self_connections)


class OneToOne(Connectivity):
    """Neuron i connects to neuron i; pre and post must have the same size."""

    def __init__(self, weight: Any, delay: Any = 0) -> None:
        super().__init__(weight, delay, "OneToOne")

    def connect(self, source: Any, target: Any) -> None:
        """The target takes the source's shape when it has none."""
        if target.shape is None:
            target.shape = source.shape


@dataclass
class SynapseTable:
    """Synapses of one connection in CSR order: row_ptr over pre, post index per synapse.

    ``weight`` and ``delay`` are per synapse; for Dense connections synapse
    ``i*n_post + j`` is pre i -> post j, so the weights are the row-major matrix.
    Convolutions also give ``kernel_index``, each synapse's entry in the flat
    kernel of shape ``kernel_shape``; ``kernel`` holds that kernel (float32) when
    the weights were built tied to it (``weight == kernel[kernel_index]``).
    """

    row_ptr: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    kernel_index: np.ndarray | None = None
    kernel: np.ndarray | None = None
    kernel_shape: tuple[int, ...] | None = None

    @property
    def num_synapses(self) -> int:
        return int(self.post.shape[0])


def build_synapses(conn: Connectivity, n_pre: int, n_post: int, rng: np.random.Generator,
                   same_population: bool, name: str,
                   source_shape: tuple[int, ...] | None = None,
                   target_shape: tuple[int, ...] | None = None,
                   tie_kernels: bool = True) -> SynapseTable:
    """Instantiate a connectivity object into a SynapseTable (weights and delays drawn).

    Convolutions need the populations' shapes; ``tie_kernels`` keeps their weights
    one shared kernel (False: independent per-synapse weights, as GeNN's sparse
    convolution used by mlGeNN's e-prop and in-memory inference).
    """
    build_table = getattr(conn, "build_table", None)
    if build_table is not None:
        return build_table(tuple(source_shape or (n_pre,)), tuple(target_shape or (n_post,)),
                           rng, name, tie_kernels)
    if isinstance(conn, Dense):
        row_ptr = np.arange(n_pre + 1, dtype=np.int64) * n_post
        post = np.tile(np.arange(n_post, dtype=np.int32), n_pre)
    elif isinstance(conn, OneToOne):
        if n_pre != n_post:
            raise bad_arg(f"Connection '{name}'", "connectivity", "OneToOne",
                          f"source ({n_pre}) and target ({n_post}) sizes must be equal")
        row_ptr = np.arange(n_pre + 1, dtype=np.int64)
        post = np.arange(n_post, dtype=np.int32)
    elif isinstance(conn, FixedProbability):
        mask = rng.random((n_pre, n_post)) < conn.p
        if same_population and not conn.allow_self_connections:
            np.fill_diagonal(mask, False)
        counts = mask.sum(axis=1)
        row_ptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(counts, out=row_ptr[1:])
        post = np.nonzero(mask)[1].astype(np.int32)
    else:
        raise bad_arg(f"Connection '{name}'", "connectivity", conn,
                      "allowed: Dense, FixedProbability, OneToOne, Conv2D, Conv2DTranspose, "
                      "AvgPool2D, AvgPoolConv2D, AvgPoolDense2D")
    n_syn = int(post.shape[0])
    if isinstance(conn, Dense):
        weight = materialise(conn.weight, rng, (n_pre, n_post), f"Connection '{name}'",
                             "weight").reshape(-1)
    else:
        weight = materialise(conn.weight, rng, (n_syn,), f"Connection '{name}'", "weight")
    if isinstance(conn, Dense):
        delay = materialise(conn.delay, rng, (n_pre, n_post), f"Connection '{name}'",
                            "delay").reshape(-1)
    else:
        delay = materialise(conn.delay, rng, (n_syn,), f"Connection '{name}'", "delay")
    if np.any(delay < 0):
        raise bad_arg(f"Connection '{name}'", "delay", "negative values", "delays must be >= 0")
    return SynapseTable(row_ptr, post, weight.astype(np.float32), delay.astype(np.float32))


from .conv import (  # noqa: E402  (the 2-D types subclass Connectivity above)
    AvgPool2D,
    AvgPoolConv2D,
    AvgPoolDense2D,
    Conv2D,
    Conv2DTranspose,
)

__all__ = ["Connectivity", "Dense", "FixedProbability", "OneToOne", "Conv2D",
           "Conv2DTranspose", "AvgPool2D", "AvgPoolConv2D", "AvgPoolDense2D", "SynapseTable",
           "build_synapses"]
