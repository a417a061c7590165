"""Settings of Algorithm 1 from the config schema's defaults, for tests that set a few values."""
from __future__ import annotations

from prestorepro.config import section_defaults
from prestorepro.presto.settings import PrestoSettings


def presto_settings(*, k: int, **overrides) -> PrestoSettings:
    """Settings from the schema's defaults (the presto section's; epsilon and the leeway the synthetic
    section's), with ``overrides`` (any field of ``PrestoSettings``)."""
    presto, synthetic = section_defaults("presto"), section_defaults("synthetic")
    epsilon, leeway = overrides.pop("epsilon", synthetic["epsilon"]), overrides.pop("leeway", synthetic["leeway"])
    return PrestoSettings.from_config(presto, presto, k=k, epsilon=epsilon, leeway=leeway, **overrides)
