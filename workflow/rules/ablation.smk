# Ablation of PRESTO (prestorepro.ablation): one factor at a time away from the configured
# setting, on every dataset, outputs under results/ablation/. The configured setting is the Table-1 PRESTO
# run (image datasets) or the synthetic experiment, unless ablation.rounds caps the runs: then it runs
# here too, as the variant "configured", with the same cap.
# Settings, file lists and helper functions: prestorepro/plan/ablation.py.


# One job per dataset and seed runs every variant (a variant is a few seconds of Algorithm 1; a job per
# variant would spend most of its time importing torch and scikit-learn). Each variant still has its
# own files; editing one variant's value re-runs its dataset's ablation jobs.
rule train_ablation:
    input:
        features=f"{R}/embeddings/{{image_dataset}}/features.npz",
        meta=f"{R}/embeddings/{{image_dataset}}/features.json",
        code=code_of("train_ablation"),
    output:
        metrics=P.variant_files("image", "image_dataset", "metrics.json"),
        assignments=P.variant_files("image", "image_dataset", "assignment.npz"),
    log:
        f"{R}/logs/train_ablation/{{image_dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_ablation/{{image_dataset}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.GPU,
    params:
        device=config["device"],
        precision=config["precision"],
        embedding=config["embedding"],
        variants=P.ablation_runs("image"),
        settings=P.ablation_image_settings,
        table1=P.TRAIN_TABLE1,
        widths=config["components"]["widths"],
        k=P.ablation_k,
        checkpoint_dir=f"{R}/checkpoints/ablation/{{image_dataset}}/seed{{seed}}",
    script:
        "../scripts/train_ablation.py"


rule synthetic_ablation:
    input:
        data=f"{R}/data/{{synthetic_dataset}}/prepared.npz",
        code=code_of("synthetic_ablation"),
    output:
        metrics=P.variant_files("synthetic", "synthetic_dataset", "metrics.json"),
        rounds=P.variant_files("synthetic", "synthetic_dataset", "rounds.npz"),
    log:
        f"{R}/logs/synthetic_ablation/{{synthetic_dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_ablation/{{synthetic_dataset}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    params:
        device=config["device"],
        precision=config["precision"],
        dataset=P.dataset_cfg,
        variants=P.ablation_runs("synthetic"),
        settings=P.ablation_synthetic_settings,
        checkpoint_dir=f"{R}/checkpoints/ablation/{{synthetic_dataset}}/seed{{seed}}",
    script:
        "../scripts/synthetic_ablation.py"


rule make_ablation:
    input:
        metrics=P.ablation_metrics(),
        code=code_of("make_ablation"),
    output:
        table_outputs(f"{R}/tables/ablation", "../report/ablation_table.rst", CAT_ABLATION, "Ablation of PRESTO")
        + figure_outputs(f"{R}/figures/ablation", "../report/ablation_figure.rst", CAT_ABLATION, "Ablation of PRESTO"),
    log:
        f"{R}/logs/report/ablation.log",
    localrule: True
    conda:
        ENV
    params:
        table_stem=stem_of("table"),
        figure_stem=stem_of("figure"),
        datasets={d: config["datasets"][d]["source"] for d in P.ALL_DATASETS},
        presto={
            key: config["presto"][key] for key in ("gate_input", "singleton", "keep", "alpha", "max_moves", "reassign")
        },
        layout=P.ABLATION_LAYOUT,
        formats=FORMATS,
        predict=config["presto"]["predict"],
    script:
        "../scripts/make_ablation.py"
