"""The coreset baselines (SPEC §7; workflow/rules/coreset.smk): one model of the component architecture,
widths matched to PRESTO's total parameters, trained on weighted subsets of the embeddings against the same
model on the full data.

One job per (dataset, method, seed) runs every subset fraction of that method: at the embedded default's
size the interpreter start dominates a job, and the fractions share it. Outputs must be the same for every
dataset, so the fraction 1/K (K differs between datasets) is labelled ``1_over_k``; its value is in the
metrics file.
"""
from __future__ import annotations

from prestorepro.catalogue import method as catalogue_method
from prestorepro.plan.base import TABLE_FORMATS, PlanBase, alternatives

# The config keys every run reads; a method's own option section (its catalogue entry's ``options``) comes
# besides: a job's params carry only these, so editing one method's options re-runs only that method's jobs.
CORESET_SHARED_KEYS = ["epochs", "interval", "kappa", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                       "lr_schedule", "l2"]


class CoresetPlan(PlanBase):
    def __init__(self, config):
        super().__init__(config)
        self.CORESET = c = config["coreset"]
        self.CORESET_SEEDS = c["seeds"] or self.SEEDS
        self.CORESET_SUBSET_METHODS = [m for m in c["methods"] if catalogue_method("coreset", m).selects]
        self.CORESET_FRACTION_LABELS = [f"{f:g}" for f in c["fractions"]] + (["1_over_k"] if c["one_over_k"] else [])

    def coreset_method_constraint(self) -> str:
        return alternatives(self.CORESET_SUBSET_METHODS)

    def coreset_fractions(self, wildcards) -> dict[str, float]:
        """Fraction label -> value for one dataset, in the order of the rule's outputs."""
        fractions = {f"{f:g}": float(f) for f in self.CORESET["fractions"]}
        if self.CORESET["one_over_k"]:
            fractions["1_over_k"] = 1.0 / self.dataset_k(wildcards.dataset)
        return fractions

    def coreset_settings(self, wildcards) -> dict:
        method = getattr(wildcards, "coreset_method", "full")
        settings = {k: self.CORESET[k] for k in CORESET_SHARED_KEYS}
        section = catalogue_method("coreset", method).options
        if section:
            settings[section] = self.CORESET[section]
        return settings

    def coreset_outputs(self) -> list[str]:
        """The outputs of one train_coreset job: every fraction of its method (wildcards kept)."""
        return self.files("coreset_metrics", fraction=self.CORESET_FRACTION_LABELS)

    def coreset_metrics(self, dataset: str) -> list[str]:
        """Every coreset metrics file of one dataset."""
        files = []
        if "full" in self.CORESET["methods"]:
            files += self.files("coreset_metrics", dataset=dataset, coreset_method="full", fraction="1",
                                seed=self.CORESET_SEEDS)
        files += self.files("coreset_metrics", dataset=dataset, coreset_method=self.CORESET_SUBSET_METHODS,
                            fraction=self.CORESET_FRACTION_LABELS, seed=self.CORESET_SEEDS)
        return files

    def all_coreset_metrics(self) -> list[str]:
        return [f for d in self.IMAGE_DATASETS for f in self.coreset_metrics(d)]

    def coreset_dataset_metrics(self, wildcards) -> list[str]:
        return self.coreset_metrics(wildcards.dataset)

    def coreset_targets(self) -> list[str]:
        if not (self.IMAGE_DATASETS and self.CORESET["methods"]):
            return []
        return (self.files("table", name="coreset", ext=TABLE_FORMATS)
                + self.files("figure", name=[f"coreset_{d}" for d in self.IMAGE_DATASETS], ext=self.FORMATS))
