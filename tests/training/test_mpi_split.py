"""mlGeNN's MPI data contract without MPI (a stand-in communicator): each rank trains
on its own examples, ``batch_size // ranks`` of them per batch."""

from __future__ import annotations

import numpy as np
import pytest
from test_mpi_parity import _eprop, _eventprop

from app.model.errors import ModelError
from app.training.communicators import Communicator, shard
from app.training.compilers import EventPropCompiler, InferenceCompiler
from app.training.compilers.eprop import EPropCompiler
from app.training.optimisers import Adam


class ThreeRanks(Communicator):
    rank = 1
    num_ranks = 3


def test_shard_gives_each_rank_every_nth_example() -> None:
    data = list(range(100, 111))
    assert shard(data, 0, 3) == [100, 103, 106, 109]
    assert shard(data, 2, 3) == [102, 105, 108]
    arr = np.arange(10)
    assert shard(arr, 1, 2).tolist() == [1, 3, 5, 7, 9]
    got = shard({"x": arr, "y": tuple(arr)}, 1, 4)
    assert got["x"].tolist() == [1, 5, 9] and got["y"] == [1, 5, 9]
    assert shard(data, 0, 1) is data


def test_strided_shards_fill_the_batches_of_one_process() -> None:
    # rank r's k-th local batch of batch_size // ranks examples holds exactly examples of
    # the one-process batch k: the union over ranks is that batch
    n, batch, ranks = 70, 16, 2
    full = [set(range(s, min(s + batch, n))) for s in range(0, n, batch)]
    per_rank = batch // ranks
    for k, want in enumerate(full):
        got = set()
        for r in range(ranks):
            local = shard(np.arange(n), r, ranks)
            got |= set(local[k * per_rank:(k + 1) * per_rank].tolist())
        assert got == want


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
