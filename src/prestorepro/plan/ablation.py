"""The ablation of PRESTO (``prestorepro.ablation``; workflow/rules/ablation.smk): one factor at a time away
from the configured setting, on every dataset, outputs under results/ablation/. The configured setting is
the Table-1 PRESTO run (image datasets) or the synthetic experiment, unless ablation.rounds caps the runs:
then it runs there too, as the variant "configured", with the same cap."""
from __future__ import annotations

from prestorepro.ablation import CONFIGURED, applies, apply_variant, run_variants, variants
from prestorepro.plan.base import TABLE_FORMATS, PlanBase


class AblationPlan(PlanBase):
    def __init__(self, config):
        super().__init__(config)
        self.ABLATION = a = config["ablation"]
        self.ABLATION_SEEDS = a["seeds"] or self.SEEDS
        self.ABLATION_VARIANTS = variants(a, config["presto"])
        self.ABLATION_CAP = a["rounds"]
        # variants that need a run of their own
        self.ABLATION_RUNS = run_variants(a, config["presto"]) + [CONFIGURED]
        self.ABLATION_LAYOUT = self._layout()

    def _own_base(self, dataset: str) -> bool:
        """Whether the configured setting runs in the ablation stage itself (capped rounds, or no Table-1
        PRESTO run to reuse)."""
        cfg = self.config
        if dataset in self.SYNTHETIC_DATASETS:
            return self.ABLATION_CAP.get("synthetic", cfg["synthetic"]["rounds"]) != cfg["synthetic"]["rounds"]
        return (self.ABLATION_CAP.get("image", cfg["presto"]["rounds"]) != cfg["presto"]["rounds"]
                or "presto" not in self.METHODS)

    def _base_metrics(self, dataset: str) -> list[str]:
        seeds = self.ABLATION_SEEDS
        if self._own_base(dataset):
            return self.files("ablation", dataset=dataset, variant=CONFIGURED, seed=seeds, file="metrics.json")
        if dataset in self.SYNTHETIC_DATASETS:
            return self.files("synthetic_metrics", dataset=dataset, seed=seeds)
        return self.files("table1_metrics", dataset=dataset, k=self.dataset_k(dataset), method="presto", seed=seeds)

    def ablation_runs(self, kind: str) -> list[str]:
        """The variants an ablation job of ``kind`` ("image" or "synthetic") runs: every one-factor variant
        that needs its own run, and the configured setting where it cannot be reused (``_own_base``)."""
        names = self.IMAGE_DATASETS if kind == "image" else self.SYNTHETIC_DATASETS
        runs = [v for v in self.ABLATION_RUNS if v != CONFIGURED and applies(v, kind)]
        return ([CONFIGURED] if names and self._own_base(names[0]) else []) + runs

    def ablation_image_settings(self, wildcards) -> dict:
        """variant -> the dataset entry and presto section of that run."""
        ds = self.config["datasets"][wildcards.image_dataset]
        out = {}
        for v in self.ablation_runs("image"):
            presto, eps, lam = apply_variant(v, self.TRAIN_PRESTO, ds["epsilon"], self.TRAIN_PRESTO["lam"])
            presto.update(lam=lam, rounds=self.ABLATION_CAP.get("image", presto["rounds"]))
            out[v] = {"dataset": dict(ds, epsilon=eps), "presto": presto}
        return out

    def ablation_synthetic_settings(self, wildcards) -> dict:
        """variant -> the synthetic section and the algorithm's settings of that run."""
        syn = self.config["synthetic"]
        out = {}
        for v in self.ablation_runs("synthetic"):
            algorithm, eps, lam = apply_variant(v, self.ALGORITHM, syn["epsilon"], syn["lam"])
            out[v] = {"synthetic": dict(syn, epsilon=eps, lam=lam, rounds=self.ABLATION_CAP.get("synthetic", syn["rounds"])),
                      "algorithm": algorithm}
        return out

    def ablation_k(self, wildcards) -> int:
        return self.dataset_k(wildcards.image_dataset)

    def variant_files(self, kind: str, wildcard: str, name: str) -> list[str]:
        return self.files("ablation", dataset="{" + wildcard + "}", variant=self.ablation_runs(kind), file=name)

    def _layout(self) -> dict:
        """dataset -> variant ("configured" first) -> the seeds' metrics files."""
        layout = {}
        for d in self.ALL_DATASETS:
            runs = {CONFIGURED: self._base_metrics(d)}
            kind = "synthetic" if d in self.SYNTHETIC_DATASETS else "image"
            for v in self.ABLATION_RUNS:
                if v != CONFIGURED and applies(v, kind):
                    runs[v] = self.files("ablation", dataset=d, variant=v, seed=self.ABLATION_SEEDS,
                                         file="metrics.json")
            layout[d] = runs
        return layout

    def ablation_metrics(self) -> list[str]:
        return [f for runs in self.ABLATION_LAYOUT.values() for files in runs.values() for f in files]

    def ablation_targets(self) -> list[str]:
        if not self.ABLATION_VARIANTS:
            return []
        return self.files("table", name="ablation", ext=TABLE_FORMATS) + self.files("figure", name="ablation",
                                                                                     ext=self.FORMATS)
