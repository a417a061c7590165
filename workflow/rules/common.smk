# Shared helpers: config validation before anything runs, wildcard constraints, target lists.
from pathlib import Path

import re

from prestorepro.codedeps import code_inputs
from prestorepro.config import (ALGORITHM_KEYS, ConfigError, check_prepared_sizes, dataset_names, paper_dataset,
                                validate_config)
from prestorepro.ablation import CONFIGURED, run_variants

try:
    validate_config(config)
    check_prepared_sizes(config)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

# Every job runs in this environment under --use-conda (one environment for the one package);
# the path is relative to the files under workflow/rules.
ENV = "../envs/prestorepro.yaml"

R = config["results"]
ALL_DATASETS = dataset_names(config)
IMAGE_DATASETS = dataset_names(config, images_only=True)
SYNTHETIC_DATASETS = [d for d in ALL_DATASETS if d not in IMAGE_DATASETS]
METHODS = config["table1"]["methods"]
SEEDS = config["seeds"]
GPU = 1 if config["device"] == "cuda" else 0


# Variants of the ablation stage that need a run of their own (workflow/rules/ablation.smk).
ABLATION_RUNS = run_variants(config["ablation"], config["presto"]) + [CONFIGURED]
# The algorithm's settings in the presto section; the synthetic experiment uses them too.
ALGORITHM = {key: config["presto"][key] for key in ALGORITHM_KEYS}


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names)) if names else "__none__"


wildcard_constraints:
    dataset=_alternatives(ALL_DATASETS),
    image_dataset=_alternatives(IMAGE_DATASETS),
    synthetic_dataset=_alternatives(SYNTHETIC_DATASETS),
    method=_alternatives(METHODS),
    seed=r"\d+",
    k=r"\d+",


# The code of every job: the package modules its script's job imports (prestorepro.codedeps), as
# inputs, so that editing a module re-runs exactly the jobs that run it (Snakemake does not see edits
# to an imported package otherwise). Paths are relative to the working directory: a finished run
# copied or mounted elsewhere plans nothing new. download_data has none: a code edit never re-downloads
# (its files are verified by checksum whatever the code).
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


def code_of(script):
    return code_inputs(SCRIPTS / f"{script}.py")


def dataset_cfg(wildcards):
    name = next(getattr(wildcards, key) for key in ("dataset", "image_dataset", "synthetic_dataset")
                if hasattr(wildcards, key))
    return config["datasets"][name]


def own_files(wildcards):
    """A bring-your-own npz is an input of its download job: replaced after a run, it re-runs
    everything that depends on it (its checksum is then recorded again)."""
    ds = dataset_cfg(wildcards)
    return [ds["path"]] if ds["source"] == "npz" else []


def dataset_k(name):
    return config["datasets"][name]["k"]


def table1_metrics(dataset):
    return expand(
        f"{R}/table1/{dataset}/k{dataset_k(dataset)}/{{method}}/seed{{seed}}/metrics.json",
        method=METHODS, seed=SEEDS,
    )


# Stage files (compress.smk, coreset.smk, ...) append their final outputs here.
EXTRA_TARGETS = []


def all_targets():
    targets = list(EXTRA_TARGETS)
    for d in IMAGE_DATASETS:
        targets += [f"{R}/embeddings/{d}/features.npz"]
    if IMAGE_DATASETS:
        targets += expand(f"{R}/tables/table1.{{ext}}", ext=["csv", "md", "tex"])
        targets += expand(f"{R}/tables/params.{{ext}}", ext=["csv", "md", "tex"])
    for d in SYNTHETIC_DATASETS:
        targets += [f"{R}/data/{d}/prepared.npz"]
        targets += expand(f"{R}/figures/fig6_{d}.{{ext}}", ext=config["report"]["formats"])
        targets += [f"{R}/synthetic/{d}/summary.json"]
    return targets
