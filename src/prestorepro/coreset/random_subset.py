"""Random: a uniform subset without replacement, every weight 1 (the Random baseline of SPEC §7)."""
from __future__ import annotations

from typing import Any

import numpy as np

from prestorepro.coreset.base import SELECTORS, Selection, check_budget, check_labels, check_rng, finish


@SELECTORS.register("random")
def select_random(budget: int, *, grads: Any = None, labels: Any, rng: np.random.Generator) -> Selection:
    """``budget`` distinct points drawn uniformly; ``grads`` is not needed (the size comes from labels)."""
    y = check_labels(labels)
    budget = check_budget(budget, y.size)
    idx = check_rng(rng).choice(y.size, size=budget, replace=False)
    return finish(idx, np.ones(budget), budget, y.size)
