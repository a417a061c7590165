"""Table-1 partition baselines: clustering and mixture models that fix the K parts before training.

Paper §4 ("Comparison with unsupervised partitioning methods and mixture models") and App. B.4;
SPEC §5. Each method slices the training set into K parts, one component model is trained per part,
and at test time an instance is routed to a component by the method's own assignment rule.

All methods run on a PCA projection of the flattened embeddings (sklearn PCA, seeded, dimension
``min(pca_dim, D, N)``), fit on every training point:

- ``equal_kmeans``: k-means with part sizes in ``[N/K - leeway, N/K + leeway]`` (k-means-constrained,
  Bennett et al. 2000), k-means++ init, n_init, max_iter 300, tol 1e-4. Routing: nearest centroid.
- ``kmeans_pp``: scikit-learn KMeans, k-means++ init, n_init, max_iter 300, tol 1e-4. Routing: predict.
- ``agglomerative``: scikit-learn ward linkage, Euclidean. Routing: nearest centroid of the parts.
- ``gmm``: scikit-learn GaussianMixture, k-means init, tol 1e-3. Routing: predict.
- ``bgmm``: scikit-learn BayesianGaussianMixture, k-means init, tol 1e-3, Dirichlet-process weight
  prior. Routing: predict.

The mixtures' covariances are scikit-learn's default, ``full`` (App. B.4 uses "the scikit-learn
implementation" and names no other; ``table1.covariance_type`` offers ``diag`` and the rest). Where a
full covariance is singular on the fitted points, scikit-learn refuses the fit and asks for a larger
``reg_covar``; the fit is then repeated with ``reg_covar`` x10 (from 1e-6 up to 1e-1) and the value
used is written into the notes.

Ward linkage needs the N x N condensed distance matrix, and the mixtures' EM is costly on large N, so
these three fit on a seeded subsample of ``max_fit_samples`` points when N is larger, and assign the
rest by their own rule (predict for mixtures, nearest part centroid for agglomerative). ``n_init`` is
the paper's restart count for the two k-means methods (App. B.4 gives 10); the paper gives none for
the mixtures, which keep scikit-learn's single k-means-initialised run.

Every method returns K non-empty parts. A mixture can leave a component with no points (the
Dirichlet-process prior of BGMM often switches components off); such parts are repaired by the
deterministic rule in ``_top_up_small_parts`` and the repair is written into ``PartitionResult.notes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import psutil
from k_means_constrained import KMeansConstrained
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from prestorepro.baselines.parts import (  # noqa: F401  (the repair rule is tested through this module)
    PartitionOptions,
    _flatten,
    _quiet_fit,
    _part_means,
    _repair_note,
    _subsample,
    _subsample_note,
    _top_up_small_parts,
)
from prestorepro.presto.assignment import size_bounds
from prestorepro.registry import Registry


class _PredictRule:
    """Route by the fitted estimator's own ``predict`` (k-means, mixtures)."""

    def __init__(self, model, description: str):
        self.model = model
        self.description = description

    def assign(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(z), dtype=np.int64)


class _NearestCentroidRule:
    """Route to the part whose mean (in PCA space) is nearest in Euclidean distance."""

    description = "nearest part centroid"

    def __init__(self, centroids: np.ndarray):
        self.centroids = centroids

    def assign(self, z: np.ndarray) -> np.ndarray:
        return pairwise_distances_argmin(z, self.centroids).astype(np.int64)


@dataclass
class _Fitted:
    labels: np.ndarray
    rule: _PredictRule | _NearestCentroidRule
    notes: list[str]
    fit_indices: np.ndarray | None = None
    repairs: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class PartitionResult:
    """K non-empty parts of the training set and the rule that routes new points to them.

    ``labels`` (N,) int64 in 0..K-1; ``route(features)`` applies the same PCA and the method's own
    assignment rule to new points; ``notes`` is a sentence for table footnotes; ``fit_indices`` are
    the training points the method was fit on when it used a subsample (None: all of them).
    """

    method: str
    k: int
    labels: np.ndarray
    notes: str
    pca: PCA
    rule: _PredictRule | _NearestCentroidRule
    feature_shape: tuple[int, ...]
    fit_indices: np.ndarray | None = None
    repairs: list[tuple[int, int, int]] = field(default_factory=list)  # (part, points moved, donor part)

    def route(self, features: np.ndarray) -> np.ndarray:
        """Part index (M,) int64 of each new point, by the method's own assignment rule (SPEC §5)."""
        x = _flatten(features, "features to route")
        if tuple(np.shape(features)[1:]) != self.feature_shape:
            raise ValueError(
                f"features to route have per-point shape {tuple(np.shape(features)[1:])}, but the "
                f"partition was fit on {self.feature_shape}; route embeddings from the same cut point"
            )
        return self.rule.assign(self.pca.transform(x).astype(np.float64))


PARTITIONERS: Registry[Callable[[np.ndarray, int, int, PartitionOptions], _Fitted]] = Registry("partitioner")


@PARTITIONERS.register("equal_kmeans")
def _equal_kmeans(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> _Fitted:
    """Equal-KMeans (Bennett et al. 2000; App. B.4): sizes in [N/K - leeway, N/K + leeway]."""
    n = len(z)
    lo, hi = size_bounds(n, k, opts.leeway)
    if opts.min_part_size > lo:
        raise ValueError(
            f"min_part_size={opts.min_part_size} exceeds Equal-KMeans' lower size bound {lo} "
            f"(N={n}, K={k}, leeway {opts.leeway}); reduce the leeway or min_part_size"
        )
    model = KMeansConstrained(
        n_clusters=k, size_min=lo, size_max=hi, init="k-means++", n_init=opts.n_init,
        max_iter=300, tol=1e-4, random_state=seed,
    )
    model.fit(z)
    labels = np.asarray(model.labels_, dtype=np.int64)
    sizes = np.bincount(labels, minlength=k)
    if sizes.min() < lo or sizes.max() > hi:
        raise RuntimeError(f"k-means-constrained returned part sizes {sizes.tolist()} outside [{lo}, {hi}]")
    notes = [f"fit on all {n} points, part sizes in [{lo}, {hi}] (leeway {opts.leeway})"]
    return _Fitted(labels, _NearestCentroidRule(_part_means(z, labels, k)), notes)


@PARTITIONERS.register("kmeans_pp")
def _kmeans_pp(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> _Fitted:
    """KMeans++ (Arthur & Vassilvitskii 2006; App. B.4)."""
    model = KMeans(n_clusters=k, init="k-means++", n_init=opts.n_init, max_iter=300, tol=1e-4, random_state=seed)
    stopped_early = _quiet_fit(model, z)
    labels = np.asarray(model.labels_, dtype=np.int64)
    notes = [f"fit on all {len(z)} points"]
    if stopped_early:
        notes.append("scikit-learn warned that k-means did not converge or found fewer distinct clusters")
    dist = pairwise_distances(z, model.cluster_centers_)
    repairs = _top_up_small_parts(labels, k, opts.min_part_size, -dist, dist)
    notes += _repair_note(repairs, opts.min_part_size, "nearest to its k-means centre")
    return _Fitted(labels, _PredictRule(model, "k-means predict (nearest centre)"), notes, None, repairs)


@PARTITIONERS.register("agglomerative")
def _agglomerative(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> _Fitted:
    """Agglomerative clustering, ward linkage, Euclidean (Müllner 2011; App. B.4)."""
    n = len(z)
    idx = _subsample(n, seed, opts)
    fit_z = z if idx is None else z[idx]
    m = len(fit_z)
    # scipy's ward linkage on raw observations builds the condensed distance matrix: m(m-1)/2 doubles
    need = 8 * m * (m - 1) // 2
    available = psutil.virtual_memory().available
    if need > available:
        fits = int(np.sqrt(2 * available / 8))
        raise MemoryError(
            f"ward linkage on {m} points needs about {need / 2**30:.1f} GiB for pairwise distances, "
            f"but {available / 2**30:.1f} GiB is free; set max_fit_samples <= {fits} to fit on a subsample"
        )
    fit_labels = np.asarray(
        AgglomerativeClustering(n_clusters=k, linkage="ward", metric="euclidean").fit(fit_z).labels_, dtype=np.int64
    )
    rule = _NearestCentroidRule(_part_means(fit_z, fit_labels, k))
    if idx is None:
        labels = fit_labels
    else:
        labels = rule.assign(z)
        labels[idx] = fit_labels  # the fit subsample keeps its own ward labels
    notes = _subsample_note(idx, n, "nearest part centroid")
    if opts.min_part_size > 1:
        dist = pairwise_distances(z, rule.centroids)
        repairs = _top_up_small_parts(labels, k, opts.min_part_size, -dist, dist)
        notes += _repair_note(repairs, opts.min_part_size, "nearest to its centroid")
    else:
        repairs = []
    return _Fitted(labels, rule, notes, idx, repairs)


REG_COVAR_MAX = 1e-1


def _fit_mixture(model, z: np.ndarray, k: int, seed: int, opts: PartitionOptions, name: str) -> _Fitted:
    n = len(z)
    idx = _subsample(n, seed, opts)
    default_reg = model.reg_covar
    while True:
        try:
            stopped_early = _quiet_fit(model, z if idx is None else z[idx])
            break
        except ValueError as exc:
            # scikit-learn: "Fitting the mixture model failed because some components have ill-defined
            # empirical covariance ... Try to decrease the number of components, or increase reg_covar."
            if "reg_covar" not in str(exc) or model.reg_covar * 10 > REG_COVAR_MAX * (1 + 1e-9):
                raise ValueError(f"{name} with {opts.covariance_type} covariances cannot be fitted even with "
                                 f"reg_covar={model.reg_covar:g}: {exc} Set table1.covariance_type: diag, or "
                                 "lower table1.pca_dim.") from exc
            model.set_params(reg_covar=model.reg_covar * 10)
    labels = np.asarray(model.predict(z), dtype=np.int64)
    notes = [f"{opts.covariance_type} covariances"] + _subsample_note(idx, n, "predict")
    if model.reg_covar != default_reg:
        notes.append(f"reg_covar raised from {default_reg:g} to {model.reg_covar:g} (a singular empirical "
                     "covariance at the default)")
    if stopped_early:
        notes.append(f"EM stopped at max_iter={model.max_iter} before reaching tol {model.tol:g}")
    repairs: list[tuple[int, int, int]] = []
    if np.bincount(labels, minlength=k).min() < opts.min_part_size:
        proba = model.predict_proba(z)
        dist = pairwise_distances(z, model.means_)
        repairs = _top_up_small_parts(labels, k, opts.min_part_size, proba, dist)
    notes += _repair_note(repairs, opts.min_part_size, f"most responsible to {name} component")
    return _Fitted(labels, _PredictRule(model, f"{name} predict (most responsible component)"), notes, idx, repairs)


@PARTITIONERS.register("gmm")
def _gmm(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> _Fitted:
    """Gaussian mixture, k-means init, tol 1e-3 (Bishop 2006; App. B.4)."""
    model = GaussianMixture(
        n_components=k, covariance_type=opts.covariance_type, tol=1e-3, init_params="kmeans", random_state=seed
    )
    return _fit_mixture(model, z, k, seed, opts, "GMM")


@PARTITIONERS.register("bgmm")
def _bgmm(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> _Fitted:
    """Bayesian Gaussian mixture with a Dirichlet-process weight prior (Attias 1999; App. B.4)."""
    model = BayesianGaussianMixture(
        n_components=k, covariance_type=opts.covariance_type, tol=1e-3, init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process", random_state=seed,
    )
    return _fit_mixture(model, z, k, seed, opts, "BGMM")


_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def fit_partition(
    name: str,
    features: np.ndarray,
    k: int,
    seed: int,
    *,
    pca_dim: int = 64,
    max_fit_samples: int | None = None,
    leeway: int = 0,
    n_init: int = 10,
    covariance_type: str = "full",
    min_part_size: int = 1,
) -> PartitionResult:
    """Partition the training embeddings into K non-empty parts with the Table-1 baseline ``name``.

    ``features`` (N, ...) are flattened and projected by a seeded PCA to ``min(pca_dim, D, N)``
    dimensions; the method runs there (SPEC §5). ``max_fit_samples`` caps the points that
    agglomerative and the mixtures are fit on; ``leeway`` sets Equal-KMeans' size bounds;
    ``n_init`` is the k-means restart count; ``covariance_type`` is the mixtures' covariance;
    parts smaller than ``min_part_size`` (default: empty ones) are repaired as documented in
    ``_top_up_small_parts``. The same ``seed`` gives the same labels.
    """
    method = PARTITIONERS.get(name)  # unknown name: KeyError listing the valid ones
    x = _flatten(features, "features")
    n, d = x.shape
    size_bounds(n, k, 0)  # K >= 2 and K <= N, with a message naming both
    if pca_dim < 1:
        raise ValueError(f"pca_dim must be >= 1, got {pca_dim}")
    if max_fit_samples is not None and max_fit_samples < k:
        raise ValueError(f"max_fit_samples={max_fit_samples} is below K={k}; the fit needs at least K points")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    if covariance_type not in _COVARIANCE_TYPES:
        raise ValueError(f"covariance_type {covariance_type!r} is not one of {', '.join(_COVARIANCE_TYPES)}")
    if min_part_size < 1:
        raise ValueError(f"min_part_size must be >= 1 (parts must be non-empty), got {min_part_size}")
    opts = PartitionOptions(max_fit_samples, leeway, n_init, covariance_type, min_part_size)

    dim = min(pca_dim, d, n)
    pca = PCA(n_components=dim, random_state=seed)
    z = pca.fit_transform(x).astype(np.float64)
    fitted = method(z, k, seed, opts)

    labels = fitted.labels
    sizes = np.bincount(labels, minlength=k)
    if labels.shape != (n,) or labels.min() < 0 or len(sizes) != k or sizes.min() < min_part_size:
        raise RuntimeError(f"{name} returned invalid parts: sizes {sizes.tolist()} for N={n}, K={k}")
    notes = "; ".join(
        [f"{name}: PCA of the {d}-dim flattened embeddings to {dim} dims (seeded)"]
        + fitted.notes
        + [f"test points routed by {fitted.rule.description}"]
    )
    return PartitionResult(
        method=name,
        k=k,
        labels=labels,
        notes=notes,
        pca=pca,
        rule=fitted.rule,
        feature_shape=tuple(np.shape(features)[1:]),
        fit_indices=fitted.fit_indices,
        repairs=fitted.repairs,
    )
