"""Parameter budgets of the resource-constrained comparison (§4.2), and the guide networks each method
needs (torch-free: the workflow plans with it). Design: docs/compress.md."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from prestorepro.catalogue import method as catalogue_method, methods

GUIDE_ROLES = ("teacher", "assistant", "reference")
# the distilled students and the guides each reads (the catalogue's: KD a teacher, DGKD a teacher and its
# assistant, App. B.5)
STUDENTS = {m.key: m.guides for m in methods("compress") if m.role == "student"}


def guide_roles(method: str, prune_at: str) -> list[str]:
    """The trained guides a method reads: a student its catalogue guides; a pruning method the trained
    reference only when it prunes trained weights (``prune_at: trained``)."""
    entry = catalogue_method("compress", method)
    if entry.role == "pruning":
        return ["reference"] if prune_at == "trained" else []
    return list(entry.guides)


def student_targets(source: str, presto_total: int, cfg: Mapping) -> list[int]:
    """The students' sweep budgets: ``student_sweep_points`` values evenly spaced over the paper's
    range for ``source`` (§4.2), or over ``presto_total * student_param_scale`` for other sources."""
    n = int(cfg["student_sweep_points"])
    if n < 1:
        return []
    rng = cfg["student_param_range"].get(source)
    lo, hi = (rng if rng is not None else [presto_total * s for s in cfg["student_param_scale"]])
    if not 0 < lo <= hi:
        raise ValueError(f"student parameter range for {source!r} must satisfy 0 < low <= high, got [{lo}, {hi}]; "
                         "fix compress.student_param_range / student_param_scale")
    values = [(lo + hi) / 2] if n == 1 else np.linspace(lo, hi, n).tolist()
    return [int(round(v)) for v in values]


def resolve_target(point: str, source: str, presto_total: int, cfg: Mapping) -> int:
    """Parameter budget of a point: ``table2`` -> PRESTO's total; ``sweep<i>`` -> i-th student budget."""
    if point == "table2":
        return int(presto_total)
    if point.startswith("sweep") and point[5:].isdigit():
        targets = student_targets(source, presto_total, cfg)
        i = int(point[5:])
        if i >= len(targets):
            raise ValueError(f"sweep point {point!r} does not exist: compress.student_sweep_points gives "
                             f"{len(targets)} point(s) ({targets})")
        return targets[i]
    raise ValueError(f"unknown budget point {point!r}; valid: table2, sweep0, sweep1, ...")
