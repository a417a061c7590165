"""When an adaptive selection method reselects its subset (GRAD-MATCH Alg. 1, §4 "warm-starting").

Selection runs every ``interval`` epochs (R; GRAD-MATCH uses R = 20). The warm variants first train
on the full data for T_f = ceil(kappa * T * k / n) epochs -- GRAD-MATCH §4 sets T_f = T_s k / n with
T_s = kappa T, so the full-data epochs cost what kappa T subset epochs would; the authors' CORDS
code rounds up and keeps T epochs in total, which is what this schedule does -- then select at the
first subset epoch and every ``interval`` epochs after it. Epochs are numbered from 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SelectionSchedule:
    epochs: int            # T, total training epochs
    interval: int          # R, epochs between selections
    kappa: float = 0.0     # warm-start fraction (0: no warm start; GRAD-MATCH-WARM uses 1/2)
    fraction: float = 1.0  # k / n, the subset fraction

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.interval < 1:
            raise ValueError(f"epochs and interval must be >= 1, got epochs={self.epochs}, interval={self.interval}")
        if not 0.0 <= self.kappa <= 1.0:
            raise ValueError(f"kappa must lie in [0, 1], got {self.kappa}")
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must lie in (0, 1], got {self.fraction}")

    @property
    def warm_epochs(self) -> int:
        """T_f: leading epochs trained on the full data."""
        # the small slack keeps e.g. 0.5 * 300 * 0.1 = 15.000000000000002 from rounding up to 16
        return min(self.epochs, math.ceil(self.kappa * self.epochs * self.fraction - 1e-9))

    def uses_full_data(self, epoch: int) -> bool:
        return epoch < self.warm_epochs

    def reselects(self, epoch: int) -> bool:
        """Whether a new subset is selected at the start of ``epoch``."""
        first = self.warm_epochs
        return first <= epoch < self.epochs and (epoch - first) % self.interval == 0

    def selection_epochs(self) -> list[int]:
        return list(range(self.warm_epochs, self.epochs, self.interval))
