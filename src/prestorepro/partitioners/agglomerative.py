"""Agglomerative clustering, ward linkage (App. B.4), on a subsample where N x N distances do not fit."""
from __future__ import annotations

import numpy as np
import psutil
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import pairwise_distances

from prestorepro.partitioners.base import PARTITIONERS, Fitted, NearestCentroidRule
from prestorepro.partitioners.parts import PartitionOptions, part_means, repair_note, subsample, subsample_note, top_up_small_parts

@PARTITIONERS.register("agglomerative")
def _agglomerative(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> Fitted:
    """Agglomerative clustering, ward linkage, Euclidean (Müllner 2011; App. B.4)."""
    n = len(z)
    idx = subsample(n, seed, opts)
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
    rule = NearestCentroidRule(part_means(fit_z, fit_labels, k))
    if idx is None:
        labels = fit_labels
    else:
        labels = rule.assign(z)
        labels[idx] = fit_labels  # the fit subsample keeps its own ward labels
    notes = subsample_note(idx, n, "nearest part centroid")
    if opts.min_part_size > 1:
        dist = pairwise_distances(z, rule.centroids)
        repairs = top_up_small_parts(labels, k, opts.min_part_size, -dist, dist)
        notes += repair_note(repairs, opts.min_part_size, "nearest to its centroid")
    else:
        repairs = []
    return Fitted(labels, rule, notes, idx, repairs)
