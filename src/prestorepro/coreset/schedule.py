"""When an adaptive selection method reselects its subset (GRAD-MATCH Alg. 1, §4 "warm-starting").

Selection runs every ``interval`` epochs (R; GRAD-MATCH uses R = 20). GRAD-MATCH §4: the warm variants
"run T_f epochs of full training ... T_s = kappa T and T_f = T_s k / n", i.e. T_f full-data epochs whose
cost is that of kappa T subset epochs, then the subset epochs. At the paper's settings (T = 300,
kappa = 1/2, 10 %) that is 15 full + 150 subset epochs, not 15 + 285.

The epochs are laid out as in the authors' CORDS toolkit (its adaptive data loader), which the paper's
numbers come from: of T scheduled epochs, the first T_f = round(int(kappa T) k / n) train on the full
data (Python's ``round``, as CORDS), epochs T_f .. int(kappa T) - 1 are skipped (nothing is trained, the
learning-rate schedule still steps, as CORDS' training loop steps it once per epoch), and epochs
int(kappa T) .. T - 1 train on the subset, selected at the first of them and every R epochs after.
For kappa = 1/2 and even T this is exactly T_f + kappa T trained epochs. Without warm start
(kappa = 0) every epoch trains on the subset, selected at epoch 0 and every R epochs. Epochs are
numbered from 0.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SelectionSchedule:
    epochs: int            # T, scheduled epochs (the learning-rate schedule's length)
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
    def select_after(self) -> int:
        """int(kappa T): the first subset epoch (CORDS' ``select_after``)."""
        # the slack keeps a product such as 0.5 * 300 from flooring to 149 through rounding error
        return int(self.kappa * self.epochs + 1e-9)

    @property
    def warm_epochs(self) -> int:
        """T_f = round(T_s k / n) with T_s = int(kappa T): leading epochs trained on the full data."""
        return round(self.select_after * self.fraction) if self.kappa > 0 else 0

    @property
    def subset_epochs(self) -> int:
        return self.epochs - self.select_after

    @property
    def trained_epochs(self) -> int:
        return self.warm_epochs + self.subset_epochs

    def uses_full_data(self, epoch: int) -> bool:
        return epoch < self.warm_epochs

    def skips(self, epoch: int) -> bool:
        """Whether ``epoch`` trains nothing: between the warm start and the first subset epoch."""
        return self.warm_epochs <= epoch < self.select_after

    def reselects(self, epoch: int) -> bool:
        """Whether a new subset is selected at the start of ``epoch``."""
        first = self.select_after
        return first <= epoch < self.epochs and (epoch - first) % self.interval == 0

    def selection_epochs(self) -> list[int]:
        return list(range(self.select_after, self.epochs, self.interval))
