"""The random partition (SPEC §5b): the null baseline that says whether a partition's structure matters at
all, and PRESTO's and Learn-MLR's random start (a dataset's ``init: random``; App. B.4)."""
from __future__ import annotations

import numpy as np

from prestorepro.partitioners.base import PARTITIONERS, Fitted


class RandomRule:
    """Route every test point to a part drawn uniformly at random, from a generator seeded by the run's seed
    alone: the same points get the same parts in every call."""

    description = "a seeded uniformly random part"

    def __init__(self, k: int, seed: int):
        self.k, self.seed = int(k), int(seed)

    def assign(self, z: np.ndarray) -> np.ndarray:
        return np.random.default_rng([self.seed, 1]).integers(self.k, size=len(z)).astype(np.int64)


@PARTITIONERS.register("random")
def _random(z: np.ndarray, k: int, seed: int, opts) -> Fitted:
    # a seeded permutation of 0, 1, ..., K-1, 0, 1, ...: every part holds floor(N/K) or ceil(N/K) points
    labels = np.random.default_rng(seed).permutation(np.arange(len(z)) % k).astype(np.int64)
    return Fitted(labels, RandomRule(k, seed), [f"a seeded random partition into {k} parts of equal size (within one point)"])
