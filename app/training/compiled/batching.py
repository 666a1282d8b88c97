"""Checking a compiled network's inputs and labels and cutting them into batches.

A mixin of :class:`~app.training.compiled.network.CompiledNetwork`: it uses the
network's ``network``, ``outputs``, ``encoders``, ``example_timesteps``, ``dt`` and
its MPI properties (``rank``, ``num_ranks``, ``rank_batch_size``, ``_reduce``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from app.model import Population
from app.model.errors import bad_arg

from ..data.errors import DatasetError
from ..data.spikes import PreprocessedSpikes
from ..data.validation import LateSpikeWarning, validate_spike_dataset


class DataBatching:
    """Input/label dictionaries, their checks (late spikes, label ranges, target
    shapes) and the per-rank batch indices."""

    def _pop_dict(self, data: Any, pops: list[Population], what: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            if len(pops) == 1:
                return {pops[0].name: data}
            raise bad_arg("train/evaluate", what, type(data).__name__,
                          f"a dict {{population: data}} for {[p.name for p in pops]}")
        out = {}
        for k, v in data.items():
            name = k.name if isinstance(k, Population) else k
            if name not in {p.name for p in pops}:
                raise bad_arg("train/evaluate", what, name,
                              f"keys must be {'input' if what == 'x' else 'output'} populations: "
                              f"{[p.name for p in pops]}")
            out[name] = v
        missing = [p.name for p in pops if p.name not in out]
        if missing:
            raise bad_arg("train/evaluate", what, sorted(out), f"data for {missing} is missing")
        return out

    def _batch_inputs(self, x: dict[str, Any], idx: np.ndarray,
                      record: list[tuple[str, str]] = ()) -> dict[str, Any]:
        """One batch of every input, value inputs (IntegrateFireInput) encoded as spikes
        (keeping their voltages when ``record`` asks for them)."""
        out = {}
        for k, v in x.items():
            if k in self.encoders:
                keep = any(pop == k and var.lower() == "v" for pop, var in record)
                out[k] = self.encoders[k].encode(np.asarray(v)[idx], self.example_timesteps,
                                                 self.dt, keep)
            elif not isinstance(v, np.ndarray) or v.dtype == object:
                out[k] = [v[i] for i in idx]
            else:
                out[k] = v[idx]
        return out

    def _new_pass(self) -> None:
        """A pass over the data begins (an epoch, an evaluate or predict call): the
        engine re-checks its cached input lists at their next use."""
        stager = getattr(self.sim, "stager", None)
        if stager is not None:
            stager.new_pass()

    def _check_data(self, x: dict[str, Any], y: dict[str, Any] | None) -> int:
        self._new_pass()
        sizes = {name: len(v) for name, v in x.items()}
        if y is not None:
            sizes.update({f"labels of {name}": len(v) for name, v in y.items()})
        if len(set(sizes.values())) != 1:
            raise DatasetError(f"inputs and labels have different numbers of examples: {sizes}")
        n = next(iter(sizes.values()))
        for name, v in x.items():
            pop = self.network.get_population(name)
            if name in self.encoders:
                self.encoders[name].values(np.asarray(v)[:1])
                continue
            if isinstance(v, np.ndarray) and not isinstance(v.flat[0] if v.size else None,
                                                           PreprocessedSpikes) \
                    and type(pop.neuron).__name__ == "PoissonInput":
                if v.reshape(len(v), -1).shape[1] % pop.num_neurons:
                    raise DatasetError(f"input '{name}': each example has "
                                       f"{v.reshape(len(v), -1).shape[1]} values but the "
                                       f"population has {pop.num_neurons} neurons")
                continue
            # The same example list is usually passed every epoch; its spikes were checked
            # already (the check costs ~0.1 ms per example). Labels are checked below.
            key = (name, id(v), len(v), id(v[0]) if len(v) else 0, id(v[-1]) if len(v) else 0)
            validated = self.__dict__.setdefault("_validated_inputs", {})
            if key in validated and validated[key] is v:
                continue
            labels = None
            num_classes = None
            if y is not None and len(self.outputs) == 1:
                yy = np.asarray(y[self.outputs[0].name])
                if yy.ndim == 1:
                    labels = yy
                    num_classes = self.outputs[0].num_neurons
            late = validate_spike_dataset(list(v), labels, pop.num_neurons, num_classes,
                                          self.example_timesteps, self.dt,
                                          late_spikes="count")
            if late is not None:
                where = f"input '{name}'" + (f" on MPI rank {self.rank}"
                                             if self.num_ranks > 1 else "")
                warnings.warn(late.describe(where, self.example_timesteps, self.dt),
                              LateSpikeWarning, stacklevel=3)
            if len(validated) > 16:
                validated.clear()
            validated[key] = v
        if y is not None:
            for name, v in y.items():
                arr = np.asarray(v)
                pop = self.network.get_population(name)
                if arr.ndim == 1:
                    if not np.issubdtype(arr.dtype, np.integer):
                        raise DatasetError(f"labels of '{name}' must be integers, got {arr.dtype}")
                    if arr.size and (arr.min() < 0 or arr.max() >= pop.num_neurons):
                        raise DatasetError(
                            f"labels of '{name}' must be in [0, {pop.num_neurons}), found "
                            f"{arr.min()}..{arr.max()}: the output population is too small or "
                            "the labels are wrong")
                elif arr.ndim == 3:
                    if arr.shape[1:] != (self.example_timesteps, pop.num_neurons):
                        raise DatasetError(
                            f"targets of '{name}' have shape {arr.shape[1:]} per batch; "
                            f"expected (example_timesteps={self.example_timesteps}, "
                            f"{pop.num_neurons})")
                elif arr.ndim == 2:
                    if arr.shape[1] != pop.num_neurons:
                        raise DatasetError(f"targets of '{name}' have {arr.shape[1]} columns; "
                                           f"the population has {pop.num_neurons} neurons")
                else:
                    raise DatasetError(f"labels of '{name}' have shape {arr.shape}; expected "
                                       "(examples,) labels or (examples, T, outputs) targets")
        return n

    def _num_batches(self, n: int) -> int:
        """Batches per pass over this rank's ``n`` examples, agreed by all ranks (the
        largest count; a rank with fewer examples idles through the rest)."""
        b = self.rank_batch_size
        mine = (n + b - 1) // b
        if self.num_ranks == 1:
            return mine
        counts = np.zeros(self.num_ranks, np.int64)
        counts[self.rank] = mine
        return int(self.communicator.reduce_sum(counts).max())

    def _total(self, n: int) -> int:
        """Examples over all ranks."""
        return n if self.num_ranks == 1 else int(round(self._reduce(float(n))))

    def _batches(self, n: int, order: np.ndarray | None = None,
                 num_batches: int | None = None) -> Iterable[np.ndarray]:
        """Indices into this rank's own examples for each batch: ``batch_size //
        num_ranks`` of them per batch, as each mlGeNN rank batches the data it is given;
        empty for the batches a rank has no examples left for."""
        idx = np.arange(n) if order is None else order
        b = self.rank_batch_size
        for k in range(self._num_batches(n) if num_batches is None else num_batches):
            yield idx[k * b:(k + 1) * b]

