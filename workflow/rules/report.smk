# Tables and figures (SPEC §9): built from metrics files only, so editing report code re-runs
# only these jobs. Each table is CSV + Markdown + LaTeX (+ HTML for the Snakemake report), each
# figure PNG + PDF; `snakemake --report results/report.html` collects them with the captions in
# workflow/report/, grouped by experiment.
# File lists: prestorepro/plan/; the output helpers and categories: common.smk.


rule make_table1:
    input:
        metrics=P.presto.all_table1_metrics(),
        code=code_of("make_table1"),
    output:
        table_outputs(P.run.stem("table", "table1"), "../report/table1.rst", CAT_TABLE1, "Table 1"),
    log:
        f"{R}/logs/report/table1.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Table1Report.params(P),
    script:
        "../scripts/make_table1.py"


rule make_params_table:
    input:
        sidecars=P.run.files("features_meta", dataset=P.run.image_datasets),
        code=code_of("make_params_table"),
    output:
        table_outputs(P.run.stem("table", "params"), "../report/params.rst", CAT_SETUP, "Parameter counts"),
    log:
        f"{R}/logs/report/params.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.ParamsReport.params(P),
    script:
        "../scripts/make_params_table.py"


rule make_table4:
    input:
        metas=P.run.files("prepared_meta", dataset=P.run.datasets),
        code=code_of("make_table4"),
    output:
        table_outputs(P.run.stem("table", "table4"), "../report/table4.rst", CAT_SETUP, "Table 4: datasets"),
    log:
        f"{R}/logs/report/table4.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Table4Report.params(P),
    script:
        "../scripts/make_table4.py"


rule make_table5:
    input:
        code=code_of("make_table5"),
    output:
        table_outputs(P.run.stem("table", "table5"), "../report/table5.rst", CAT_SETUP, "Table 5: hyper-parameters"),
    log:
        f"{R}/logs/report/table5.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Table5Report.params(P),
    script:
        "../scripts/make_table5.py"


rule summarize_synthetic:
    input:
        metrics=P.presto.synthetic_seed_metrics,
        methods=P.presto.synthetic_method_metrics,
        code=code_of("summarize_synthetic"),
    output:
        P.run.path("synthetic_summary"),
    log:
        f"{R}/logs/report/synthetic_{{dataset}}.log",
    localrule: True
    conda:
        ENV
    script:
        "../scripts/summarize_synthetic.py"


rule make_synthetic_table:
    input:
        summary=P.run.path("synthetic_summary"),
        prepared_meta=P.run.path("prepared_meta"),
        code=code_of("make_synthetic_table"),
    output:
        table_outputs(
            P.run.stem("table", "synthetic_{dataset}"),
            "../report/synthetic_table.rst",
            CAT_SYNTHETIC,
            "Methods on the synthetic data",
            "{dataset}",
        ),
    log:
        f"{R}/logs/report/synthetic_table_{{dataset}}.log",
    localrule: True
    conda:
        ENV
    script:
        "../scripts/make_synthetic_table.py"


rule make_fig6:
    input:
        rounds=P.run.path("synthetic_rounds", seed=P.run.seeds[0]),
        metrics=P.run.path("synthetic_metrics", seed=P.run.seeds[0]),
        code=code_of("make_fig6"),
    output:
        figure_outputs(
            P.run.stem("figure", "fig6_{dataset}"), "../report/fig6.rst", CAT_SYNTHETIC, "Fig. 6: PRESTO", "{dataset}"
        ),
    log:
        f"{R}/logs/report/fig6_{{dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Fig6Report.params(P),
    script:
        "../scripts/make_fig6.py"


rule make_fig6_method:
    input:
        rounds=P.run.path("synthetic_method_rounds", seed=P.run.seeds[0]),
        metrics=P.run.path("synthetic_method_metrics", seed=P.run.seeds[0]),
        code=code_of("make_fig6"),
    output:
        figure_outputs(
            P.run.stem("figure", "fig6_{dataset}_{smethod}"),
            "../report/fig6_method.rst",
            CAT_SYNTHETIC,
            "Fig. 6: {smethod}",
            "{dataset}",
        ),
    log:
        f"{R}/logs/report/fig6_{{dataset}}_{{smethod}}.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Fig6Report.params(P),
    script:
        "../scripts/make_fig6.py"


rule make_fig7:
    input:
        metrics=P.presto.all_k_sweep_metrics(),
        code=code_of("make_fig7"),
    output:
        figure_outputs(P.run.stem("figure", "fig7"), "../report/fig7.rst", CAT_K, "Fig. 7")
        + table_outputs(P.run.stem("table", "fig7_k_sweep"), "../report/fig7_table.rst", CAT_K, "Fig. 7 as a table"),
    log:
        f"{R}/logs/report/fig7.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.Fig7Report.params(P),
    script:
        "../scripts/make_fig7.py"


rule make_presto_rounds:
    input:
        metrics=P.presto.round_metrics,
        code=code_of("make_presto_rounds"),
    output:
        figure_outputs(
            P.run.stem("figure", "presto_rounds_{dataset}"),
            "../report/presto_rounds.rst",
            CAT_ROUNDS,
            "Accuracy and loss by round",
            "{dataset}",
        ),
    log:
        f"{R}/logs/report/presto_rounds_{{dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.DatasetFigure.params(P),
    script:
        "../scripts/make_presto_rounds.py"


rule make_paper_comparison:
    input:
        unpack(P.comparison_tables),
        code=code_of("make_paper_comparison"),
    output:
        md=P.run.path("paper_comparison", ext="md"),
        html=report(
            P.run.path("paper_comparison", ext="html"),
            caption="../report/paper_comparison.rst",
            **_shown(CAT_PAPER, "Results against the paper", None),
        ),
    log:
        f"{R}/logs/report/paper_comparison.log",
    localrule: True
    conda:
        ENV
    params:
        **report_specs.ComparisonReport.params(P, origin=config_origin()),
    script:
        "../scripts/make_paper_comparison.py"
