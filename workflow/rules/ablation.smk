# Ablation of PRESTO (prestorepro.experiments.ablation): one factor at a time away from the configured
# setting, on every dataset, outputs under results/ablation/. The configured setting is the Table-1 PRESTO
# run (image datasets) or the synthetic experiment, unless ablation.rounds caps the runs: then it runs
# here too, as the variant "configured", with the same cap.
from prestorepro.experiments.ablation import apply_variant, variants

ABLATION = config["ablation"]
ABLATION_SEEDS = ABLATION["seeds"] or SEEDS
ABLATION_VARIANTS = variants(ABLATION, config["presto"])
ABLATION_CAP = ABLATION["rounds"]


def _own_base(dataset):
    """Whether the configured setting runs in the ablation stage itself (capped rounds, or no Table-1
    PRESTO run to reuse)."""
    if dataset in SYNTHETIC_DATASETS:
        return ABLATION_CAP.get("synthetic", config["synthetic"]["rounds"]) != config["synthetic"]["rounds"]
    return ABLATION_CAP.get("image", config["presto"]["rounds"]) != config["presto"]["rounds"] or "presto" not in METHODS


def ablation_base_metrics(dataset):
    if _own_base(dataset):
        return expand(f"{R}/ablation/{dataset}/{CONFIGURED}/seed{{seed}}/metrics.json", seed=ABLATION_SEEDS)
    if dataset in SYNTHETIC_DATASETS:
        return expand(f"{R}/synthetic/{dataset}/seed{{seed}}/metrics.json", seed=ABLATION_SEEDS)
    return expand(f"{R}/table1/{dataset}/k{dataset_k(dataset)}/presto/seed{{seed}}/metrics.json", seed=ABLATION_SEEDS)


def ablation_runs(kind):
    """The variants an ablation job of ``kind`` ("image" or "synthetic") runs: every one-factor variant
    that needs its own run, and the configured setting where it cannot be reused (``_own_base``)."""
    names = IMAGE_DATASETS if kind == "image" else SYNTHETIC_DATASETS
    runs = [v for v in ABLATION_RUNS if v != CONFIGURED]
    return ([CONFIGURED] if names and _own_base(names[0]) else []) + runs


def ablation_image_settings(wildcards):
    """variant -> the dataset entry and presto section of that run."""
    ds = config["datasets"][wildcards.image_dataset]
    out = {}
    for v in ablation_runs("image"):
        presto, eps, lam = apply_variant(v, TRAIN_PRESTO, ds["epsilon"], TRAIN_PRESTO["lam"])
        presto.update(lam=lam, rounds=ABLATION_CAP.get("image", presto["rounds"]))
        out[v] = {"dataset": dict(ds, epsilon=eps), "presto": presto}
    return out


def ablation_synthetic_settings(wildcards):
    """variant -> the synthetic section and the algorithm's settings of that run."""
    syn = config["synthetic"]
    out = {}
    for v in ablation_runs("synthetic"):
        algorithm, eps, lam = apply_variant(v, ALGORITHM, syn["epsilon"], syn["lam"])
        out[v] = {"synthetic": dict(syn, epsilon=eps, lam=lam, rounds=ABLATION_CAP.get("synthetic", syn["rounds"])),
                  "algorithm": algorithm}
    return out


def ablation_k(wildcards):
    return dataset_k(wildcards.image_dataset)


def _variant_files(kind, wildcard, name):
    return expand(f"{R}/ablation/{{{{{wildcard}}}}}/{{v}}/seed{{{{seed}}}}/{name}", v=ablation_runs(kind))


# One job per dataset and seed runs every variant (a variant is a few seconds of Algorithm 1; a job per
# variant would spend most of its time importing torch and scikit-learn). Each variant still has its
# own files; editing one variant's value re-runs its dataset's ablation jobs.
rule train_ablation:
    input:
        features=f"{R}/embeddings/{{image_dataset}}/features.npz",
        meta=f"{R}/embeddings/{{image_dataset}}/features.json",
        code=CODE_TRAIN,
    output:
        metrics=_variant_files("image", "image_dataset", "metrics.json"),
        assignments=_variant_files("image", "image_dataset", "assignment.npz"),
    params:
        variants=ablation_runs("image"),
        settings=ablation_image_settings,
        table1=TRAIN_TABLE1,
        widths=config["components"]["widths"],
        k=ablation_k,
        checkpoint_dir=f"{R}/checkpoints/ablation/{{image_dataset}}/seed{{seed}}",
    threads: config["threads"]
    resources:
        gpu=GPU,
    log:
        f"{R}/logs/train_ablation/{{image_dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_ablation/{{image_dataset}}/seed{{seed}}.tsv"
    script:
        "../scripts/train_ablation.py"


rule synthetic_ablation:
    input:
        data=f"{R}/data/{{synthetic_dataset}}/prepared.npz",
        code=CODE_SYNTHETIC,
    output:
        metrics=_variant_files("synthetic", "synthetic_dataset", "metrics.json"),
        rounds=_variant_files("synthetic", "synthetic_dataset", "rounds.npz"),
    params:
        variants=ablation_runs("synthetic"),
        settings=ablation_synthetic_settings,
        checkpoint_dir=f"{R}/checkpoints/ablation/{{synthetic_dataset}}/seed{{seed}}",
    threads: config["threads"]
    log:
        f"{R}/logs/synthetic_ablation/{{synthetic_dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_ablation/{{synthetic_dataset}}/seed{{seed}}.tsv"
    script:
        "../scripts/synthetic_ablation.py"


def ablation_layout():
    """dataset -> variant ("configured" first) -> the seeds' metrics files."""
    layout = {}
    for d in ALL_DATASETS:
        runs = {CONFIGURED: ablation_base_metrics(d)}
        for v in ABLATION_RUNS:
            if v != CONFIGURED:
                runs[v] = expand(f"{R}/ablation/{d}/{v}/seed{{seed}}/metrics.json", seed=ABLATION_SEEDS)
        layout[d] = runs
    return layout


ABLATION_LAYOUT = ablation_layout()


rule make_ablation:
    input:
        metrics=[f for runs in ABLATION_LAYOUT.values() for files in runs.values() for f in files],
        code=CODE_REPORT,
    output:
        table_outputs(f"{R}/tables/ablation", "../report/ablation_table.rst", CAT_ABLATION)
        + figure_outputs(f"{R}/figures/ablation", "../report/ablation_figure.rst", CAT_ABLATION),
    params:
        table_stem=f"{R}/tables/ablation",
        figure_stem=f"{R}/figures/ablation",
        datasets={d: config["datasets"][d]["source"] for d in ALL_DATASETS},
        presto={key: config["presto"][key] for key in ("gate_input", "singleton", "keep", "alpha", "max_moves")},
        layout=ABLATION_LAYOUT,
        formats=FORMATS,
    log:
        f"{R}/logs/report/ablation.log",
    script:
        "../scripts/make_ablation.py"


if ABLATION_VARIANTS:
    EXTRA_TARGETS.extend(expand(f"{R}/tables/ablation.{{ext}}", ext=["csv", "md", "tex"])
                         + expand(f"{R}/figures/ablation.{{ext}}", ext=FORMATS))
