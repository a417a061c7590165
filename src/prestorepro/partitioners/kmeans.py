"""Equal-KMeans (size-constrained k-means) and KMeans++ (App. B.4), the two k-means baselines that can
initialise PRESTO (Table 5)."""
from __future__ import annotations

import numpy as np
from k_means_constrained import KMeansConstrained
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances

from prestorepro.partitioners.base import PARTITIONERS, Fitted, NearestCentroidRule, PredictRule
from prestorepro.partitioners.parts import PartitionOptions, part_means, quiet_fit, repair_note, top_up_small_parts
from prestorepro.presto.assignment import size_bounds

@PARTITIONERS.register("equal_kmeans")
def _equal_kmeans(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> Fitted:
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
    return Fitted(labels, NearestCentroidRule(part_means(z, labels, k)), notes)


@PARTITIONERS.register("kmeans_pp")
def _kmeans_pp(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> Fitted:
    """KMeans++ (Arthur & Vassilvitskii 2006; App. B.4)."""
    model = KMeans(n_clusters=k, init="k-means++", n_init=opts.n_init, max_iter=300, tol=1e-4, random_state=seed)
    stopped_early = quiet_fit(model, z)
    labels = np.asarray(model.labels_, dtype=np.int64)
    notes = [f"fit on all {len(z)} points"]
    if stopped_early:
        notes.append("scikit-learn warned that k-means did not converge or found fewer distinct clusters")
    dist = pairwise_distances(z, model.cluster_centers_)
    repairs = top_up_small_parts(labels, k, opts.min_part_size, -dist, dist)
    notes += repair_note(repairs, opts.min_part_size, "nearest to its k-means centre")
    return Fitted(labels, PredictRule(model, "k-means predict (nearest centre)"), notes, None, repairs)
