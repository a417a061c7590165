"""The parts' bookkeeping shared by the Table-1 partitioners: the seeded fitting subsample, part
centroids, and the deterministic repair of parts a method left (nearly) empty."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning


@dataclass(frozen=True)
class PartitionOptions:
    """Settings shared by all partitioners (defaults: paper App. B.4 / SPEC §5)."""

    max_fit_samples: int | None = None
    leeway: int = 0
    n_init: int = 10
    covariance_type: str = "full"
    min_part_size: int = 1


def subsample(n: int, seed: int, opts: PartitionOptions) -> np.ndarray | None:
    """Sorted seeded subsample of ``max_fit_samples`` indices, or None when all N points fit."""
    m = opts.max_fit_samples
    if m is None or n <= m:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))


def subsample_note(idx: np.ndarray | None, n: int, rest_rule: str) -> list[str]:
    if idx is None:
        return [f"fit on all {n} points"]
    return [f"fit on a seeded subsample of {len(idx)} of {n} points, the rest assigned by {rest_rule}"]


def part_means(z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=k)
    if (counts == 0).any():
        raise RuntimeError(f"part(s) {np.flatnonzero(counts == 0).tolist()} are empty; cannot form centroids")
    sums = np.zeros((k, z.shape[1]))
    np.add.at(sums, labels, z)
    return sums / counts[:, None]


def top_up_small_parts(
    labels: np.ndarray, k: int, min_size: int, preference: np.ndarray, distance: np.ndarray
) -> list[tuple[int, int, int]]:
    """Bring every part up to ``min_size`` points (in place); returns (part, moved, donor) per repair.

    Rule (deterministic): while some part is short of ``min_size``, the lowest-index such part takes
    points from the currently largest part (lowest index on ties) — as many as it is missing, but never
    so many that the donor falls below ``min_size`` — choosing the donor's points that prefer it most:
    highest ``preference[:, part]`` (a mixture's responsibility, or minus the distance to a centroid),
    then smallest ``distance[:, part]`` (Euclidean distance to the component mean, which still orders
    points whose responsibility underflowed to 0), then lowest index. Moving as few points as needed
    keeps the method's own partition otherwise intact.
    """
    n = len(labels)
    if n < k * min_size:
        raise ValueError(f"N={n} points cannot fill K={k} parts of at least min_part_size={min_size}")
    repairs = []
    while True:
        sizes = np.bincount(labels, minlength=k)
        short = np.flatnonzero(sizes < min_size)
        if len(short) == 0:
            return repairs
        part = int(short[0])
        donor = int(np.argmax(sizes))  # holds more than min_size, since N >= K * min_size
        moved = int(min(min_size - sizes[part], sizes[donor] - min_size))
        members = np.flatnonzero(labels == donor)
        order = np.lexsort((members, distance[members, part], -preference[members, part]))
        labels[members[order[:moved]]] = part
        repairs.append((part, moved, donor))


def repair_note(repairs: list[tuple[int, int, int]], min_size: int, criterion: str) -> list[str]:
    return [
        f"part {part} was below {min_size} point(s) after fitting: moved into it the {moved} point(s) "
        f"of the largest part {donor} {criterion}"
        for part, moved, donor in repairs
    ]


def flatten(features: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{what} must have shape (N, ...) with N >= 1, got {x.shape}")
    x = x.reshape(x.shape[0], -1).astype(np.float32, copy=False)
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise ValueError(f"{what} contain {bad} NaN/inf values out of {x.size}; recompute the embeddings")
    return x


def quiet_fit(model, z: np.ndarray):
    """Fit, turning scikit-learn's ConvergenceWarning into a flag for the notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(z)
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False
        else:  # anything else is passed on unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return not converged
