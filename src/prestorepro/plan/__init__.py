"""The workflow's plan: every setting, file list and input function the rules read, computed from the
validated config alone (no Snakemake, no torch), so it is testable on its own and the rule files hold rules
only. ``workflow/rules/common.smk`` builds one ``Plan(config)``; a rule names its attributes
(``P.table1_metrics``, ``P.coreset_settings``...), and ``rule all`` asks for ``P.all_targets()``.

Each stage's part is a module (``presto``, ``compress``, ``coreset``, ``ablation``); ``Plan`` joins them and
adds what the report reads of all of them.
"""
from __future__ import annotations

from typing import Mapping

from prestorepro.plan.ablation import AblationPlan
from prestorepro.plan.base import TABLE_FORMATS
from prestorepro.plan.compress import CompressPlan
from prestorepro.plan.coreset import CoresetPlan
from prestorepro.plan.presto import PrestoPlan


class Plan(PrestoPlan, CompressPlan, CoresetPlan, AblationPlan):
    def __init__(self, config: Mapping):
        super().__init__(config)

    def comparison_tables(self, wildcards=None) -> dict[str, str]:
        """Table CSVs behind paper_comparison.md; Table 2 only where the compress stage builds it."""
        def csv(name):
            return self.path("table", name=name, ext="csv")

        tables = {"table4": csv("table4"), "table5": csv("table5")}
        if self.IMAGE_DATASETS:
            tables.update(table1=csv("table1"), params=csv("params"))
            if self.K_SWEEP:
                tables["fig7"] = csv("fig7_k_sweep")
            if self.compress_targets():
                tables["table2"] = csv("table2")
        tables.update({f"synthetic_{d}": csv(f"synthetic_{d}") for d in self.SYNTHETIC_DATASETS})
        return tables

    def all_targets(self) -> list[str]:
        """Every final output of the configured run: what ``snakemake`` with no target builds."""
        report = (self.files("table", name=["table4", "table5"], ext=TABLE_FORMATS)
                  + self.files("paper_comparison", ext="md"))
        return list(dict.fromkeys(self.presto_targets() + self.compress_targets() + self.coreset_targets()
                                  + self.ablation_targets() + report))
