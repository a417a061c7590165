"""GRAD-MATCH (Killamsetty et al., ICML 2021; SPEC §7) and its per-batch variant as selectors.

``gradmatch``: per class (§4 "per-class approximation"), OMP (Alg. 2, ``omp.py``) matches the sum of
the class's gradients -- or, with ``target=``, a given per-class target such as the class sums of
validation gradients (Alg. 1 line 3, ``isValid``). The budget is split over classes in proportion to
class size. With ``per_gradient=True`` (§4 "per-gradient approximation", the paper's default) class
c matches only the columns of its own output in the last-layer gradient (``per_gradient_columns``).
Both are ``GradMatchOptions``.

``gradmatch_pb`` (§3 "GRAD-MATCH for mini-batch SGD"): the points are shuffled with ``rng`` into
mini-batches of ``batch_size``; a batch's gradient is the sum of its points' gradients; OMP picks
``budget // batch_size`` batches matching the full (or ``target``) gradient, without the per-class
split (§4: "we do not need these approximations for GRAD-MATCHPB"). ``gradmatch_pb_batches`` returns
the selected batches with their weights, which the trainer uses as they are (§4: "we use the subset of mini-batches selected directly without any
additional shuffling").

Weights are the OMP weights themselves (they sum to about the class size, because they match a
sum); points whose non-negative weight came out 0 are dropped, so a selection can be smaller than
the budget. Defaults: lambda = 0.5, relative residual tolerance 1e-10 (SPEC §7).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from prestorepro.coreset.base import (SELECTORS, Selection, as_numpy, check_budget, check_grads, check_labels,
                                      check_rng, finish, select_per_class)
from prestorepro.coreset.gradients import per_gradient_columns
from prestorepro.coreset.omp import orthogonal_matching_pursuit


@dataclass(frozen=True)
class GradMatchOptions:
    """GRAD-MATCH's own settings: OMP's regularisation ``lam`` and relative residual tolerance ``tol``
    (SPEC §7), the per-class approximation (``per_class``: one OMP per class on its share of the budget)
    and the per-gradient one (``per_gradient``: class c matches only its own output's columns; needs
    ``per_class``)."""

    lam: float = 0.5
    tol: float = 1e-10
    per_class: bool = True
    per_gradient: bool = True


def _targets(target: Any, num_classes: int, dim: int) -> np.ndarray | None:
    if target is None:
        return None
    t = as_numpy(target, "target", np.float64)
    if t.shape != (num_classes, dim):
        raise ValueError(
            f"target must hold one target gradient per class, shape ({num_classes}, {dim}); got {t.shape}. "
            f"class_gradient_sums(val_grads, val_labels, num_classes) builds it from validation gradients."
        )
    return t


@SELECTORS.register("gradmatch")
def select_gradmatch(budget: int, *, grads: Any, labels: Any, rng: np.random.Generator,
                     options: GradMatchOptions = GradMatchOptions(), num_classes: int | None = None,
                     target: Any = None) -> Selection:
    """GRAD-MATCH. ``target``: (num_classes, D) per-class targets (``options.per_class``) or (D,) (not);
    default the training gradient sums. ``num_classes`` defaults to ``max(labels) + 1``. The result
    does not depend on ``rng`` (OMP is deterministic); it is taken for the common interface."""
    lam, tol, per_gradient = options.lam, options.tol, options.per_gradient
    y = check_labels(labels)
    g = check_grads(grads, y.size)
    budget = check_budget(budget, y.size)
    check_rng(rng)
    dim = g.shape[1]
    if not options.per_class:
        if per_gradient:
            raise ValueError("per_gradient=True slices each class's own output and needs per_class=True")
        t = g.sum(axis=0, dtype=np.float64) if target is None else as_numpy(target, "target", np.float64)
        res = orthogonal_matching_pursuit(g, t, budget, lam=lam, tol=tol)
        return finish(*res.nonzero(), budget, y.size)
    c_total = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= c_total:
        raise ValueError(f"label {y.max()} is out of range for num_classes={c_total}")
    targets = _targets(target, c_total, dim)

    def one_class(cls: int, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        cols = per_gradient_columns(cls, c_total, dim) if per_gradient else np.arange(dim)
        gc = g[np.ix_(idx, cols)]
        t = gc.sum(axis=0, dtype=np.float64) if targets is None else targets[cls, cols]
        return orthogonal_matching_pursuit(gc, t, k, lam=lam, tol=tol).nonzero()

    return select_per_class(y, budget, one_class, "gradmatch selection")


def make_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A random partition of range(n) into mini-batches of ``batch_size`` (the last may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    perm = rng.permutation(n)
    return [perm[s:s + batch_size] for s in range(0, n, batch_size)]


def gradmatch_pb_batches(budget: int, *, grads: Any, labels: Any, rng: np.random.Generator, batch_size: int = 32,
                         lam: float = 0.5, tol: float = 1e-10, target: Any = None) -> tuple[list[np.ndarray], np.ndarray]:
    """GRAD-MATCH-PB's selected mini-batches (the point indices of each, in OMP's order) and their
    positive OMP weights; ``target`` (D,) defaults to the full gradient sum. ``batch_size`` should be
    the trainer's batch size."""
    y = check_labels(labels)
    g = check_grads(grads, y.size)
    budget = check_budget(budget, y.size)
    rng = check_rng(rng)
    batches = make_batches(y.size, int(batch_size), rng)
    starts = np.arange(0, y.size, int(batch_size))
    order = np.concatenate(batches) if batches else np.zeros(0, np.int64)
    batch_grads = np.add.reduceat(g[order].astype(np.float64), starts, axis=0) if batches else np.zeros((0, g.shape[1]))
    t = g.sum(axis=0, dtype=np.float64) if target is None else as_numpy(target, "target", np.float64)
    # floor: whole batches only, and every batch holds at most batch_size points, so <= budget points
    res = orthogonal_matching_pursuit(batch_grads, t, min(budget // int(batch_size), len(batches)), lam=lam, tol=tol)
    sel, w = res.nonzero()
    return [batches[b] for b in sel], np.asarray(w, dtype=np.float64)
