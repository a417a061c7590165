# Tables and figures (SPEC §9): built from metrics files only, so editing report code re-runs
# only these jobs.

CODE_REPORT = code("report")


rule make_table1:
    input:
        metrics=[f for d in IMAGE_DATASETS for f in table1_metrics(d)],
        code=CODE_REPORT,
    output:
        expand(f"{R}/tables/table1.{{ext}}", ext=["csv", "md", "tex"]),
    params:
        stem=f"{R}/tables/table1",
    log:
        f"{R}/logs/report/table1.log",
    script:
        "../scripts/make_table1.py"


rule make_params_table:
    input:
        sidecars=expand(f"{R}/embeddings/{{d}}/features.json", d=IMAGE_DATASETS),
        code=CODE_REPORT,
    output:
        expand(f"{R}/tables/params.{{ext}}", ext=["csv", "md", "tex"]),
    params:
        stem=f"{R}/tables/params",
        names=IMAGE_DATASETS,
        datasets={d: config["datasets"][d] for d in IMAGE_DATASETS},
        widths=config["components"]["widths"],
    log:
        f"{R}/logs/report/params.log",
    script:
        "../scripts/make_params_table.py"


rule summarize_synthetic:
    input:
        metrics=expand(f"{R}/synthetic/{{{{dataset}}}}/seed{{seed}}/metrics.json", seed=SEEDS),
        code=CODE_REPORT,
    output:
        f"{R}/synthetic/{{dataset}}/summary.json",
    log:
        f"{R}/logs/report/synthetic_{{dataset}}.log",
    script:
        "../scripts/summarize_synthetic.py"


rule make_fig6:
    input:
        rounds=f"{R}/synthetic/{{dataset}}/seed{SEEDS[0]}/rounds.npz",
        metrics=f"{R}/synthetic/{{dataset}}/seed{SEEDS[0]}/metrics.json",
        code=CODE_REPORT,
    output:
        expand(f"{R}/figures/fig6_{{{{dataset}}}}.{{ext}}", ext=config["report"]["formats"]),
    params:
        stem=f"{R}/figures/fig6_{{dataset}}",
        snapshot_rounds=config["synthetic"]["snapshot_rounds"],
        formats=config["report"]["formats"],
    log:
        f"{R}/logs/report/fig6_{{dataset}}.log",
    script:
        "../scripts/make_fig6.py"
