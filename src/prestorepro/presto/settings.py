"""The settings of one run of Algorithm 1 (SPEC §4), built from the config (its schema holds the defaults)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from prestorepro.presto.rules import ASSIGN_RULES, KEEP_RULES, REASSIGN_RULES, SINGLETON_MODES

# The keys of the presto section that are Algorithm 1's own (not its budget): a synthetic run takes them from
# the presto section and its budget from the synthetic section.
ALGORITHM_FIELDS = ("alpha", "singleton", "singleton_steps", "singleton_lr", "keep", "max_moves", "reassign",
                    "combiner_epochs", "combiner_weight_decay")
BUDGET_FIELDS = ("rounds", "epochs", "batch_size", "lr", "lam")
# needed only by the authors' score (reassign authors*), so the synthetic runs do not read them
OPTIONAL_FIELDS = ("combiner_epochs", "combiner_weight_decay")


@dataclass
class PrestoSettings:
    """One run of Algorithm 1. The values come from the config only (``from_config``; the schema holds
    their defaults and the paper's values): nothing here has a default of its own but the kind of run
    (``loss``, ``assign``), which the caller's method fixes, not the config. Fused or sequential training
    (§2.4) is not a setting: ``run_presto``'s ``compute_device`` alone chooses it."""

    k: int
    rounds: int                 # "Iterations" of Algorithm 1 (App. B.3: 30)
    epochs: int                 # Train() epochs per round (App. B.3: 10)
    batch_size: int
    lr: float                   # Adam (App. B.3: 0.01)
    lam: float                  # L2 coefficient lambda (App. B.3: 1e-4)
    alpha: float                # alpha_G of Eq. 8; never given in the paper
    epsilon: float              # weight of the distance term (App. B.3)
    leeway: int | None          # None: no size constraint (Learn-MLR)
    singleton: str              # how G({(i,k)}) is estimated
    singleton_steps: int
    singleton_lr: float
    keep: str                   # "decreased": keep a round only if G decreased (App. A.3); "every"
    max_moves: float            # fraction of N that may change part per round; 1.0: the whole base (§3.2)
    reassign: str               # PRESTO's proposal: its score and solver (REASSIGN_RULES)
    combiner_epochs: int | None  # the combiner behind the authors' score (needed by reassign authors*)
    combiner_weight_decay: float | None
    loss: str = "ce"            # the components' loss: cross-entropy, or "hinge" for App. C's SVMs
    assign: str = "bound"       # how the next partition is chosen (ASSIGN_RULES): Learn-MLR's is lowest_loss

    @classmethod
    def from_config(cls, algorithm: Mapping, budget: Mapping, *, k: int, epsilon: float, leeway: int | None,
                    **overrides) -> "PrestoSettings":
        """The one mapping from config to settings: Algorithm 1's own keys from ``algorithm`` (the presto
        section), the budget from ``budget`` (the presto section for Table 1, the synthetic section for
        App. C), epsilon and the leeway of the dataset; ``overrides`` for what a method fixes itself
        (Learn-MLR's rules, the hinge loss)."""
        missing = [f for f in ALGORITHM_FIELDS if f not in algorithm and f not in OPTIONAL_FIELDS] + [
            f for f in BUDGET_FIELDS if f not in budget]
        if missing:
            raise KeyError(f"PrestoSettings.from_config: the config gives no {', '.join(missing)} (validate it first: "
                           "the schema fills every default)")
        values = {f: algorithm.get(f) for f in ALGORITHM_FIELDS}
        values.update({f: budget[f] for f in BUDGET_FIELDS})
        values.update(k=int(k), epsilon=float(epsilon), leeway=leeway)
        values.update(overrides)
        return cls(**values)

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
        if self.assign not in ASSIGN_RULES:
            raise ValueError(f"assign must be one of {', '.join(ASSIGN_RULES)}, got {self.assign!r}")
        if self.reassign not in REASSIGN_RULES:
            raise ValueError(f"reassign must be one of {', '.join(REASSIGN_RULES)}, got {self.reassign!r}")
        if self.solver == "greedy" and self.max_moves < 1:
            raise ValueError(f"reassign {self.reassign!r} assigns greedily and cannot bound the moves per round "
                             f"(max_moves {self.max_moves}); use max_moves 1.0 or an exact reassign rule")
        if self.score != "bound" and (self.combiner_epochs is None or self.combiner_weight_decay is None):
            raise ValueError(f"reassign {self.reassign!r} trains a combiner every round: give combiner_epochs and "
                             "combiner_weight_decay (presto section)")
        if self.score != "bound" and self.loss != "ce":
            raise ValueError(f"reassign {self.reassign!r} scores with the combiner over the components' class "
                             f"logits, which a {self.loss!r} component does not have; use bound or bound_greedy")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_RULES)}, got {self.keep!r}")
        if not 0 < self.max_moves <= 1:
            raise ValueError(f"max_moves must be a fraction of N in (0, 1], got {self.max_moves}")
        if self.rounds < 1 or self.epochs < 1:
            raise ValueError(f"rounds and epochs must be >= 1, got {self.rounds} and {self.epochs}")
