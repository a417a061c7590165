# Coreset baselines (SPEC §7): one model of the component architecture, widths matched to PRESTO's
# total parameters, trained on weighted subsets of the embeddings -- Random, Random-Warm, CRAIG,
# GRAD-MATCH (-Warm, -PB), PBCS -- against the same model on the full data.
#
# One job per (dataset, method, seed) runs every subset fraction of that method: at the embedded
# default's size the interpreter start dominates a job, and the fractions share it. Outputs must be
# the same for every dataset, so the fraction 1/K (K differs between datasets) is labelled
# `1_over_k`; its value is in the metrics file.
# Planning for coreset.smk: its settings, file lists and the functions its rules call (the rule file
# holds rules only).

CORESET = config["coreset"]


CORESET_SEEDS = CORESET["seeds"] or SEEDS
CORESET_SUBSET_METHODS = [m for m in CORESET["methods"] if m != "full"]
CORESET_FRACTION_LABELS = [f"{f:g}" for f in CORESET["fractions"]] + (["1_over_k"] if CORESET["one_over_k"] else [])


def coreset_fractions(wildcards):
    """Fraction label -> value for one dataset, in the order of the rule's outputs."""
    fractions = {f"{f:g}": float(f) for f in CORESET["fractions"]}
    if CORESET["one_over_k"]:
        fractions["1_over_k"] = 1.0 / dataset_k(wildcards.dataset)
    return fractions


# The config keys every run reads, and the option section each method reads besides: a job's params
# carry only these, so editing one method's options re-runs only that method's jobs.
CORESET_SHARED_KEYS = ["epochs", "interval", "kappa", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                       "lr_schedule", "l2"]


CORESET_OPTION_SECTION = {"craig": "craig", "gradmatch": "gradmatch", "gradmatch_warm": "gradmatch",
                          "gradmatch_pb": "gradmatch", "pbcs": "pbcs"}


def coreset_settings(wildcards):
    method = getattr(wildcards, "coreset_method", "full")
    settings = {k: CORESET[k] for k in CORESET_SHARED_KEYS}
    if method in CORESET_OPTION_SECTION:
        section = CORESET_OPTION_SECTION[method]
        settings[section] = CORESET[section]
    return settings


def coreset_metrics(dataset):
    """Every coreset metrics file of one dataset."""
    files = []
    if "full" in CORESET["methods"]:
        files += expand(f"{R}/coreset/{dataset}/full/f1/seed{{seed}}/metrics.json", seed=CORESET_SEEDS)
    files += expand(f"{R}/coreset/{dataset}/{{m}}/f{{f}}/seed{{seed}}/metrics.json",
                    m=CORESET_SUBSET_METHODS, f=CORESET_FRACTION_LABELS, seed=CORESET_SEEDS)
    return files


def coreset_dataset_metrics(wildcards):
    return coreset_metrics(wildcards.dataset)


if IMAGE_DATASETS and CORESET["methods"]:
    EXTRA_TARGETS.extend(expand(f"{R}/tables/coreset.{{ext}}", ext=["csv", "md", "tex"]))
    EXTRA_TARGETS.extend(expand(f"{R}/figures/coreset_{{d}}.{{ext}}", d=IMAGE_DATASETS,
                                ext=config["report"]["formats"]))
