# Shared helpers: config validation before anything runs, wildcard constraints, target lists.
from pathlib import Path

import re

from prestorepro.config import ALGORITHM_KEYS, ConfigError, dataset_names, validate_config
from prestorepro.experiments.ablation import CONFIGURED, run_variants

try:
    validate_config(config)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

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


# Code each stage depends on: listed as inputs so that editing a module re-runs exactly the jobs
# that use it (Snakemake does not see edits to an imported package otherwise).
PACKAGE_DIR = Path(workflow.basedir) / "src" / "prestorepro"


def code(*parts):
    files = []
    for part in parts:
        p = PACKAGE_DIR / part
        files += sorted(str(f) for f in p.glob("*.py")) if p.is_dir() else [str(p)]
    return files


CODE_DATA = code("data", "io.py", "provenance.py", "jobs.py")
CODE_EMBED = code("embed.py", "data/store.py", "data/base.py", "io.py", "jobs.py")
CODE_TRAIN = code("models", "training", "presto", "baselines", "experiments/table1.py",
                  "metrics.py", "io.py", "jobs.py", "device.py", "features.py", "registry.py")
CODE_SYNTHETIC = code("models", "training", "presto", "baselines/partition.py",
                      "experiments/synthetic.py", "metrics.py", "io.py", "jobs.py", "device.py",
                      "features.py", "registry.py")


def dataset_cfg(wildcards):
    name = getattr(wildcards, "dataset", None) or wildcards.image_dataset
    return config["datasets"][name]


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
