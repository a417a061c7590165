"""Data subset selection for the coreset baselines of SPEC §7: Random, CRAIG, GRAD-MATCH (and -PB), PBCS.

Every strategy is a function in ``SELECTORS`` with one signature (see ``base``):

    indices, weights = SELECTORS.get("craig")(budget, grads=G, labels=y, rng=np.random.default_rng(0))

Random-Warm and Full data are trainer settings, not selectors; ``SelectionSchedule`` says when to
reselect and how many warm-start epochs run on the full data; ``last_layer_gradients`` gives the
gradient proxies p_i - y_i. The stage's methods (``methods.CORESET_METHODS``, each a selection over the
current model) register themselves: every module of this package is imported with it, so a new method is
a module here and its catalogue entry (docs/adding-a-method.md).
"""
from prestorepro.coreset.base import SELECTORS, Selection, split_budget
from prestorepro.coreset.gradients import class_gradient_sums, last_layer_gradients, per_gradient_columns
from prestorepro.coreset.schedule import SelectionSchedule
from prestorepro.catalogue import check_implemented
from prestorepro.registry import import_submodules

# the selectors (SELECTORS) and the stage's methods (methods.CORESET_METHODS) register themselves
import_submodules(__name__, __path__)
from prestorepro.coreset import methods as _methods  # imported above; named here for the check

check_implemented("coreset", _methods.CORESET_METHODS)

__all__ = [
    "SELECTORS",
    "Selection",
    "SelectionSchedule",
    "class_gradient_sums",
    "last_layer_gradients",
    "per_gradient_columns",
    "split_budget",
]
