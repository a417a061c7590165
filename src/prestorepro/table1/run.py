"""Table 1: PRESTO against partitioning and mixture baselines (paper §4.2, App. B.4; SPEC §5, §5b).

Every mixture trains the same fused K-component model on the same embeddings with the same training budget
(rounds x epochs epochs per component). The runners, one module each in this package, register themselves
in ``base.METHODS`` under their catalogue key, by kind (``prestorepro.catalogue``):

- ``partitioned``: every ``partitioner`` (the clustering baselines, the random partition): the partition is
  fixed up front, then the components train on it;
- ``gated``: PRESTO (Algorithm 1 from the dataset's initial partition) and Learn-MLR (the same alternating
  loop from a random partition, no size constraint, epsilon 0, every round kept);
- ``mixture_of_experts``: the gate and the K experts trained jointly on the mixture likelihood;
- ``single_model``: one network of PRESTO's total parameter count, trained on every point.

Every run is then evaluated under the predictors of its catalogue entry, on the same trained model
(``predictors``): the router (§2.2: one component per test instance, by the partitioner's own rule or the
gate), the combiner (App. B.2's additional classifier over the K components' logits, the authors' code), a
mixture of experts' own gate-weighted mixture, the one model's own prediction.
"""
from __future__ import annotations

from prestorepro.features import Features
from prestorepro.table1.base import METHODS, RunSpec, train_fixed_partition  # noqa: F401  (the package's API)


def run_method(feats: Features, spec: RunSpec, *, log=lambda m: None, checkpoint_path=None) -> dict:
    """The Table-1 run ``spec`` (its ``method``'s registered runner)."""
    return METHODS.get(spec.method)(feats, spec, log=log, checkpoint_path=checkpoint_path)
