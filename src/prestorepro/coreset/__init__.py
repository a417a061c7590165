"""Data subset selection for the coreset baselines of SPEC §7: Random, CRAIG, GRAD-MATCH (and -PB), PBCS.

Every strategy is a function in ``SELECTORS`` with one signature (see ``base``):

    indices, weights = SELECTORS.get("craig")(budget, grads=G, labels=y, rng=np.random.default_rng(0))

Random-Warm and Full data are trainer settings, not selectors; ``SelectionSchedule`` says when to
reselect and how many warm-start epochs run on the full data; ``last_layer_gradients`` gives the
gradient proxies p_i - y_i.
"""
from prestorepro.coreset.base import SELECTORS, Selection, split_budget
from prestorepro.coreset.gradients import class_gradient_sums, last_layer_gradients, per_gradient_columns
from prestorepro.coreset.schedule import SelectionSchedule

# importing the strategy modules registers them in SELECTORS
from prestorepro.coreset import craig, gradmatch, pbcs, random_subset  # noqa: E402,F401  isort:skip

__all__ = [
    "SELECTORS",
    "Selection",
    "SelectionSchedule",
    "class_gradient_sums",
    "last_layer_gradients",
    "per_gradient_columns",
    "split_budget",
]
