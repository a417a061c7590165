"""Orthogonal matching pursuit with a regularised non-negative weight solve (GRAD-MATCH Alg. 2).

Given unit gradients ``G`` (n, D) and a target gradient ``t`` (D,), OMP grows a set X one element
at a time, each time taking the element most correlated with the current residual
``t - sum_{j in X} w_j g_j`` (that is the largest entry of -grad_w Err_lambda at w_j = 0), then
re-solving

    w = argmin_{w >= 0} ||t - A w||^2 + lambda ||w||^2,       A = [g_j]_{j in X}  (D x |X|)   (Eq. 1-3)

until |X| = budget or ||t - A w|| <= tol * ||t||. With ``nonnegative=True`` the pick is the largest
*signed* correlation: an element with g_j . r <= 0 would enter with weight 0 (it already satisfies
the optimality condition at w_j = 0), so when no positive correlation is left OMP stops.

The weight solve. scipy's NNLS on the stacked system [A; sqrt(lambda) I] w ~ [t; 0] costs
O(|X|^3) per call with no warm start -- ~50 ms at |X| = 500, i.e. seconds per class over a whole
OMP run. The problem has a D-dimensional dual: at the optimum, with residual r = t - A w,

    w_j = max(0, g_j . r) / lambda,     and r minimises  psi(r) = |r|^2/2 - t.r + sum_j max(0, g_j . r)^2 / (2 lambda),

a strongly convex, piecewise-quadratic function of r in R^D. We minimise psi by semismooth Newton
(Hessian I + A_P A_P^T / lambda over the active columns P, Armijo backtracking), warm-started from
the previous OMP step's residual: a step costs O(|X| D^2), and the answer is the exact NNLS
solution (tests check it against scipy.optimize.nnls). lambda = 0 has no such dual; it uses scipy's
NNLS on A directly (only small test problems use lambda = 0).

While the support is no larger than D (the common case: 500 picks of 650-dim gradients, 50 of 65 per
class), OMP solves the primal instead: min_{w >= 0} w'Qw/2 - b'w with Q = A'A + lambda I (|X| x |X|)
and b = A't, by the Lawson-Hanson active-set method warm-started from the previous step's weights,
keeping the Cholesky factor of Q over the positive weights and extending it by one row when an element
joins (O(|X|^2) per OMP step; a refactorisation only when a weight drops to 0). Q and b grow by one
row per step (O(|X| D)). The authors' CORDS solves a fresh |X| x |X| least-squares system every step
and, for non-negativity, drops negative weights until none is left; this solves the same non-negative
ridge problem exactly (benchmarks/bench_omp_cords.py compares both). No library offers an incremental
non-negative ridge solve: scipy's NNLS restarts from zero on the stacked (D + |X|) x |X| system.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import nnls


def _dual_nonneg_ridge(a: np.ndarray, t: np.ndarray, lam: float, r: np.ndarray, tol: float,
                       max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    d = a.shape[0]

    def evaluate(r):
        z = a.T @ r
        zp = np.maximum(z, 0.0)
        psi = 0.5 * r @ r - t @ r + 0.5 * (zp @ zp) / lam
        grad = r - t + a @ zp / lam
        return z, zp, psi, grad

    scale = max(float(np.linalg.norm(t)), np.finfo(float).tiny)
    z, zp, psi, grad = evaluate(r)
    for _ in range(max_iter):
        gnorm = float(np.linalg.norm(grad))
        if gnorm <= tol * scale:
            break
        ap = a[:, z > 0]
        hess = np.eye(d) + (ap @ ap.T) / lam
        step_dir = -cho_solve(cho_factor(hess), grad)
        slope = float(grad @ step_dir)
        step = 1.0
        while True:
            cand = evaluate(r + step * step_dir)
            # Armijo, with rounding-level slack: near the optimum psi changes below float precision
            if cand[2] <= psi + 1e-4 * step * slope + 1e-15 * abs(psi) or step < 1e-10:
                break
            step *= 0.5
        if step < 1e-10:
            break
        r = r + step * step_dir
        z, zp, psi, grad = cand
    return zp / lam, r


class _PrimalActiveSet:
    """min_{w >= 0} w'Qw/2 - b'w over a growing set of columns (Q = A'A + lambda I, b = A't), solved by
    Lawson-Hanson from the last solution; ``chol`` is the lower Cholesky factor of Q over ``passive``
    (the positive weights, in the order they joined)."""

    def __init__(self, capacity: int, lam: float):
        self.q = np.empty((capacity, capacity))
        self.b = np.empty(capacity)
        self.w = np.empty(capacity)
        self.lam = lam
        self.k = 0
        self.passive: list[int] = []
        self.chol = np.empty((0, 0))

    def add_column(self, a: np.ndarray, col: np.ndarray, t: np.ndarray) -> None:
        """Column ``col`` joins as the k-th element; ``a`` holds the k columns before it (D x k)."""
        k = self.k
        cross = a.T @ col
        self.q[:k, k] = cross
        self.q[k, :k] = cross
        self.q[k, k] = col @ col + self.lam
        self.b[k] = col @ t
        self.w[k] = 0.0
        self.k = k + 1

    def _extend(self, j: int) -> None:
        p = self.passive
        m = len(p)
        row = solve_triangular(self.chol, self.q[p, j], lower=True, check_finite=False) if m else np.zeros(0)
        d2 = self.q[j, j] - row @ row
        if d2 <= 1e-12 * self.q[j, j]:  # rounding has eaten the pivot: factor the whole set afresh
            self.passive = p + [j]
            self._refactor()
            return
        chol = np.zeros((m + 1, m + 1))
        chol[:m, :m] = self.chol
        chol[m, :m] = row
        chol[m, m] = np.sqrt(d2)
        self.chol, self.passive = chol, p + [j]

    def _refactor(self) -> None:
        p = self.passive
        self.chol = np.linalg.cholesky(self.q[np.ix_(p, p)]) if p else np.empty((0, 0))

    def _solve_passive(self) -> np.ndarray:
        y = solve_triangular(self.chol, self.b[self.passive], lower=True, check_finite=False)
        return solve_triangular(self.chol.T, y, lower=False, check_finite=False)

    def solve(self, max_iter: int | None = None) -> np.ndarray:
        k = self.k
        q, b, w = self.q[:k, :k], self.b[:k], self.w[:k]
        scale = max(float(np.abs(b).max()), np.finfo(float).tiny)
        for _ in range(max_iter or 3 * k + 10):
            grad = q @ w - b
            free = np.ones(k, dtype=bool)
            free[self.passive] = False
            candidates = np.flatnonzero(free & (grad < -1e-13 * scale))
            if candidates.size == 0:
                break  # KKT: no zero weight could lower the objective
            self._extend(int(candidates[np.argmin(grad[candidates])]))
            while True:
                p = np.asarray(self.passive)
                z = self._solve_passive()
                if (z > 0).all():
                    w[:] = 0.0
                    w[p] = z
                    break
                # step from w towards z until the first weight reaches 0; those leave the passive set
                neg = z <= 0
                wp = w[p]
                alpha = float(np.min(wp[neg] / (wp[neg] - z[neg])))
                wp = wp + alpha * (z - wp)
                leaving = (wp <= 1e-15 * max(float(wp.max()), 1e-300)) | (neg & (alpha >= 1.0))
                w[:] = 0.0
                w[p[~leaving]] = wp[~leaving]
                self.passive = [int(j) for j in p[~leaving]]
                self._refactor()
        return w.copy()


def solve_weights(a: np.ndarray, t: np.ndarray, lam: float, *, nonnegative: bool = True,
                  warm_residual: np.ndarray | None = None, method: str = "auto", tol: float = 1e-12,
                  max_iter: int = 100) -> np.ndarray:
    """argmin_w ||t - a w||^2 + lam ||w||^2 (subject to w >= 0 when ``nonnegative``), a: (D, k).

    ``method``: ``auto`` (dual Newton for lam > 0, scipy NNLS for lam = 0), ``dual``, ``primal``
    (Lawson-Hanson on the k x k normal equations, lam > 0) or ``scipy`` (NNLS on the stacked system
    [a; sqrt(lam) I]); the unconstrained solve is closed form.
    """
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    d, k = a.shape
    if k == 0:
        return np.zeros(0)
    if not nonnegative:
        if lam > 0:  # push-through identity: (A^T A + lam I)^-1 A^T = A^T (A A^T + lam I)^-1, a D x D solve
            return a.T @ np.linalg.solve(a @ a.T + lam * np.eye(d), t)
        return np.linalg.lstsq(a, t, rcond=None)[0]
    if method == "auto":
        method = "dual" if lam > 0 else "scipy"
    if method == "dual":
        if lam <= 0:
            raise ValueError("the dual weight solve needs lambda > 0; use method='scipy' for lambda = 0")
        r0 = t.copy() if warm_residual is None else warm_residual
        return _dual_nonneg_ridge(a, t, lam, r0, tol, max_iter)[0]
    if method == "primal":
        if lam <= 0:
            raise ValueError("the primal weight solve needs lambda > 0; use method='scipy' for lambda = 0")
        state = _PrimalActiveSet(k, lam)
        for j in range(k):
            state.add_column(a[:, :j], a[:, j], t)
        return state.solve()
    if method == "scipy":
        if lam > 0:
            a = np.vstack([a, np.sqrt(lam) * np.eye(k)])
            t = np.concatenate([t, np.zeros(k)])
        return nnls(a, t, maxiter=50 * max(k, 1))[0]
    raise ValueError(f"unknown weight-solve method {method!r}; valid: auto, dual, primal, scipy")


@dataclass
class OMPResult:
    selected: np.ndarray   # (k,) element ids in the order OMP picked them
    weights: np.ndarray    # (k,) their weights (some may be 0 under the non-negativity constraint)
    residual: float        # ||t - sum_j w_j g_j||
    objective: float       # E_lambda = residual^2 + lambda ||w||^2

    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        keep = self.weights > 0
        return self.selected[keep], self.weights[keep]


def orthogonal_matching_pursuit(grads: np.ndarray, target: np.ndarray, budget: int, *, lam: float = 0.5,
                                tol: float = 1e-10, nonnegative: bool = True, method: str = "auto") -> OMPResult:
    """GRAD-MATCH Alg. 2 on the rows of ``grads`` (n, D) matching ``target`` (D,)."""
    g = np.asarray(grads, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64).ravel()
    n, d = g.shape
    if t.shape != (d,):
        raise ValueError(f"target must have shape ({d},) to match grads (n, {d}), got {t.shape}")
    if not 0 <= budget <= n:
        raise ValueError(f"budget must lie in [0, {n}], got {budget}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    a = np.empty((d, budget))
    available = np.ones(n, dtype=bool)
    selected: list[int] = []
    w = np.zeros(0)
    residual = t.copy()
    stop = tol * float(np.linalg.norm(t))
    # the primal active set while the support is no larger than D (see the module docstring)
    primal = _PrimalActiveSet(budget, lam) if nonnegative and lam > 0 and method in ("auto", "primal") else None
    while len(selected) < budget and float(np.linalg.norm(residual)) > stop:
        corr = g @ residual
        score = corr if nonnegative else np.abs(corr)
        score[~available] = -np.inf
        e = int(np.argmax(score))
        if not score[e] > 0:
            break  # nothing left that can lower the error
        available[e] = False
        k = len(selected)
        if primal is not None:
            primal.add_column(a[:, :k], g[e], t)
        a[:, k] = g[e]
        selected.append(e)
        cols = a[:, :k + 1]
        if primal is not None and (k + 1 <= d or method == "primal"):
            w = primal.solve()
        else:
            w = solve_weights(cols, t, lam, nonnegative=nonnegative, warm_residual=residual,
                              method="dual" if method == "primal" else method)
            if primal is not None:
                primal.w[:k + 1] = w  # a warm start if the primal takes over again
                primal.passive = [int(j) for j in np.flatnonzero(w > 0)]
                primal._refactor()
        residual = t - cols @ w
    res = float(np.linalg.norm(residual))
    return OMPResult(np.asarray(selected, dtype=np.int64), w, res, res * res + lam * float(w @ w))
