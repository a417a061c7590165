# Coreset baselines (SPEC §7): one model of the component architecture, widths matched to PRESTO's
# total parameters, trained on weighted subsets of the embeddings -- Random, Random-Warm, CRAIG,
# GRAD-MATCH (-Warm, -PB), PBCS -- against the same model on the full data.
#
# One job per (dataset, method, seed) runs every subset fraction of that method: at the embedded
# default's size the interpreter start dominates a job, and the fractions share it. Outputs must be
# the same for every dataset, so the fraction 1/K (K differs between datasets) is labelled
# `1_over_k`; its value is in the metrics file.
# Settings, file lists and helper functions: prestorepro/plan/coreset.py.


rule train_coreset:
    input:
        features=P.run.path("features"),
        meta=P.run.path("features_meta"),
        code=code_of("train_coreset"),
    output:
        metrics=P.coreset.outputs(),
    log:
        f"{R}/logs/train_coreset/{{dataset}}/{{coreset_method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_coreset/{{dataset}}/{{coreset_method}}/seed{{seed}}.tsv"
    wildcard_constraints:
        coreset_method=P.coreset.method_constraint(),
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.CoresetJob.params(P),
    script:
        "../scripts/train_coreset.py"


rule train_coreset_full:
    input:
        features=P.run.path("features"),
        meta=P.run.path("features_meta"),
        code=code_of("train_coreset"),
    output:
        metrics=[P.run.path("coreset_metrics", coreset_method="full", fraction="1")],
    log:
        f"{R}/logs/train_coreset/{{dataset}}/full/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_coreset/{{dataset}}/full/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.CoresetJob.params(
            P, fractions={"1": 1.0}, checkpoint_dir=f"{R}/checkpoints/coreset/{{dataset}}/full/seed{{seed}}"
        ),
    script:
        "../scripts/train_coreset.py"


rule make_coreset_table:
    input:
        metrics=P.coreset.all_metrics(),
        code=code_of("make_coreset_table"),
    output:
        table_outputs(P.run.stem("table", "coreset"), "../report/coreset_table.rst", CAT_CORESET, "Coreset table"),
    log:
        f"{R}/logs/report/coreset_table.log",
    localrule: True
    conda:
        ENV
    script:
        "../scripts/make_coreset_table.py"


rule make_coreset_figure:
    input:
        metrics=P.coreset.dataset_metrics,
        code=code_of("make_coreset_figure"),
    output:
        figure_outputs(
            P.run.stem("figure", "coreset_{dataset}"),
            "../report/coreset_figure.rst",
            CAT_CORESET,
            "Accuracy against subset size",
            "{dataset}",
        ),
    log:
        f"{R}/logs/report/coreset_{{dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.DatasetFigure.params(P),
    script:
        "../scripts/make_coreset_figure.py"
