# Coreset baselines (SPEC §7): one model of the component architecture, widths matched to PRESTO's
# total parameters, trained on weighted subsets of the embeddings -- Random, Random-Warm, CRAIG,
# GRAD-MATCH (-Warm, -PB), PBCS -- against the same model on the full data.
#
# One job per (dataset, method, seed) runs every subset fraction of that method: at the embedded
# default's size the interpreter start dominates a job, and the fractions share it. Outputs must be
# the same for every dataset, so the fraction 1/K (K differs between datasets) is labelled
# `1_over_k`; its value is in the metrics file.

CORESET = config["coreset"]
CORESET_SEEDS = CORESET["seeds"] or SEEDS
CORESET_SUBSET_METHODS = [m for m in CORESET["methods"] if m != "full"]
CORESET_FRACTION_LABELS = [f"{f:g}" for f in CORESET["fractions"]] + (["1_over_k"] if CORESET["one_over_k"] else [])
CODE_CORESET = code("coreset", "experiments/coreset.py", "training/single.py", "models/resnet_tail.py",
                    "models/parameters.py", "compress/memory.py", "compress/distill.py", "metrics.py", "io.py",
                    "registry.py", "features.py")
CODE_CORESET_REPORT = code("report/coreset.py", "report/tables.py", "report/figures.py", "io.py",
                           "models/parameters.py")


def coreset_fractions(wildcards):
    """Fraction label -> value for one dataset, in the order of the rule's outputs."""
    fractions = {f"{f:g}": float(f) for f in CORESET["fractions"]}
    if CORESET["one_over_k"]:
        fractions["1_over_k"] = 1.0 / dataset_k(wildcards.dataset)
    return fractions


# The config keys every run reads, and the option section each method reads besides: a job's params
# carry only these, so editing one method's options re-runs only that method's jobs.
CORESET_SHARED_KEYS = ["epochs", "interval", "kappa", "batch_size", "lr", "lr_schedule", "l2"]
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


rule train_coreset:
    input:
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=CODE_CORESET,
    output:
        metrics=expand(f"{R}/coreset/{{{{dataset}}}}/{{{{coreset_method}}}}/f{{f}}/seed{{{{seed}}}}/metrics.json",
                       f=CORESET_FRACTION_LABELS),
    params:
        dataset=dataset_cfg,
        fractions=coreset_fractions,
        coreset=coreset_settings,
        widths=config["components"]["widths"],
        checkpoint_dir=f"{R}/checkpoints/coreset/{{dataset}}/{{coreset_method}}/seed{{seed}}",
    wildcard_constraints:
        coreset_method="|".join(CORESET_SUBSET_METHODS) or "__none__",
    threads: config["threads"]
    resources:
        gpu=GPU,
    log:
        f"{R}/logs/train_coreset/{{dataset}}/{{coreset_method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_coreset/{{dataset}}/{{coreset_method}}/seed{{seed}}.tsv"
    script:
        "../scripts/train_coreset.py"


rule train_coreset_full:
    input:
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=CODE_CORESET,
    output:
        metrics=[f"{R}/coreset/{{dataset}}/full/f1/seed{{seed}}/metrics.json"],
    params:
        dataset=dataset_cfg,
        fractions={"1": 1.0},
        coreset=coreset_settings,
        widths=config["components"]["widths"],
        checkpoint_dir=f"{R}/checkpoints/coreset/{{dataset}}/full/seed{{seed}}",
    threads: config["threads"]
    resources:
        gpu=GPU,
    log:
        f"{R}/logs/train_coreset/{{dataset}}/full/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_coreset/{{dataset}}/full/seed{{seed}}.tsv"
    script:
        "../scripts/train_coreset.py"


rule make_coreset_table:
    input:
        metrics=[f for d in IMAGE_DATASETS for f in coreset_metrics(d)],
        code=CODE_CORESET_REPORT,
    output:
        table_outputs(f"{R}/tables/coreset", "../report/coreset_table.rst", CAT_CORESET),
    params:
        stem=f"{R}/tables/coreset",
    log:
        f"{R}/logs/report/coreset_table.log",
    script:
        "../scripts/make_coreset_table.py"


rule make_coreset_figure:
    input:
        metrics=coreset_dataset_metrics,
        code=CODE_CORESET_REPORT,
    output:
        figure_outputs(f"{R}/figures/coreset_{{dataset}}", "../report/coreset_figure.rst", CAT_CORESET),
    params:
        stem=f"{R}/figures/coreset_{{dataset}}",
        formats=config["report"]["formats"],
    log:
        f"{R}/logs/report/coreset_{{dataset}}.log",
    script:
        "../scripts/make_coreset_figure.py"


if IMAGE_DATASETS and CORESET["methods"]:
    EXTRA_TARGETS.extend(expand(f"{R}/tables/coreset.{{ext}}", ext=["csv", "md", "tex"]))
    EXTRA_TARGETS.extend(expand(f"{R}/figures/coreset_{{d}}.{{ext}}", d=IMAGE_DATASETS,
                                ext=config["report"]["formats"]))
