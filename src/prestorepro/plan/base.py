"""What every stage's plan reads: the configured run (``Run``): its config, results root, datasets, Table-1
methods, seeds and the settings a training job reads, the one dataset-level lookup of a job's wildcards, and
the results tree's files (``prestorepro.paths``) under its root."""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from prestorepro import paths
from prestorepro.catalogue import method as catalogue_method, option_sections
from prestorepro.config import ALGORITHM_KEYS, dataset_names

TABLE_FORMATS = ["csv", "md", "tex"]  # every table is written in each (the report shows an HTML page besides)


def alternatives(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly these names (none: a pattern that matches nothing)."""
    names = sorted(names)
    return "|".join(re.escape(n) for n in names) if names else "__none__"


class Run:
    """The configured run: what every stage reads of the config."""

    def __init__(self, config: Mapping):
        self.config = config
        self.results = config["results"]
        self.datasets = dataset_names(config)
        self.image_datasets = dataset_names(config, images_only=True)
        self.synthetic_datasets = [d for d in self.datasets if d not in self.image_datasets]
        self.table1_methods = config["table1"]["methods"]
        # the Table-1 methods that also run on App. C's data beside PRESTO's own experiment (the catalogue's)
        self.synthetic_methods = [m for m in self.table1_methods
                                  if catalogue_method("table1", m).synthetic and m != "presto"]
        self.seeds = config["seeds"]
        self.gpus = 1 if config["device"] == "cuda" else 0  # a training job's GPUs (resources: gpu)
        self.formats = config["report"]["formats"]
        # Settings a training job reads. Keys that only choose which jobs exist (the Fig. 7 sweep, the method
        # list) or what the tables lead with (the predictor: every run evaluates both) stay out of its params,
        # so that editing them does not re-run the jobs already done.
        self.train_presto = {k: v for k, v in config["presto"].items()
                             if k not in ("k_sweep", "k_sweep_seeds", "predict")}
        # a method's option section (catalogue ``options``, e.g. table1.moe) reaches only that method's jobs
        sections = set(option_sections("table1"))
        self.train_table1 = {k: v for k, v in config["table1"].items() if k != "methods" and k not in sections}
        # the algorithm's settings in the presto section; the synthetic experiment runs Algorithm 1 with them
        self.algorithm = {key: config["presto"][key] for key in ALGORITHM_KEYS}

    def constraints(self) -> dict[str, str]:
        return {"dataset": alternatives(self.datasets), "image_dataset": alternatives(self.image_datasets),
                "synthetic_dataset": alternatives(self.synthetic_datasets),
                "method": alternatives(self.table1_methods), "smethod": alternatives(self.synthetic_methods),
                "seed": r"\d+", "k": r"\d+"}

    def dataset_cfg(self, wildcards) -> dict:
        """The dataset entry of a job (its ``dataset``, ``image_dataset`` or ``synthetic_dataset`` wildcard)."""
        name = next(getattr(wildcards, key) for key in ("dataset", "image_dataset", "synthetic_dataset")
                    if hasattr(wildcards, key))
        return self.config["datasets"][name]

    def own_files(self, wildcards) -> list[str]:
        """A bring-your-own npz is an input of its download job: replaced after a run, it re-runs
        everything that depends on it (its checksum is then recorded again)."""
        ds = self.dataset_cfg(wildcards)
        return [ds["path"]] if ds["source"] == "npz" else []

    def table1_names(self) -> list[str]:
        """The configured Table-1 methods' names, in the catalogue's (Table 1's) order."""
        from prestorepro.catalogue import keys, paper_name

        return [paper_name(m, "table1") for m in keys("table1") if m in self.table1_methods]

    def method_options(self, wildcards) -> dict:
        """A Table-1 method's own option section (``table1.<options>`` of its catalogue entry), or {}, for a job
        of that method (its ``method`` wildcard, or ``smethod`` on the synthetic data)."""
        key = wildcards.method if hasattr(wildcards, "method") else wildcards.smethod
        section = catalogue_method("table1", key).options
        return dict(self.config["table1"][section]) if section else {}

    def table5_presto(self) -> dict:
        """The presto settings Table 5 shows: App. B.3's, shared by every dataset."""
        from prestorepro.report.paper import PRESTO_SHARED

        return {key: self.config["presto"][key] for key in PRESTO_SHARED}

    def dataset_k(self, name: str) -> int:
        return self.config["datasets"][name]["k"]

    def path(self, template: str, **fixed) -> str:
        """A file of the layout (``prestorepro.paths``) under the results root, as a rule names it: the fields
        in ``fixed`` filled in, the others Snakemake wildcards."""
        return paths.pattern(self.results, template, **fixed)

    def files(self, template: str, **values) -> list[str]:
        """Every combination of ``values`` in the layout's ``template`` (``prestorepro.paths.files``)."""
        return paths.files(self.results, template, **values)

    def stem(self, kind: str, name: str) -> str:
        """A table's or figure's path without its extension (``kind``: "table" or "figure")."""
        return paths.stem(self.results, kind, name)

    def table1_metrics(self, dataset: str) -> list[str]:
        return self.files("table1_metrics", dataset=dataset, k=self.dataset_k(dataset), method=self.table1_methods,
                          seed=self.seeds)
