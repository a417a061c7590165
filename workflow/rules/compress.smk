# Resource-constrained comparison (SPEC §6, paper §4.2, App. B.5): SNIP, GraSP, KD, DGKD and PRESTO
# in sequential mode at PRESTO's parameter budget (Table 2), and accuracy against peak training /
# inference memory while the budget is swept (Fig. 3 and 8). Design: docs/compress.md.
# Files: prestorepro/paths.py (guide_*, compress_metrics, compress_table1_metrics). Settings, file lists and
# helper functions: prestorepro/plan/compress.py.


rule train_guide:
    input:
        features=P.run.path("features"),
        meta=P.run.path("features_meta"),
        code=code_of("train_guide_compress"),
    output:
        model=P.run.path("guide_model"),
        metrics=P.run.path("guide_metrics"),
    log:
        f"{R}/logs/train_guide/{{dataset}}/{{role}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_guide/{{dataset}}/{{role}}/seed{{seed}}.tsv"
    wildcard_constraints:
        role=P.compress.guide_role_constraint(),
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.GuideJob.params(P),
    script:
        "../scripts/train_guide_compress.py"


rule train_compress:
    input:
        unpack(P.compress.guide_inputs),
        features=P.run.path("features"),
        meta=P.run.path("features_meta"),
        code=code_of("train_compress"),
    output:
        metrics=P.run.path("compress_metrics"),
    log:
        f"{R}/logs/train_compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.tsv"
    wildcard_constraints:
        cmethod=P.compress.cmethod_constraint(),
        point=r"table2|sweep\d+",
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.run.gpus,
    params:
        **specs.CompressJob.params(P),
    script:
        "../scripts/train_compress.py"


rule table1_point:
    input:
        meta=P.run.path("features_meta"),
        table1=P.compress.point_table1_metrics,
        code=code_of("table1_point"),
    output:
        metrics=P.run.path("compress_table1_metrics"),
    log:
        f"{R}/logs/table1_point/{{dataset}}/{{t1method}}/k{{k}}/seed{{seed}}.log",
    wildcard_constraints:
        t1method=P.compress.t1method_constraint(),
    localrule: True
    conda:
        ENV
    params:
        **specs.Table1PointJob.params(P),
    script:
        "../scripts/table1_point.py"


rule make_table2:
    input:
        metrics=P.compress.table2_metrics(),
        code=code_of("make_table2"),
    output:
        table_outputs(P.run.stem("table", "table2"), "../report/table2.rst", CAT_COMPRESS, "Table 2"),
    log:
        f"{R}/logs/report/table2.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Table2Report.params(P),
    script:
        "../scripts/make_table2.py"


rule make_tradeoff_figure:
    input:
        metrics=P.compress.tradeoff_inputs,
        code=code_of("make_tradeoff_compress"),
    output:
        figure_outputs(
            P.run.stem("figure", "tradeoff_{image_dataset}"),
            "../report/tradeoff.rst",
            CAT_COMPRESS,
            "Accuracy against memory",
            "{image_dataset}",
        ),
    log:
        f"{R}/logs/report/tradeoff_{{image_dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.TradeoffReport.params(P),
    script:
        "../scripts/make_tradeoff_compress.py"


rule make_paper_tradeoff_figure:
    input:
        metrics=P.compress.figure_inputs,
        code=code_of("make_fig3_fig8_compress"),
    output:
        figure_outputs(P.run.stem("figure", "{figure}"), "../report/fig3_fig8.rst", CAT_COMPRESS, "{figure}"),
    log:
        f"{R}/logs/report/{{figure}}.log",
    wildcard_constraints:
        figure="fig3|fig8",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.TradeoffReport.params(P),
    script:
        "../scripts/make_fig3_fig8_compress.py"
