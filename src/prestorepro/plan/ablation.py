"""The ablation of PRESTO (``prestorepro.ablation``; workflow/rules/ablation.smk): one factor at a time away
from the configured setting, on every dataset, outputs under results/ablation/. The configured setting is
the Table-1 PRESTO run (image datasets) or the synthetic experiment, unless ablation.rounds caps the runs:
then it runs there too, as the variant "configured", with the same cap."""
from __future__ import annotations

from prestorepro.ablation import CONFIGURED, applies, apply_variant, run_variants, variants
from prestorepro.plan.base import TABLE_FORMATS, Run


class AblationPlan:
    def __init__(self, run: Run):
        self.run = run
        self.settings = a = run.config["ablation"]
        self.seeds = a["seeds"] or run.seeds
        self.variants = variants(a, run.config["presto"])
        self.cap = a["rounds"]
        # variants that need a run of their own
        self.own_runs = run_variants(a, run.config["presto"]) + [CONFIGURED]
        self.layout = self._layout()

    def _own_base(self, dataset: str) -> bool:
        """Whether the configured setting runs in the ablation stage itself (capped rounds, or no Table-1
        PRESTO run to reuse)."""
        cfg = self.run.config
        if dataset in self.run.synthetic_datasets:
            return self.cap.get("synthetic", cfg["synthetic"]["rounds"]) != cfg["synthetic"]["rounds"]
        return (self.cap.get("image", cfg["presto"]["rounds"]) != cfg["presto"]["rounds"]
                or "presto" not in self.run.table1_methods)

    def _base_metrics(self, dataset: str) -> list[str]:
        run, seeds = self.run, self.seeds
        if self._own_base(dataset):
            return run.files("ablation", dataset=dataset, variant=CONFIGURED, seed=seeds, file="metrics.json")
        if dataset in run.synthetic_datasets:
            return run.files("synthetic_metrics", dataset=dataset, seed=seeds)
        return run.files("table1_metrics", dataset=dataset, k=run.dataset_k(dataset), method="presto", seed=seeds)

    def runs_of(self, kind: str) -> list[str]:
        """The variants an ablation job of ``kind`` ("image" or "synthetic") runs: every one-factor variant
        that needs its own run, and the configured setting where it cannot be reused (``_own_base``)."""
        names = self.run.image_datasets if kind == "image" else self.run.synthetic_datasets
        runs = [v for v in self.own_runs if v != CONFIGURED and applies(v, kind)]
        return ([CONFIGURED] if names and self._own_base(names[0]) else []) + runs

    def image_settings(self, wildcards) -> dict:
        """variant -> the dataset entry and presto section of that run."""
        ds = self.run.config["datasets"][wildcards.image_dataset]
        presto0 = self.run.train_presto
        out = {}
        for v in self.runs_of("image"):
            presto, eps, lam = apply_variant(v, presto0, ds["epsilon"], presto0["lam"])
            presto.update(lam=lam, rounds=self.cap.get("image", presto["rounds"]))
            out[v] = {"dataset": dict(ds, epsilon=eps), "presto": presto}
        return out

    def synthetic_settings(self, wildcards) -> dict:
        """variant -> the synthetic section and the algorithm's settings of that run."""
        syn = self.run.config["synthetic"]
        out = {}
        for v in self.runs_of("synthetic"):
            algorithm, eps, lam = apply_variant(v, self.run.algorithm, syn["epsilon"], syn["lam"])
            out[v] = {"synthetic": dict(syn, epsilon=eps, lam=lam, rounds=self.cap.get("synthetic", syn["rounds"])),
                      "algorithm": algorithm}
        return out

    def k(self, wildcards) -> int:
        return self.run.dataset_k(wildcards.image_dataset)

    def variant_files(self, kind: str, wildcard: str, name: str) -> list[str]:
        return self.run.files("ablation", dataset="{" + wildcard + "}", variant=self.runs_of(kind), file=name)

    def _layout(self) -> dict:
        """dataset -> variant ("configured" first) -> the seeds' metrics files."""
        run, layout = self.run, {}
        for d in run.datasets:
            runs = {CONFIGURED: self._base_metrics(d)}
            kind = "synthetic" if d in run.synthetic_datasets else "image"
            for v in self.own_runs:
                if v != CONFIGURED and applies(v, kind):
                    runs[v] = run.files("ablation", dataset=d, variant=v, seed=self.seeds, file="metrics.json")
            layout[d] = runs
        return layout

    def metrics(self) -> list[str]:
        return [f for runs in self.layout.values() for files in runs.values() for f in files]

    def targets(self) -> list[str]:
        if not self.variants:
            return []
        run = self.run
        return run.files("table", name="ablation", ext=TABLE_FORMATS) + run.files("figure", name="ablation",
                                                                                   ext=run.formats)
