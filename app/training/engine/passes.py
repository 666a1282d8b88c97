"""The per-batch pieces of a training pass run in one kernel call (the fused-pass
kernels ``layerwise_kernels.train_epoch_layerwise`` and
``lockstep_kernels.train_epoch_lockstep``): staging a batch's inputs as
``CPUSimulator.set_inputs_indexed`` and ``begin_trial`` do, and keeping its outputs
for the metrics computed afterwards."""

from __future__ import annotations

import numpy as np
from numba import njit

from .staging import gather_batch


@njit(cache=True, inline="always")
def stage_batch(rows, st_off, st_steps, st_nids, ev_s, ev_n, in_ptr, in_hi, X,
                reset_in_syn):
    """Batch ``rows`` (example indices) of the staged list (``st_*``) into the event
    buffer and the first input column of ``in_ptr``/``in_hi`` (the others zero); its
    slots' synaptic input zeroed with ``reset_in_syn``."""
    nb = rows.shape[0]
    for b in range(in_ptr.shape[0]):
        for p in range(in_ptr.shape[1]):
            in_ptr[b, p] = 0
            in_hi[b, p] = 0
    gather_batch(st_off, st_steps, st_nids, rows, ev_s, ev_n, 0, in_ptr[:nb, 0],
                 in_hi[:nb, 0])
    if reset_in_syn:
        for b in range(nb):
            for s in range(X.shape[1]):
                X[b, s] = np.float32(0.0)


@njit(cache=True, inline="always")
def keep_outputs(nb, o0, R, xent, R_out_k, xent_out_k):
    """A batch's output readouts (from neuron ``o0`` on) and per-slot losses."""
    for b in range(nb):
        xent_out_k[b] = xent[b]
        for j in range(R_out_k.shape[1]):
            R_out_k[b, j] = R[b, o0 + j]


#: ``train_epoch_*`` statuses besides the optimiser's (``optim.OK`` ...): a spike
#: buffer overflowed with strict buffer checking (the batch's gradient is dropped), or
#: numba's cache held lockstep kernels of other block sizes
OVERFLOW, STALE_CACHE = 10, 11
