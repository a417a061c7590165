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
                                      class_index_lists, finish, split_budget)
from prestorepro.coreset.facility_location import DEFAULT_BLOCK_ROWS, DEFAULT_DENSE_LIMIT, greedy_facility_location
from prestorepro.progress import progress


@SELECTORS.register("craig")
def select_craig(budget: int, *, grads: Any, labels: Any, rng: np.random.Generator, greedy: str = "lazy",
                 epsilon: float = 0.01, dense_limit: int = DEFAULT_DENSE_LIMIT,
                 block_rows: int = DEFAULT_BLOCK_ROWS, lazy_batch: int = 32) -> Selection:
    """Per-class facility location; ``greedy`` is ``lazy`` (default), ``stochastic`` or ``naive``;
    ``epsilon`` is the stochastic greedy's; classes above ``dense_limit`` points never form their
    n x n similarity matrix (see ``facility_location``)."""
    y = check_labels(labels)
    g = check_grads(grads, y.size)
    budget = check_budget(budget, y.size)
    rng = check_rng(rng)
    groups = class_index_lists(y)
    shares = split_budget(budget, np.array([idx.size for _, idx in groups]))
    chosen, sizes = [], []
    # a long selection (large classes) shows its progress per class on stderr (a job's log); a quick one is silent
    for (_cls, idx), k in progress(zip(groups, shares), desc="craig selection", total=len(groups), unit="classes",
                                   inner=True):
        if k == 0:
            continue
        res = greedy_facility_location(g[idx], int(k), greedy=greedy, rng=rng, epsilon=epsilon,
                                       dense_limit=dense_limit, block_rows=block_rows, lazy_batch=lazy_batch)
        chosen.append(idx[res.selected])
        sizes.append(res.cluster_sizes())
    if not chosen:
        return finish(np.zeros(0), np.zeros(0), budget, y.size)
    indices, gamma = np.concatenate(chosen), np.concatenate(sizes)
    return finish(indices, gamma / gamma.mean(), budget, y.size)
