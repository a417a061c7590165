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
from prestorepro.plan.base import TABLE_FORMATS, Run, alternatives

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


class CompressPlan:
    def __init__(self, run: Run):
        self.run = run
        self.settings = c = run.config["compress"]
        self.methods = c["methods"]
        # the methods trained by compress jobs of their own, and those whose row is a Table-1 run
        self.own_methods = [m for m in self.methods if catalogue_method("compress", m).role not in TABLE1_ROLES]
        self.table1_methods = [m for m in self.methods if catalogue_method("compress", m).role in TABLE1_ROLES]
        self.students = [m for m in self.own_methods if catalogue_method("compress", m).role == "student"]
        self.sweep_seeds = c["sweep_seeds"] or run.seeds
        self.points = ["table2"] + [f"sweep{i}" for i in range(c["student_sweep_points"])]
        self.presto_points = self._presto_points()

    def cmethod_constraint(self) -> str:
        from prestorepro.catalogue import methods

        return "|".join(m.key for m in methods("compress") if m.role not in TABLE1_ROLES)

    def guide_role_constraint(self) -> str:
        return alternatives(GUIDE_ROLES)

    def t1method_constraint(self) -> str:
        from prestorepro.catalogue import methods

        return "|".join(m.key for m in methods("compress") if m.role in TABLE1_ROLES)

    def _settings(self, kind: str, **extra) -> dict:
        return dict({key: self.settings[key] for key in CMP_KEYS[kind]}, **extra)

    def _presto_points(self) -> set[tuple[str, int, int]]:
        """(dataset, K, seed) of the compress stage's PRESTO points: their Table-1 runs run Algorithm 1 in
        sequential mode with the memory measured (one run serves Table 1 and Table 2)."""
        if "presto" not in self.methods:
            return set()
        run, points = self.run, set()
        for d in run.image_datasets:
            points |= {(d, run.dataset_k(d), s) for s in run.seeds}
            points |= {(d, k, s) for k in self.settings["presto_k_sweep"] if k != run.dataset_k(d)
                       for s in self.sweep_seeds}
        return points

    def table1_sequential(self, wildcards) -> bool:
        """Whether a Table-1 run is one of the compress stage's PRESTO points (then sequential, measured)."""
        return (wildcards.method == "presto"
                and (wildcards.dataset, int(wildcards.k), int(wildcards.seed)) in self.presto_points)

    def guide_settings(self, wildcards) -> dict:
        role = wildcards.role
        return self._settings("guide", widths=self.settings[GUIDE_WIDTHS[role]],
                              epochs=self.settings[GUIDE_EPOCHS[role]])

    def method_settings(self, wildcards) -> dict:
        return self._settings(catalogue_method("compress", wildcards.cmethod).role)

    def guide_roles(self, method: str) -> list[str]:
        return budget_guide_roles(method, self.settings["prune_at"])

    def guide_inputs(self, wildcards) -> dict[str, str]:
        """The trained guide(s) a method needs, as named inputs guide_<role> and guide_<role>_metrics."""
        out = {}
        for r in self.guide_roles(wildcards.cmethod):
            job = dict(dataset=wildcards.dataset, role=r, seed=wildcards.seed)
            out[f"guide_{r}"] = self.run.path("guide_model", **job)
            out[f"guide_{r}_metrics"] = self.run.path("guide_metrics", **job)
        return out

    def method_guide_roles(self, wildcards) -> list[str]:
        return self.guide_roles(wildcards.cmethod)

    def point_table1_metrics(self, wildcards) -> str:
        """The Table-1 run a Table-2 row (or sweep point) of PRESTO or the one model is."""
        return self.run.path("table1_metrics", dataset=wildcards.dataset, k=wildcards.k, method=wildcards.t1method,
                             seed=wildcards.seed)

    def metrics(self, dataset: str, table2: bool = True, sweep: bool = True) -> list[str]:
        """Metrics files of one dataset: the Table-2 row (every seed) and / or the sweep (sweep seeds)."""
        run, files = self.run, []
        if table2:
            files += run.files("compress_metrics", dataset=dataset, cmethod=self.own_methods, point="table2",
                               seed=run.seeds)
            files += run.files("compress_table1_metrics", dataset=dataset, t1method=self.table1_methods,
                               k=run.dataset_k(dataset), seed=run.seeds)
        if sweep:
            files += run.files("compress_metrics", dataset=dataset, cmethod=self.students, point=self.points[1:],
                               seed=self.sweep_seeds)
            if "presto" in self.methods:
                files += run.files("compress_table1_metrics", dataset=dataset, t1method="presto",
                                   k=[k for k in self.settings["presto_k_sweep"] if k != run.dataset_k(dataset)],
                                   seed=self.sweep_seeds)
        return sorted(set(files))

    def table2_metrics(self) -> list[str]:
        return [f for d in self.run.image_datasets for f in self.metrics(d, sweep=False)]

    def figure_datasets(self, figure: str) -> list[str]:
        return [d for d in self.run.image_datasets
                if paper_dataset(self.run.config["datasets"][d]) in CMP_FIGURES[figure]]

    def figure_inputs(self, wildcards) -> list[str]:
        return [f for d in self.figure_datasets(wildcards.figure) for f in self.metrics(d)]

    def tradeoff_inputs(self, wildcards) -> list[str]:
        return self.metrics(wildcards.image_dataset)

    def targets(self) -> list[str]:
        run = self.run
        if not (self.methods and run.image_datasets):
            return []
        F = run.formats
        return (run.files("table", name="table2", ext=TABLE_FORMATS)
                + run.files("figure", name=[f"tradeoff_{d}" for d in run.image_datasets], ext=F)
                + run.files("figure", name=[f for f in CMP_FIGURES if self.figure_datasets(f)], ext=F))
