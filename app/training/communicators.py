"""Communicators for data-parallel training. ``None`` means one process.

``MPI()`` runs one copy of the training script per MPI rank (``mpirun -n N``).
As in mlGeNN, every rank builds the same network and trains on the data it is
given (``shard`` gives it its part); ``batch_size`` is the total over ranks,
so each rank simulates ``batch_size // N`` of its own examples per batch, and
gradients and metrics are summed over ranks with ``Allreduce``. Collectives wait at most
``timeout`` seconds: a rank that died or hangs makes the others print a clear
message and call ``MPI_Abort`` instead of waiting forever.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any

import numpy as np

#: Environment variable that overrides MPI()'s default collective timeout (seconds).
TIMEOUT_ENV = "SPIKE_STUDIO_MPI_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
#: Seconds a collective polls without sleeping before backing off (latency vs CPU).
SPIN_S = 0.002


class Communicator:
    """Interface: rank, size, and collective operations on numpy arrays."""

    rank = 0
    num_ranks = 1

    def barrier(self) -> None:
        """Wait until every rank reaches this point."""

    def broadcast(self, data: np.ndarray, root: int = 0) -> np.ndarray:
        """Copy ``data`` from ``root`` to every rank (in place for arrays); return it."""
        return data

    def reduce_sum(self, value: np.ndarray) -> np.ndarray:
        """The element-wise sum of ``value`` over all ranks (every rank gets it)."""
        return value


class CommunicatorTimeout(RuntimeError):
    """A collective operation did not complete in time (a rank died or hangs)."""


class MPI(Communicator):
    """Data-parallel communicator on mpi4py's ``COMM_WORLD`` (like mlGeNN's ``MPI``).

    Args:
        timeout: seconds any collective may wait for the other ranks before this
            rank reports which operation stalled and aborts the whole job
            (``MPI_Abort``). ``None`` waits forever. Default: the
            ``SPIKE_STUDIO_MPI_TIMEOUT`` environment variable, else 600.
        abort_on_exception: install a ``sys.excepthook`` that aborts every rank
            when one rank raises, so the others do not wait in a collective.
        comm: an mpi4py communicator to use instead of ``COMM_WORLD``.
    """

    def __init__(self, timeout: float | None = -1.0, abort_on_exception: bool = True,
                 comm: Any = None) -> None:
        try:
            from mpi4py import MPI as _mpi
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise ImportError(
                "the MPI communicator needs mpi4py and an MPI library: "
                "apt-get install openmpi-bin libopenmpi-dev && "
                "pip install 'spike-studio[mpi]'") from exc
        self._mpi = _mpi
        self.comm = _mpi.COMM_WORLD if comm is None else comm
        self._rank = int(self.comm.Get_rank())
        self._num_ranks = int(self.comm.Get_size())
        if timeout is not None and timeout < 0:
            timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
        self.timeout = None if timeout is None or timeout <= 0 else float(timeout)
        if abort_on_exception and self._num_ranks > 1:
            self._install_excepthook()

    # ----- identity ----------------------------------------------------------------------
    @property
    def rank(self) -> int:  # type: ignore[override]
        """Index of this process, 0 .. num_ranks-1."""
        return self._rank

    @property
    def num_ranks(self) -> int:  # type: ignore[override]
        """Number of processes taking part."""
        return self._num_ranks

    # ----- failure handling --------------------------------------------------------------
    def abort(self, message: str, code: int = 1) -> None:
        """Print ``message`` (prefixed with this rank) and stop every rank of the job."""
        sys.stderr.write(f"spike-studio: MPI rank {self._rank}/{self._num_ranks}: {message}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        self.comm.Abort(code)

    def _install_excepthook(self) -> None:
        previous = sys.excepthook

        def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
            try:
                previous(exc_type, exc, tb)
            except Exception:  # pragma: no cover
                traceback.print_exception(exc_type, exc, tb)
            if issubclass(exc_type, KeyboardInterrupt):
                msg = "interrupted; stopping all ranks"
            else:
                msg = f"{exc_type.__name__}: {exc}; stopping all ranks"
            self.abort(msg)

        sys.excepthook = hook

    def _wait(self, request: Any, what: str) -> None:
        """Complete a non-blocking request, aborting the job after ``timeout`` seconds."""
        if self.timeout is None:
            request.Wait()
            return
        start = time.monotonic()
        deadline = start + self.timeout
        spin_until = start + SPIN_S
        pause = 0.0
        while not request.Test():
            now = time.monotonic()
            if now < spin_until:  # most collectives complete within microseconds
                continue
            if now > deadline:
                self.abort(f"{what} waited more than {self.timeout:g} s for the other ranks: "
                           "a rank has died or hangs (see its output above); aborting the "
                           f"job. Raise the limit with MPI(timeout=...) or {TIMEOUT_ENV}.")
                raise CommunicatorTimeout(what)  # only reached if Abort returns
            if pause:
                time.sleep(pause)
            pause = min(2e-4, pause * 2 if pause else 1e-5)

    # ----- collectives -------------------------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank reaches this point (with the timeout)."""
        self._wait(self.comm.Ibarrier(), "barrier")

    def broadcast(self, data: Any, root: int = 0) -> Any:
        """Send ``data`` from ``root``: numpy arrays in place (and returned), other
        picklable objects returned."""
        if isinstance(data, np.ndarray):
            buf = data if data.flags.c_contiguous else np.ascontiguousarray(data)
            self._wait(self.comm.Ibcast(buf, root=root), "broadcast")
            if buf is not data:
                data[...] = buf
            return data
        return self.comm.bcast(data, root=root)

    def reduce_sum(self, value: Any) -> Any:
        """Element-wise sum over ranks with ``Allreduce`` (numpy arrays and scalars)."""
        arr = np.ascontiguousarray(value)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.int64)
        out = np.empty_like(arr)
        self._wait(self.comm.Iallreduce(arr, out, op=self._mpi.SUM), "Allreduce")
        if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
            return out.item()
        return out


def shard(data: Any, rank: int, num_ranks: int) -> Any:
    """This rank's part of a dataset: every ``num_ranks``-th example from ``rank``.

    With mlGeNN's data contract each rank trains on the data it is given and
    ``batch_size`` is the total over ranks (each rank takes ``batch_size //
    num_ranks`` of its own examples per batch). Sharding with this stride puts
    exactly the examples of one process's batch ``b`` into batch ``b`` of the
    ranks, so without shuffling N ranks train like one process (shuffling
    permutes each rank's examples separately, as in mlGeNN). Lists, tuples and
    arrays are sliced; a dict is sharded value by value.
    """
    if isinstance(data, dict):
        return {k: shard(v, rank, num_ranks) for k, v in data.items()}
    if num_ranks == 1:
        return data
    part = data[rank::num_ranks]
    return list(part) if isinstance(data, tuple) else part
