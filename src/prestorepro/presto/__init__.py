"""PRESTO: simultaneous data partitioning and mixture-component training (paper §3, Algorithm 1)."""
