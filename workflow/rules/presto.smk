# PRESTO and the Table-1 baselines (SPEC §3-5, §5b), and the synthetic experiment (SPEC §8) with the methods
# that run beside PRESTO there (the mixture of experts). What a training
# job reads of the config (P.run.train_presto, P.run.train_table1, P.run.algorithm): prestorepro/plan/base.py.


rule train_table1:
    input:
        features=P.run.path("features"),
        meta=P.run.path("features_meta"),
        code=code_of("train_table1"),
    output:
        metrics=P.run.path("table1_metrics"),
        assignment=P.run.path("table1_assignment"),
    log:
        f"{R}/logs/train_table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.Table1Job.params(P),
    script:
        "../scripts/train_table1.py"


rule synthetic_experiment:
    input:
        data=P.run.path("prepared"),
        code=code_of("synthetic_experiment"),
    output:
        metrics=P.run.path("synthetic_metrics"),
        rounds=P.run.path("synthetic_rounds"),
    log:
        f"{R}/logs/synthetic_experiment/{{dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_experiment/{{dataset}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    params:
        **specs.SyntheticJob.params(P),
    script:
        "../scripts/synthetic_experiment.py"


rule synthetic_method:
    input:
        data=P.run.path("prepared"),
        code=code_of("synthetic_method"),
    output:
        metrics=P.run.path("synthetic_method_metrics"),
        rounds=P.run.path("synthetic_method_rounds"),
    log:
        f"{R}/logs/synthetic_method/{{dataset}}/{{smethod}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_method/{{dataset}}/{{smethod}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    params:
        **specs.SyntheticMethodJob.params(P),
    script:
        "../scripts/synthetic_method.py"
