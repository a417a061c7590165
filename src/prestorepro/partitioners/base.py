"""Table-1 partition baselines: clustering and mixture models that fix the K parts before training.

Paper §4 ("Comparison with unsupervised partitioning methods and mixture models") and App. B.4;
SPEC §5. Each method slices the training set into K parts, one component model is trained per part,
and at test time an instance is routed to a component by the method's own assignment rule.

A method whose catalogue entry says ``pca`` (every clustering here) runs on a PCA projection of the
flattened embeddings (sklearn PCA, seeded, dimension ``min(pca_dim, D, N)``), fit on every training point;
one that does not (the random partition) receives the flattened embeddings and no PCA is run:

- ``equal_kmeans``: k-means with part sizes in ``[N/K - leeway, N/K + leeway]`` (k-means-constrained,
  Bennett et al. 2000), k-means++ init, n_init, max_iter 300, tol 1e-4. Routing: nearest centroid.
- ``kmeans_pp``: scikit-learn KMeans, k-means++ init, n_init, max_iter 300, tol 1e-4. Routing: predict.
- ``agglomerative``: scikit-learn ward linkage, Euclidean. Routing: nearest centroid of the parts.
- ``gmm``: scikit-learn GaussianMixture, k-means init, tol 1e-3. Routing: predict.
- ``bgmm``: scikit-learn BayesianGaussianMixture, k-means init, tol 1e-3, Dirichlet-process weight
  prior. Routing: predict.
- ``random``: a seeded uniformly random partition with part sizes within one point of each other (SPEC §5b;
  also PRESTO's and Learn-MLR's random start). Routing: a seeded uniformly random part.

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

The methods themselves: ``kmeans`` (Equal-KMeans, KMeans++), ``agglomerative``, ``mixtures`` (GMM, BGMM),
``random_partition``.
Every method returns K non-empty parts. A mixture can leave a component with no points (the
Dirichlet-process prior of BGMM often switches components off); such parts are repaired by the
deterministic rule in ``parts.top_up_small_parts`` and the repair is written into ``PartitionResult.notes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances_argmin

from prestorepro.catalogue import method as catalogue_method
from prestorepro.partitioners.parts import PartitionOptions, flatten
from prestorepro.presto.assignment import size_bounds
from prestorepro.registry import Registry


class Rule(Protocol):
    """How a partitioner routes a new point at test time: ``assign(z)`` gives the part (M,) int64 of each
    row of ``z`` (the points in the space the method was fitted in: the PCA projection, or the flattened
    embeddings for a method without one); ``description`` completes "test points routed by ..." in the
    table's notes."""

    description: str

    def assign(self, z: np.ndarray) -> np.ndarray: ...


class PredictRule:
    """Route by the fitted estimator's own ``predict`` (k-means, mixtures)."""

    def __init__(self, model, description: str):
        self.model = model
        self.description = description

    def assign(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(z), dtype=np.int64)


class NearestCentroidRule:
    """Route to the part whose mean (in PCA space) is nearest in Euclidean distance."""

    description = "nearest part centroid"

    def __init__(self, centroids: np.ndarray):
        self.centroids = centroids

    def assign(self, z: np.ndarray) -> np.ndarray:
        return pairwise_distances_argmin(z, self.centroids).astype(np.int64)


@dataclass
class Fitted:
    labels: np.ndarray
    rule: Rule
    notes: list[str]
    fit_indices: np.ndarray | None = None
    repairs: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class PartitionResult:
    """K non-empty parts of the training set and the rule that routes new points to them.

    ``labels`` (N,) int64 in 0..K-1; ``route(features)`` applies the same PCA (``pca``: None for a method
    fitted without one) and the method's own assignment rule to new points; ``notes`` is a sentence for
    table footnotes (``fit_notes`` the same without the routing rule, for a partition used only as a start);
    ``fit_indices`` are the training points the method was fit on when it used a subsample (None: all of them).
    """

    method: str
    k: int
    labels: np.ndarray
    notes: str
    fit_notes: str
    pca: PCA | None
    rule: Rule
    feature_shape: tuple[int, ...]
    fit_indices: np.ndarray | None = None
    repairs: list[tuple[int, int, int]] = field(default_factory=list)  # (part, points moved, donor part)

    def route(self, features: np.ndarray) -> np.ndarray:
        """Part index (M,) int64 of each new point, by the method's own assignment rule (SPEC §5)."""
        x = flatten(features, "features to route")
        if tuple(np.shape(features)[1:]) != self.feature_shape:
            raise ValueError(
                f"features to route have per-point shape {tuple(np.shape(features)[1:])}, but the "
                f"partition was fit on {self.feature_shape}; route embeddings from the same cut point"
            )
        return self.rule.assign(x if self.pca is None else self.pca.transform(x).astype(np.float64))


# every Table-1 partitioner, by its catalogue key (the registry refuses one the catalogue lacks)
PARTITIONERS: Registry[Callable[[np.ndarray, int, int, PartitionOptions], Fitted]] = Registry(
    "partitioner", stage="table1")


_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def fit_partition(name: str, features: np.ndarray, k: int, seed: int, *, pca_dim: int = 64,
                  options: PartitionOptions = PartitionOptions()) -> PartitionResult:
    """Partition the training embeddings into K non-empty parts with the Table-1 baseline ``name``.

    ``features`` (N, ...) are flattened and, for a method whose catalogue entry says ``pca``, projected by
    a seeded PCA to ``min(pca_dim, D, N)`` dimensions; the method runs there (SPEC §5). Of the ``options``,
    ``max_fit_samples`` caps the points that agglomerative and the mixtures are fit on; ``leeway`` sets
    Equal-KMeans' size bounds; ``n_init`` is the k-means restart count; ``covariance_type`` is the mixtures'
    covariance; parts smaller than ``min_part_size`` (default: empty ones) are repaired as documented in
    ``parts.top_up_small_parts``. The same ``seed`` gives the same labels.
    """
    max_fit_samples, n_init = options.max_fit_samples, options.n_init
    covariance_type, min_part_size = options.covariance_type, options.min_part_size
    method = PARTITIONERS.get(name)  # unknown name: KeyError listing the valid ones
    x = flatten(features, "features")
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

    if catalogue_method("table1", name).pca:
        dim = min(pca_dim, d, n)
        pca = PCA(n_components=dim, random_state=seed)
        z = pca.fit_transform(x).astype(np.float64)
        space = [f"PCA of the {d}-dim flattened embeddings to {dim} dims (seeded)"]
    else:
        pca, z, space = None, x, []
    fitted = method(z, k, seed, options)

    labels = fitted.labels
    sizes = np.bincount(labels, minlength=k)
    if labels.shape != (n,) or labels.min() < 0 or len(sizes) != k or sizes.min() < min_part_size:
        raise RuntimeError(f"{name} returned invalid parts: sizes {sizes.tolist()} for N={n}, K={k}")
    fit_notes = f"{name}: " + "; ".join(space + fitted.notes)
    notes = f"{fit_notes}; test points routed by {fitted.rule.description}"
    return PartitionResult(
        method=name,
        k=k,
        labels=labels,
        notes=notes,
        fit_notes=fit_notes,
        pca=pca,
        rule=fitted.rule,
        feature_shape=tuple(np.shape(features)[1:]),
        fit_indices=fitted.fit_indices,
        repairs=fitted.repairs,
    )
