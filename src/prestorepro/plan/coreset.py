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
from prestorepro.plan.base import TABLE_FORMATS, Run, alternatives

# The config keys every run reads; a method's own option section (its catalogue entry's ``options``) comes
# besides: a job's params carry only these, so editing one method's options re-runs only that method's jobs.
CORESET_SHARED_KEYS = ["epochs", "interval", "kappa", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                       "lr_schedule", "l2"]


class CoresetPlan:
    def __init__(self, run: Run):
        self.run = run
        self.settings = c = run.config["coreset"]
        self.seeds = c["seeds"] or run.seeds
        self.subset_methods = [m for m in c["methods"] if catalogue_method("coreset", m).selects]
        self.fraction_labels = [f"{f:g}" for f in c["fractions"]] + (["1_over_k"] if c["one_over_k"] else [])

    def method_constraint(self) -> str:
        return alternatives(self.subset_methods)

    def fractions(self, wildcards) -> dict[str, float]:
        """Fraction label -> value for one dataset, in the order of the rule's outputs."""
        fractions = {f"{f:g}": float(f) for f in self.settings["fractions"]}
        if self.settings["one_over_k"]:
            fractions["1_over_k"] = 1.0 / self.run.dataset_k(wildcards.dataset)
        return fractions

    def job_settings(self, wildcards) -> dict:
        """The coreset section's keys every run reads, and the method's own option section."""
        method = getattr(wildcards, "coreset_method", "full")
        settings = {k: self.settings[k] for k in CORESET_SHARED_KEYS}
        section = catalogue_method("coreset", method).options
        if section:
            settings[section] = self.settings[section]
        return settings

    def outputs(self) -> list[str]:
        """The outputs of one train_coreset job: every fraction of its method (wildcards kept)."""
        return self.run.files("coreset_metrics", fraction=self.fraction_labels)

    def metrics(self, dataset: str) -> list[str]:
        """Every coreset metrics file of one dataset."""
        run, files = self.run, []
        if "full" in self.settings["methods"]:
            files += run.files("coreset_metrics", dataset=dataset, coreset_method="full", fraction="1", seed=self.seeds)
        files += run.files("coreset_metrics", dataset=dataset, coreset_method=self.subset_methods,
                           fraction=self.fraction_labels, seed=self.seeds)
        return files

    def all_metrics(self) -> list[str]:
        return [f for d in self.run.image_datasets for f in self.metrics(d)]

    def dataset_metrics(self, wildcards) -> list[str]:
        return self.metrics(wildcards.dataset)

    def targets(self) -> list[str]:
        run = self.run
        if not (run.image_datasets and self.settings["methods"]):
            return []
        return (run.files("table", name="coreset", ext=TABLE_FORMATS)
                + run.files("figure", name=[f"coreset_{d}" for d in run.image_datasets], ext=run.formats))
