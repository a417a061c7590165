"""Time PRESTO's size-constrained assignment (SPEC §4 step 4): ortools min-cost flow vs HiGHS LP.

    python benchmarks/bench_assignment.py            # N=90000, K=4, leeway 3000 (PathMNIST scale)

Both solve the same instance with seeded uniform costs; the LP (totally unimodular constraint matrix)
has an integral optimum, so both must reach the same objective. Prints the times and the objectives.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.optimize import linprog

from prestorepro.presto.assignment import size_bounds, solve_assignment_certified


def solve_lp_highs(cost: np.ndarray, lo: int, hi: int):
    """The same problem as an LP over x[i, k] in [0, 1], row-major, solved by HiGHS."""
    n, k = cost.shape
    rows = np.repeat(np.arange(n), k)
    a_eq = sp.csr_matrix((np.ones(n * k), (rows, np.arange(n * k))), shape=(n, n * k))  # sum_k x_ik = 1
    part_sum = sp.csr_matrix((np.ones(n * k), (np.tile(np.arange(k), n), np.arange(n * k))), shape=(k, n * k))
    a_ub = sp.vstack([part_sum, -part_sum]).tocsr()  # lo <= sum_i x_ik <= hi
    b_ub = np.concatenate([np.full(k, hi), np.full(k, -lo)]).astype(float)
    res = linprog(cost.reshape(-1), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=90000)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--leeway", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the (fast) ortools solve")
    args = parser.parse_args()

    cost = np.random.default_rng(args.seed).random((args.n, args.k))
    lo, hi = size_bounds(args.n, args.k, args.leeway)
    print(f"N={args.n} K={args.k} leeway={args.leeway} -> part sizes in [{lo}, {hi}]; uniform costs, seed {args.seed}")

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        sol = solve_assignment_certified(cost, lo, hi)
        times.append(time.perf_counter() - t0)
    print(
        f"ortools min-cost flow (incl. scaling + certificate): best {min(times):.3f} s, "
        f"median {np.median(times):.3f} s over {args.repeats}; objective {sol.objective:.6f}, "
        f"proven gap {sol.objective - sol.lower_bound:.2e} (bound {sol.gap_bound:.2e}), "
        f"sizes {np.bincount(sol.labels, minlength=args.k).tolist()}"
    )

    t0 = time.perf_counter()
    res = solve_lp_highs(cost, lo, hi)
    t_lp = time.perf_counter() - t0
    frac = float(np.abs(res.x - np.rint(res.x)).max())
    print(f"scipy {scipy.__version__} linprog HiGHS: {t_lp:.3f} s; objective {res.fun:.6f}, max |x - round(x)| {frac:.1e}")

    diff = abs(res.fun - sol.objective)
    tol = sol.gap_bound + 1e-7 * abs(sol.objective)
    print(f"objective difference {diff:.2e} (tolerance {tol:.2e}); speed-up {t_lp / min(times):.1f}x")
    if diff > tol:
        raise SystemExit(f"objectives disagree: ortools {sol.objective!r} vs HiGHS {res.fun!r}")


if __name__ == "__main__":
    main()
