"""Uncertainty over seeds for the tables: a 95 % interval of each mean, and paired comparisons seed by seed.

- ``interval``: Student's t interval of a mean over n seeds, mean ± t_{0.975, n-1} · s / sqrt(n), s the sample
  standard deviation (ddof 1). With three seeds t = 4.30, so the half-width is 2.5 standard deviations:
  the honest width of a mean of three runs. One seed has no interval (NaN).
- ``paired``: the difference a - b per seed shared by both (the same seed means the same data split, initial
  parameters and batch order for both methods, so the pairing removes what they share), its mean and t
  interval, and how many seeds a wins, ties (exactly equal) and loses.
- ``marked``: the text of a difference, with a dagger where its interval contains 0 (the tables' notes say
  so): a difference the seeds do not resolve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

LEVEL = 0.95
UNRESOLVED = "†"
NOTE = (f"{UNRESOLVED}: the paired difference's 95 % interval (Student's t over the shared seeds) contains 0, so "
        "the seeds do not resolve its sign; W/T/L: seeds on which the row wins, ties (equal), loses")


def interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """(mean, half-width of the t interval at ``level``); half-width NaN for fewer than two values."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        raise ValueError("interval needs at least one value")
    if a.size < 2:
        return float(a.mean()), math.nan
    t = stats.t.ppf(0.5 + level / 2, a.size - 1)
    return float(a.mean()), float(t * a.std(ddof=1) / math.sqrt(a.size))


@dataclass(frozen=True)
class Paired:
    mean: float        # mean over the shared seeds of a - b
    half_width: float  # of its t interval (NaN with one seed)
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def resolved(self) -> bool:
        """Whether the interval excludes 0 (a NaN interval resolves nothing)."""
        return not math.isnan(self.half_width) and abs(self.mean) > self.half_width


def paired(a: Mapping[int, float], b: Mapping[int, float], level: float = LEVEL) -> Paired | None:
    """a - b over the seeds both have; None when they share none."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    mean, half = interval(d, level)
    return Paired(mean, half, int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum()))


def marked(p: Paired | None, decimals: int = 2) -> str | None:
    """"+2.06 ± 1.60 (8/0/2)" with the dagger when unresolved; None without shared seeds."""
    if p is None:
        return None
    half = "–" if math.isnan(p.half_width) else f"{p.half_width:.{decimals}f}"
    return (f"{p.mean:+.{decimals}f} ± {half} ({p.wins}/{p.ties}/{p.losses})"
            + ("" if p.resolved else f" {UNRESOLVED}"))


def mean_interval_text(values: Sequence[float], decimals: int = 2) -> str:
    """"94.61 ± 6.28": the mean and its 95 % half-width (or the mean alone for one value)."""
    mean, half = interval(values)
    return f"{mean:.{decimals}f}" if math.isnan(half) else f"{mean:.{decimals}f} ± {half:.{decimals}f}"


def within(paper: float, mean: float, half_width: float) -> bool | None:
    """Whether ``paper`` lies inside [mean - half_width, mean + half_width]; None without an interval."""
    if paper is None or mean is None or half_width is None or math.isnan(half_width):
        return None
    return abs(paper - mean) <= half_width
