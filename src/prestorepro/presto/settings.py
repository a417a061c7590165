"""The settings of one run of Algorithm 1 (App. B.3 defaults; SPEC §4)."""
from __future__ import annotations

from dataclasses import dataclass


SINGLETON_MODES = ("current", "trained")
TRAIN_MODES = ("fused", "sequential")
KEEP_RULES = ("decreased", "every")
# "bound": the next partition minimises the modular bound of Eq. 8 (PRESTO); "lowest_loss": every point
# goes to the component with its lowest loss (Learn-MLR's alternating minimisation, App. B.4)
ASSIGN_RULES = ("bound", "lowest_loss")
# How PRESTO's next partition is proposed: name -> (score, solver). "bound": Eq. 8's modular upper bound
# plus epsilon times the distance (Algorithm 1, App. B.3); "authors": the authors' score from the
# combiner's weights (``presto.combiner.authors_scores``) plus the same distance term, "authors_flipped"
# with its classifier term negated. "exact": the size-constrained optimum (``assignment``); "greedy": the
# authors' greedy assignment, each part capped at the upper size bound, no minimum.
REASSIGN_RULES = {
    "bound": ("bound", "exact"),
    "bound_greedy": ("bound", "greedy"),
    "authors": ("authors", "greedy"),
    "authors_exact": ("authors", "exact"),
    "authors_flipped": ("authors_flipped", "greedy"),
}


@dataclass
class PrestoSettings:
    k: int
    rounds: int = 30            # "Iterations" of Algorithm 1 (App. B.3: 30)
    epochs: int = 10            # Train() epochs per round (App. B.3: 10)
    batch_size: int = 256
    lr: float = 0.01            # Adam (App. B.3)
    lam: float = 1e-4           # L2 coefficient lambda (App. B.3)
    alpha: float = 1.0          # alpha_G of Eq. 8; never given in the paper
    epsilon: float = 3e-3       # weight of the distance term (App. B.3)
    leeway: int | None = 0      # None: no size constraint (Learn-MLR)
    singleton: str = "current"  # how G({(i,k)}) is estimated
    singleton_steps: int = 5
    singleton_lr: float = 0.01
    keep: str = "decreased"     # "decreased": keep a round only if G decreased (App. A.3); "every"
    max_moves: float = 1.0      # fraction of N that may change part per round; 1.0: the whole base (§3.2)
    loss: str = "ce"
    mode: str = "fused"         # "sequential": one component and its part on the device at a time (§2.4)
    assign: str = "bound"       # how the next partition is chosen (ASSIGN_RULES)
    reassign: str = "bound"     # PRESTO's proposal: its score and solver (REASSIGN_RULES)
    combiner_epochs: int = 10   # the combiner behind the authors' score (App. B.3: 10 epochs)
    combiner_weight_decay: float = 1e-4  # the authors' code

    @property
    def score(self) -> str:
        return REASSIGN_RULES[self.reassign][0]

    @property
    def solver(self) -> str:
        return REASSIGN_RULES[self.reassign][1]

    def __post_init__(self):
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.singleton not in SINGLETON_MODES:
            raise ValueError(f"singleton must be one of {', '.join(SINGLETON_MODES)}, got {self.singleton!r}")
        if self.mode not in TRAIN_MODES:
            raise ValueError(f"mode must be one of {', '.join(TRAIN_MODES)}, got {self.mode!r}")
        if self.assign not in ASSIGN_RULES:
            raise ValueError(f"assign must be one of {', '.join(ASSIGN_RULES)}, got {self.assign!r}")
        if self.reassign not in REASSIGN_RULES:
            raise ValueError(f"reassign must be one of {', '.join(REASSIGN_RULES)}, got {self.reassign!r}")
        if self.solver == "greedy" and self.max_moves < 1:
            raise ValueError(f"reassign {self.reassign!r} assigns greedily and cannot bound the moves per round "
                             f"(max_moves {self.max_moves}); use max_moves 1.0 or an exact reassign rule")
        if self.score != "bound" and self.loss != "ce":
            raise ValueError(f"reassign {self.reassign!r} scores with the combiner over the components' class "
                             f"logits, which a {self.loss!r} component does not have; use bound or bound_greedy")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_RULES)}, got {self.keep!r}")
        if not 0 < self.max_moves <= 1:
            raise ValueError(f"max_moves must be a fraction of N in (0, 1], got {self.max_moves}")
        if self.rounds < 1 or self.epochs < 1:
            raise ValueError(f"rounds and epochs must be >= 1, got {self.rounds} and {self.epochs}")
