"""lab.legal.batches: every epoch visits every example once, the order is a function of (seed, step) alone (a
resumed run sees the batches an uninterrupted one would), and length batches carry less padding."""
from __future__ import annotations

import numpy as np
import pytest

from lab.legal import batches

LENGTHS = list(np.random.default_rng(0).integers(40, 180, size=203))


@pytest.mark.parametrize("batching", batches.BATCHINGS)
def test_each_epoch_visits_every_example_once(batching):
    order = batches.batch_order(LENGTHS, 16, seed=3, batching=batching)
    per_epoch = -(-len(LENGTHS) // 16)
    for epoch in range(2):
        seen = [i for step in range(epoch * per_epoch, (epoch + 1) * per_epoch) for i in order(step)]
        assert sorted(seen) == list(range(len(LENGTHS)))


@pytest.mark.parametrize("batching", batches.BATCHINGS)
def test_the_order_is_a_function_of_seed_and_step(batching):
    a = batches.batch_order(LENGTHS, 8, seed=1, batching=batching)
    b = batches.batch_order(LENGTHS, 8, seed=1, batching=batching)
    assert [b(s) for s in (30, 2, 57)] == [a(s) for s in (30, 2, 57)]  # asked out of order, as a resume does
    assert [a(s) for s in range(5)] != [batches.batch_order(LENGTHS, 8, 2, batching)(s) for s in range(5)]


def test_length_batches_pad_less_and_bad_arguments_fail():
    random = batches.padding_share(LENGTHS, batches.batch_order(LENGTHS, 16, 0, "random"), 12)
    length = batches.padding_share(LENGTHS, batches.batch_order(LENGTHS, 16, 0, "length"), 12)
    assert length < random / 3
    with pytest.raises(ValueError, match="random, length"):
        batches.batch_order(LENGTHS, 4, 0, "sorted")
