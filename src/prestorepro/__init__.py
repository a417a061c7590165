"""Reference reproduction of PRESTO (Sangani et al., ICML 2023) and its baselines."""

__version__ = "0.1.0"
