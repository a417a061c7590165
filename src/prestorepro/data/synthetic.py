"""The synthetic degenerate mixture of the paper's App. C (Eqs. 35-38, Fig. 6), SPEC §8.

Every point lies on one of four curves, one per true component S*_k, with its label as an offset:
``x2 = f_k(x1) + 2 y`` (components 1, 2, 4) or ``x2 = f_k(x1) - 2 y`` (component 3, whose Eq. 37 carries
``+2y`` on the same side as ``x2``), over four contiguous, equally wide x1 intervals, with
``|S*_k| = n / 4``. Both coordinates are then standardised (zero mean, unit variance).

Eqs. 35-38 are garbled in the text (as printed, S*_1 and S*_4 cannot share their x2 range), so we read
the boxes they print as the *standardised* ranges and choose the curves to reproduce them. With a raw
coordinate ``u`` uniform on [0, 4] and ``t = u - (k - 1)`` in [0, 1] on the k-th interval:

    f_1(t) = 0                                   y = +1 above  (Eq. 35)
    f_2(t) = 0.1 + 8.8 t - 0.7 t^2               y = +1 above  (Eq. 36, concave)
    f_3(t) = -3.4 + 11.5 exp(-1.2 t)             y = +1 below  (Eq. 37, exponential, label flipped)
    f_4(t) = 0                                   y = +1 above  (Eq. 38)

The constants were fitted (least squares on the eight x2 box edges) so that the standardised x2 ranges
come out as S1 [-1.21, 0.03], S2 [-1.18, 2.58], S3 [-1.19, 2.55], S4 [-1.21, 0.03] against the printed
[-1.16, 0.04], [-1.15, 2.59], [-1.17, 2.56], [-1.17, 0.04]: every edge within 0.05. A slope on
f_1 / f_4 (Eq. 35 and 38 carry ``7 x[1]``) only moves the boxes further away (0.09 at slope 0.5), so the
two outer components are flat. x1 is uniform on [-1.73, 1.73] after standardising, split at -0.87, 0 and
0.87, as printed.

Why these shapes keep the experiment's point: within a component the two labels lie on parallel curves
4 apart, and a curve's largest distance from its best straight line is below 0.6 (f_3; 0.09 for f_2), so
each component is linearly separable with a margin; one line cannot separate all of them, because S*_3
has its labels the other way round and S*_2 / S*_3 meet at x1 = 0 with opposite labels on top -- the
region the paper calls hard to demarcate (App. C.2).

x1 is drawn by stratified sampling within each interval (one uniform draw in each of n/4 equal cells),
which keeps the sample moments within about 1e-4 of the population's, so the standardised interval
edges land on the printed values instead of wandering with the sample. Labels are exactly balanced
within each component.
"""
from __future__ import annotations

import numpy as np

K_TRUE = 4
LABEL_OFFSET = 2.0  # the "2y" of Eqs. 35-38
# Sign of the label offset per component: S*_3 has y = +1 below its curve.
LABEL_SIGN = np.array([1.0, 1.0, -1.0, 1.0])
# Printed x1 intervals of Eqs. 35-38 (standardised units).
PRINTED_X1 = ((-1.73, -0.86), (-0.87, 0.01), (-0.01, 0.87), (0.86, 1.73))
# Printed x2 ranges of Eqs. 35-38 (standardised units).
PRINTED_X2 = ((-1.16, 0.04), (-1.15, 2.59), (-1.17, 2.56), (-1.17, 0.04))


def component_boxes(x: np.ndarray, group: np.ndarray) -> list[dict]:
    """Size and per-coordinate [min, max] of each true component S*_k (``group`` == k) of the 2-d points
    ``x``: what App. C's Eqs. 35-38 prescribe, recorded in the prepared data's metadata for the report."""
    x, group = np.asarray(x), np.asarray(group)
    return [{"points": int((group == k).sum()),
             "x1": [float(x[group == k, 0].min()), float(x[group == k, 0].max())],
             "x2": [float(x[group == k, 1].min()), float(x[group == k, 1].max())]}
            for k in range(int(group.max()) + 1)]


def component_curve(k: int, t: np.ndarray) -> np.ndarray:
    """f_k at position ``t`` in [0, 1] across component k's interval (k = 0..3 for S*_1..S*_4)."""
    curves = (
        lambda s: np.zeros_like(s),
        lambda s: 0.1 + 8.8 * s - 0.7 * s**2,
        lambda s: -3.4 + 11.5 * np.exp(-1.2 * s),
        lambda s: np.zeros_like(s),
    )
    return curves[k](t)


def make_synthetic(
    n: int = 20000, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the App. C dataset: ``x`` (n, 2) float32 standardised, ``y`` (n,) int64 in {-1, +1},
    ``group`` (n,) int64 in 0..3 (the true component S*_{group+1}). ``rng`` is required.
    """
    if rng is None:
        raise ValueError("make_synthetic needs an explicit rng, e.g. numpy.random.default_rng(seed)")
    if n <= 0 or n % K_TRUE:
        raise ValueError(f"n = {n}: the four components are equal (App. C), so n must be a positive multiple of 4")
    m = n // K_TRUE
    u, x2, y, group = [], [], [], []
    for k in range(K_TRUE):
        t = (rng.permutation(m) + rng.random(m)) / m  # one uniform draw per cell of width 1/m
        labels = np.where(rng.permutation(m) < m // 2, 1, -1)  # exactly balanced (m // 2 positives)
        u.append(k + t)
        x2.append(component_curve(k, t) + LABEL_SIGN[k] * LABEL_OFFSET * labels)
        y.append(labels)
        group.append(np.full(m, k))
    raw = np.stack([np.concatenate(u), np.concatenate(x2)], axis=1)
    x = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    order = rng.permutation(n)  # no information in the order of the points
    return (
        x[order].astype(np.float32),
        np.concatenate(y)[order].astype(np.int64),
        np.concatenate(group)[order].astype(np.int64),
    )
