"""Training loops: the fused K-component trainer (PRESTO and its baselines) and a single-model trainer."""
