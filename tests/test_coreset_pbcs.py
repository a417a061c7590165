"""PBCS: projection, inner solver and policy gradient against exact computations (SPEC §7)."""
from itertools import product

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from prestorepro.coreset import SELECTORS
from prestorepro.coreset.pbcs import (InnerSolve, PbcsOptions, ValidationSet, fit_inner, make_outer_objective,
                                      outer_losses, policy_gradient, project_capped_simplex, sample_masks,
                                      score_function)


def _brute_projection(z, budget):
    """Closest feasible point among all (at 0 / at 1 / free) patterns, sum constraint slack or tight."""
    best, best_d = None, np.inf
    for pattern in product((0, 1, 2), repeat=z.size):
        pattern = np.array(pattern)
        free, ones = pattern == 2, pattern == 1
        shifts = [0.0]
        if free.any():
            shifts.append((z[free].sum() + ones.sum() - budget) / free.sum())
        for v in shifts:
            s = np.where(free, z - v, ones.astype(float))
            if s.min() >= -1e-12 and s.max() <= 1 + 1e-12 and s.sum() <= budget + 1e-12:
                d = float(((s - z) ** 2).sum())
                if d < best_d:
                    best, best_d = s, d
    return best


@pytest.mark.parametrize("seed", range(30))
def test_projection_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    z = rng.normal(scale=1.5, size=n) + rng.uniform(-0.5, 1.0)
    budget = float(rng.choice([0, 1, 2, 0.5 * n, n, rng.uniform(0, n)]))
    got = project_capped_simplex(z, budget)
    np.testing.assert_allclose(got, _brute_projection(z, budget), atol=1e-9)


def test_projection_equals_constrained_qp():
    rng = np.random.default_rng(0)
    for _ in range(5):
        z = rng.normal(size=25) * 0.8 + 0.3
        budget = 6
        qp = minimize(lambda s: 0.5 * ((s - z) ** 2).sum(), np.full(25, 0.2), jac=lambda s: s - z,
                      bounds=[(0, 1)] * 25, method="SLSQP", options={"ftol": 1e-15, "maxiter": 500},
                      constraints=[{"type": "ineq", "fun": lambda s: budget - s.sum(), "jac": lambda s: -np.ones(25)}])
        got = project_capped_simplex(z, budget)
        np.testing.assert_allclose(got, qp.x, atol=1e-6)
        assert got.sum() == pytest.approx(budget, abs=1e-12)  # sum(clip(z)) > 6 here: the constraint binds


def _toy(seed, n=6, f=2, c=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f))
    y = np.arange(n) % c  # every class present
    return x, y


def test_inner_solver_matches_scipy_on_every_mask():
    x, y = _toy(0, n=5)
    n, f, c, l2, scale = 5, 2, 3, 0.1, 1 / 3
    masks = np.array(list(product((0, 1), repeat=n)), dtype=bool)
    theta = fit_inner(torch.tensor(x), torch.tensor(y), torch.tensor(masks), c, scale=scale,
                      solve=InnerSolve(l2=l2, max_iter=500, tol=1e-10))
    xa = np.c_[x, np.ones(n)]

    def objective(v, m):
        t = v.reshape(f + 1, c)
        z = xa @ t
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        p = np.exp(z - lse[:, None])
        p[np.arange(n), y] -= 1
        wm = m * scale
        return float(wm @ (lse - z[np.arange(n), y]) + 0.5 * l2 * (t ** 2).sum()), (xa.T @ (p * wm[:, None]) + l2 * t).ravel()

    for j in range(0, masks.shape[0], 5):
        ref = minimize(objective, np.zeros((f + 1) * c), args=(masks[j].astype(float),), jac=True,
                       method="BFGS", options={"gtol": 1e-12})
        np.testing.assert_allclose(theta[j].numpy().ravel(), ref.x, atol=1e-6)


def _all_mask_losses(x, y, c, budget):
    """L(theta*(m)) for all 2^n masks (outer loss on the training data), masks in binary order."""
    n = x.shape[0]
    masks = np.array(list(product((0, 1), repeat=n)), dtype=bool)
    theta = fit_inner(torch.tensor(x), torch.tensor(y), torch.tensor(masks), c, scale=1 / budget,
                      solve=InnerSolve(l2=0.1, max_iter=500, tol=1e-10))
    return masks, outer_losses(theta, torch.tensor(x), torch.tensor(y))


def _exact_gradient(s, masks, losses):
    """d/ds_i sum_m p(m|s) L(m) = E[L | m_i = 1] - E[L | m_i = 0]: Phi is multilinear in s."""
    p = np.prod(np.where(masks, s, 1 - s), axis=1)
    grad = np.empty(s.size)
    for i in range(s.size):
        rest = p / np.where(masks[:, i], s[i], 1 - s[i])
        grad[i] = (rest * losses * np.where(masks[:, i], 1.0, -1.0)).sum()
    return grad


def _lookup(masks_sampled):
    n = masks_sampled.shape[1]
    return masks_sampled.astype(np.int64) @ (1 << np.arange(n)[::-1])


def test_policy_gradient_matches_exact_gradient_of_expected_outer_loss():
    x, y = _toy(1)
    masks, losses = _all_mask_losses(x, y, 3, budget=3)
    s = np.array([0.15, 0.5, 0.8, 0.35, 0.65, 0.9])
    exact = _exact_gradient(s, masks, losses)
    rng = np.random.default_rng(0)
    m = 40000
    drawn = sample_masks(s, m, rng)
    ell = losses[_lookup(drawn)]
    est = policy_gradient(s, drawn, ell)
    # per-coordinate standard error of the estimator, from the samples themselves
    terms = (ell - ell.mean())[:, None] * score_function(s, drawn)
    se = terms.std(axis=0) / np.sqrt(m)
    assert np.all(np.abs(est - exact) <= 5 * se + 1e-12)
    assert np.abs(exact).max() > 20 * se.max()  # the comparison has power: the gradient is resolved


def test_baseline_estimator_with_few_masks_is_unbiased():
    # with M = 4 masks per estimate the 1/(M-1) factor matters: 1/M would shrink the mean by 3/4
    x, y = _toy(2)
    masks, losses = _all_mask_losses(x, y, 3, budget=3)
    s = np.array([0.3, 0.6, 0.45, 0.7, 0.2, 0.55])
    exact = _exact_gradient(s, masks, losses)
    rng = np.random.default_rng(1)
    reps, m = 20000, 4
    drawn = sample_masks(np.tile(s, m), reps, rng).reshape(reps, m, s.size)
    ell = losses[_lookup(drawn.reshape(-1, s.size))].reshape(reps, m)
    ests = np.stack([policy_gradient(s, drawn[r], ell[r]) for r in range(reps)])
    mean, se = ests.mean(axis=0), ests.std(axis=0) / np.sqrt(reps)
    assert np.all(np.abs(mean - exact) <= 5 * se)
    biased = mean * (m - 1) / m
    assert np.any(np.abs(biased - exact) > 5 * se)


def test_score_function_is_finite_for_drawable_masks():
    s = np.array([0.0, 1.0, 0.5])
    masks = np.array([[0, 1, 0], [0, 1, 1]], dtype=bool)
    np.testing.assert_allclose(score_function(s, masks), [[-1.0, 1.0, -2.0], [-1.0, 1.0, 2.0]])


def _blobs(rng, n):
    y = rng.integers(0, 2, n)
    return rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5), y


def test_pbcs_avoids_noisy_labels_and_beats_random_subsets():
    rng = np.random.default_rng(0)
    x, y = _blobs(rng, 80)
    vx, vy = _blobs(rng, 60)
    noisy = rng.random(80) < 0.25
    y_noisy = np.where(noisy, 1 - y, y)
    idx, w = SELECTORS.get("pbcs")(16, features=x, labels=y_noisy, rng=np.random.default_rng(1),
                                  validation=ValidationSet(vx, vy),
                                  options=PbcsOptions(outer_steps=100, num_masks=4, lr=0.2))
    assert idx.size == 16 and np.all(w == 1.0)
    assert noisy[idx].sum() <= 1  # a random subset holds 16 * 19/80 = 3.8 noisy points on average
    objective = make_outer_objective(x, y_noisy, 2, 16, validation=ValidationSet(vx, vy))
    chosen = np.zeros((1, 80), dtype=bool)
    chosen[0, idx] = True
    randoms = np.zeros((50, 80), dtype=bool)
    for r in range(50):
        randoms[r, np.random.default_rng(100 + r).choice(80, 16, replace=False)] = True
    everything = np.arange(80)
    assert objective(everything, chosen)[0] < objective(everything, randoms).min()
