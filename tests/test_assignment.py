"""PRESTO's exact size-constrained assignment (SPEC §4 step 4) against brute force on tiny problems."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from prestorepro.presto.assignment import (
    InfeasibleConstraintError,
    lagrangian_lower_bound,
    size_bounds,
    solve_assignment,
    solve_assignment_certified,
)


def brute_force_optimum(cost: np.ndarray, lo: int, hi: int) -> float:
    """Minimum of sum_i cost[i, a_i] over all K^N assignments with every part size in [lo, hi]."""
    n, k = cost.shape
    every = np.array(list(itertools.product(range(k), repeat=n)), dtype=np.int64)  # (K^N, N)
    sizes = (every[:, :, None] == np.arange(k)).sum(axis=1)
    feasible = ((sizes >= lo) & (sizes <= hi)).all(axis=1)
    totals = cost[np.arange(n), every].sum(axis=1)
    return float(totals[feasible].min())


def random_instance(rng: np.random.Generator, kind: str):
    n = int(rng.integers(1, 9))
    k = int(rng.integers(1, 4)) if rng.random() < 0.2 else int(rng.integers(2, 4))
    floor, ceil = n // k, -(-n // k)
    # most instances get tight bounds, so the size constraints usually bind
    tight = rng.random() < 0.7
    lo = int(rng.integers(max(0, floor - 1) if tight else 0, floor + 1))
    hi = int(rng.integers(max(lo, ceil), (min(n, ceil + 1) if tight else n) + 1))
    if kind == "uniform":
        cost = rng.random((n, k))
    elif kind == "ties":  # small integers: many optimal assignments
        cost = rng.integers(0, 3, size=(n, k)).astype(float)
    else:  # "wide": negative values over several orders of magnitude
        cost = rng.normal(size=(n, k)) * 10.0 ** rng.integers(-3, 4, size=(n, k))
    return cost, lo, hi


def assert_valid_partition(labels: np.ndarray, n: int, k: int, lo: int, hi: int) -> None:
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < k  # every point in exactly one part 0..K-1
    sizes = np.bincount(labels, minlength=k)
    assert sizes.sum() == n
    assert (sizes >= lo).all() and (sizes <= hi).all(), (sizes, lo, hi)


@pytest.mark.parametrize("kind", ["uniform", "ties", "wide"])
def test_matches_brute_force_on_random_tiny_instances(kind):
    rng = np.random.default_rng({"uniform": 1, "ties": 2, "wide": 3}[kind])
    for _ in range(200):
        cost, lo, hi = random_instance(rng, kind)
        n, k = cost.shape
        sol = solve_assignment_certified(cost, lo, hi)
        assert_valid_partition(sol.labels, n, k, lo, hi)
        best = brute_force_optimum(cost, lo, hi)
        tol = 1e-9 * (1 + np.abs(cost).sum())
        assert sol.objective == pytest.approx(cost[np.arange(n), sol.labels].sum(), abs=tol)
        assert sol.objective <= best + sol.gap_bound + tol
        assert sol.objective >= best - tol  # nothing feasible beats the brute-force optimum
        # the dual certificate is a true lower bound and proves the gap
        assert sol.lower_bound <= best + tol
        assert sol.objective - sol.lower_bound <= sol.gap_bound + tol


def test_lagrangian_bound_is_a_lower_bound_for_any_prices():
    rng = np.random.default_rng(4)
    for _ in range(60):
        cost, lo, hi = random_instance(rng, "uniform")
        best = brute_force_optimum(cost, lo, hi)
        prices = rng.normal(size=cost.shape[1]) * 2.0
        assert lagrangian_lower_bound(cost, lo, hi, prices) <= best + 1e-12


def test_lagrangian_bound_golden_value():
    cost = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    # prices (0, 1): min_j(cost - d) = (-0, 0, 0, -1) summed = -1; sizes 2 + 2 -> d.n = 2; total 1
    assert lagrangian_lower_bound(cost, 2, 2, np.array([0.0, 1.0])) == pytest.approx(1.0)
    # the optimum: three points prefer part 0 but only two fit; one of them pays 1
    sol = solve_assignment_certified(cost, 2, 2)
    assert sol.objective == pytest.approx(1.0)
    assert sol.labels[3] == 1
    assert np.bincount(sol.labels).tolist() == [2, 2]


def test_leeway_zero_divisible_gives_equal_parts_even_when_all_prefer_one_part():
    rng = np.random.default_rng(5)
    n, k = 60, 4
    cost = rng.random((n, k))
    cost[:, 0] -= 10.0  # every point would rather be in part 0
    lo, hi = size_bounds(n, k, 0)
    assert (lo, hi) == (15, 15)
    labels = solve_assignment(cost, lo, hi)
    assert np.bincount(labels, minlength=k).tolist() == [15, 15, 15, 15]


def test_unconstrained_sizes_give_row_argmin():
    rng = np.random.default_rng(6)
    cost = rng.random((50, 3))
    labels = solve_assignment(cost, 0, 50)
    np.testing.assert_array_equal(labels, cost.argmin(axis=1))


def test_constant_costs_give_a_feasible_partition_with_zero_gap_bound():
    sol = solve_assignment_certified(np.full((10, 3), 2.5), 3, 4)
    assert_valid_partition(sol.labels, 10, 3, 3, 4)
    assert sol.objective == pytest.approx(25.0)
    assert sol.gap_bound == 0.0


def test_rounding_error_stays_within_documented_bound():
    # one outlier stretches the cost range to 1e6, so differences of 1e-4 fall below one integer unit
    rng = np.random.default_rng(7)
    for _ in range(30):
        cost = rng.random((7, 2)) * 1e-4
        cost[0, 0] = 1e6
        sol = solve_assignment_certified(cost, 3, 4)
        best = brute_force_optimum(cost, 3, 4)
        assert sol.gap_bound == pytest.approx(7 * (1e6 - cost.min()) / 1e9)
        assert best - 1e-6 <= sol.objective <= best + sol.gap_bound + 1e-6


def test_size_bounds_golden_values():
    assert size_bounds(100, 4, 0) == (25, 25)
    assert size_bounds(1078, 4, 0) == (269, 270)
    assert size_bounds(1078, 4, 268) == (1, 538)
    assert size_bounds(90000, 4, 3000) == (19500, 25500)
    assert size_bounds(7007, 3, 500) == (1835, 2836)
    assert size_bounds(5, 5, 0) == (1, 1)


@pytest.mark.parametrize(
    "n, k, leeway, fragments",
    [
        (1078, 4, 300, ["leeway 300", "N=1078", "K=4", "N/K=269.5", "use leeway <= 268"]),
        (100, 1, 0, ["K=1", "N=100", "K >= 2"]),
        (3, 5, 0, ["K=5", "N=3", "use K <= 3"]),
        (100, 4, -1, ["leeway -1", "N=100", "K=4", ">= 0"]),
        (8, 4, 2, ["leeway 2", "N=8", "use leeway <= 1"]),
    ],
)
def test_size_bounds_rejects_infeasible_settings_naming_the_values(n, k, leeway, fragments):
    with pytest.raises(InfeasibleConstraintError) as err:
        size_bounds(n, k, leeway)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "lo, hi, fragments",
    [
        (4, 5, ["N=10", "K=3", "[4, 5]", "12 <= 10"]),  # 3 * 4 > 10
        (1, 3, ["N=10", "K=3", "[1, 3]", "10 <= 9"]),  # 3 * 3 < 10
        (4, 2, ["lo=4", "hi=2"]),
        (-1, 5, ["lo=-1"]),
    ],
)
def test_solve_assignment_rejects_infeasible_bounds(lo, hi, fragments):
    with pytest.raises(InfeasibleConstraintError) as err:
        solve_assignment(np.zeros((10, 3)), lo, hi)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_non_finite_costs_are_rejected_with_their_count():
    cost = np.zeros((6, 2))
    cost[1, 0] = np.nan
    cost[4, 1] = np.nan
    cost[5, 0] = -np.inf
    with pytest.raises(ValueError, match=r"2 NaN and 1 infinite entries out of 12"):
        solve_assignment(cost, 3, 3)


def test_bad_cost_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, K\) matrix"):
        solve_assignment(np.zeros(5), 1, 5)


@pytest.mark.parametrize("seed", range(6))
def test_bounded_assignment_against_brute_force(seed):
    # Everett: the Lagrangian (stay-bonus) solution is optimal among all feasible partitions that move
    # at most as many instances as it does; and it never exceeds the budget
    from prestorepro.presto.moves import solve_assignment_bounded

    rng = np.random.default_rng(seed)
    n, k, lo, hi = 7, 3, 2, 3
    cost = rng.random((n, k))
    current = np.array([0, 0, 1, 1, 2, 2, 2])
    for budget in range(0, 5):
        labels = solve_assignment_bounded(cost, current, lo, hi, budget)
        sizes = np.bincount(labels, minlength=k)
        moves = int((labels != current).sum())
        assert moves <= budget and sizes.min() >= lo and sizes.max() <= hi
        best = min(cost[np.arange(n), a].sum() for a in itertools.product(range(k), repeat=n)
                   if lo <= min(np.bincount(a, minlength=k)) and max(np.bincount(a, minlength=k)) <= hi
                   and int((np.array(a) != current).sum()) <= moves)
        assert cost[np.arange(n), labels].sum() == pytest.approx(best, abs=1e-6)


def test_unconstrained_move_limit_keeps_the_largest_gains():
    from prestorepro.presto.moves import limit_moves_unconstrained

    cost = np.array([[1.0, 0.0], [1.0, 0.8], [0.0, 1.0], [1.0, 0.5]])
    current = np.zeros(4, dtype=int)
    assert limit_moves_unconstrained(cost, current, 4).tolist() == [1, 1, 0, 1]
    assert limit_moves_unconstrained(cost, current, 2).tolist() == [1, 0, 0, 1]  # gains 1.0 and 0.5 move


def test_a_one_move_budget_moves_the_best_point_where_the_relaxation_jumps_from_none_to_two():
    # two points gain exactly 1 by moving: every stay bonus moves both or neither, so the Lagrangian
    # alone moved nothing with a budget of one (Algorithm 1's one point per round "partition stable")
    from prestorepro.presto.moves import solve_assignment_bounded

    cost = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 2.0]])
    current = np.array([0, 0, 1, 1])
    labels = solve_assignment_bounded(cost, current, 1, 3, 1)
    assert int((labels != current).sum()) == 1
    assert cost[np.arange(4), labels].sum() == pytest.approx(cost[np.arange(4), current].sum() - 1.0)
    assert solve_assignment_bounded(cost, current, 1, 3, 2).tolist() == [1, 0, 0, 1]
    # sizes fixed at N/K: a single move cannot keep them, so a budget of one moves nothing
    assert solve_assignment_bounded(cost, current, 2, 2, 1).tolist() == current.tolist()


@pytest.mark.parametrize("seed", range(8))
def test_a_one_move_budget_is_exact_against_brute_force(seed):
    from prestorepro.presto.moves import solve_assignment_bounded

    rng = np.random.default_rng(seed)
    n, k, lo, hi = 8, 3, 2, 4
    cost = rng.integers(0, 3, (n, k)).astype(float)  # many ties: where the relaxation jumps
    current = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    labels = solve_assignment_bounded(cost, current, lo, hi, 1)
    assert int((labels != current).sum()) <= 1
    best = min(cost[np.arange(n), a].sum() for a in itertools.product(range(k), repeat=n)
               if lo <= min(np.bincount(a, minlength=k)) and max(np.bincount(a, minlength=k)) <= hi
               and int((np.array(a) != current).sum()) <= 1)
    assert cost[np.arange(n), labels].sum() == pytest.approx(best)
