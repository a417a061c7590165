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
        features=P.run.path("features", dataset="{image_dataset}"),
        meta=P.run.path("features_meta", dataset="{image_dataset}"),
        code=code_of("train_ablation"),
    output:
        metrics=P.ablation.variant_files("image", "image_dataset", "metrics.json"),
        assignments=P.ablation.variant_files("image", "image_dataset", "assignment.npz"),
    log:
        f"{R}/logs/train_ablation/{{image_dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_ablation/{{image_dataset}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.AblationImageJob.params(P),
    script:
        "../scripts/train_ablation.py"


rule synthetic_ablation:
    input:
        data=P.run.path("prepared", dataset="{synthetic_dataset}"),
        code=code_of("synthetic_ablation"),
    output:
        metrics=P.ablation.variant_files("synthetic", "synthetic_dataset", "metrics.json"),
        rounds=P.ablation.variant_files("synthetic", "synthetic_dataset", "rounds.npz"),
    log:
        f"{R}/logs/synthetic_ablation/{{synthetic_dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_ablation/{{synthetic_dataset}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    params:
        **specs.AblationSyntheticJob.params(P),
    script:
        "../scripts/synthetic_ablation.py"


rule make_ablation:
    input:
        metrics=P.ablation.metrics(),
        code=code_of("make_ablation"),
    output:
        table_outputs(
            P.run.stem("table", "ablation"), "../report/ablation_table.rst", CAT_ABLATION, "Ablation of PRESTO"
        )
        + figure_outputs(
            P.run.stem("figure", "ablation"), "../report/ablation_figure.rst", CAT_ABLATION, "Ablation of PRESTO"
        ),
    log:
        f"{R}/logs/report/ablation.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.AblationReport.params(P),
    script:
        "../scripts/make_ablation.py"
