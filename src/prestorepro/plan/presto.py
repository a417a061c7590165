"""PRESTO's runs beyond Table 1's own: the Fig. 7 sweep over K and the per-round figure's inputs
(workflow/rules/presto.smk, workflow/rules/report.smk)."""
from __future__ import annotations

from prestorepro.plan.base import PlanBase, fill


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
        return fill(f"{self.R}/table1/{dataset}/k{{k}}/presto/seed{{seed}}/metrics.json", k=self.K_SWEEP,
                    seed=self.K_SWEEP_SEEDS)

    def all_k_sweep_metrics(self) -> list[str]:
        return [f for d in self.IMAGE_DATASETS for f in self.k_sweep_metrics(d)]

    def all_table1_metrics(self) -> list[str]:
        return [f for d in self.IMAGE_DATASETS for f in self.table1_metrics(d)]

    def presto_round_metrics(self, wildcards) -> list[str]:
        """The PRESTO runs behind the per-round figure: the synthetic experiment, or Table 1's PRESTO at K."""
        d = wildcards.dataset
        if d in self.SYNTHETIC_DATASETS:
            return fill(f"{self.R}/synthetic/{d}/seed{{seed}}/metrics.json", seed=self.SEEDS)
        return fill(f"{self.R}/table1/{d}/k{self.dataset_k(d)}/presto/seed{{seed}}/metrics.json", seed=self.SEEDS)

    def synthetic_seed_metrics(self, wildcards) -> list[str]:
        return fill(f"{self.R}/synthetic/{wildcards.dataset}/seed{{seed}}/metrics.json", seed=self.SEEDS)

    def synthetic_method_metrics(self, wildcards) -> list[str]:
        """The runs of the methods beside PRESTO on a synthetic dataset (every seed)."""
        return fill(f"{self.R}/synthetic/{wildcards.dataset}/{{m}}/seed{{seed}}/metrics.json", m=self.SYNTHETIC_METHODS,
                    seed=self.SEEDS)

    def rounds_datasets(self) -> list[str]:
        return self.SYNTHETIC_DATASETS + (self.IMAGE_DATASETS if "presto" in self.METHODS else [])

    def presto_targets(self) -> list[str]:
        R, F = self.R, self.FORMATS
        out = [f"{R}/embeddings/{d}/features.npz" for d in self.IMAGE_DATASETS]
        if self.IMAGE_DATASETS:
            out += fill(f"{R}/tables/table1.{{ext}}", ext=["csv", "md", "tex"])
            out += fill(f"{R}/tables/params.{{ext}}", ext=["csv", "md", "tex"])
        for d in self.SYNTHETIC_DATASETS:
            out += [f"{R}/data/{d}/prepared.npz"]
            out += fill(f"{R}/figures/fig6_{d}.{{ext}}", ext=F)
            out += fill(f"{R}/figures/fig6_{d}_{{m}}.{{ext}}", m=self.SYNTHETIC_METHODS, ext=F)
            out += [f"{R}/synthetic/{d}/summary.json"]
        out += fill(f"{R}/figures/presto_rounds_{{d}}.{{ext}}", d=self.rounds_datasets(), ext=F)
        out += fill(f"{R}/tables/synthetic_{{d}}.{{ext}}", d=self.SYNTHETIC_DATASETS, ext=["csv", "md", "tex"])
        if self.K_SWEEP and self.IMAGE_DATASETS:
            out += fill(f"{R}/figures/fig7.{{ext}}", ext=F) + fill(f"{R}/tables/fig7_k_sweep.{{ext}}", ext=["csv", "md", "tex"])
        return out
