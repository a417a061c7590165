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
from prestorepro.plan.base import fill
from prestorepro.plan.compress import CompressPlan
from prestorepro.plan.coreset import CoresetPlan
from prestorepro.plan.presto import PrestoPlan


class Plan(PrestoPlan, CompressPlan, CoresetPlan, AblationPlan):
    def __init__(self, config: Mapping):
        super().__init__(config)

    def comparison_tables(self, wildcards=None) -> dict[str, str]:
        """Table CSVs behind paper_comparison.md; Table 2 only where the compress stage builds it."""
        R = self.R
        tables = {"table4": f"{R}/tables/table4.csv", "table5": f"{R}/tables/table5.csv"}
        if self.IMAGE_DATASETS:
            tables.update(table1=f"{R}/tables/table1.csv", params=f"{R}/tables/params.csv")
            if self.K_SWEEP:
                tables["fig7"] = f"{R}/tables/fig7_k_sweep.csv"
            if self.compress_targets():
                tables["table2"] = f"{R}/tables/table2.csv"
        tables.update({f"synthetic_{d}": f"{R}/tables/synthetic_{d}.csv" for d in self.SYNTHETIC_DATASETS})
        return tables

    def all_targets(self) -> list[str]:
        """Every final output of the configured run: what ``snakemake`` with no target builds."""
        R = self.R
        report = (fill(f"{R}/tables/{{t}}.{{ext}}", t=["table4", "table5"], ext=["csv", "md", "tex"])
                  + [f"{R}/paper_comparison.md"])
        return list(dict.fromkeys(self.presto_targets() + self.compress_targets() + self.coreset_targets()
                                  + self.ablation_targets() + report))
