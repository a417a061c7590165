# Ablation of PRESTO (prestorepro.ablation): one factor at a time away from the configured
# setting, on every dataset, outputs under results/ablation/. The configured setting is the Table-1 PRESTO
# run (image datasets) or the synthetic experiment, unless ablation.rounds caps the runs: then it runs
# here too, as the variant "configured", with the same cap.
# Planning for ablation.smk: its settings, file lists and the functions its rules call (the rule file
# holds rules only).

from prestorepro.ablation import applies, apply_variant, variants


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
    runs = [v for v in ABLATION_RUNS if v != CONFIGURED and applies(v, kind)]
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


def ablation_layout():
    """dataset -> variant ("configured" first) -> the seeds' metrics files."""
    layout = {}
    for d in ALL_DATASETS:
        runs = {CONFIGURED: ablation_base_metrics(d)}
        kind = "synthetic" if d in SYNTHETIC_DATASETS else "image"
        for v in ABLATION_RUNS:
            if v != CONFIGURED and applies(v, kind):
                runs[v] = expand(f"{R}/ablation/{d}/{v}/seed{{seed}}/metrics.json", seed=ABLATION_SEEDS)
        layout[d] = runs
    return layout


ABLATION_LAYOUT = ablation_layout()


if ABLATION_VARIANTS:
    EXTRA_TARGETS.extend(expand(f"{R}/tables/ablation.{{ext}}", ext=["csv", "md", "tex"])
                         + expand(f"{R}/figures/ablation.{{ext}}", ext=FORMATS))
