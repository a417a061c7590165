"""How each rule's jobs are projected from their measured job: the phases their metrics record, scaled by
the ratio of their budgets in the two configs, of the training sizes and, for networks the configs size
differently, of the parameter counts; the rest of a job's wall time kept as measured."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from prestorepro.catalogue import method as catalogue_method
from prestorepro.config_checks import train_size
from prestorepro.forecast.dag import PlannedJob
from prestorepro.forecast.measured import Measured


@dataclass
class Projection:
    seconds: float
    rss_mib: float | None
    how: str
    factors: dict[str, float] = field(default_factory=dict)


def _dataset_cfg(cfg: Mapping, wc: Mapping[str, str]) -> Mapping | None:
    name = wc.get("dataset") or wc.get("image_dataset")
    return cfg["datasets"].get(name) if name else None


def _size_factor(job: PlannedJob, target: Mapping, got: Measured) -> float:
    ds = _dataset_cfg(target, job.wildcards)
    if ds is None or got.n_train is None:
        return 1.0
    if ds["source"] == "synthetic":
        return round(0.8 * target["synthetic"]["n"]) / got.n_train
    n = train_size(dict(ds))
    return n / got.n_train if n else 1.0


def _phases(got: Measured, scale: Mapping[str, float], size: float) -> float:
    """Seconds: the measured job's phases, each times its budget ratio and the size ratio, plus the rest of
    its wall time as measured."""
    done = got.metrics.get("seconds", {}) if got.metrics else {}
    total, spent = 0.0, 0.0
    for phase, sec in done.items():
        if phase in scale and isinstance(sec, (int, float)):
            total += float(sec) * scale[phase] * size
            spent += float(sec)
    return total + max(0.0, got.seconds - spent)


def _presto_units(cfg: Mapping, k: int, ablation: bool = False) -> dict[str, float]:
    p = cfg["presto"]
    rounds = p["rounds"]
    if ablation:
        rounds = cfg["ablation"].get("rounds", {}).get("image", rounds)
    return {"train": rounds * p["epochs"], "loss_matrix": rounds * k, "assignment": rounds, "singleton": rounds,
            "gate": p["gate_epochs"], "combiner": p["combiner_epochs"], "score_combiner": rounds * p["combiner_epochs"],
            "initial_partition": cfg["table1"]["n_init"], "partition": cfg["table1"]["n_init"]}


def _table1(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> Projection:
    k_t = int(job.wildcards.get("k", _dataset_cfg(target, job.wildcards)["k"]))
    m = got.metrics or {}
    k_m = int(m.get("k", k_t))
    ablation = job.rule == "train_ablation"
    t_units, m_units = _presto_units(target, k_t, ablation), _presto_units(measured_cfg, k_m, ablation)
    runs = int(m.get("runs", 1))  # an ablation job: every variant is a run of its own
    rounds_run = m.get("rounds_run")
    m_units = {ph: u * runs for ph, u in m_units.items()}
    if rounds_run:  # measured runs that stopped early: per round of those they ran
        m_units.update({"train": rounds_run * measured_cfg["presto"]["epochs"], "loss_matrix": rounds_run * k_m,
                        "assignment": rounds_run, "singleton": rounds_run,
                        "score_combiner": rounds_run * measured_cfg["presto"]["combiner_epochs"]})
    t_units = {ph: u * runs for ph, u in t_units.items()}
    method = m.get("method", job.wildcards.get("method"))
    clustering = (catalogue_method("table1", method).restarts
                  or (method == "presto" and _dataset_cfg(target, job.wildcards).get("init") != "random"))
    scale = {ph: t_units[ph] / m_units[ph] for ph in t_units if m_units.get(ph)}
    if not clustering:
        scale["partition"] = scale["initial_partition"] = 1.0
    size = _size_factor(job, target, got)
    seconds = _phases(got, scale, size)
    return Projection(seconds, got.rss_mib, "phases scaled", {"size": size, **scale})


def _width_factor(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> float:
    """Ratio of the networks' parameters (target / measured) when the two configs give the guides or the
    pruning reference other widths: the time of a ResNet tail's step grows about with its parameters."""
    from prestorepro.models.parameters import tail_parameter_count

    m = got.metrics or {}
    ds = _dataset_cfg(target, job.wildcards)
    if ds is None or "num_classes" not in m:
        return 1.0
    role = job.wildcards.get("role")
    method = job.wildcards.get("cmethod")
    entry = catalogue_method("compress", method) if method else None
    keys = ([f"{role}_widths"] if role else ["reference_widths"] if entry.role == "pruning"
            else [f"{g}_widths" for g in entry.guides])

    def params(cfg):
        return sum(tail_parameter_count(ds["cut"], cfg["compress"][k], m["num_classes"]) for k in keys)

    own = m.get("num_parameters", 0) if entry is not None and entry.role == "student" else 0  # the same in both
    return (params(target) + own) / (params(measured_cfg) + own)


def _epochs_job(epochs_key: Callable[[Mapping, PlannedJob], int]):
    def project(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> Projection:
        m = got.metrics or {}
        per_epoch = m.get("epoch_seconds") or []
        size = _size_factor(job, target, got)
        width = _width_factor(job, target, measured_cfg, got)
        if not per_epoch:
            return Projection(got.seconds, got.rss_mib, "whole job as measured (no epoch times)", {"size": size})
        e_t = epochs_key(target, job)
        mean = sum(per_epoch) / len(per_epoch)
        rest = max(0.0, got.seconds - sum(per_epoch))
        factors = {"size": size, "epochs": e_t / len(per_epoch)}
        how = "epochs scaled"
        if width != 1.0:
            factors["width"] = width
            how += "; networks' widths scaled by parameter count"
        return Projection(rest + mean * e_t * size * width, got.rss_mib, how, factors)
    return project


def _compress_epochs(cfg: Mapping, job: PlannedJob) -> int:
    c = cfg["compress"]
    entry = catalogue_method("compress", job.wildcards.get("cmethod"))
    return c["pruned_epochs"] if entry.role == "pruning" else c["student_epochs"]


def _coreset(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> Projection:
    from prestorepro.coreset.schedule import SelectionSchedule

    m = got.metrics or {}
    hist = [h for h in m.get("history", []) if not h.get("skipped")]
    size = _size_factor(job, target, got)
    if not hist:
        return Projection(got.seconds, got.rss_mib, "whole job as measured (no epoch times)", {"size": size})
    full = [h["seconds"] for h in hist if h.get("full_data")]
    sub = [h["seconds"] for h in hist if not h.get("full_data")]
    frac = float(m.get("fraction") or 1.0)
    t_full = sum(full) / len(full) if full else (sum(sub) / len(sub)) / max(frac, 1e-9)
    t_sub = sum(sub) / len(sub) if sub else t_full * frac
    # the method: its metrics say it; the job's wildcard is coreset_method (train_coreset_full has none)
    key = m.get("method") or job.wildcards.get("coreset_method") or job.wildcards.get("method") or "full"
    entry = catalogue_method("coreset", key)

    def schedule(cfg):
        c = cfg["coreset"]
        own = (c.get(entry.options) or {}).get("interval") if entry.options else None
        interval = own if own is not None else c["interval"]
        return SelectionSchedule(c["epochs"], interval, c["kappa"] if entry.warm else 0.0, frac)

    sched = schedule(target)
    subset_epochs = sched.subset_epochs if frac < 1 else 0
    full_epochs = sched.warm_epochs if frac < 1 else target["coreset"]["epochs"]
    sel = m.get("selections", [])
    # an adaptive method selected on its schedule's epochs; one that did not (PBCS) selects once
    adaptive = len(sel) == len(schedule(measured_cfg).selection_epochs())
    n_sel = (len(sched.selection_epochs()) if adaptive else len(sel)) if sel else 0
    t_sel = sum(s["seconds"] for s in sel) / len(sel) if sel else 0.0
    measured_parts = sum(h["seconds"] for h in hist) + sum(s["seconds"] for s in sel)
    rest = max(0.0, got.seconds - measured_parts)
    seconds = rest + size * (full_epochs * t_full + subset_epochs * t_sub + n_sel * t_sel)
    return Projection(seconds, got.rss_mib, "epochs and selections scaled",
                      {"size": size, "full_epochs": full_epochs, "subset_epochs": subset_epochs, "selections": n_sel})


def _embed(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> Projection:
    m = got.metrics or {}
    secs = m.get("seconds") or {}
    size = _size_factor(job, target, got)
    done = sum(secs.values())
    return Projection(max(0.0, got.seconds - done) + done * size, got.rss_mib,
                      "splits scaled" if secs else "whole job as measured", {"size": size})


def _synthetic(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> Projection:
    """App. C's runs record each round's training seconds: those are scaled by rounds, epochs and n; the
    rest of the job (loading, the assignment of each round, the gate) is kept as measured."""
    def per_run(cfg):
        s = cfg["synthetic"]
        rounds = s["rounds"]
        if job.rule == "synthetic_ablation":
            rounds = cfg["ablation"].get("rounds", {}).get("synthetic", rounds)
        return rounds, s["epochs"] * s["n"]

    m = got.metrics or {}
    train = [h["train_seconds"] for h in m.get("history", []) if isinstance(h.get("train_seconds"), (int, float))]
    if not train:
        return Projection(got.seconds, got.rss_mib, "whole job as measured (no round times)", {})
    runs = int(m.get("runs", 1))
    (r_t, u_t), (_, u_m) = per_run(target), per_run(measured_cfg)
    per_round = sum(train) / len(train) * u_t / u_m
    rest = max(0.0, got.seconds - sum(train))
    return Projection(rest + per_round * r_t * runs, got.rss_mib, "round training times scaled",
                      {"rounds": r_t * runs / len(train), "epochs_x_n": u_t / u_m})


def _as_measured(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured) -> Projection:
    size = _size_factor(job, target, got)
    if job.rule == "prepare_data" and size != 1.0:
        return Projection(got.seconds * size, got.rss_mib, "whole job scaled by N", {"size": size})
    return Projection(got.seconds, got.rss_mib, "as measured", {})


MODELS: dict[str, Callable[..., Projection]] = {
    "train_table1": _table1,
    "train_ablation": _table1,
    "train_guide": _epochs_job(lambda cfg, job: cfg["compress"]["guide_epochs"]),
    "train_compress": _epochs_job(_compress_epochs),
    "train_coreset": _coreset,
    "train_coreset_full": _coreset,
    "embed": _embed,
    "synthetic_experiment": _synthetic,
    "synthetic_method": _synthetic,
    "synthetic_ablation": _synthetic,
}

# Raw file sizes (MB) of the paper's downloads; download time is not measured (no network here).
DOWNLOAD_MB = {"cifar10": 163, "svhn": 182 + 64, "pathmnist": 206, "dermamnist": 20}


def project(job: PlannedJob, target: Mapping, measured_cfg: Mapping, got: Measured | None, how: str,
            bandwidth_mb_s: float) -> Projection:
    if job.rule == "download_data":
        ds = _dataset_cfg(target, job.wildcards) or {}
        mb = DOWNLOAD_MB.get(ds.get("source"), 0) if target.get("download") else 0
        return Projection(mb / bandwidth_mb_s, None, f"assumed {bandwidth_mb_s:g} MB/s for {mb} MB" if mb
                          else "nothing to download", {})
    if not job.outputs:  # the target rule (all): it only names the other jobs' files
        return Projection(0.0, None, "no work (target rule)", {})
    if got is None:
        return Projection(float("nan"), None, "not measured", {})
    return MODELS.get(job.rule, _as_measured)(job, target, measured_cfg, got)
