"""What every stage's plan reads: the validated config, the results root, the datasets, methods and
seeds, and the one dataset-level lookup of a job's wildcards."""
from __future__ import annotations

import itertools
import re
from typing import Iterable, Mapping

from prestorepro import paths
from prestorepro.catalogue import method as catalogue_method, option_sections
from prestorepro.config import ALGORITHM_KEYS, dataset_names


TABLE_FORMATS = ["csv", "md", "tex"]  # every table is written in each (the report shows an HTML page besides)


def fill(pattern: str, **values: Iterable) -> list[str]:
    """Every combination of ``values`` put into ``pattern``'s ``{name}`` fields, in order (Snakemake's
    ``expand``); ``{{name}}`` stays a wildcard."""
    names = list(values)
    return [pattern.format(**dict(zip(names, combo))) for combo in itertools.product(*(list(values[n]) for n in names))]


def alternatives(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly these names (none: a pattern that matches nothing)."""
    names = sorted(names)
    return "|".join(re.escape(n) for n in names) if names else "__none__"


class PlanBase:
    """The config and what is derived from it for every stage (``Plan`` adds the stages)."""

    def __init__(self, config: Mapping):
        self.config = config
        self.R = config["results"]
        self.ALL_DATASETS = dataset_names(config)
        self.IMAGE_DATASETS = dataset_names(config, images_only=True)
        self.SYNTHETIC_DATASETS = [d for d in self.ALL_DATASETS if d not in self.IMAGE_DATASETS]
        self.METHODS = config["table1"]["methods"]
        # the Table-1 methods that also run on App. C's data beside PRESTO's own experiment (the catalogue's)
        self.SYNTHETIC_METHODS = [m for m in self.METHODS if catalogue_method("table1", m).synthetic and m != "presto"]
        self.SEEDS = config["seeds"]
        self.GPU = 1 if config["device"] == "cuda" else 0
        self.FORMATS = config["report"]["formats"]
        # Settings a training job reads. Keys that only choose which jobs exist (the Fig. 7 sweep, the method
        # list) or what the tables lead with (the predictor: every run evaluates both) stay out of its params,
        # so that editing them does not re-run the jobs already done.
        self.TRAIN_PRESTO = {k: v for k, v in config["presto"].items() if k not in ("k_sweep", "k_sweep_seeds", "predict")}
        # a method's option section (catalogue ``options``, e.g. table1.moe) reaches only that method's jobs
        self.TABLE1_OPTIONS = set(option_sections("table1"))
        self.TRAIN_TABLE1 = {k: v for k, v in config["table1"].items()
                             if k != "methods" and k not in self.TABLE1_OPTIONS}
        # the algorithm's settings in the presto section; the synthetic experiment runs Algorithm 1 with them
        self.ALGORITHM = {key: config["presto"][key] for key in ALGORITHM_KEYS}

    def constraints(self) -> dict[str, str]:
        return {"dataset": alternatives(self.ALL_DATASETS), "image_dataset": alternatives(self.IMAGE_DATASETS),
                "synthetic_dataset": alternatives(self.SYNTHETIC_DATASETS), "method": alternatives(self.METHODS),
                "smethod": alternatives(self.SYNTHETIC_METHODS),
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

        return [paper_name(m, "table1") for m in keys("table1") if m in self.METHODS]

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
        return paths.pattern(self.R, template, **fixed)

    def files(self, template: str, **values) -> list[str]:
        """Every combination of ``values`` in the layout's ``template`` (``prestorepro.paths.files``)."""
        return paths.files(self.R, template, **values)

    def stem(self, kind: str, name: str) -> str:
        """A table's or figure's path without its extension (``kind``: "table" or "figure")."""
        return paths.stem(self.R, kind, name)

    def table1_metrics(self, dataset: str) -> list[str]:
        return self.files("table1_metrics", dataset=dataset, k=self.dataset_k(dataset), method=self.METHODS,
                          seed=self.SEEDS)
