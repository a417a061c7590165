"""The workflow's plan: every setting, file list and input function the rules read, computed from the
validated config alone (no Snakemake, no torch), so it is testable on its own and the rule files hold rules
only. ``workflow/rules/common.smk`` builds one ``Plan(config)``; a rule names what it reads by stage
(``P.run.path("features")``, ``P.compress.guide_inputs``, ``P.coreset.outputs()``...), and ``rule all`` asks for
``P.all_targets()``.

``P.run`` (``base.Run``) is the configured run every stage reads: its results root, datasets, Table-1 methods,
seeds and training settings. Each stage's part is a small class of its own module holding that run
(``presto``, ``compress``, ``coreset``, ``ablation``); ``Plan`` joins them and adds what the report reads of
all of them.
"""
from __future__ import annotations

from typing import Mapping

from prestorepro.plan.ablation import AblationPlan
from prestorepro.plan.base import TABLE_FORMATS, Run
from prestorepro.plan.compress import CompressPlan
from prestorepro.plan.coreset import CoresetPlan
from prestorepro.plan.presto import PrestoPlan


class Plan:
    def __init__(self, config: Mapping):
        self.run = Run(config)
        self.presto = PrestoPlan(self.run)
        self.compress = CompressPlan(self.run)
        self.coreset = CoresetPlan(self.run)
        self.ablation = AblationPlan(self.run)

    def comparison_tables(self, wildcards=None) -> dict[str, str]:
        """Table CSVs behind paper_comparison.md; Table 2 only where the compress stage builds it."""
        run = self.run

        def csv(name):
            return run.path("table", name=name, ext="csv")

        tables = {"table4": csv("table4"), "table5": csv("table5")}
        if run.image_datasets:
            tables.update(table1=csv("table1"), params=csv("params"))
            if self.presto.k_sweep:
                tables["fig7"] = csv("fig7_k_sweep")
            if self.compress.targets():
                tables["table2"] = csv("table2")
        tables.update({f"synthetic_{d}": csv(f"synthetic_{d}") for d in run.synthetic_datasets})
        return tables

    def all_targets(self) -> list[str]:
        """Every final output of the configured run: what ``snakemake`` with no target builds."""
        report = (self.run.files("table", name=["table4", "table5"], ext=TABLE_FORMATS)
                  + self.run.files("paper_comparison", ext="md"))
        return list(dict.fromkeys(self.presto.targets() + self.compress.targets() + self.coreset.targets()
                                  + self.ablation.targets() + report))
