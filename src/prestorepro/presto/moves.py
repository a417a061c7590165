"""The assignment step's other rules, beside the exact size-constrained optimum of ``assignment``: that
optimum with a budget on the moves (the ablation's bounded scope), Learn-MLR's unconstrained argmin with a
budget, and the authors' greedy capacity assignment (``presto.reassign``)."""
from __future__ import annotations

import numpy as np

from prestorepro.presto.assignment import InfeasibleConstraintError, _check_cost, solve_assignment


def solve_assignment_bounded(cost: np.ndarray, current: np.ndarray, lo: int, hi: int, max_moves: int,
                             iterations: int = 20) -> np.ndarray:
    """Labels minimising ``sum_i cost[i, a_i]`` with part sizes in [lo, hi] and at most ``max_moves``
    instances leaving their ``current`` part (the bounded assignment scope of the ablation; SPEC §4 step 4).

    The move budget is relaxed with a Lagrange multiplier: a bonus ``mu`` for staying, subtracted from
    ``cost[i, current[i]]``. The number of moves of the exact size-constrained optimum never grows with
    ``mu`` (a larger bonus only makes staying cheaper), so bisection finds the smallest bonus whose
    optimum moves at most ``max_moves`` instances; that partition is optimal for the original costs
    among all partitions with its number of moves (Everett's theorem). A bonus above the cost range
    leaves only the moves the size bounds force; if even those exceed the budget (``current`` violates
    the bounds), that least-moving partition is returned. ``iterations`` halvings of the bonus interval
    (20: 1e-6 of the cost range) end early when a bonus moves exactly ``max_moves`` instances.

    The relaxation reaches only the budgets on the lower convex hull of (moves, cost): where the optimum
    jumps past the budget (from 0 to 2 moves, say, with a budget of one: Algorithm 1's literal one point
    per round), the bisection's partition moves fewer instances than allowed, possibly none. The budget
    left is then spent greedily (``_spend_budget``): the feasible single move that lowers the cost most,
    repeated. With a budget of one this is exact (the best single move, or none if no move lowers the
    cost). Written here because no solver we use takes a budget on the number of changed assignments.
    """
    cost = _check_cost(cost)
    current = np.asarray(current, dtype=np.int64)
    n, k = cost.shape
    if current.shape != (n,) or current.min() < 0 or current.max() >= k:
        raise ValueError(f"current must hold {n} part indices in 0..{k - 1}")
    if max_moves < 0:
        raise ValueError(f"max_moves must be >= 0, got {max_moves}")
    labels = solve_assignment(cost, lo, hi)
    if int((labels != current).sum()) <= max_moves:
        return labels
    rows = np.arange(n)
    bonus_cost = cost.copy()

    def solve(mu: float) -> np.ndarray:
        bonus_cost[rows, current] = cost[rows, current] - mu
        return solve_assignment(bonus_cost, lo, hi)

    low, high = 0.0, float(cost.max() - cost.min()) + 1.0
    best = solve(high)
    for _ in range(iterations):
        mu = 0.5 * (low + high)
        cand = solve(mu)
        moves = int((cand != current).sum())
        if moves <= max_moves:
            best, high = cand, mu
            if moves == max_moves:
                break
        else:
            low = mu
    return _spend_budget(cost, current, best, lo, hi, max_moves)


def _spend_budget(cost: np.ndarray, current: np.ndarray, labels: np.ndarray, lo: int, hi: int,
                  max_moves: int) -> np.ndarray:
    """Add moves of instances still in their ``current`` part, one at a time, each the feasible move
    (part sizes kept in [lo, hi]) that lowers ``sum_i cost[i, labels_i]`` most, until ``max_moves``
    instances have moved or no move lowers the cost."""
    labels = labels.copy()
    n, k = cost.shape
    rows = np.arange(n)
    sizes = np.bincount(labels, minlength=k)
    for _ in range(max_moves - int((labels != current).sum())):
        gain = cost[rows, labels][:, None] - cost
        gain[labels != current] = -np.inf                      # an instance moves once
        gain[sizes[labels] <= lo] = -np.inf                    # its part would fall below the minimum
        gain[:, sizes >= hi] = -np.inf                         # the target part is full
        gain[rows, labels] = -np.inf
        i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
        if not gain[i, j] > 0:
            break
        sizes[labels[i]] -= 1
        sizes[j] += 1
        labels[i] = j
    return labels


def limit_moves_unconstrained(cost: np.ndarray, current: np.ndarray, max_moves: int) -> np.ndarray:
    """Without size bounds (Learn-MLR): every instance to its cheapest part, but only the ``max_moves``
    instances that gain the most actually move; exact, as the instances are independent."""
    cost = _check_cost(cost)
    current = np.asarray(current, dtype=np.int64)
    best = cost.argmin(axis=1)
    rows = np.arange(cost.shape[0])
    gain = cost[rows, current] - cost[rows, best]
    moving = np.flatnonzero(best != current)
    if len(moving) <= max_moves:
        return best
    keep_moving = moving[np.argsort(-gain[moving], kind="stable")[:max_moves]]
    out = current.copy()
    out[keep_moving] = best[keep_moving]
    return out


def greedy_capacity_assignment(cost: np.ndarray, capacity: int) -> np.ndarray:
    """The authors' assignment step (``presto.py``, "Re-assigning bins"): repeatedly take the smallest
    cost[i, k] among instances not yet assigned and parts not yet full, assign i to k, and close part k
    once it holds ``capacity`` instances. Parts have a maximum only: one may shrink to any size, or empty.

    Their loop takes ``torch.argmin`` over the whole matrix N times, overwriting assigned rows and full
    columns with 99999; scanning the entries once in ascending order (ties in row-major order, as
    argmin breaks them) picks the same pairs in O(NK log NK). Written here because it is their rule,
    not an optimal assignment that a solver provides."""
    cost = _check_cost(cost)
    n, k = cost.shape
    if capacity < 1 or capacity * k < n:
        raise InfeasibleConstraintError(f"{k} parts of at most {capacity} instances cannot hold {n}; "
                                        "raise the leeway")
    labels = np.full(n, -1, dtype=np.int64)
    counts = np.zeros(k, dtype=np.int64)
    left = n
    for flat in np.argsort(cost, axis=None, kind="stable"):
        i, j = divmod(int(flat), k)
        if labels[i] >= 0 or counts[j] >= capacity:
            continue
        labels[i] = j
        counts[j] += 1
        left -= 1
        if left == 0:
            break
    return labels
