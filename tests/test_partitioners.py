"""Table-1 clustering/mixture partition baselines (SPEC §5, paper App. B.4) on tiny data."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from prestorepro import catalogue
from prestorepro.partitioners.base import PARTITIONERS, fit_partition
from prestorepro.partitioners.parts import PartitionOptions
from prestorepro.partitioners.parts import top_up_small_parts
from prestorepro.presto.assignment import InfeasibleConstraintError

METHODS = catalogue.partitioners()  # every partitioner of the catalogue, a new one included
RECOVERING = ["equal_kmeans", "kmeans_pp", "agglomerative", "gmm"]


def blobs(n: int = 200, k: int = 4, seed: int = 0, std: float = 0.5):
    """Well-separated equal-size blobs in 10-d, shaped like small (N, 2, 5) feature maps."""
    centers = np.random.default_rng(seed).uniform(-20, 20, size=(k, 10))
    x, y = make_blobs(n_samples=n, centers=centers, cluster_std=std, random_state=seed)
    return x.reshape(n, 2, 5).astype(np.float32), y


def assert_partition(labels: np.ndarray, n: int, k: int) -> None:
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < k  # every point in exactly one of the K parts
    sizes = np.bincount(labels, minlength=k)
    assert sizes.sum() == n and (sizes >= 1).all(), sizes


def test_registry_holds_every_partitioner_of_the_catalogue():
    assert PARTITIONERS.names() == sorted(METHODS)
    assert {"equal_kmeans", "kmeans_pp", "agglomerative", "gmm", "bgmm", "random"} <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_each_method_returns_k_nonempty_parts_covering_every_point(name):
    x, _ = blobs(n=120, k=3, seed=1)
    res = fit_partition(name, x, 3, seed=0, options=PartitionOptions(n_init=1))
    assert res.method == name and res.k == 3
    assert_partition(res.labels, 120, 3)
    # PCA is a partitioner's declared need: run (and named in the notes) only for those that have it
    if catalogue.method("table1", name).pca:
        assert res.notes.startswith(f"{name}: PCA of the 10-dim flattened embeddings to 10 dims")
        assert res.pca is not None and res.pca.n_components_ == 10
    else:
        assert res.pca is None and "PCA" not in res.notes and res.notes.startswith(f"{name}: ")
    assert "test points routed by" in res.notes
    routed = res.route(x[:7])
    assert routed.shape == (7,) and routed.dtype == np.int64 and routed.min() >= 0 and routed.max() < 3


def test_the_random_partition_is_balanced_seeded_and_routes_uniformly_at_random():
    x = np.zeros((103, 2, 5), dtype=np.float32)  # its features are never read
    res = fit_partition("random", x, 4, seed=0)
    assert sorted(np.bincount(res.labels).tolist()) == [25, 26, 26, 26]  # balanced to within one point
    # the same permutation PRESTO's and Learn-MLR's random start always used (one copy of that logic)
    np.testing.assert_array_equal(res.labels, np.random.default_rng(0).permutation(np.arange(103) % 4))
    again, other = fit_partition("random", x, 4, seed=0), fit_partition("random", x, 4, seed=1)
    np.testing.assert_array_equal(res.labels, again.labels)
    assert (res.labels != other.labels).mean() > 0.5
    for n, k in ((10, 3), (11, 3), (1000, 7)):
        sizes = np.bincount(fit_partition("random", np.zeros((n, 1)), k, seed=5).labels, minlength=k)
        assert sizes.max() - sizes.min() <= 1 and sizes.sum() == n
    # test points: a seeded uniform draw, the same in every call; not the training partition's rule
    big = np.zeros((40000, 1))
    routes = res.route(big.reshape(40000, 1, 1).repeat(2, 1).repeat(5, 2))
    np.testing.assert_array_equal(routes, res.route(np.zeros((40000, 2, 5))))
    counts = np.bincount(routes, minlength=4)
    assert np.abs(counts / 40000 - 0.25).max() < 0.01  # uniform: 10000 each, within 400
    assert (fit_partition("random", x, 4, seed=1).route(np.zeros((1000, 2, 5))) != routes[:1000]).mean() > 0.5


@pytest.mark.parametrize("name", RECOVERING)
def test_well_separated_blobs_are_recovered_exactly(name):
    x, y = blobs()
    res = fit_partition(name, x, 4, seed=3, options=PartitionOptions(n_init=1))
    assert adjusted_rand_score(y, res.labels) == 1.0
    # new points from the same blobs are routed to their blob's part
    x_new, y_new = blobs(n=80, seed=0)  # same centres (seeded), fresh noise from make_blobs(n=80)
    routed = res.route(x_new)
    assert adjusted_rand_score(y_new, routed) == 1.0
    part_of_blob = {int(b): int(np.bincount(res.labels[y == b]).argmax()) for b in range(4)}
    assert all(part_of_blob[int(b)] == int(p) for b, p in zip(y_new, routed))


@pytest.mark.parametrize("name", ["kmeans_pp", "gmm"])
def test_routing_training_points_reproduces_training_labels(name):
    # overlapping blobs, so the agreement is not a mere consequence of perfect separation
    x, _ = blobs(n=240, k=3, seed=2, std=8.0)
    res = fit_partition(name, x, 3, seed=5, options=PartitionOptions(n_init=1))
    np.testing.assert_array_equal(res.route(x), res.labels)


def test_equal_kmeans_sizes_lie_within_the_leeway_bounds():
    # unbalanced blobs (160 / 50 / 30): plain k-means would follow the blobs
    rng = np.random.default_rng(4)
    centers = rng.uniform(-20, 20, size=(3, 6))
    x = np.concatenate([c + 0.5 * rng.normal(size=(m, 6)) for c, m in zip(centers, (160, 50, 30))])
    for leeway, (lo, hi) in [(0, (80, 80)), (15, (65, 95)), (70, (10, 150))]:
        res = fit_partition("equal_kmeans", x, 3, seed=0, options=PartitionOptions(leeway=leeway, n_init=1))
        sizes = np.bincount(res.labels, minlength=3)
        assert sizes.sum() == 240 and sizes.min() >= lo and sizes.max() <= hi, (leeway, sizes)
        assert f"part sizes in [{lo}, {hi}] (leeway {leeway})" in res.notes
    # N not divisible by K with leeway 0: sizes differ by at most one
    res = fit_partition("equal_kmeans", x[:239], 3, seed=0, options=PartitionOptions(leeway=0, n_init=1))
    assert sorted(np.bincount(res.labels).tolist()) == [79, 80, 80]


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_gives_identical_labels(name):
    x, _ = blobs(n=150, k=3, seed=6, std=6.0)
    first = fit_partition(name, x, 3, seed=11, options=PartitionOptions(n_init=1, max_fit_samples=100))
    again = fit_partition(name, x, 3, seed=11, options=PartitionOptions(n_init=1, max_fit_samples=100))
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.notes == again.notes


def test_unknown_name_raises_key_error_listing_valid_names():
    x, _ = blobs(n=20, k=2)
    with pytest.raises(KeyError) as err:
        fit_partition("spectral", x, 2, seed=0)
    message = str(err.value)
    assert "'spectral'" in message
    for name in METHODS:
        assert name in message


@pytest.mark.parametrize("name", ["agglomerative", "gmm", "bgmm"])
def test_subsampling_fits_on_a_seeded_subset_and_assigns_the_rest(name):
    # 80 of 400 points: 20 per blob, enough for the mixtures' full 10 x 10 covariances
    x, y = blobs(n=400, seed=7)
    res = fit_partition(name, x, 4, seed=2, options=PartitionOptions(n_init=1, max_fit_samples=80))
    idx = res.fit_indices
    assert idx is not None and len(idx) == 80 and len(np.unique(idx)) == 80
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < 400
    assert "fit on a seeded subsample of 80 of 400 points" in res.notes
    assert_partition(res.labels, 400, 4)
    rest = np.setdiff1d(np.arange(400), idx)
    # points outside the subsample are assigned by the method's own routing rule
    np.testing.assert_array_equal(res.labels[rest], res.route(x[rest]))
    if name != "bgmm":
        assert adjusted_rand_score(y, res.labels) == 1.0
    # another seed draws another subsample
    other = fit_partition(name, x, 4, seed=3, options=PartitionOptions(n_init=1, max_fit_samples=80))
    assert not np.array_equal(other.fit_indices, idx)
    # no subsampling when N fits
    whole = fit_partition(name, x, 4, seed=2, options=PartitionOptions(n_init=1, max_fit_samples=400))
    assert whole.fit_indices is None


def test_bgmm_empty_parts_are_repaired_with_the_most_responsible_points():
    # one blob, K=4: the Dirichlet-process prior switches components off and predict leaves parts empty
    # (with diagonal covariances; full ones on this blob keep all four components in use)
    x, _ = blobs(n=150, k=1, seed=0, std=0.3)
    res = fit_partition("bgmm", x, 4, seed=0, options=PartitionOptions(n_init=1, covariance_type="diag"))
    assert_partition(res.labels, 150, 4)
    predicted = res.route(x)  # BGMM's own predict: the labels before repair
    assert np.bincount(predicted, minlength=4).min() == 0
    assert len(res.repairs) >= 1
    proba = res.rule.model.predict_proba(res.pca.transform(x.reshape(150, -1)))
    current = predicted.copy()  # replay the repairs in order
    for part, moved, donor in res.repairs:
        assert moved == 1  # just enough to make the part non-empty
        assert (
            f"part {part} was below 1 point(s) after fitting: moved into it the 1 point(s) "
            f"of the largest part {donor} most responsible to BGMM component" in res.notes
        )
        assert donor == np.bincount(current, minlength=4).argmax()
        (i,) = np.flatnonzero((res.labels == part) & (predicted != part))
        assert current[i] == donor
        # the donor's point with the highest responsibility for the empty component
        assert proba[i, part] >= proba[current == donor, part].max()
        current[i] = part
    np.testing.assert_array_equal(current, res.labels)
    changed = np.flatnonzero(res.labels != predicted)
    assert len(changed) == sum(moved for _, moved, _ in res.repairs)


def test_min_part_size_tops_up_small_parts():
    x, _ = blobs(n=150, k=1, seed=0, std=0.3)
    res = fit_partition("bgmm", x, 4, seed=0, options=PartitionOptions(n_init=1, min_part_size=5))
    sizes = np.bincount(res.labels, minlength=4)
    assert sizes.min() >= 5 and sizes.sum() == 150
    assert (res.labels != res.route(x)).sum() == sum(moved for _, moved, _ in res.repairs)


def test_top_up_rule_golden_case():
    # sizes (3, 3, 0), min 2: part 2 takes 1 point from part 0 (largest, lowest index), then 1 from part 1,
    # so that no donor falls below 2; within a donor the highest preference wins, then the distance
    labels = np.array([0, 0, 0, 1, 1, 1])
    preference = np.zeros((6, 3))
    preference[:, 2] = [0.1, 0.9, 0.9, 0.2, 0.3, 0.1]
    distance = np.ones((6, 3))
    distance[:, 2] = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]
    repairs = top_up_small_parts(labels, 3, 2, preference, distance)
    assert repairs == [(2, 1, 0), (2, 1, 1)]
    assert labels.tolist() == [0, 0, 2, 1, 2, 1]


def test_pca_dimension_is_min_of_pca_dim_d_and_n():
    x, _ = blobs(n=60, k=3)
    one_start = PartitionOptions(n_init=1)
    assert fit_partition("kmeans_pp", x, 3, seed=0, pca_dim=4, options=one_start).pca.n_components_ == 4
    assert fit_partition("kmeans_pp", x, 3, seed=0, options=one_start).pca.n_components_ == 10
    wide = np.random.default_rng(0).normal(size=(6, 3, 8))
    res = fit_partition("agglomerative", wide, 2, seed=0)
    assert res.pca.n_components_ == 6
    assert "24-dim flattened embeddings to 6 dims" in res.notes


def test_float16_feature_maps_are_accepted():
    x, y = blobs()
    res = fit_partition("kmeans_pp", x.astype(np.float16), 4, seed=0, options=PartitionOptions(n_init=1))
    assert adjusted_rand_score(y, res.labels) == 1.0


def test_invalid_inputs_are_rejected_with_the_values():
    x, _ = blobs(n=20, k=2)
    with pytest.raises(InfeasibleConstraintError, match=r"K=1"):
        fit_partition("gmm", x, 1, seed=0)
    with pytest.raises(InfeasibleConstraintError, match=r"K=30.*N=20"):
        fit_partition("gmm", x, 30, seed=0)
    bad = x.copy()
    bad[3, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN/inf values out of 200"):
        fit_partition("gmm", bad, 2, seed=0)
    with pytest.raises(ValueError, match=r"max_fit_samples=1 is below K=2"):
        fit_partition("gmm", x, 2, seed=0, options=PartitionOptions(max_fit_samples=1))
    with pytest.raises(ValueError, match=r"covariance_type 'diagonal'"):
        fit_partition("gmm", x, 2, seed=0, options=PartitionOptions(covariance_type="diagonal"))
    with pytest.raises(InfeasibleConstraintError, match=r"leeway 10 allows empty parts"):
        fit_partition("equal_kmeans", x, 2, seed=0, options=PartitionOptions(leeway=10))
    res = fit_partition("gmm", x, 2, seed=0)
    with pytest.raises(ValueError, match=r"per-point shape \(10,\).*fit on \(2, 5\)"):
        res.route(x.reshape(20, 10))


@pytest.mark.parametrize("name", ["gmm", "bgmm"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_mixture_covariance_type_reaches_scikit_learn(name, covariance_type, monkeypatch):
    from prestorepro.partitioners import mixtures as partition

    seen = []
    cls = {"gmm": "GaussianMixture", "bgmm": "BayesianGaussianMixture"}[name]
    original = getattr(partition, cls)

    def spy(**kw):
        model = original(**kw)
        seen.append(model)
        return model

    monkeypatch.setattr(partition, cls, spy)
    x, _ = blobs(120, 3)
    args = {} if covariance_type == "full" else {"covariance_type": covariance_type}  # full: the default
    res = fit_partition(name, x, 3, seed=0, options=PartitionOptions(n_init=1, **args))
    assert [m.covariance_type for m in seen] == [covariance_type]
    assert seen[0].covariances_.shape == ((3, 10, 10) if covariance_type == "full" else (3, 10))
    assert f"; {covariance_type} covariances;" in res.notes


def test_singular_full_covariance_raises_reg_covar_and_says_so():
    # two clusters on lines in 3-d at a scale where reg_covar = 1e-6 cannot make the covariances
    # definite (scikit-learn refuses the fit); the mixture is fitted on them as they are (no PCA)
    from prestorepro.partitioners.mixtures import _gmm
    from prestorepro.partitioners.parts import PartitionOptions

    rng = np.random.default_rng(0)
    t = rng.normal(size=(60, 1))
    x = np.concatenate([t * [1.0, 2.0, 3.0], t * [3.0, -1.0, 0.5] + 5])
    opts = PartitionOptions(None, 0, 1, "full", 1)
    assert not any("reg_covar" in n for n in _gmm(x, 2, 0, opts).notes)  # no repair where none is needed
    fitted = _gmm(x * 1e6, 2, 0, opts)
    assert_partition(fitted.labels, 120, 2)
    assert fitted.notes[-1] == "reg_covar raised from 1e-06 to 0.01 (a singular empirical covariance at the default)"
    # a fit no repair can save names the way out
    with pytest.raises(ValueError, match="even with reg_covar=0.1.*covariance_type: diag"):
        _gmm(x * 1e9, 2, 0, opts)
