"""Compiled networks: what mlGeNN's compilers return.

:mod:`.network` holds the base (evaluate / predict, callbacks, timers), with
:mod:`.weights` (weight and structure access) and :mod:`.batching` (data checks and
batches) as its parts; :mod:`.inference` and :mod:`.training` the two kinds a
compiler returns. ``from app.training.compiled import ...`` keeps working.
"""

from .inference import CompiledInferenceNetwork
from .network import CompiledNetwork
from .training import CompiledTrainingNetwork, Trainable, TrainingError

__all__ = ["CompiledInferenceNetwork", "CompiledNetwork", "CompiledTrainingNetwork",
           "Trainable", "TrainingError"]
