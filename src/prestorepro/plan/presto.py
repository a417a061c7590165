"""PRESTO's runs beyond Table 1's own: the Fig. 7 sweep over K and the per-round figure's inputs
(workflow/rules/presto.smk, workflow/rules/report.smk)."""
from __future__ import annotations

from prestorepro.plan.base import TABLE_FORMATS, PlanBase


class PrestoPlan(PlanBase):
    def __init__(self, config):
        super().__init__(config)
        p = config["presto"]
        self.K_SWEEP = p["k_sweep"]
        self.K_SWEEP_SEEDS = p["k_sweep_seeds"] or self.SEEDS
        if self.K_SWEEP and self.IMAGE_DATASETS and "presto" not in self.METHODS:
            from prestorepro.config import ConfigError

            raise ConfigError("config key presto.k_sweep: the accuracy-vs-K figure (Fig. 7) runs PRESTO as a Table-1 "
                              "method, but 'presto' is not in table1.methods; add it there or set presto.k_sweep: []")

    def k_sweep_metrics(self, dataset: str) -> list[str]:
        return self.files("table1_metrics", dataset=dataset, k=self.K_SWEEP, method="presto", seed=self.K_SWEEP_SEEDS)

    def all_k_sweep_metrics(self) -> list[str]:
        return [f for d in self.IMAGE_DATASETS for f in self.k_sweep_metrics(d)]

    def all_table1_metrics(self) -> list[str]:
        return [f for d in self.IMAGE_DATASETS for f in self.table1_metrics(d)]

    def presto_round_metrics(self, wildcards) -> list[str]:
        """The PRESTO runs behind the per-round figure: the synthetic experiment, or Table 1's PRESTO at K."""
        d = wildcards.dataset
        if d in self.SYNTHETIC_DATASETS:
            return self.files("synthetic_metrics", dataset=d, seed=self.SEEDS)
        return self.files("table1_metrics", dataset=d, k=self.dataset_k(d), method="presto", seed=self.SEEDS)

    def synthetic_seed_metrics(self, wildcards) -> list[str]:
        return self.files("synthetic_metrics", dataset=wildcards.dataset, seed=self.SEEDS)

    def synthetic_method_metrics(self, wildcards) -> list[str]:
        """The runs of the methods beside PRESTO on a synthetic dataset (every seed)."""
        return self.files("synthetic_method_metrics", dataset=wildcards.dataset, smethod=self.SYNTHETIC_METHODS,
                          seed=self.SEEDS)

    def rounds_datasets(self) -> list[str]:
        return self.SYNTHETIC_DATASETS + (self.IMAGE_DATASETS if "presto" in self.METHODS else [])

    def presto_targets(self) -> list[str]:
        F, T = self.FORMATS, TABLE_FORMATS
        out = self.files("features", dataset=self.IMAGE_DATASETS)
        if self.IMAGE_DATASETS:
            out += self.files("table", name="table1", ext=T) + self.files("table", name="params", ext=T)
        for d in self.SYNTHETIC_DATASETS:
            out += self.files("prepared", dataset=d)
            out += self.files("figure", name=f"fig6_{d}", ext=F)
            out += self.files("figure", name=[f"fig6_{d}_{m}" for m in self.SYNTHETIC_METHODS], ext=F)
            out += self.files("synthetic_summary", dataset=d)
        out += self.files("figure", name=[f"presto_rounds_{d}" for d in self.rounds_datasets()], ext=F)
        out += self.files("table", name=[f"synthetic_{d}" for d in self.SYNTHETIC_DATASETS], ext=T)
        if self.K_SWEEP and self.IMAGE_DATASETS:
            out += self.files("figure", name="fig7", ext=F) + self.files("table", name="fig7_k_sweep", ext=T)
        return out
