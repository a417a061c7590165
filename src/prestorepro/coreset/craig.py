"""CRAIG (Mirzasoleiman et al., ICML 2020, Alg. 1; SPEC §7) as a selector.

Per class, greedy facility location on the gradient proxies picks that class's share of the budget
(shares proportional to class sizes, as in CRAIG §3.4 / GRAD-MATCH's per-class approximation). Each
selected point's weight is the size of the cluster it serves (gamma_j = |C_j|, Alg. 1 line 8); the
weights of the whole selection are then divided by their mean, so they average 1 while keeping the
ratios between classes (a class with more points per selected element keeps larger weights).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from prestorepro.coreset.base import (SELECTORS, Selection, check_budget, check_grads, check_labels, check_rng,
                                      select_per_class)
from prestorepro.coreset.facility_location import SimilarityMemory, greedy_facility_location


@SELECTORS.register("craig")
def select_craig(budget: int, *, grads: Any, labels: Any, rng: np.random.Generator, greedy: str = "lazy",
                 epsilon: float = 0.01, lazy_batch: int = 32,
                 memory: SimilarityMemory = SimilarityMemory()) -> Selection:
    """Per-class facility location; ``greedy`` is ``lazy`` (default), ``stochastic`` or ``naive``;
    ``epsilon`` is the stochastic greedy's; classes above ``memory.dense_limit`` points never form their
    n x n similarity matrix (see ``facility_location``)."""
    y = check_labels(labels)
    g = check_grads(grads, y.size)
    budget = check_budget(budget, y.size)
    rng = check_rng(rng)

    def one_class(_cls: int, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        res = greedy_facility_location(g[idx], k, greedy=greedy, rng=rng, epsilon=epsilon,
                                       dense_limit=memory.dense_limit, block_rows=memory.block_rows,
                                       lazy_batch=lazy_batch)
        return res.selected, res.cluster_sizes()

    return select_per_class(y, budget, one_class, "craig selection", reweight=lambda gamma: gamma / gamma.mean())
