# Resource-constrained comparison (SPEC §6, paper §4.2, App. B.5): SNIP, GraSP, KD, DGKD and PRESTO
# in sequential mode at PRESTO's parameter budget (Table 2), and accuracy against peak training /
# inference memory while the budget is swept (Fig. 3 and 8). Design: docs/compress.md.
#
#   {R}/compress/{dataset}/guide/{role}/seed{seed}/model.pt      teacher, assistant (and reference)
#   {R}/compress/{dataset}/{cmethod}/{point}/seed{seed}/metrics.json   point: table2 | sweep<i>
#   {R}/compress/{dataset}/presto/k{k}/seed{seed}/metrics.json        from the Table-1 partition at K
# Planning for compress.smk: its settings, file lists and the functions its rules call (the rule file
# holds rules only).

from prestorepro.compress.budget import GUIDES, STUDENTS
from prestorepro.compress.budget import guide_roles as budget_guide_roles

CMP = config["compress"]
CMP_METHODS = CMP["methods"]
CMP_SINGLE = [m for m in CMP_METHODS if m != "presto"]
CMP_STUDENTS = [m for m in CMP_SINGLE if m in STUDENTS]
CMP_SWEEP_SEEDS = CMP["sweep_seeds"] or SEEDS
CMP_POINTS = ["table2"] + [f"sweep{i}" for i in range(CMP["student_sweep_points"])]
CMP_FIGURES = {"fig3": ("cifar10", "pathmnist"), "fig8": ("dermamnist", "svhn")}  # paper Fig. 3 / Fig. 8


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
}


CMP_KEYS["grasp"], CMP_KEYS["dgkd"] = CMP_KEYS["snip"], CMP_KEYS["kd"]
GUIDE_WIDTHS = {"teacher": "teacher_widths", "assistant": "assistant_widths", "reference": "reference_widths"}
GUIDE_EPOCHS = {"teacher": "guide_epochs", "assistant": "guide_epochs", "reference": "reference_epochs"}


def cmp_settings(kind, **extra):
    return dict({key: CMP[key] for key in CMP_KEYS[kind]}, **extra)


def presto_points():
    """(dataset, K, seed) of the compress stage's PRESTO points: their Table-1 runs run Algorithm 1 in
    sequential mode with the memory measured (one run serves Table 1 and Table 2)."""
    if "presto" not in CMP_METHODS:
        return set()
    points = set()
    for d in IMAGE_DATASETS:
        points |= {(d, dataset_k(d), s) for s in SEEDS}
        points |= {(d, k, s) for k in CMP["presto_k_sweep"] if k != dataset_k(d) for s in CMP_SWEEP_SEEDS}
    return points


PRESTO_POINTS = presto_points()


def table1_sequential(wildcards):
    """Whether a Table-1 run is one of the compress stage's PRESTO points (then sequential, measured)."""
    return wildcards.method == "presto" and (wildcards.dataset, int(wildcards.k), int(wildcards.seed)) in PRESTO_POINTS


def guide_settings(wildcards):
    role = wildcards.role
    return cmp_settings("guide", widths=CMP[GUIDE_WIDTHS[role]], epochs=CMP[GUIDE_EPOCHS[role]])


def method_settings(wildcards):
    return cmp_settings(wildcards.cmethod)


def guide_roles(method):
    return budget_guide_roles(method, CMP["prune_at"])


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
    return [d for d in IMAGE_DATASETS if paper_dataset(config["datasets"][d]) in CMP_FIGURES[figure]]


def figure_inputs(wildcards):
    return [f for d in figure_datasets(wildcards.figure) for f in compress_metrics(d)]


if CMP_METHODS and IMAGE_DATASETS:
    EXTRA_TARGETS.extend(expand(f"{R}/tables/table2.{{ext}}", ext=["csv", "md", "tex"]))
    EXTRA_TARGETS.extend(expand(f"{R}/figures/tradeoff_{{d}}.{{ext}}", d=IMAGE_DATASETS,
                                ext=config["report"]["formats"]))
    EXTRA_TARGETS.extend(expand(f"{R}/figures/{{f}}.{{ext}}", f=[f for f in CMP_FIGURES if figure_datasets(f)],
                                ext=config["report"]["formats"]))


def tradeoff_inputs(wildcards):
    return compress_metrics(wildcards.image_dataset)
