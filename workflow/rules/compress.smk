# Resource-constrained comparison (SPEC §6, paper §4.2, App. B.5): SNIP, GraSP, KD, DGKD and PRESTO
# in sequential mode at PRESTO's parameter budget (Table 2), and accuracy against peak training /
# inference memory while the budget is swept (Fig. 3 and 8). Design: prestorepro.experiments.compress.
#
#   {R}/compress/{dataset}/guide/{role}/seed{seed}/model.pt      teacher, assistant (and reference)
#   {R}/compress/{dataset}/{cmethod}/{point}/seed{seed}/metrics.json   point: table2 | sweep<i>
#   {R}/compress/{dataset}/presto/k{k}/seed{seed}/metrics.json        from the Table-1 partition at K

CMP = config["compress"]
CMP_METHODS = CMP["methods"]
CMP_SINGLE = [m for m in CMP_METHODS if m != "presto"]
CMP_STUDENTS = [m for m in CMP_SINGLE if m in ("kd", "dgkd")]
CMP_SWEEP_SEEDS = CMP["sweep_seeds"] or SEEDS
CMP_POINTS = ["table2"] + [f"sweep{i}" for i in range(CMP["student_sweep_points"])]
CMP_FIGURES = {"fig3": ("cifar10", "pathmnist"), "fig8": ("dermamnist", "svhn")}  # paper Fig. 3 / Fig. 8
CODE_COMPRESS = code("compress", "models", "training", "presto/gate.py", "experiments/compress.py",
                     "experiments/table1.py", "metrics.py", "io.py", "provenance.py")
CODE_REPORT_COMPRESS = code("report/compress.py", "report/tables.py", "report/figures.py", "report/paper.py")

# The settings each kind of job reads: only these reach the job (as params), so editing a key
# re-runs exactly the jobs that use it.
_CMP_COMMON = ["batch_size", "l2", "infer_batch_size", "tolerance"]
_CMP_BUDGET = ["student_param_range", "student_param_scale", "student_sweep_points"]
CMP_KEYS = {
    "guide": ["lr"] + _CMP_COMMON,
    "snip": ["reference_widths", "prune_at", "pruned_epochs", "lr_pruned", "lr_paper", "score_samples_per_class",
             "score_batch_size", "grasp_temperature"] + _CMP_COMMON + _CMP_BUDGET,
    "kd": ["student_base_widths", "student_epochs", "lr", "kd_temperature", "kd_alpha", "dgkd_drop_prob"]
          + _CMP_COMMON + _CMP_BUDGET,
    "presto": ["presto_epochs", "infer_batch_size"],
}
CMP_KEYS["grasp"], CMP_KEYS["dgkd"] = CMP_KEYS["snip"], CMP_KEYS["kd"]
GUIDE_WIDTHS = {"teacher": "teacher_widths", "assistant": "assistant_widths", "reference": "reference_widths"}
GUIDE_EPOCHS = {"teacher": "guide_epochs", "assistant": "guide_epochs", "reference": "reference_epochs"}


def _check_compress():
    if "presto" in CMP_METHODS and "presto" not in METHODS:
        raise WorkflowError("config key compress.methods: presto needs the Table-1 PRESTO runs for its partition; "
                            "add presto to table1.methods or remove it from compress.methods")
    if CMP["prune_at"] == "trained" and CMP["reference_epochs"] < 1:
        raise WorkflowError("config key compress.reference_epochs: prune_at: trained needs a trained reference "
                            f"network, but reference_epochs is {CMP['reference_epochs']}; set it >= 1")
    from prestorepro.config import TRAIN_SIZES
    from prestorepro.presto.assignment import InfeasibleConstraintError, size_bounds

    for d in IMAGE_DATASETS:
        ds = config["datasets"][d]
        n = TRAIN_SIZES.get(ds["source"])
        if n is None or "presto" not in CMP_METHODS:
            continue
        n = min(n, ds.get("max_train", n))
        for k in CMP["presto_k_sweep"]:
            try:
                size_bounds(n, k, ds["leeway"])
            except InfeasibleConstraintError as exc:
                raise WorkflowError(f"config key compress.presto_k_sweep / datasets.{d}.leeway: {exc}") from None


_check_compress()


def cmp_settings(kind, **extra):
    return dict({key: CMP[key] for key in CMP_KEYS[kind]}, **extra)


def guide_settings(wildcards):
    role = wildcards.role
    return cmp_settings("guide", widths=CMP[GUIDE_WIDTHS[role]], epochs=CMP[GUIDE_EPOCHS[role]])


def method_settings(wildcards):
    return cmp_settings(wildcards.cmethod)


def guide_roles(method):
    if method == "kd":
        return ["teacher"]
    if method == "dgkd":
        return ["teacher", "assistant"]
    return ["reference"] if CMP["prune_at"] == "trained" else []


def guide_inputs(wildcards):
    """The trained guide(s) a method needs, as named inputs guide_<role> and guide_<role>_metrics."""
    out = {}
    for r in guide_roles(wildcards.cmethod):
        base = f"{R}/compress/{wildcards.dataset}/guide/{r}/seed{wildcards.seed}"
        out[f"guide_{r}"], out[f"guide_{r}_metrics"] = f"{base}/model.pt", f"{base}/metrics.json"
    return out


def method_guide_roles(wildcards):
    return guide_roles(wildcards.cmethod)


def presto_table1(kind):
    def files(wildcards):
        return f"{R}/table1/{wildcards.dataset}/k{wildcards.k}/presto/seed{wildcards.seed}/{kind}"

    files.__name__ = f"presto_table1_{kind.split('.')[0]}"
    return files


def compress_metrics(dataset, table2=True, sweep=True):
    """Metrics files of one dataset: the Table-2 row (every seed) and / or the sweep (sweep seeds)."""
    files = []
    if table2:
        files += expand(f"{R}/compress/{dataset}/{{m}}/table2/seed{{s}}/metrics.json", m=CMP_SINGLE, s=SEEDS)
        if "presto" in CMP_METHODS:
            files += expand(f"{R}/compress/{dataset}/presto/k{dataset_k(dataset)}/seed{{s}}/metrics.json", s=SEEDS)
    if sweep:
        files += expand(f"{R}/compress/{dataset}/{{m}}/{{p}}/seed{{s}}/metrics.json", m=CMP_STUDENTS,
                        p=CMP_POINTS[1:], s=CMP_SWEEP_SEEDS)
        if "presto" in CMP_METHODS:
            files += expand(f"{R}/compress/{dataset}/presto/k{{k}}/seed{{s}}/metrics.json",
                            k=[k for k in CMP["presto_k_sweep"] if k != dataset_k(dataset)], s=CMP_SWEEP_SEEDS)
    return sorted(set(files))


def figure_datasets(figure):
    return [d for d in IMAGE_DATASETS if config["datasets"][d]["source"] in CMP_FIGURES[figure]]


def figure_inputs(wildcards):
    return [f for d in figure_datasets(wildcards.figure) for f in compress_metrics(d)]


if CMP_METHODS and IMAGE_DATASETS:
    EXTRA_TARGETS.extend(expand(f"{R}/tables/table2.{{ext}}", ext=["csv", "md", "tex"]))
    EXTRA_TARGETS.extend(expand(f"{R}/figures/tradeoff_{{d}}.{{ext}}", d=IMAGE_DATASETS,
                                ext=config["report"]["formats"]))
    EXTRA_TARGETS.extend(expand(f"{R}/figures/{{f}}.{{ext}}", f=[f for f in CMP_FIGURES if figure_datasets(f)],
                                ext=config["report"]["formats"]))


rule train_guide:
    input:
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=CODE_COMPRESS,
    output:
        model=f"{R}/compress/{{dataset}}/guide/{{role}}/seed{{seed}}/model.pt",
        metrics=f"{R}/compress/{{dataset}}/guide/{{role}}/seed{{seed}}/metrics.json",
    wildcard_constraints:
        role="teacher|assistant|reference",
    params:
        dataset=dataset_cfg,
        settings=guide_settings,
        checkpoint=f"{R}/checkpoints/compress/{{dataset}}/guide/{{role}}/seed{{seed}}.pt",
    threads: config["threads"]
    resources:
        gpu=GPU,
    log:
        f"{R}/logs/train_guide/{{dataset}}/{{role}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_guide/{{dataset}}/{{role}}/seed{{seed}}.tsv"
    script:
        "../scripts/train_guide_compress.py"


rule train_compress:
    input:
        unpack(guide_inputs),
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        code=CODE_COMPRESS,
    output:
        metrics=f"{R}/compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}/metrics.json",
    wildcard_constraints:
        cmethod="snip|grasp|kd|dgkd",
        point=r"table2|sweep\d+",
    params:
        dataset=dataset_cfg,
        settings=method_settings,
        presto_widths=config["components"]["widths"],
        roles=method_guide_roles,
        checkpoint=f"{R}/checkpoints/compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.pt",
    threads: config["threads"]
    resources:
        gpu=GPU,
    log:
        f"{R}/logs/train_compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_compress/{{dataset}}/{{cmethod}}/{{point}}/seed{{seed}}.tsv"
    script:
        "../scripts/train_compress.py"


rule train_presto_sequential:
    input:
        features=f"{R}/embeddings/{{dataset}}/features.npz",
        meta=f"{R}/embeddings/{{dataset}}/features.json",
        assignment=presto_table1("assignment.npz"),
        table1=presto_table1("metrics.json"),
        code=CODE_COMPRESS,
    output:
        metrics=f"{R}/compress/{{dataset}}/presto/k{{k}}/seed{{seed}}/metrics.json",
    params:
        dataset=dataset_cfg,
        settings=cmp_settings("presto"),
        presto={key: config["presto"][key] for key in ("epochs", "batch_size", "lr", "lam", "gate_epochs", "gate_input")},
        widths=config["components"]["widths"],
        checkpoint=f"{R}/checkpoints/compress/{{dataset}}/presto/k{{k}}/seed{{seed}}.pt",
    threads: config["threads"]
    resources:
        gpu=GPU,
    log:
        f"{R}/logs/train_presto_sequential/{{dataset}}/k{{k}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train_presto_sequential/{{dataset}}/k{{k}}/seed{{seed}}.tsv"
    script:
        "../scripts/train_presto_sequential_compress.py"


rule make_table2:
    input:
        metrics=[f for d in IMAGE_DATASETS for f in compress_metrics(d, sweep=False)],
        code=CODE_REPORT_COMPRESS,
    output:
        table_outputs(f"{R}/tables/table2", "../report/table2.rst", CAT_COMPRESS),
    params:
        stem=f"{R}/tables/table2",
    log:
        f"{R}/logs/report/table2.log",
    script:
        "../scripts/make_table2.py"


def tradeoff_inputs(wildcards):
    return compress_metrics(wildcards.image_dataset)


rule make_tradeoff_figure:
    input:
        metrics=tradeoff_inputs,
        code=CODE_REPORT_COMPRESS,
    output:
        figure_outputs(f"{R}/figures/tradeoff_{{image_dataset}}", "../report/tradeoff.rst", CAT_COMPRESS),
    params:
        stem=f"{R}/figures/tradeoff_{{image_dataset}}",
        formats=config["report"]["formats"],
    log:
        f"{R}/logs/report/tradeoff_{{image_dataset}}.log",
    script:
        "../scripts/make_tradeoff_compress.py"


rule make_paper_tradeoff_figure:
    input:
        metrics=figure_inputs,
        code=CODE_REPORT_COMPRESS,
    output:
        figure_outputs(f"{R}/figures/{{figure}}", "../report/fig3_fig8.rst", CAT_COMPRESS),
    wildcard_constraints:
        figure="fig3|fig8",
    params:
        stem=f"{R}/figures/{{figure}}",
        formats=config["report"]["formats"],
    log:
        f"{R}/logs/report/{{figure}}.log",
    script:
        "../scripts/make_fig3_fig8_compress.py"
