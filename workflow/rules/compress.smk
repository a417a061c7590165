# Resource-constrained comparison (SPEC §6, paper §4.2, App. B.5): SNIP, GraSP, KD, DGKD and PRESTO
# in sequential mode at PRESTO's parameter budget (Table 2), and accuracy against peak training /
# inference memory while the budget is swept (Fig. 3 and 8). Design: docs/compress.md.
#
#   {R}/compress/{dataset}/guide/{role}/seed{seed}/model.pt      teacher, assistant (and reference)
#   {R}/compress/{dataset}/{cmethod}/{point}/seed{seed}/metrics.json   point: table2 | sweep<i>
#   {R}/compress/{dataset}/{t1method}/k{k}/seed{seed}/metrics.json    a Table-1 run at K (PRESTO, the one model)
# Settings, file lists and helper functions: prestorepro/plan/compress.py.


rule train_guide:
    input:
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=code_of("train_guide_compress"),
    output:
        model=f"{R}/compress/{{dataset}}/guide/{{role}}/seed{{seed}}/model.pt",
        metrics=f"{R}/compress/{{dataset}}/guide/{{role}}/seed{{seed}}/metrics.json",
    log:
        f"{R}/logs/train_guide/{{dataset}}/{{role}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_guide/{{dataset}}/{{role}}/seed{{seed}}.tsv"
    wildcard_constraints:
        role="teacher|assistant|reference",
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.GPU,
    params:
        device=config["device"],
        precision=config["precision"],
        dataset=P.dataset_cfg,
        settings=P.guide_settings,
        checkpoint=f"{R}/checkpoints/compress/{{dataset}}/guide/{{role}}/seed{{seed}}.pt",
    script:
        "../scripts/train_guide_compress.py"


rule train_compress:
    input:
        unpack(P.guide_inputs),
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=code_of("train_compress"),
    output:
        metrics=f"{R}/compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}/metrics.json",
    log:
        f"{R}/logs/train_compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.tsv"
    wildcard_constraints:
        cmethod=P.cmethod_constraint(),
        point=r"table2|sweep\d+",
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=P.GPU,
    params:
        device=config["device"],
        precision=config["precision"],
        dataset=P.dataset_cfg,
        settings=P.method_settings,
        presto_widths=config["components"]["widths"],
        roles=P.method_guide_roles,
        checkpoint=f"{R}/checkpoints/compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.pt",
    script:
        "../scripts/train_compress.py"


rule table1_point:
    input:
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        table1=P.point_table1_metrics,
        code=code_of("table1_point"),
    output:
        metrics=f"{R}/compress/{{dataset}}/{{t1method}}/k{{k}}/seed{{seed}}/metrics.json",
    log:
        f"{R}/logs/table1_point/{{dataset}}/{{t1method}}/k{{k}}/seed{{seed}}.log",
    wildcard_constraints:
        t1method=P.t1method_constraint(),
    localrule: True
    conda:
        ENV
    params:
        dataset=P.dataset_cfg,
    script:
        "../scripts/table1_point.py"


rule make_table2:
    input:
        metrics=P.table2_metrics(),
        code=code_of("make_table2"),
    output:
        table_outputs(f"{R}/tables/table2", "../report/table2.rst", CAT_COMPRESS, "Table 2"),
    log:
        f"{R}/logs/report/table2.log",
    localrule: True
    conda:
        ENV
    params:
        stem=stem_of("table"),
        predict=config["presto"]["predict"],
    script:
        "../scripts/make_table2.py"


rule make_tradeoff_figure:
    input:
        metrics=P.tradeoff_inputs,
        code=code_of("make_tradeoff_compress"),
    output:
        figure_outputs(
            f"{R}/figures/tradeoff_{{image_dataset}}",
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
        stem=stem_of("figure"),
        formats=config["report"]["formats"],
    script:
        "../scripts/make_tradeoff_compress.py"


rule make_paper_tradeoff_figure:
    input:
        metrics=P.figure_inputs,
        code=code_of("make_fig3_fig8_compress"),
    output:
        figure_outputs(f"{R}/figures/{{figure}}", "../report/fig3_fig8.rst", CAT_COMPRESS, "{figure}"),
    log:
        f"{R}/logs/report/{{figure}}.log",
    wildcard_constraints:
        figure="fig3|fig8",
    localrule: True
    conda:
        ENV
    params:
        stem=stem_of("figure"),
        formats=config["report"]["formats"],
    script:
        "../scripts/make_fig3_fig8_compress.py"
