"""Table 1 (paper §4.1, App. B.4; SPEC §5, §5b): PRESTO, Learn-MLR, the partitioning baselines and the
baselines beyond the paper trained on the same embeddings with the same budget (``run``), each evaluated
under its test-time predictors (``predictors``). Every module of this package is imported with it, so a
Table-1 method's runner registers itself by being here (docs/adding-a-method.md); the catalogue's Table-1
entries are then checked to have one."""
from prestorepro.catalogue import check_implemented
from prestorepro.registry import import_submodules

import_submodules(__name__, __path__)

from prestorepro.table1.base import METHODS  # noqa: E402

check_implemented("table1", METHODS)
