"""The order in which LoRA training sees its examples: a pure function of (seed, step), so that a resumed run sees
the batches an uninterrupted one would.

- ``random``: consecutive slices of a seeded permutation per epoch (every batch mixes lengths: on the legal set
  about a quarter of a batch of 4 is padding);
- ``length``: each epoch's permutation is cut into pools of ``POOL`` batches, each pool sorted by length and cut
  into batches, and the epoch's batches shuffled: a batch holds examples of similar length (little padding) while
  every epoch still visits every example once in a seeded random order of batches.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

BATCHINGS = ("random", "length")
POOL = 50  # batches per sorted pool: large enough that neighbours in length share a batch


def batch_order(lengths: list[int], batch_size: int, seed: int, batching: str) -> Callable[[int], list[int]]:
    """A function from a 0-based step to the indices of its batch."""
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}, not {batching!r}")
    n = len(lengths)
    if n == 0 or batch_size < 1:
        raise ValueError("batches need at least one example and a batch size of at least 1")
    lengths = np.asarray(lengths)

    @lru_cache(maxsize=2)
    def epoch_batches(epoch: int) -> tuple[tuple[int, ...], ...]:
        permutation = np.random.default_rng([seed, epoch]).permutation(n)
        if batching == "random":
            return tuple(tuple(int(i) for i in permutation[k:k + batch_size]) for k in range(0, n, batch_size))
        batches = []
        for start in range(0, n, POOL * batch_size):
            pool = permutation[start:start + POOL * batch_size]
            pool = pool[np.argsort(lengths[pool], kind="stable")]
            batches += [tuple(int(i) for i in pool[k:k + batch_size]) for k in range(0, len(pool), batch_size)]
        shuffled = np.random.default_rng([seed, epoch, 1]).permutation(len(batches))
        return tuple(batches[int(k)] for k in shuffled)

    per_epoch = -(-n // batch_size)

    def indices(step: int) -> list[int]:
        epoch, k = divmod(step, per_epoch)
        return list(epoch_batches(epoch)[k])

    return indices


def padding_share(lengths: list[int], order: Callable[[int], list[int]], steps: int) -> float:
    """The share of the padded batch positions that are padding, over the first ``steps`` batches."""
    lengths = np.asarray(lengths)
    real = padded = 0
    for step in range(steps):
        batch = lengths[order(step)]
        real += int(batch.sum())
        padded += int(batch.max()) * len(batch)
    return 1 - real / padded
