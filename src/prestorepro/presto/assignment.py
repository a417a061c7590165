"""Exact size-constrained assignment: PRESTO's partition step (paper §3.2, Eq. 8; SPEC §4 step 4).

Given the modular upper bound's cost matrix ``M[i, k]`` (N instances, K parts), PRESTO minimises
``sum_i M[i, a_i]`` over all partitions whose part sizes lie in ``[N/K - leeway, N/K + leeway]``
(App. B.3, Table 5). This is a transportation problem. Its constraint matrix is totally unimodular,
so it is solved exactly as a min-cost flow:

    instance i (supply 1) --cost M[i,k], cap 1--> part k (demand lo) --cost 0, cap hi-lo--> overflow
    (demand N - K*lo)

Each part node keeps ``lo`` units and forwards the rest to the overflow node, so every part receives
between ``lo`` and ``hi`` instances. ortools' ``SimpleMinCostFlow`` (cost-scaling push-relabel) needs
integer costs; the float costs are shifted and scaled to integers (see ``solve_assignment_certified``),
and the result is then certified optimal for the original float costs by a Lagrangian dual bound.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

# Largest integer cost after scaling. Integer rounding moves each entry by at most 0.5 units, so the
# float objective of the returned partition is within N * (max - min) / _MAX_INT_COST of the optimum.
_MAX_INT_COST = 10**9
_INT64_MAX = np.iinfo(np.int64).max


class InfeasibleConstraintError(ValueError):
    """The requested part-size constraints admit no partition (or allow empty parts)."""


def size_bounds(n: int, k: int, leeway: int) -> tuple[int, int]:
    """Part-size bounds ``[N/K - leeway, N/K + leeway]`` of App. B.3 / Table 5, as integers.

    With N not divisible by K the bounds are ``floor(N/K) - leeway`` and ``ceil(N/K) + leeway``, so
    leeway 0 is always feasible (parts differ in size by at most one). Every part must be non-empty:
    a leeway that would allow an empty part is rejected, naming the largest leeway that does not.
    """
    n, k, leeway = operator.index(n), operator.index(k), operator.index(leeway)
    if k < 2:
        raise InfeasibleConstraintError(f"K={k} parts requested for N={n}: a partition needs K >= 2")
    if k > n:
        raise InfeasibleConstraintError(
            f"K={k} parts requested for only N={n} points: every part must be non-empty, use K <= {n}"
        )
    if leeway < 0:
        raise InfeasibleConstraintError(
            f"leeway {leeway} is negative for N={n}, K={k}: use a leeway >= 0 (0 means equal parts)"
        )
    lo = n // k - leeway
    hi = -(-n // k) + leeway
    if lo < 1:
        raise InfeasibleConstraintError(
            f"leeway {leeway} allows empty parts for N={n}, K={k} (N/K={n / k:g}): "
            f"use leeway <= {n // k - 1}"
        )
    return lo, hi


@dataclass(frozen=True)
class AssignmentSolution:
    """An optimal size-constrained assignment with its optimality certificate.

    ``objective`` is ``sum_i cost[i, labels[i]]``; ``lower_bound`` is a Lagrangian dual bound on the
    optimum of the float problem, so ``objective - lower_bound`` is a proven optimality gap; it is at
    most ``gap_bound`` = N * (max cost - min cost) / 1e9, the effect of rounding costs to integers.
    """

    labels: np.ndarray
    objective: float
    lower_bound: float
    gap_bound: float


def _check_bounds(n: int, k: int, lo: int, hi: int) -> tuple[int, int]:
    lo, hi = operator.index(lo), operator.index(hi)
    if lo < 0 or hi < lo:
        raise InfeasibleConstraintError(
            f"part-size bounds [lo={lo}, hi={hi}] are invalid: need 0 <= lo <= hi (use size_bounds)"
        )
    if k * lo > n or k * hi < n:
        raise InfeasibleConstraintError(
            f"no partition of N={n} points into K={k} parts has every size in [{lo}, {hi}]: "
            f"need K*lo <= N <= K*hi, i.e. {k * lo} <= {n} <= {k * hi} (use size_bounds)"
        )
    return lo, hi


def _check_cost(cost: np.ndarray) -> np.ndarray:
    cost = np.asarray(cost)
    if cost.ndim != 2 or cost.shape[0] < 1 or cost.shape[1] < 1:
        raise ValueError(f"cost must be an (N, K) matrix with N, K >= 1, got shape {cost.shape}")
    if not np.issubdtype(cost.dtype, np.number) or np.iscomplexobj(cost):
        raise ValueError(f"cost must hold real numbers, got dtype {cost.dtype}")
    cost = cost.astype(np.float64, copy=False)
    finite = np.isfinite(cost)
    if not finite.all():
        n_nan = int(np.isnan(cost).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise ValueError(
            f"cost has {n_nan} NaN and {n_inf} infinite entries out of {cost.size} "
            f"(shape {cost.shape}); the assignment needs finite costs — check the losses that built it "
            "(a diverged component gives NaN/inf losses)"
        )
    return cost


def _solve_integer(q: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Exact min-cost flow on integer costs ``q`` (N, K); returns labels (N,) int64."""
    # here, not at the top: the config check imports this module's size_bounds when the workflow is
    # parsed, which must not need the solver (`snakemake --lint` with Snakemake and the package only)
    from ortools.graph.python import min_cost_flow

    n, k = q.shape
    overflow = n + k
    smcf = min_cost_flow.SimpleMinCostFlow()
    # instance -> part arcs, row-major so arc i*K + j carries (i, j)
    tails = np.repeat(np.arange(n, dtype=np.int32), k)
    heads = np.tile(np.arange(n, n + k, dtype=np.int32), n)
    assign_arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        tails, heads, np.ones(n * k, dtype=np.int64), np.ascontiguousarray(q.reshape(-1), dtype=np.int64)
    )
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.arange(n, n + k, dtype=np.int32),
        np.full(k, overflow, dtype=np.int32),
        np.full(k, hi - lo, dtype=np.int64),
        np.zeros(k, dtype=np.int64),
    )
    supplies = np.concatenate(
        [np.ones(n, dtype=np.int64), np.full(k, -lo, dtype=np.int64), np.array([-(n - k * lo)], dtype=np.int64)]
    )
    smcf.set_nodes_supplies(np.arange(n + k + 1, dtype=np.int32), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(
            f"min-cost flow solver returned status {getattr(status, 'name', status)} instead of OPTIMAL "
            f"for N={n}, K={k}, sizes in [{lo}, {hi}]; the problem was checked feasible beforehand, so "
            "this points at an integer-range problem in the scaled costs or a solver defect"
        )
    flows = np.asarray(smcf.flows(assign_arcs)).reshape(n, k)
    if flows.min() < 0 or flows.max() > 1 or not (flows.sum(axis=1) == 1).all():
        raise RuntimeError("min-cost flow returned a non-integral assignment; this is a solver defect")
    labels = flows.argmax(axis=1).astype(np.int64)
    if smcf.optimal_cost() != int(q[np.arange(n), labels].sum()):
        raise RuntimeError("min-cost flow's reported cost disagrees with its flows; this is a solver defect")
    return labels


def _dual_prices(q: np.ndarray, labels: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Part prices ``d`` (K,) certifying that ``labels`` is optimal for the integer costs ``q``.

    The residual graph of the flow, condensed to the K part nodes plus the overflow node, has an arc
    k -> j of weight min_{i in S_k} (q[i,j] - q[i,k]) (move one instance from part k to part j),
    j -> overflow (weight 0) when |S_j| < hi and overflow -> k (weight 0) when |S_k| > lo. The flow is
    optimal iff this graph has no negative cycle; then shortest-path distances d satisfy
    (1) every i in S_k minimises q[i,j] - d_j over j, and (2) d_k <= d_j whenever |S_k| > lo and
    |S_j| < hi — exactly the conditions under which the Lagrangian bound below is tight.
    Bellman-Ford on K+1 nodes in exact integer arithmetic.
    """
    n, k = q.shape
    sizes = np.bincount(labels, minlength=k)
    big = np.iinfo(np.int64).max // 4  # "no arc"; real weights are at most 2 * _MAX_INT_COST
    w = np.full((k + 1, k + 1), big, dtype=np.int64)
    for part in range(k):
        rows = q[labels == part]
        if len(rows):
            w[part, :k] = (rows - rows[:, part : part + 1]).min(axis=0)
        if sizes[part] < hi:
            w[part, k] = 0
        if sizes[part] > lo:
            w[k, part] = 0
    np.fill_diagonal(w, 0)
    d = np.zeros(k + 1, dtype=np.int64)  # virtual source at distance 0 to every node
    for _ in range(k + 2):
        relaxed = np.minimum(d, (d[:, None] + w).min(axis=0))
        if np.array_equal(relaxed, d):
            return d[:k]
        d = relaxed
    raise RuntimeError(
        "the min-cost flow solution admits an improving cycle of moves for its own integer costs; "
        "this is a solver defect"
    )


def lagrangian_lower_bound(cost: np.ndarray, lo: int, hi: int, prices: np.ndarray) -> float:
    """Lower bound on ``min sum_i cost[i, a_i]`` s.t. part sizes in [lo, hi], for any part prices.

    Relaxing the size constraints with prices d (K,) gives (weak duality)
        L(d) = sum_i min_j (cost[i,j] - d_j) + min { d . n : lo <= n_j <= hi, sum_j n_j = N },
    whose second term is solved greedily: every part gets lo, the remaining N - K*lo go to the
    cheapest parts first, at most hi - lo each. At optimal prices L(d) equals the optimum (LP duality;
    the constraint matrix is totally unimodular).
    """
    cost = _check_cost(cost)
    n, k = cost.shape
    lo, hi = _check_bounds(n, k, lo, hi)
    prices = np.asarray(prices, dtype=np.float64)
    if prices.shape != (k,):
        raise ValueError(f"prices must have shape ({k},), got {prices.shape}")
    term_assign = float((cost - prices).min(axis=1).sum())
    sizes = np.full(k, lo, dtype=np.int64)
    remaining = n - k * lo
    for part in np.argsort(prices, kind="stable"):
        take = min(hi - lo, remaining)
        sizes[part] += take
        remaining -= take
    return term_assign + float(prices @ sizes)


def solve_assignment_certified(cost: np.ndarray, lo: int, hi: int) -> AssignmentSolution:
    """Minimise ``sum_i cost[i, a_i]`` subject to every part size in [lo, hi], exactly (SPEC §4 step 4).

    Float costs become integers as ``q = rint((cost - min) / (max - min) * 1e9)``; 1e9 keeps
    ortools' overflow checks far away (it multiplies costs by N+K+2 internally and rejects costs above
    int64_max / (2 (N+K+2))). The integer optimum is exact, and each entry moves by at most half a
    unit, so the partition is optimal for the float costs up to N * (max - min) / 1e9 — e.g. 9e-5 of
    the cost range for N = 90000. That is verified, not assumed: prices from the flow's residual graph
    give a Lagrangian lower bound (``lagrangian_lower_bound``), and the proven gap
    ``objective - lower_bound`` must lie in [0, gap_bound] up to float summation error.
    """
    cost = _check_cost(cost)
    n, k = cost.shape
    lo, hi = _check_bounds(n, k, lo, hi)
    cmin, cmax = float(cost.min()), float(cost.max())
    spread = cmax - cmin
    if not math.isfinite(spread):
        raise ValueError(
            f"cost range [{cmin:g}, {cmax:g}] overflows float64 when shifted; rescale the costs"
        )
    max_int = min(_MAX_INT_COST, _INT64_MAX // (2 * (n + k + 2)))
    if spread > 0:
        q = np.rint((cost - cmin) / spread * max_int).astype(np.int64)
        unit = spread / max_int  # float value of one integer cost unit
    else:  # all costs equal: every feasible partition is optimal
        q = np.zeros((n, k), dtype=np.int64)
        unit = 0.0
    labels = _solve_integer(q, lo, hi)
    prices = _dual_prices(q, labels, lo, hi).astype(np.float64) * unit
    objective = float(cost[np.arange(n), labels].sum())
    lower = lagrangian_lower_bound(cost, lo, hi, prices)
    gap_bound = n * unit
    # float64 summation of N terms of size up to max|cost| + max|price|
    slack = 8 * n * np.finfo(np.float64).eps * (np.abs(cost).max() + np.abs(prices).max(initial=0.0) + 1.0)
    gap = objective - lower
    if not (-slack <= gap <= gap_bound + slack):
        raise RuntimeError(
            f"assignment certificate failed: objective {objective!r} minus dual bound {lower!r} = {gap!r}, "
            f"outside [0, {gap_bound!r}] (+/- {slack!r}); the flow solution is not optimal for the float costs"
        )
    return AssignmentSolution(labels=labels, objective=objective, lower_bound=lower, gap_bound=gap_bound)


def solve_assignment(cost: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Labels (N,) int64 in 0..K-1 minimising ``sum_i cost[i, a_i]`` with part sizes in [lo, hi].

    See ``solve_assignment_certified`` for the method, the rounding bound and the optimality check.
    """
    return solve_assignment_certified(cost, lo, hi).labels
