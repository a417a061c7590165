# Tables and figures (SPEC §9): built from metrics files only, so editing report code re-runs
# only these jobs. Each table is CSV + Markdown + LaTeX (+ HTML for the Snakemake report), each
# figure PNG + PDF; `snakemake --report results/report.html` collects them with the captions in
# workflow/report/, grouped by experiment.
# Planning for report.smk: its settings, file lists and the functions its rules call (the rule file
# holds rules only).

import os
from prestorepro.report.paper import PRESTO_SHARED
FORMATS = config["report"]["formats"]
K_SWEEP = config["presto"]["k_sweep"]
K_SWEEP_SEEDS = config["presto"]["k_sweep_seeds"] or SEEDS


# Report categories, one per experiment (the report's sidebar lists them in this order).
CAT_TABLE1 = "1. Table 1: partitioning and mixture baselines"


CAT_K = "2. Fig. 7: accuracy against K"
CAT_ROUNDS = "3. PRESTO round by round"
CAT_COMPRESS = "4. Table 2, Fig. 3 and 8: resource-constrained comparison"
CAT_CORESET = "5. Coreset baselines"
CAT_SYNTHETIC = "6. App. C, Fig. 6: synthetic mixture of SVMs"
CAT_SETUP = "7. Set-up: datasets, hyper-parameters, parameter counts"
CAT_ABLATION = "8. Ablation of PRESTO"
CAT_PAPER = "0. Paper comparison"
report: "../../report/workflow.rst"


if K_SWEEP and IMAGE_DATASETS and "presto" not in METHODS:
    raise WorkflowError("config key presto.k_sweep: the accuracy-vs-K figure (Fig. 7) runs PRESTO as a Table-1 "
                        "method, but 'presto' is not in table1.methods; add it there or set presto.k_sweep: []")


def stem_of(kind="table"):
    """A report job's output stem, derived from its outputs (not a path written twice), so it holds
    where jobs see other paths than the planner (a cluster without a shared file system): the stem of
    its table files (``kind="table"``: the CSV) or of its figure files (``kind="figure"``: the first
    configured format)."""

    def stem(wildcards, output):
        if kind == "table":
            hits = [f for f in output if f.endswith(".csv")]
        else:
            hits = [f for f in output if os.path.splitext(f)[1][1:] in FORMATS and not f.endswith(".csv")]
        if not hits:
            raise WorkflowError(f"no {kind} output among {list(output)}")
        return os.path.splitext(hits[0])[0]

    return stem


def results_dir(wildcards, output):
    """The results folder, derived from the comparison's own output (it sits at the folder's top)."""
    return os.path.dirname(output.md)


def table_outputs(stem, caption, category, subcategory=None):
    """CSV, Markdown, LaTeX, and the HTML page the report shows (with its caption)."""
    return [report(f"{stem}.html", caption=caption, category=category, subcategory=subcategory)] + [
        f"{stem}.{ext}" for ext in ("csv", "md", "tex")]


def figure_outputs(stem, caption, category, subcategory=None):
    """Every configured format; the report shows the PNG (or the first format) with its caption."""
    shown = "png" if "png" in FORMATS else FORMATS[0]
    return [report(f"{stem}.{ext}", caption=caption, category=category, subcategory=subcategory)
            if ext == shown else f"{stem}.{ext}" for ext in FORMATS]


def k_sweep_metrics(dataset):
    return expand(f"{R}/table1/{dataset}/k{{k}}/presto/seed{{seed}}/metrics.json", k=K_SWEEP, seed=K_SWEEP_SEEDS)


def presto_round_metrics(wildcards):
    """The PRESTO runs behind the per-round figure: the synthetic experiment, or Table 1's PRESTO at K."""
    d = wildcards.dataset
    if d in SYNTHETIC_DATASETS:
        return expand(f"{R}/synthetic/{d}/seed{{seed}}/metrics.json", seed=SEEDS)
    return expand(f"{R}/table1/{d}/k{dataset_k(d)}/presto/seed{{seed}}/metrics.json", seed=SEEDS)


def rounds_datasets():
    return SYNTHETIC_DATASETS + (IMAGE_DATASETS if "presto" in METHODS else [])


def comparison_tables(wildcards):
    """Table CSVs behind paper_comparison.md; Table 2 only where the compress stage builds it."""
    tables = {"table4": f"{R}/tables/table4.csv", "table5": f"{R}/tables/table5.csv"}
    if IMAGE_DATASETS:
        tables.update(table1=f"{R}/tables/table1.csv", params=f"{R}/tables/params.csv")
        if K_SWEEP:
            tables["fig7"] = f"{R}/tables/fig7_k_sweep.csv"
        if f"{R}/tables/table2.csv" in EXTRA_TARGETS:
            tables["table2"] = f"{R}/tables/table2.csv"
    tables.update({f"synthetic_{d}": f"{R}/tables/synthetic_{d}.csv" for d in SYNTHETIC_DATASETS})
    return tables


def config_origin():
    files = [os.path.relpath(f, workflow.basedir) if os.path.isabs(f) else str(f) for f in workflow.configfiles]
    overrides = workflow.config_settings.overwrite_config or {}
    return {"files": files, "overrides": {k: str(v) for k, v in overrides.items()}}


EXTRA_TARGETS.extend(
    expand(f"{R}/tables/{{t}}.{{ext}}", t=["table4", "table5"], ext=["csv", "md", "tex"])
    + [f"{R}/paper_comparison.md"]
    + expand(f"{R}/figures/presto_rounds_{{d}}.{{ext}}", d=rounds_datasets(), ext=FORMATS)
    + expand(f"{R}/tables/synthetic_{{d}}.{{ext}}", d=SYNTHETIC_DATASETS, ext=["csv", "md", "tex"])
)


if K_SWEEP and IMAGE_DATASETS:
    EXTRA_TARGETS.extend(expand(f"{R}/figures/fig7.{{ext}}", ext=FORMATS)
                         + expand(f"{R}/tables/fig7_k_sweep.{{ext}}", ext=["csv", "md", "tex"]))
