"""The rules of Algorithm 1 that a config chooses by name (SPEC §4). Plain names, nothing imported: the config
checks (``prestorepro.config_checks``) read them as ``presto.settings`` does."""
from __future__ import annotations

SINGLETON_MODES = ("current", "trained")
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
