"""Table 1 (paper §4.1, App. B.4; SPEC §5): PRESTO, Learn-MLR and the partitioning baselines trained on the same
embeddings with the same budget (``run``), each evaluated under both test-time predictors (``predictors``)."""
