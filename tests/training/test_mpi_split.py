"""How a batch is split between ranks (no MPI needed: a stand-in communicator)."""

from __future__ import annotations

import numpy as np
import pytest
from test_mpi_parity import _eprop, _eventprop

from app.model.errors import ModelError
from app.training.communicators import Communicator, share
from app.training.compilers import EventPropCompiler, InferenceCompiler
from app.training.compilers.eprop import EPropCompiler
from app.training.optimisers import Adam


class ThreeRanks(Communicator):
    rank = 1
    num_ranks = 3


def test_each_rank_takes_its_contiguous_slots_of_every_batch() -> None:
    idx = np.arange(100, 112)
    assert share(idx, 12, 0, 3).tolist() == [100, 101, 102, 103]
    assert share(idx, 12, 2, 3).tolist() == [108, 109, 110, 111]
    short = idx[:5]  # a short last batch: rank 2 gets nothing
    assert share(short, 12, 1, 3).tolist() == [104]
    assert share(short, 12, 2, 3).tolist() == []


@pytest.mark.parametrize("make", [
    lambda c: EventPropCompiler(10, "sparse_categorical_crossentropy", Adam(), batch_size=16,
                                communicator=c),
    lambda c: EPropCompiler(10, "sparse_categorical_crossentropy", batch_size=16,
                            communicator=c),
    lambda c: InferenceCompiler(10, batch_size=16, communicator=c),
])
def test_batch_size_must_divide_between_ranks(make) -> None:
    comp = make(ThreeRanks())
    net = (_eprop if isinstance(comp, EPropCompiler) else _eventprop)(None)[0]
    with pytest.raises((ModelError, ValueError), match="multiple of the number of MPI ranks"):
        comp.compile(net)


def test_base_communicator_is_one_process() -> None:
    c = Communicator()
    a = np.arange(3.0)
    assert c.rank == 0 and c.num_ranks == 1
    assert c.reduce_sum(a) is a and c.broadcast(a) is a
    c.barrier()
