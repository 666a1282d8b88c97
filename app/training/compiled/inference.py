"""The network ``InferenceCompiler.compile`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data.errors import DatasetError
from .network import CompiledNetwork


class CompiledInferenceNetwork(CompiledNetwork):
    """What ``InferenceCompiler.compile`` returns (mlGeNN's class of the same name)."""

    def evaluate_batch(self, x: Any, y: Any, metrics: Any = "sparse_categorical_accuracy",
                       callbacks: Sequence | None = None) -> tuple[dict, dict]:
        """Evaluate one batch (at most ``batch_size`` examples); no progress bar by default."""
        xd = self._pop_dict(x, self.inputs, "x")
        n = len(next(iter(xd.values())))
        if n > self.batch_size:
            raise DatasetError(f"evaluate_batch got {n} examples; batch_size is "
                               f"{self.batch_size}")
        return self.evaluate(x, y, metrics, [] if callbacks is None else callbacks)
