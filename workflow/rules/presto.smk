# PRESTO and the Table-1 baselines (SPEC §3-5, §5b), and the synthetic experiment (SPEC §8) with the methods
# that run beside PRESTO there (the mixture of experts). What a training
# job reads of the config (P.TRAIN_PRESTO, P.TRAIN_TABLE1, P.ALGORITHM): prestorepro/plan/base.py.


rule train_table1:
    input:
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=code_of("train_table1"),
    output:
        metrics=f"{R}/table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}/metrics.json",
        assignment=f"{R}/table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}/assignment.npz",
    log:
        f"{R}/logs/train_table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.GPU,
    params:
        device=config["device"],
        precision=config["precision"],
        embedding=config["embedding"],
        dataset=P.dataset_cfg,
        presto=P.TRAIN_PRESTO,
        table1=P.TRAIN_TABLE1,
        options=P.method_options,
        widths=config["components"]["widths"],
        checkpoint=f"{R}/checkpoints/table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}.pt",
        sequential=P.table1_sequential,
    script:
        "../scripts/train_table1.py"


rule synthetic_experiment:
    input:
        data=f"{R}/data/{{dataset}}/prepared.npz",
        code=code_of("synthetic_experiment"),
    output:
        metrics=f"{R}/synthetic/{{dataset}}/seed{{seed}}/metrics.json",
        rounds=f"{R}/synthetic/{{dataset}}/seed{{seed}}/rounds.npz",
    log:
        f"{R}/logs/synthetic_experiment/{{dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_experiment/{{dataset}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    params:
        device=config["device"],
        precision=config["precision"],
        dataset=P.dataset_cfg,
        synthetic=config["synthetic"],
        algorithm=P.ALGORITHM,
        checkpoint=f"{R}/checkpoints/synthetic/{{dataset}}/seed{{seed}}.pt",
    script:
        "../scripts/synthetic_experiment.py"


rule synthetic_method:
    input:
        data=f"{R}/data/{{dataset}}/prepared.npz",
        code=code_of("synthetic_method"),
    output:
        metrics=f"{R}/synthetic/{{dataset}}/{{smethod}}/seed{{seed}}/metrics.json",
        rounds=f"{R}/synthetic/{{dataset}}/{{smethod}}/seed{{seed}}/rounds.npz",
    log:
        f"{R}/logs/synthetic_method/{{dataset}}/{{smethod}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic_method/{{dataset}}/{{smethod}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    params:
        device=config["device"],
        precision=config["precision"],
        dataset=P.dataset_cfg,
        synthetic=config["synthetic"],
        options=P.method_options,
        checkpoint=f"{R}/checkpoints/synthetic/{{dataset}}/{{smethod}}/seed{{seed}}.pt",
    script:
        "../scripts/synthetic_method.py"
