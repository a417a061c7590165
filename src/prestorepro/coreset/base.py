"""The one interface every subset-selection strategy follows (SPEC §7), and what they share.

A selector is a function registered by name in ``SELECTORS`` and called as

    indices, weights = SELECTORS.get(name)(budget, grads=G, labels=y, rng=rng, **method_options)

- ``budget``: the most points the subset may hold; ``len(indices) <= budget``.
- ``grads``: ``(N, D)`` per-point gradient proxies (numpy or torch); for PBCS it may be the features.
- ``labels``: ``(N,)`` integer class labels.
- ``rng``: a ``numpy.random.Generator``; a selector draws from nothing else, so a fixed seed gives a
  fixed subset.
- returns ``indices`` (int64, unique, ascending) and ``weights`` (float64, >= 0, finite), aligned.

The trainer should use a weighted *mean* loss, ``sum(w_i l_i) / sum(w_i)`` over a batch: then a
method's overall weight scale does not matter, only the relative weights do.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from prestorepro.progress import progress
from prestorepro.registry import Registry

Selection = tuple[np.ndarray, np.ndarray]
Selector = Callable[..., Selection]

SELECTORS: Registry[Selector] = Registry("subset selector")


def as_numpy(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """A numpy view of a numpy array or a (possibly CUDA, possibly grad-tracking) torch tensor."""
    if x is None:
        raise ValueError(f"{name} is required and was None")
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def check_labels(labels: Any, n: int | None = None) -> np.ndarray:
    y = as_numpy(labels, "labels")
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-d array of class ids, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("labels must be integer class ids; got non-integer values")
    y = y.astype(np.int64, copy=False)
    if y.size and y.min() < 0:
        raise ValueError(f"labels must be non-negative class ids, got minimum {y.min()}")
    if n is not None and y.shape[0] != n:
        raise ValueError(f"labels has {y.shape[0]} entries but the data has {n} rows; they must match")
    return y


def check_grads(grads: Any, n: int | None = None, name: str = "grads") -> np.ndarray:
    g = as_numpy(grads, name)
    if g.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (N, D) array, got shape {g.shape}")
    if not np.issubdtype(g.dtype, np.floating):
        g = g.astype(np.float64)
    if n is not None and g.shape[0] != n:
        raise ValueError(f"{name} has {g.shape[0]} rows but labels has {n}; they must match")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} contains NaN or inf; selection needs finite gradient proxies")
    return g


def check_budget(budget: Any, n: int) -> int:
    if isinstance(budget, (bool, np.bool_)) or int(budget) != budget:
        raise ValueError(f"budget must be an integer number of points, got {budget!r}")
    budget = int(budget)
    if not 0 <= budget <= n:
        raise ValueError(f"budget must lie in [0, {n}] (the number of points), got {budget}")
    return budget


def check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def split_budget(budget: int, sizes: np.ndarray) -> np.ndarray:
    """Split ``budget`` over groups in proportion to their ``sizes`` (largest-remainder rounding).

    Each group gets ``floor(budget * n_c / N)`` and the leftover units go to the groups with the
    largest fractional parts (ties: lower group id first), so the parts sum to ``budget`` exactly and
    no part exceeds its group's size.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if not 0 <= budget <= total:
        raise ValueError(f"budget {budget} must lie in [0, {total}] (the total size)")
    if total == 0:
        return np.zeros_like(sizes)
    exact = budget * sizes  # integer numerators over `total`: no float rounding in the split
    base = exact // total
    remainder = exact - base * total
    left = budget - int(base.sum())
    order = np.lexsort((np.arange(sizes.size), -remainder))  # largest remainder first, then id
    base[order[:left]] += 1
    return base


def class_index_lists(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(class id, indices of that class) for every class present, ascending class id."""
    order = np.argsort(labels, kind="stable")
    classes, starts = np.unique(labels[order], return_index=True)
    bounds = list(starts[1:]) + [labels.size]
    return [(int(c), order[s:e]) for c, s, e in zip(classes, starts, bounds)]


def select_per_class(labels: np.ndarray, budget: int,
                     select_class: Callable[[int, np.ndarray, int], tuple[np.ndarray, np.ndarray]], desc: str,
                     reweight: Callable[[np.ndarray], np.ndarray] | None = None) -> Selection:
    """A selection made class by class (CRAIG §3.4, GRAD-MATCH §4 "per-class approximation").

    ``budget`` is split over the classes of ``labels`` in proportion to their sizes (``split_budget``);
    for every class with a share, ``select_class(class id, its indices, its share)`` returns the chosen
    positions into those indices and their weights. The classes' weights, concatenated, pass through
    ``reweight`` (when given) before ``finish``. A long selection (large classes) shows its progress per
    class on stderr (a job's log) under ``desc``; a quick one is silent.
    """
    groups = class_index_lists(labels)
    shares = split_budget(budget, np.array([idx.size for _, idx in groups]))
    chosen, weights = [], []
    for (cls, idx), k in progress(zip(groups, shares), desc=desc, total=len(groups), unit="classes", inner=True):
        if k == 0:
            continue
        sel, w = select_class(cls, idx, int(k))
        chosen.append(idx[sel])
        weights.append(w)
    if not chosen:
        return finish(np.zeros(0), np.zeros(0), budget, labels.size)
    indices, w = np.concatenate(chosen), np.concatenate(weights)
    return finish(indices, w if reweight is None else reweight(w), budget, labels.size)


def finish(indices: np.ndarray, weights: np.ndarray, budget: int, n: int) -> Selection:
    """Sort by index, check the interface's promises, return (int64 indices, float64 weights)."""
    indices = np.asarray(indices, dtype=np.int64).ravel()
    weights = np.asarray(weights, dtype=np.float64).ravel()
    if indices.shape != weights.shape:
        raise AssertionError(f"{indices.size} indices but {weights.size} weights")
    order = np.argsort(indices, kind="stable")
    indices, weights = indices[order], weights[order]
    if indices.size > budget:
        raise AssertionError(f"selected {indices.size} points, over the budget {budget}")
    if indices.size and (indices[0] < 0 or indices[-1] >= n or np.any(np.diff(indices) == 0)):
        raise AssertionError("selected indices must be unique and in range")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise AssertionError("selection weights must be finite and non-negative")
    return indices, weights
