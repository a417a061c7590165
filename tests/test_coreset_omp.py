"""OMP / GRAD-MATCH against exact solves and against CRAIG on tiny problems (SPEC §7)."""
import numpy as np
import pytest
from scipy.optimize import nnls

from prestorepro.coreset import SELECTORS, class_gradient_sums, last_layer_gradients, per_gradient_columns
from prestorepro.coreset.facility_location import greedy_facility_location, pairwise_distances
from prestorepro.coreset.gradmatch import GradMatchOptions, gradmatch_pb_batches, make_batches
from prestorepro.coreset.omp import orthogonal_matching_pursuit, solve_weights


def _class_proxies(rng, n, num_classes, cls=0):
    """Last-layer proxies p - y of n points of one class (the per-class setting)."""
    z = rng.normal(size=(n, num_classes)) * rng.uniform(0.2, 3.0)
    z[:, cls] += 1.0
    return last_layer_gradients(z, np.full(n, cls))


def _residual(grads, target, idx, w):
    return float(np.linalg.norm(target - np.asarray(w) @ grads[idx]))


@pytest.mark.parametrize("seed", range(40))
def test_dual_weight_solve_equals_scipy_nnls_on_stacked_system(seed):
    rng = np.random.default_rng(seed)
    d, k = int(rng.integers(1, 8)), int(rng.integers(1, 15))
    a, t = rng.normal(size=(d, k)), rng.normal(size=d) * 3
    for lam in (1e-3, 0.5, 10.0):
        ref = nnls(np.vstack([a, np.sqrt(lam) * np.eye(k)]), np.concatenate([t, np.zeros(k)]))[0]
        got = solve_weights(a, t, lam, method="dual")
        np.testing.assert_allclose(got, ref, atol=1e-9 * max(1.0, np.abs(ref).max()))
        # a warm start from an unrelated residual reaches the same point
        warm = solve_weights(a, t, lam, method="dual", warm_residual=rng.normal(size=d) * 10)
        np.testing.assert_allclose(warm, ref, atol=1e-9 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("seed", range(40))
def test_primal_active_set_equals_scipy_nnls_on_stacked_system(seed):
    rng = np.random.default_rng(500 + seed)
    d, k = int(rng.integers(1, 12)), int(rng.integers(1, 15))
    a, t = rng.normal(size=(d, k)), rng.normal(size=d) * 3
    for lam in (1e-3, 0.5, 10.0):
        ref = nnls(np.vstack([a, np.sqrt(lam) * np.eye(k)]), np.concatenate([t, np.zeros(k)]))[0]
        got = solve_weights(a, t, lam, method="primal")
        np.testing.assert_allclose(got, ref, atol=1e-9 * max(1.0, np.abs(ref).max()))
        assert (got >= 0).all() and ((got > 0) == (ref > 1e-9 * max(1.0, ref.max()))).all()


@pytest.mark.parametrize("seed", range(12))
def test_omp_primal_and_dual_weight_solves_pick_the_same_elements(seed):
    # the incremental primal (support <= D) and the dual Newton solve the same problem at every step
    rng = np.random.default_rng(900 + seed)
    n, c = int(rng.integers(30, 120)), int(rng.integers(3, 8))
    g = last_layer_gradients(rng.normal(size=(n, c)) * 2, rng.integers(0, c, n), embeddings=rng.normal(size=(n, 4)))
    t = g.sum(axis=0)
    budget = int(rng.integers(2, min(n, g.shape[1] + 10)))
    primal = orthogonal_matching_pursuit(g, t, budget, lam=0.5, tol=1e-10, method="primal")
    dual = orthogonal_matching_pursuit(g, t, budget, lam=0.5, tol=1e-10, method="dual")
    np.testing.assert_array_equal(primal.selected, dual.selected)
    np.testing.assert_allclose(primal.weights, dual.weights, atol=1e-8 * max(1.0, dual.weights.max()))
    assert primal.objective == pytest.approx(dual.objective, rel=1e-9)


def test_unconstrained_weight_solve_is_ridge():
    rng = np.random.default_rng(0)
    a, t = rng.normal(size=(3, 7)), rng.normal(size=3)
    ridge = np.linalg.solve(a.T @ a + 0.5 * np.eye(7), a.T @ t)
    np.testing.assert_allclose(solve_weights(a, t, 0.5, nonnegative=False), ridge, atol=1e-12)
    np.testing.assert_allclose(solve_weights(a, t, 0.0, nonnegative=False), np.linalg.pinv(a) @ t, atol=1e-12)


@pytest.mark.parametrize("seed", range(60))
def test_omp_residual_at_most_craig_weighted_residual(seed):
    # SPEC §7 check, on per-class last-layer proxies with budget >= the gradient dimension, for the
    # residual problem itself (lambda = 0). With lambda = 0.5 OMP deliberately trades residual for
    # smaller weights, and on problems this small it often ends above CRAIG (see the next test).
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(10, 50)), int(rng.integers(2, 7))
    g = _class_proxies(rng, n, c)
    t = g.sum(axis=0)
    k = int(rng.integers(c, n))
    fl = greedy_facility_location(g, k, greedy="lazy")
    craig = _residual(g, t, fl.selected, fl.cluster_sizes())
    omp = orthogonal_matching_pursuit(g, t, k, lam=0.0)
    assert omp.residual <= craig + 1e-9 * np.linalg.norm(t)
    assert _residual(g, t, omp.selected, omp.weights) == pytest.approx(omp.residual, abs=1e-9)


@pytest.mark.parametrize("seed", range(30))
def test_optimal_weights_on_craig_set_beat_cluster_sizes_and_craig_bound(seed):
    # GRAD-MATCH Eq. 5 / CRAIG Eq. 6: min_w Err(w, X) <= ||t - sum gamma_j g_j|| <= sum_i min_j ||g_i - g_j||
    rng = np.random.default_rng(1000 + seed)
    n, c = int(rng.integers(6, 40)), int(rng.integers(2, 7))
    g = _class_proxies(rng, n, c)
    t = g.sum(axis=0)
    k = int(rng.integers(1, n))
    fl = greedy_facility_location(g, k, greedy="lazy")
    craig = _residual(g, t, fl.selected, fl.cluster_sizes())
    bound = pairwise_distances(g, g[fl.selected]).min(axis=1).sum()
    w = solve_weights(g[fl.selected].T, t, 0.0)
    assert _residual(g, t, fl.selected, w) <= craig + 1e-9 <= bound + 2e-9


def test_regularised_omp_can_end_above_craig_on_tiny_problems():
    # documents why the residual comparison above uses lambda = 0: on this instance OMP with
    # lambda = 0.5 leaves a residual of 0.82 (it pays lambda ||w||^2 ~ 6 for smaller weights), CRAIG's
    # cluster-size weights leave 0.11, and OMP with lambda = 0 on the same budget matches exactly
    rng = np.random.default_rng(291)
    g = _class_proxies(rng, 22, 2)
    t = g.sum(axis=0)
    fl = greedy_facility_location(g, 5, greedy="lazy")
    craig = _residual(g, t, fl.selected, fl.cluster_sizes())
    reg = orthogonal_matching_pursuit(g, t, 5, lam=0.5)
    assert reg.residual > 5 * craig
    assert orthogonal_matching_pursuit(g, t, 5, lam=0.0).residual <= 1e-12 * np.linalg.norm(t)


@pytest.mark.parametrize("seed", range(20))
def test_omp_error_never_grows_with_the_budget(seed):
    rng = np.random.default_rng(seed)
    n, d = 30, int(rng.integers(2, 8))
    g = rng.normal(size=(n, d)) + rng.normal(size=d)
    t = g.sum(axis=0)
    prev_res, prev_obj = np.inf, np.inf
    for k in range(0, n + 1, 3):
        plain = orthogonal_matching_pursuit(g, t, k, lam=0.0)
        assert np.all(plain.weights >= 0)
        assert plain.residual <= prev_res + 1e-9
        prev_res = plain.residual
        reg = orthogonal_matching_pursuit(g, t, k, lam=0.5)
        assert np.all(reg.weights >= 0)
        # with lambda > 0 the monotone quantity is the regularised error E_lambda (Eq. 3)
        expected = _residual(g, t, reg.selected, reg.weights) ** 2 + 0.5 * float(reg.weights @ reg.weights)
        assert reg.objective == pytest.approx(expected, rel=1e-9)
        assert reg.objective <= prev_obj + 1e-9
        prev_obj = reg.objective
    assert prev_res <= 1e-8 * np.linalg.norm(t)  # all n points, weights 1, match exactly


@pytest.mark.parametrize("seed", range(10))
def test_residual_vanishes_once_budget_reaches_rank(seed):
    # unconstrained OMP adds a new independent direction each step: rank steps match any target in the span
    rng = np.random.default_rng(seed)
    n, d, rank = 25, 6, int(rng.integers(1, 6))
    g = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d))
    t = g.sum(axis=0)
    res = orthogonal_matching_pursuit(g, t, rank, lam=0.0, nonnegative=False)
    assert res.residual <= 1e-8 * np.linalg.norm(t)
    if rank > 1:  # one direction short, a generic target cannot be matched
        assert orthogonal_matching_pursuit(g, t, rank - 1, lam=0.0, nonnegative=False).residual > 1e-6 * np.linalg.norm(t)


def test_relative_tolerance_stops_omp_before_the_budget():
    rng = np.random.default_rng(3)
    g = np.abs(rng.normal(size=(12, 4)))
    t = 2.0 * g[3] + 5.0 * g[7]  # exactly in the cone of two points
    res = orthogonal_matching_pursuit(g, t, 10, lam=0.0, tol=1e-10)
    assert res.residual <= 1e-10 * np.linalg.norm(t)
    assert res.selected.size < 10
    # a loose tolerance stops at the first step whose residual is below it
    loose = orthogonal_matching_pursuit(g, t, 10, lam=0.0, tol=0.3)
    k = loose.selected.size
    assert 1 <= k < res.selected.size and loose.residual <= 0.3 * np.linalg.norm(t)
    assert orthogonal_matching_pursuit(g, t, k - 1, lam=0.0).residual > 0.3 * np.linalg.norm(t)


def test_gradmatch_selector_is_per_class_omp_with_zero_weights_dropped():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [30, 20, 10])
    grads = rng.normal(size=(60, 4)) + labels[:, None] * 0.5
    idx, w = SELECTORS.get("gradmatch")(12, grads=grads, labels=labels, rng=rng,
                                        options=GradMatchOptions(per_gradient=False))
    assert np.all(w > 0)
    shares = [6, 4, 2]
    for c in range(3):
        members = np.flatnonzero(labels == c)
        sel, wc = orthogonal_matching_pursuit(grads[members], grads[members].sum(0), shares[c], lam=0.5).nonzero()
        mine = labels[idx] == c
        order = np.argsort(members[sel])
        np.testing.assert_array_equal(idx[mine], members[sel][order])
        np.testing.assert_allclose(w[mine], wc[order])


def test_gradmatch_per_gradient_matches_each_class_own_columns():
    rng = np.random.default_rng(1)
    n, c, e = 48, 3, 2
    labels = rng.integers(0, c, n)
    logits, emb = rng.normal(size=(n, c)), rng.normal(size=(n, e))
    grads = last_layer_gradients(logits, labels, embeddings=emb)  # (n, c + c*e)
    np.testing.assert_array_equal(per_gradient_columns(1, c, grads.shape[1]), [1, 5, 6])
    idx, w = SELECTORS.get("gradmatch")(9, grads=grads, labels=labels, rng=rng)
    for cls in range(c):
        members = np.flatnonzero(labels == cls)
        cols = per_gradient_columns(cls, c, grads.shape[1])
        share = int(np.sum(labels[idx] == cls))
        sub = grads[np.ix_(members, cols)]
        # the class's share is what the proportional split gives; OMP on the sliced columns
        sel, wc = orthogonal_matching_pursuit(sub, sub.sum(0), share, lam=0.5).nonzero()
        np.testing.assert_array_equal(np.sort(members[sel]), idx[labels[idx] == cls])
    with pytest.raises(ValueError, match="per_gradient=False"):
        SELECTORS.get("gradmatch")(5, grads=rng.normal(size=(20, 5)), labels=np.arange(20) % 2, rng=rng)


def test_gradmatch_validation_target():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 25)
    grads = rng.normal(size=(50, 3)) + 1.0
    val_grads, val_labels = rng.normal(size=(10, 3)) + 1.5, np.repeat([0, 1], 5)
    target = class_gradient_sums(val_grads, val_labels, 2)
    np.testing.assert_allclose(target[1], val_grads[5:].sum(0))
    idx, w = SELECTORS.get("gradmatch")(8, grads=grads, labels=labels, rng=rng,
                                        options=GradMatchOptions(per_gradient=False), target=target)
    for c in range(2):
        members = np.flatnonzero(labels == c)
        sel, wc = orthogonal_matching_pursuit(grads[members], target[c], 4, lam=0.5).nonzero()
        np.testing.assert_array_equal(idx[labels[idx] == c], np.sort(members[sel]))
    with pytest.raises(ValueError, match="one target gradient per class"):
        SELECTORS.get("gradmatch")(8, grads=grads, labels=labels, rng=rng, options=GradMatchOptions(per_gradient=False),
                                   target=target[0])


def test_gradmatch_pb_selects_whole_batches_with_batch_weights():
    rng = np.random.default_rng(4)
    n, bs = 53, 5
    grads, labels = rng.normal(size=(n, 3)) + 0.3, rng.integers(0, 3, n)
    got, w = gradmatch_pb_batches(17, grads=grads, labels=labels, rng=np.random.default_rng(9), batch_size=bs)
    batches = make_batches(n, bs, np.random.default_rng(9))
    assert len(batches) == 11 and batches[-1].size == 3
    batch_grads = np.stack([grads[b].sum(0) for b in batches])
    sel, wb = orthogonal_matching_pursuit(batch_grads, grads.sum(0), 17 // bs, lam=0.5).nonzero()
    assert len(got) == len(sel)
    for g, b in zip(got, sel):
        np.testing.assert_array_equal(g, batches[b])
    np.testing.assert_allclose(w, wb)
    assert sum(g.size for g in got) <= 17


def test_each_pick_enters_with_positive_weight():
    # non-negative OMP picks by signed correlation: an element whose gradient points against the
    # residual would enter at weight 0 and waste the budget (here half the points are such mirrors)
    rng = np.random.default_rng(6)
    half = rng.normal(size=(15, 4)) + 0.5
    g = np.vstack([half, -half * rng.uniform(0.5, 2.0, size=(15, 1))])
    t = half.sum(axis=0)
    for k in range(1, 9):
        res = orthogonal_matching_pursuit(g, t, k, lam=0.5)
        assert res.selected.size == k and res.weights[-1] > 0
