"""The resource-constrained comparison (SPEC §6, paper §4.2, App. B.5): SNIP, GraSP, KD, DGKD and PRESTO in
sequential mode at PRESTO's parameter budget (Table 2), and accuracy against peak training / inference
memory while the budget is swept (Fig. 3 and 8); workflow/rules/compress.smk. Design: docs/compress.md. Its files
(prestorepro.paths): ``guide_model`` and ``guide_metrics`` (teacher, assistant, pruning reference),
``compress_metrics`` (a method at a point: table2 | sweep<i>) and ``compress_table1_metrics`` (a Table-1 run at K:
PRESTO, the one model).
"""
from __future__ import annotations

from prestorepro.catalogue import TABLE1_ROLES, method as catalogue_method
from prestorepro.compress.budget import GUIDE_ROLES, guide_roles as budget_guide_roles
from prestorepro.config_checks import paper_dataset
from prestorepro.plan.base import TABLE_FORMATS, PlanBase, alternatives

CMP_FIGURES = {"fig3": ("cifar10", "pathmnist"), "fig8": ("dermamnist", "svhn")}  # paper Fig. 3 / Fig. 8
# The settings each kind of job reads: only these reach the job (as params), so editing a key re-runs exactly
# the jobs that use it.
_COMMON = ["batch_size", "l2", "infer_batch_size", "tolerance"]
_BUDGET = ["student_param_range", "student_param_scale", "student_sweep_points"]
CMP_KEYS = {
    "guide": ["lr"] + _COMMON,
    "pruning": ["reference_widths", "prune_at", "pruned_epochs", "lr_pruned", "lr_paper", "score_samples_per_class",
                "score_batch_size", "grasp_temperature"] + _COMMON + _BUDGET,
    "student": ["student_base_widths", "student_epochs", "lr", "kd_temperature", "kd_alpha", "dgkd_drop_prob"]
               + _COMMON + _BUDGET,
}
GUIDE_WIDTHS = {"teacher": "teacher_widths", "assistant": "assistant_widths", "reference": "reference_widths"}
GUIDE_EPOCHS = {"teacher": "guide_epochs", "assistant": "guide_epochs", "reference": "reference_epochs"}


class CompressPlan(PlanBase):
    def __init__(self, config):
        super().__init__(config)
        self.CMP = c = config["compress"]
        self.CMP_METHODS = c["methods"]
        # the methods trained by compress jobs of their own, and those whose row is a Table-1 run
        self.CMP_SINGLE = [m for m in self.CMP_METHODS if catalogue_method("compress", m).role not in TABLE1_ROLES]
        self.CMP_TABLE1 = [m for m in self.CMP_METHODS if catalogue_method("compress", m).role in TABLE1_ROLES]
        self.CMP_STUDENTS = [m for m in self.CMP_SINGLE if catalogue_method("compress", m).role == "student"]
        self.CMP_SWEEP_SEEDS = c["sweep_seeds"] or self.SEEDS
        self.CMP_POINTS = ["table2"] + [f"sweep{i}" for i in range(c["student_sweep_points"])]
        self.PRESTO_POINTS = self._presto_points()

    def cmethod_constraint(self) -> str:
        from prestorepro.catalogue import methods

        return "|".join(m.key for m in methods("compress") if m.role not in TABLE1_ROLES)

    def guide_role_constraint(self) -> str:
        return alternatives(GUIDE_ROLES)

    def t1method_constraint(self) -> str:
        from prestorepro.catalogue import methods

        return "|".join(m.key for m in methods("compress") if m.role in TABLE1_ROLES)

    def _settings(self, kind: str, **extra) -> dict:
        return dict({key: self.CMP[key] for key in CMP_KEYS[kind]}, **extra)

    def _presto_points(self) -> set[tuple[str, int, int]]:
        """(dataset, K, seed) of the compress stage's PRESTO points: their Table-1 runs run Algorithm 1 in
        sequential mode with the memory measured (one run serves Table 1 and Table 2)."""
        if "presto" not in self.CMP_METHODS:
            return set()
        points = set()
        for d in self.IMAGE_DATASETS:
            points |= {(d, self.dataset_k(d), s) for s in self.SEEDS}
            points |= {(d, k, s) for k in self.CMP["presto_k_sweep"] if k != self.dataset_k(d) for s in self.CMP_SWEEP_SEEDS}
        return points

    def table1_sequential(self, wildcards) -> bool:
        """Whether a Table-1 run is one of the compress stage's PRESTO points (then sequential, measured)."""
        return wildcards.method == "presto" and (wildcards.dataset, int(wildcards.k), int(wildcards.seed)) in self.PRESTO_POINTS

    def guide_settings(self, wildcards) -> dict:
        role = wildcards.role
        return self._settings("guide", widths=self.CMP[GUIDE_WIDTHS[role]], epochs=self.CMP[GUIDE_EPOCHS[role]])

    def method_settings(self, wildcards) -> dict:
        return self._settings(catalogue_method("compress", wildcards.cmethod).role)

    def guide_roles(self, method: str) -> list[str]:
        return budget_guide_roles(method, self.CMP["prune_at"])

    def guide_inputs(self, wildcards) -> dict[str, str]:
        """The trained guide(s) a method needs, as named inputs guide_<role> and guide_<role>_metrics."""
        out = {}
        for r in self.guide_roles(wildcards.cmethod):
            run = dict(dataset=wildcards.dataset, role=r, seed=wildcards.seed)
            out[f"guide_{r}"], out[f"guide_{r}_metrics"] = self.path("guide_model", **run), self.path("guide_metrics", **run)
        return out

    def method_guide_roles(self, wildcards) -> list[str]:
        return self.guide_roles(wildcards.cmethod)

    def point_table1_metrics(self, wildcards) -> str:
        """The Table-1 run a Table-2 row (or sweep point) of PRESTO or the one model is."""
        return self.path("table1_metrics", dataset=wildcards.dataset, k=wildcards.k, method=wildcards.t1method,
                         seed=wildcards.seed)

    def compress_metrics(self, dataset: str, table2: bool = True, sweep: bool = True) -> list[str]:
        """Metrics files of one dataset: the Table-2 row (every seed) and / or the sweep (sweep seeds)."""
        files = []
        if table2:
            files += self.files("compress_metrics", dataset=dataset, cmethod=self.CMP_SINGLE, point="table2",
                                seed=self.SEEDS)
            files += self.files("compress_table1_metrics", dataset=dataset, t1method=self.CMP_TABLE1,
                                k=self.dataset_k(dataset), seed=self.SEEDS)
        if sweep:
            files += self.files("compress_metrics", dataset=dataset, cmethod=self.CMP_STUDENTS,
                                point=self.CMP_POINTS[1:], seed=self.CMP_SWEEP_SEEDS)
            if "presto" in self.CMP_METHODS:
                files += self.files("compress_table1_metrics", dataset=dataset, t1method="presto",
                                    k=[k for k in self.CMP["presto_k_sweep"] if k != self.dataset_k(dataset)],
                                    seed=self.CMP_SWEEP_SEEDS)
        return sorted(set(files))

    def table2_metrics(self) -> list[str]:
        return [f for d in self.IMAGE_DATASETS for f in self.compress_metrics(d, sweep=False)]

    def figure_datasets(self, figure: str) -> list[str]:
        return [d for d in self.IMAGE_DATASETS if paper_dataset(self.config["datasets"][d]) in CMP_FIGURES[figure]]

    def figure_inputs(self, wildcards) -> list[str]:
        return [f for d in self.figure_datasets(wildcards.figure) for f in self.compress_metrics(d)]

    def tradeoff_inputs(self, wildcards) -> list[str]:
        return self.compress_metrics(wildcards.image_dataset)

    def compress_targets(self) -> list[str]:
        if not (self.CMP_METHODS and self.IMAGE_DATASETS):
            return []
        F = self.FORMATS
        return (self.files("table", name="table2", ext=TABLE_FORMATS)
                + self.files("figure", name=[f"tradeoff_{d}" for d in self.IMAGE_DATASETS], ext=F)
                + self.files("figure", name=[f for f in CMP_FIGURES if self.figure_datasets(f)], ext=F))
