"""PRESTO's and the Table-1 methods' runs (workflow/rules/presto.smk) and what the report reads of them: Table 1,
the Fig. 7 sweep over K, the synthetic experiment and the per-round figure."""
from __future__ import annotations

from prestorepro.plan.base import TABLE_FORMATS, Run


class PrestoPlan:
    def __init__(self, run: Run):
        self.run = run
        p = run.config["presto"]
        self.k_sweep = p["k_sweep"]
        self.k_sweep_seeds = p["k_sweep_seeds"] or run.seeds
        if self.k_sweep and run.image_datasets and "presto" not in run.table1_methods:
            from prestorepro.config import ConfigError

            raise ConfigError("config key presto.k_sweep: the accuracy-vs-K figure (Fig. 7) runs PRESTO as a Table-1 "
                              "method, but 'presto' is not in table1.methods; add it there or set presto.k_sweep: []")

    def k_sweep_metrics(self, dataset: str) -> list[str]:
        return self.run.files("table1_metrics", dataset=dataset, k=self.k_sweep, method="presto",
                              seed=self.k_sweep_seeds)

    def all_k_sweep_metrics(self) -> list[str]:
        return [f for d in self.run.image_datasets for f in self.k_sweep_metrics(d)]

    def all_table1_metrics(self) -> list[str]:
        return [f for d in self.run.image_datasets for f in self.run.table1_metrics(d)]

    def round_metrics(self, wildcards) -> list[str]:
        """The PRESTO runs behind the per-round figure: the synthetic experiment, or Table 1's PRESTO at K."""
        run, d = self.run, wildcards.dataset
        if d in run.synthetic_datasets:
            return run.files("synthetic_metrics", dataset=d, seed=run.seeds)
        return run.files("table1_metrics", dataset=d, k=run.dataset_k(d), method="presto", seed=run.seeds)

    def synthetic_seed_metrics(self, wildcards) -> list[str]:
        return self.run.files("synthetic_metrics", dataset=wildcards.dataset, seed=self.run.seeds)

    def synthetic_method_metrics(self, wildcards) -> list[str]:
        """The runs of the methods beside PRESTO on a synthetic dataset (every seed)."""
        return self.run.files("synthetic_method_metrics", dataset=wildcards.dataset,
                              smethod=self.run.synthetic_methods, seed=self.run.seeds)

    def rounds_datasets(self) -> list[str]:
        run = self.run
        return run.synthetic_datasets + (run.image_datasets if "presto" in run.table1_methods else [])

    def targets(self) -> list[str]:
        run, F, T = self.run, self.run.formats, TABLE_FORMATS
        out = run.files("features", dataset=run.image_datasets)
        if run.image_datasets:
            out += run.files("table", name="table1", ext=T) + run.files("table", name="params", ext=T)
        for d in run.synthetic_datasets:
            out += run.files("prepared", dataset=d)
            out += run.files("figure", name=f"fig6_{d}", ext=F)
            out += run.files("figure", name=[f"fig6_{d}_{m}" for m in run.synthetic_methods], ext=F)
            out += run.files("synthetic_summary", dataset=d)
        out += run.files("figure", name=[f"presto_rounds_{d}" for d in self.rounds_datasets()], ext=F)
        out += run.files("table", name=[f"synthetic_{d}" for d in run.synthetic_datasets], ext=T)
        if self.k_sweep and run.image_datasets:
            out += run.files("figure", name="fig7", ext=F) + run.files("table", name="fig7_k_sweep", ext=T)
        return out
