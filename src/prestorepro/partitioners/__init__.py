"""Table 1's partitioning baselines (paper §4, App. B.4; SPEC §5): clustering and mixture models that fix
the K parts before training. ``base`` holds what they share (the PCA, the fitting, the routing rules, the
``PARTITIONERS`` registry); each other module registers its methods there, and every module of this
package is imported when the package is, so a new partitioner is a module here and its catalogue entry
(docs/adding-a-method.md)."""
from prestorepro.registry import import_submodules

import_submodules(__name__, __path__)
