"""The runners of the Table-1 methods that also run on App. C's synthetic data beside PRESTO (catalogue
``synthetic``; PRESTO's own experiment is ``synthetic.run``): ``run(data, synthetic, options, seed, device,
*, log, checkpoint_path, label) -> (metrics, arrays)`` in PRESTO's synthetic format (``final``, ``history``;
the Fig. 6 arrays)."""
from __future__ import annotations

from typing import Callable

from prestorepro.catalogue import synthetic_methods
from prestorepro.registry import Registry
from prestorepro.synthetic.mixture import run_synthetic_mixture

SYNTHETIC_RUNNERS: Registry[Callable] = Registry("synthetic runner", stage="table1")
SYNTHETIC_RUNNERS.register("moe")(run_synthetic_mixture)

_missing = [m for m in synthetic_methods() if m != "presto" and m not in SYNTHETIC_RUNNERS]
if _missing:
    raise RuntimeError(f"catalogue: {', '.join(_missing)} say synthetic=True but have no synthetic runner; register "
                       "one in prestorepro.synthetic.methods (docs/adding-a-method.md)")
