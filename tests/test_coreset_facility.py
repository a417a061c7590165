"""Greedy facility location and CRAIG against brute force on tiny problems (SPEC §7)."""
from itertools import combinations
import math

import numpy as np
import pytest

from prestorepro.coreset import SELECTORS, split_budget
from prestorepro.coreset.facility_location import (GREEDY, greedy_facility_location, pairwise_distances,
                                                   similarity_matrix)


def _instance(seed, n=10, d=3):
    rng = np.random.default_rng(seed)
    # clustered points, so the optimum is not trivially any spread-out set
    centres = rng.normal(scale=3.0, size=(3, d))
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, d))


def _value(sim, subset):
    return float(np.maximum(sim[:, list(subset)].max(axis=1), 0.0).sum()) if len(subset) else 0.0


def _optimum(sim, k):
    return max(_value(sim, c) for c in combinations(range(sim.shape[0]), k))


def test_distances_and_similarity_match_direct_formula():
    x = _instance(0, n=9, d=4)
    direct = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(pairwise_distances(x, x, block_rows=4), direct, atol=1e-9)
    sim = similarity_matrix(x, block_rows=2)
    np.testing.assert_allclose(sim, direct.max() - direct, atol=1e-9)
    assert sim.min() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(25))
def test_lazy_equals_naive_and_reaches_1_minus_1_over_e(seed):
    x = _instance(seed)
    sim = similarity_matrix(x)
    for k in (1, 2, 3, 4, 6):
        naive = greedy_facility_location(x, k, greedy="naive")
        for batch in (1, 3, 32):
            lazy = greedy_facility_location(x, k, greedy="lazy", lazy_batch=batch)
            np.testing.assert_array_equal(lazy.selected, naive.selected)
        assert naive.value == pytest.approx(_value(sim, naive.selected), rel=1e-12)
        assert naive.value >= (1 - 1 / math.e) * _optimum(sim, k) - 1e-9


def _direct_similarity(x):
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return dist.max() - dist


@pytest.mark.parametrize("seed", range(15))
def test_library_greedy_equals_a_textbook_greedy(seed):
    # greedy from the definition: every step adds an element maximising F(S + e), F evaluated directly
    # from pairwise distances (no gain bookkeeping, no matrix shared with the library). Exact ties in F
    # do occur on these clustered points, so each library pick must attain the step's maximum (to the
    # ~1e-9 agreement of the library's ||a||^2 + ||b||^2 - 2ab distances), given the library's
    # earlier picks; where the maximiser is unique, the pick must be it.
    x = _instance(500 + seed, n=12, d=2)
    sim = _direct_similarity(x)
    for variant in ("naive", "lazy"):
        res = greedy_facility_location(x, 6, greedy=variant)
        picks = res.selected.tolist()
        for step, e in enumerate(picks):
            values = np.array([_value(sim, picks[:step] + [c]) if c not in picks[:step] else -np.inf
                               for c in range(len(x))])
            best = values.max()
            assert values[e] >= best - 1e-9 * best
            if np.sum(values >= best - 1e-9 * best) == 1:
                assert e == int(np.argmax(values))
        assert res.value == pytest.approx(_value(sim, picks), rel=1e-8)


def test_greedy_is_exact_for_k_equal_1():
    # the first greedy pick maximises F over singletons: a check on the gain formula itself
    for seed in range(10):
        x = _instance(seed)
        sim = similarity_matrix(x)
        res = greedy_facility_location(x, 1, greedy="lazy")
        assert _value(sim, res.selected) == pytest.approx(_optimum(sim, 1), rel=1e-12)


def test_stochastic_greedy_reaches_1_minus_1_over_e_minus_eps_on_average():
    eps = 0.1
    ratios = []
    for seed in range(40):
        x = _instance(100 + seed)
        sim = similarity_matrix(x)
        res = greedy_facility_location(x, 3, greedy="stochastic", epsilon=eps, rng=np.random.default_rng(seed))
        assert len(set(res.selected.tolist())) == 3
        ratios.append(_value(sim, res.selected) / _optimum(sim, 3))
    assert np.mean(ratios) >= 1 - 1 / math.e - eps


def test_blocked_stochastic_greedy_equals_dense_one():
    # above dense_limit the similarities are computed per step and C is only an upper bound on the
    # largest distance; the greedy choices do not depend on C, so the same rng gives the same set
    x = _instance(7, n=60, d=4)
    dense = greedy_facility_location(x, 8, greedy="stochastic", rng=np.random.default_rng(3), epsilon=0.2)
    blocked = greedy_facility_location(x, 8, greedy="stochastic", rng=np.random.default_rng(3), epsilon=0.2,
                                       dense_limit=10, block_rows=7)
    np.testing.assert_array_equal(blocked.selected, dense.selected)
    np.testing.assert_array_equal(blocked.assignment, dense.assignment)
    # float32 input: the blocked path computes in float32 (centred), the dense one stores float32
    x32 = (x + 3.0).astype(np.float32)
    dense32 = greedy_facility_location(x32, 8, greedy="stochastic", rng=np.random.default_rng(5), epsilon=0.2)
    blocked32 = greedy_facility_location(x32, 8, greedy="stochastic", rng=np.random.default_rng(5), epsilon=0.2,
                                         dense_limit=10)
    np.testing.assert_array_equal(blocked32.selected, dense32.selected)
    # a lazy request above the limit runs the stochastic greedy on blocked distances
    fallback = greedy_facility_location(x, 8, greedy="lazy", rng=np.random.default_rng(3), epsilon=0.2,
                                        dense_limit=10)
    np.testing.assert_array_equal(fallback.selected, dense.selected)


def test_assignment_is_nearest_selected_point_and_cluster_sizes_sum_to_n():
    x = _instance(3, n=30)
    res = greedy_facility_location(x, 5, greedy="lazy")
    d = pairwise_distances(x, x[res.selected])
    np.testing.assert_array_equal(res.assignment, d.argmin(axis=1))
    sizes = res.cluster_sizes()
    assert sizes.sum() == 30 and np.all(sizes >= 1)  # every selected point serves at least itself
    np.testing.assert_array_equal(res.assignment[res.selected], np.arange(5))


def test_unknown_greedy_lists_variants():
    with pytest.raises(KeyError, match="lazy, naive, stochastic"):
        greedy_facility_location(_instance(0), 2, greedy="fast")
    assert GREEDY.names() == ["lazy", "naive", "stochastic"]


@pytest.mark.parametrize("budget,sizes,expected", [
    (10, [50, 30, 20], [5, 3, 2]),
    (7, [5, 5, 5], [3, 2, 2]),        # remainders tie: lower class id first
    (3, [1, 1, 10], [0, 0, 3]),       # floor(3 * 1/12) = 0, remainders 3 < 6
    (4, [1, 1, 10], [1, 0, 3]),       # 4/12: [0.33, 0.33, 3.33] -> floors [0, 0, 3], one left to class 0
    (12, [1, 1, 10], [1, 1, 10]),     # the whole set
    (0, [4, 4], [0, 0]),
])
def test_split_budget_golden(budget, sizes, expected):
    np.testing.assert_array_equal(split_budget(budget, np.array(sizes)), expected)


def test_craig_selector_per_class_with_cluster_size_weights():
    rng = np.random.default_rng(0)
    n = 120
    labels = np.repeat([0, 1, 2], [60, 40, 20])
    grads = rng.normal(size=(n, 4)) + labels[:, None]
    idx, w = SELECTORS.get("craig")(12, grads=grads, labels=labels, rng=np.random.default_rng(1))
    counts = np.bincount(labels[idx], minlength=3)
    np.testing.assert_array_equal(counts, [6, 4, 2])
    # weights: cluster sizes of each class's own facility location, normalised to mean 1 overall
    gamma = {}
    for c in range(3):
        members = np.flatnonzero(labels == c)
        res = greedy_facility_location(grads[members], counts[c], greedy="lazy")
        gamma.update(zip(members[res.selected].tolist(), res.cluster_sizes().tolist()))
    assert sorted(gamma) == idx.tolist()
    expected = np.array([gamma[i] for i in idx.tolist()])
    np.testing.assert_allclose(w, expected / expected.mean())
    assert w.mean() == pytest.approx(1.0)
    assert (w * n / 12).sum() == pytest.approx(n)  # sum of gamma = N


def test_craig_stochastic_and_naive_variants_run_through_selector():
    rng = np.random.default_rng(5)
    grads, labels = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    lazy = SELECTORS.get("craig")(8, grads=grads, labels=labels, rng=np.random.default_rng(0))
    naive = SELECTORS.get("craig")(8, grads=grads, labels=labels, rng=np.random.default_rng(0), greedy="naive")
    np.testing.assert_array_equal(lazy[0], naive[0])
    np.testing.assert_allclose(lazy[1], naive[1])
    a = SELECTORS.get("craig")(8, grads=grads, labels=labels, rng=np.random.default_rng(4), greedy="stochastic")
    b = SELECTORS.get("craig")(8, grads=grads, labels=labels, rng=np.random.default_rng(4), greedy="stochastic")
    np.testing.assert_array_equal(a[0], b[0])
