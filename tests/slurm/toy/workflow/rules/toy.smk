rule download_data:
    output:
        f"{RESULTS}/data/{{dataset}}/raw.json",
    log:
        f"{RESULTS}/logs/download_data/{{dataset}}.log",
    script:
        "../scripts/download_data.py"


rule prepare_data:
    input:
        rules.download_data.output,
    output:
        f"{RESULTS}/data/{{dataset}}/prepared.json",
    log:
        f"{RESULTS}/logs/prepare_data/{{dataset}}.log",
    script:
        "../scripts/prepare_data.py"


rule train_table1:
    input:
        rules.prepare_data.output,
    output:
        f"{RESULTS}/metrics/{{dataset}}/presto_seed{{seed}}.json",
    params:
        K=lambda wildcards: config["K"],
    log:
        f"{RESULTS}/logs/train_table1/{{dataset}}_seed{{seed}}.log",
    threads: 2
    script:
        "../scripts/train_table1.py"


rule make_table1:
    input:
        expand(
            f"{RESULTS}/metrics/{{dataset}}/presto_seed{{seed}}.json",
            dataset=config["datasets"],
            seed=config["seeds"],
        ),
    output:
        f"{RESULTS}/tables/table1.json",
    log:
        f"{RESULTS}/logs/make_table1.log",
    script:
        "../scripts/make_table1.py"


def attempt_number(wildcards, attempt):
    return attempt


# Fails on its first attempt, so that a run shows the profile's retry with larger mem_mb and runtime.
rule check_retry:
    input:
        rules.make_table1.output,
    output:
        f"{RESULTS}/retry.json",
    resources:
        attempt_number=attempt_number,
    log:
        f"{RESULTS}/logs/check_retry.log",
    script:
        "../scripts/check_retry.py"
