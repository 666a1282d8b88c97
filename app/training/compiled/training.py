"""The network a training compiler returns: ``train``, the optimiser step and its state.

The compiler's subclass supplies ``_train_batch`` (forward + gradient of one batch);
everything around it (epochs, shuffling, validation, MPI gradient sums, NaN checks,
optimiser checkpoints) lives here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.model.errors import bad_arg

from ..callbacks import CallbackList
from ..engine import optim
from ..optimisers import Optimiser
from ..serialisers import Serialiser, get_serialiser
from .network import CompiledNetwork, _default_callbacks


class TrainingError(RuntimeError):
    """Training cannot continue (NaN, buffer overflow with strict checking, ...)."""


@dataclass
class Trainable:
    """A trained array (a view into the engine's arrays) with its gradient and optimiser state."""

    name: str
    kind: str  # "weight", "delay", "bias"
    param: np.ndarray
    grad: np.ndarray  # the gradient, or with ``chunked`` (chunks, n) partial sums of it
    optimiser: Optimiser
    state: dict = field(default_factory=dict)
    clamp: tuple[float, float] | None = None
    #: ``grad`` holds one row of partial sums per engine thread (the optimiser step
    #: adds them up in row order and zeroes them)
    chunked: bool = False

    def gradient(self) -> np.ndarray:
        """The accumulated gradient, a copy (partial sums added in row order)."""
        if not self.chunked:
            return self.grad.copy()
        g = self.grad[0].copy()
        for c in range(1, self.grad.shape[0]):
            g += self.grad[c]
        return g

    @property
    def total(self) -> np.ndarray:
        """The accumulated gradient as a writable array: with ``chunked`` the rows are
        first summed into row 0 (the others zeroed), which is returned."""
        if not self.chunked:
            return self.grad
        optim.sum_parts(self.grad)
        return self.grad[0]


class CompiledTrainingNetwork(CompiledNetwork):
    """A network compiled for training: adds ``train`` and the optimiser step."""

    def __init__(self, *args: Any, optimiser: Optimiser, trainables: list[Trainable],
                 losses: dict[str, Any], deep_r: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimiser = optimiser
        self.trainables = trainables
        self.losses = losses
        #: Deep R rewiring (``compilers.deep_r.DeepR``) of some connections, or None
        self.deep_r = deep_r if deep_r else None
        if self.deep_r is not None:
            self.base_train_callbacks += self.deep_r.callbacks()
        self.last_loss: float | None = None
        for t in trainables:
            t.state = t.optimiser.new_state(t.param.shape)

    @property
    def optimisers(self) -> list[tuple[Optimiser, list[Trainable]]]:
        """mlGeNN's ``compiled_network.optimisers``: ``(optimiser, what it trains)``
        pairs, the weight optimiser first (custom callbacks read or set e.g.
        ``optimiser.alpha`` through it)."""
        pairs: list[tuple[Optimiser, list[Trainable]]] = []
        for t in self.trainables:
            for opt, group in pairs:
                if opt is t.optimiser:
                    group.append(t)
                    break
            else:
                pairs.append((t.optimiser, [t]))
        return pairs

    def _train_batch(self, x: dict[str, Any], y: dict[str, Any], idx: np.ndarray,
                     cbl: CallbackList, example_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """Forward + gradient of one batch, leaving gradients in ``trainables``."""
        raise NotImplementedError

    def save_optimiser_state(self, keys: tuple = (),
                             serialiser: str | Serialiser = "numpy") -> None:
        """Serialise every trainable's optimiser moments, the engine state that carries
        across trials and Deep R's synapse structure, so a resumed run continues exactly."""
        ser = get_serialiser(serialiser)
        for t in self.trainables:
            for k, arr in t.state.items():
                ser.serialise(tuple(keys) + (f"{t.name}.{t.kind}", f"opt_{k}"), arr)
        self.save_carried_state(keys, ser)

    def save_carried_state(self, keys: tuple = (),
                           serialiser: str | Serialiser = "numpy") -> None:
        """Serialise what carries from one batch into the next besides weights and
        optimiser moments: the engine's state across trials and Deep R's synapse
        structure (``compilers.deep_r.DeepR.checkpoint_arrays``)."""
        ser = get_serialiser(serialiser)
        if hasattr(self.sim, "pull_carried"):  # device backends: copy the state back first
            self.sim.pull_carried()
        for name in getattr(self.sim, "CARRIED_STATE", ()):
            ser.serialise(tuple(keys) + ("engine.state", name), getattr(self.sim, name))
        if self.deep_r is not None:
            for (obj, var), arr in self.deep_r.checkpoint_arrays(self).items():
                ser.serialise(tuple(keys) + (obj, var), arr)

    def load_optimiser_state(self, keys: tuple = (),
                             serialiser: str | Serialiser = "numpy") -> None:
        """Restore optimiser moments, carried engine state and Deep R's structure saved
        by ``save_optimiser_state`` (or a Checkpoint)."""
        data = get_serialiser(serialiser).deserialise_all(keys)
        for t in self.trainables:
            entry = data.get(f"{t.name}.{t.kind}", {})
            for k, arr in t.state.items():
                if f"opt_{k}" not in entry:
                    raise KeyError(f"checkpoint {keys!r} has no optimiser state '{k}' for the "
                                   f"{t.kind}s of '{t.name}'")
                saved = entry[f"opt_{k}"]
                if saved.shape != arr.shape:
                    raise ValueError(f"optimiser state '{k}' of '{t.name}' has shape "
                                     f"{saved.shape}; the compiled network needs {arr.shape}")
                arr[...] = saved
        self._restore_carried(data)

    def load_carried_state(self, keys: tuple = (),
                           serialiser: str | Serialiser = "numpy") -> None:
        """Restore what ``save_carried_state`` saved."""
        self._restore_carried(get_serialiser(serialiser).deserialise_all(keys))

    def _restore_carried(self, data: dict) -> None:
        for name, arr in data.get("engine.state", {}).items():
            target = getattr(self.sim, name, None)
            if isinstance(target, np.ndarray) and target.shape == arr.shape:
                target[...] = arr
        if hasattr(self.sim, "push_carried"):
            self.sim.push_carried()
        if self.deep_r is not None:
            self.deep_r.restore(data, self)
        if hasattr(self.sim, "refresh_weights"):
            self.sim.refresh_weights()

    def optimise(self, step: int) -> None:
        """Apply one optimiser step to every trainable, refusing NaN/inf gradients.

        A trainable's ``grad`` is its gradient, or (chunks, n) per-thread partial
        sums that the step adds up (and zeroes) in the same pass.
        """
        if self._optimise_together(step):
            return
        for t in self.trainables:  # a bad parameter explains the bad gradients it causes
            if not optim.all_finite(t.param):
                self._step_failed(t, optim.BAD_PARAM, step)
        if self.communicator is not None:
            t0 = time.perf_counter()
            self._reduce_gradients()
            self._timed("gradient_reduce", t0)
        if self.deep_r is not None:
            self.deep_r.before_step(self)
        t0 = time.perf_counter()
        # a device backend keeps gradients, weights and moments on the device and
        # mirrors the results into ``param`` and ``state``
        device_step = getattr(self.sim, "optimiser_step", None)
        for t in self.trainables:
            if device_step is not None:
                status = device_step(t, step)
            else:
                parts = t.grad if t.chunked else t.grad.reshape(1, -1)
                status = t.optimiser.update(t.param, parts, t.state, step, t.clamp)
            if status != optim.OK:
                self._step_failed(t, status, step)
        if self.layout.kernels:
            self.layout.sync_kernels()
        self._timed("optimiser", t0)
        if self.deep_r is not None:
            self.deep_r.after_step(self)

    #: True while a fused pass calls the batch hooks of batches that already ran
    #: (``CallbackList.batches_until_live``); callbacks that run some batches live
    #: read it to tell those calls from live ones
    replaying_batches = False

    def _train_pass_fused(self, x: dict[str, Any], y: dict[str, Any],
                          batches: list[np.ndarray], step: int, cbl: CallbackList,
                          metrics: dict,
                          live: Callable[[int], float]) -> tuple[int, float] | None:
        """A pass's batches in few engine calls where the network, its engine and the
        callbacks allow it: the same trials, optimiser steps, metrics and losses as
        the per-batch loop (which runs where this returns None). A batch that a
        callback asks to see live runs as ``live(k)`` (the per-batch loop's body,
        returning the batch's loss times its examples). Returns (the next step, the
        pass's loss sum)."""
        return None

    def _train_batch_of_pass(self, x: dict[str, Any], y: dict[str, Any],
                             batches: list[np.ndarray], first_step: int, cbl: CallbackList,
                             metrics: dict, k: int) -> float:
        """``_train_one_batch`` for batch k of a pass whose first step is ``first_step``."""
        return self._train_one_batch(x, y, k, batches[k], first_step + k, cbl, metrics)

    def _train_one_batch(self, x: dict[str, Any], y: dict[str, Any], b: int,
                         idx: np.ndarray, step: int, cbl: CallbackList,
                         metrics: dict) -> float:
        """Batch ``b`` (examples ``idx``, optimiser step ``step``) with every hook live:
        trial, optimiser step, metrics, loss. Returns its loss times its examples."""
        cbl.on_batch_begin(b)
        if len(idx):
            out = self._train_batch(x, y, idx, cbl, idx.tolist())
        else:
            out = self._idle_train_batch()
        self.optimise(step)
        for pop, m in metrics.items():
            m.update(y[pop.name][idx], self._metric_pred(pop.name, out), self.communicator)
        lp = self.outputs[0]
        loss = 0.0
        if len(idx):
            self.last_loss = self._batch_loss(lp.name, y[lp.name][idx], out)
            loss = self.last_loss * len(idx)
        cbl.on_batch_end(b, metrics)
        return loss

    def _together(self) -> bool:
        """Whether one call of the trainables' shared optimiser can step them all
        (``update_many``): nothing else needs to happen around it (one rank, no Deep
        R, device, clamp or shared kernels)."""
        ts = self.trainables
        return not (len(ts) < 2 or self.communicator is not None or self.deep_r is not None
                    or self.layout.kernels or getattr(self.sim, "optimiser_step", None)
                    or any(t.clamp is not None or not t.chunked
                           or t.optimiser is not ts[0].optimiser for t in ts))

    def _optimise_together(self, step: int) -> bool:
        """The step as one call of the trainables' shared optimiser (``update_many``,
        where ``_together``): it checks every parameter and gradient before it
        changes anything. False where it did not run (the per-trainable path then
        does the step). A refusal is remembered for these trainables (the checks
        cost ~5 us, a tenth of a Yin-Yang batch of 1)."""
        ts = self.trainables
        key = (id(ts), len(ts), id(ts[0].optimiser) if ts else 0)
        if getattr(self, "_declined_together", None) == key:
            return False
        if not self._together():
            self._declined_together = key
            return False
        t0 = time.perf_counter()
        res = ts[0].optimiser.update_many([(t.param, t.grad, t.state) for t in ts], step)
        if res is None:
            self._declined_together = key
            return False
        self._timed("optimiser", t0)
        if res[0] != optim.OK:
            self._step_failed(ts[res[1]], res[0], step)
        return True

    @staticmethod
    def _step_failed(t: Trainable, status: int, step: int) -> None:
        """Raise the TrainingError for an optimiser step that refused (``status``)."""
        if status == optim.BAD_PARAM:
            raise TrainingError(f"the {t.kind}s of '{t.name}' contain NaN/inf before "
                                f"training step {step}: reinitialise or reload them")
        if status == optim.BAD_GRAD:
            raise TrainingError(
                f"NaN/inf in the {t.kind} gradient of '{t.name}' at training step {step}: "
                "lower the learning rate, check the input scaling, or add regularisation")
        raise TrainingError(f"the {t.kind}s of '{t.name}' became NaN/inf at training "
                            f"step {step}: lower the learning rate")

    def _reduce_gradients(self) -> None:
        """Sum every gradient over ranks in one Allreduce (one latency, not one per array)."""
        if not self.trainables:
            return
        rows = [t.total.reshape(-1) for t in self.trainables]
        flat = self.communicator.reduce_sum(np.concatenate(rows))
        at = 0
        for row in rows:
            row[...] = flat[at:at + row.size]
            at += row.size

    def _batch_loss(self, pop_name: str, y: np.ndarray, out: dict[str, np.ndarray]) -> float:
        """Mean loss of the batch just trained (for reports)."""
        return self.losses[pop_name].value(y, self._metric_pred(pop_name, out))

    def _idle_train_batch(self) -> dict[str, np.ndarray]:
        """A training batch in which this rank has no examples (a short last batch
        split over ranks): no gradient, but the same collectives as ``_train_batch``."""
        return self._empty_outputs()

    def _shuffle_order(self, n: int, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.rng_seed, epoch]).permutation(n)

    def train(self, x: Any, y: Any, num_epochs: int, start_epoch: int = 0, shuffle: bool = True,
              metrics: Any = "sparse_categorical_accuracy",
              callbacks: Sequence | None = None,
              validation_callbacks: Sequence | None = None,
              validation_split: float = 0.0, validation_x: Any = None,
              validation_y: Any = None) -> tuple:
        """Train like mlGeNN; returns (metrics, cb_data) or, with validation,
        (metrics, val_metrics, cb_data, val_cb_data)."""
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise bad_arg("train", "num_epochs", num_epochs, "a non-negative integer")
        if not 0.0 <= validation_split < 1.0:
            raise bad_arg("train", "validation_split", validation_split, "a number in [0, 1)")
        xd = self._pop_dict(x, self.inputs, "x")
        yd = {k: np.asarray(v) for k, v in self._pop_dict(y, self.outputs, "y").items()}
        n = self._check_data(xd, yd)
        vx = vy = None
        if validation_x is not None or validation_y is not None:
            if validation_x is None or validation_y is None:
                raise bad_arg("train", "validation_x/validation_y", "only one given",
                              "give both or neither")
            vx = self._pop_dict(validation_x, self.inputs, "validation_x")
            vy = {k: np.asarray(v) for k, v in
                  self._pop_dict(validation_y, self.outputs, "validation_y").items()}
            self._check_data(vx, vy)
        elif validation_split > 0.0:
            n_val = int(round(n * validation_split))
            n_train = n - n_val
            vx = {k: v[n_train:] for k, v in xd.items()}
            vy = {k: v[n_train:] for k, v in yd.items()}
            xd = {k: v[:n_train] for k, v in xd.items()}
            yd = {k: v[:n_train] for k, v in yd.items()}
            n = n_train
        callbacks = _default_callbacks() if callbacks is None else callbacks
        callbacks = list(self.base_train_callbacks) + list(callbacks)
        validation_callbacks = (_default_callbacks() if validation_callbacks is None
                                else validation_callbacks)
        num_batches = self._num_batches(n)
        n_total = self._total(n)
        train_mets = self._make_metrics(metrics)
        cbl = CallbackList(callbacks, compiled_network=self, num_batches=num_batches,
                           num_epochs=num_epochs)
        val_mets = vcbl = None
        if vx is not None:
            n_val = len(next(iter(vx.values())))
            num_val_batches = self._num_batches(n_val)
            n_val_total = self._total(n_val)
            val_mets = self._make_metrics(metrics)
            vcbl = CallbackList(validation_callbacks, compiled_network=self,
                                num_batches=num_val_batches, num_epochs=num_epochs)
        cbl.on_train_begin()
        if vcbl is not None:
            vcbl.on_test_begin()
        step = num_batches * start_epoch
        for epoch in range(start_epoch, start_epoch + num_epochs):
            for m in train_mets.values():
                m.reset()
            cbl.on_epoch_begin(epoch)
            self._new_pass()
            order = self._shuffle_order(n, epoch) if shuffle else None
            loss_sum = 0.0
            batches = list(self._batches(n, order, num_batches))
            live = functools.partial(self._train_batch_of_pass, xd, yd, batches, step, cbl,
                                     train_mets)
            fused = self._train_pass_fused(xd, yd, batches, step, cbl, train_mets, live)
            if fused is not None:
                step, loss_sum = fused
            for b, idx in enumerate(batches if fused is None else ()):
                loss_sum += self._train_one_batch(xd, yd, b, idx, step, cbl, train_mets)
                step += 1
            self.epoch_loss = self._reduce(loss_sum) / max(n_total, 1)
            cbl.on_epoch_end(epoch, train_mets)
            if vcbl is not None:
                for m in val_mets.values():
                    m.reset()
                vcbl.on_epoch_begin(epoch)
                vloss = 0.0
                for b, idx in enumerate(self._batches(n_val, num_batches=num_val_batches)):
                    vcbl.on_batch_begin(b)
                    out = self._run_forward(vx, idx, vcbl, idx.tolist())
                    for pop, m in val_mets.items():
                        m.update(vy[pop.name][idx], self._metric_pred(pop.name, out),
                                 self.communicator)
                    lp = self.outputs[0]
                    if len(idx):
                        vloss += self.losses[lp.name].value(
                            vy[lp.name][idx], self._metric_pred(lp.name, out)) * len(idx)
                    vcbl.on_batch_end(b, val_mets)
                self.val_epoch_loss = self._reduce(vloss) / max(n_val_total, 1)
                vcbl.on_epoch_end(epoch, val_mets)
        cbl.on_train_end(train_mets)
        if vcbl is not None:
            vcbl.on_test_end(val_mets)
            return train_mets, val_mets, cbl.get_data(), vcbl.get_data()
        return train_mets, cbl.get_data()
