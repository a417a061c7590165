"""Cost forecast of a configured run from a measured one: per rule, the jobs, the projected wall time and
peak memory, the total, and the critical path (the wall time with unlimited parallel jobs).

    python -m prestorepro.forecast --configfile config/paper.yaml \\
        --measured-config config/rehearsal.yaml --measured results/rehearsal --out results/forecast

The measured run is a finished run of the workflow (the rehearsal on stand-in data, ``config/rehearsal.yaml``,
is made for it: the paper's DAG and sizes, every budget cut to one or two rounds / epochs). Each job of the
target run is matched with the measured job of the same rule and wildcards (the seed, then the rest,
relaxed when the measured run has fewer) and projected from what that job recorded:

- its wall time (Snakemake's job metadata) and peak resident memory (its ``benchmark:`` file, where the
  rule has one), and
- the phase times its metrics record (PRESTO's training / loss matrix / assignment / gate, the coreset
  runs' epochs and selections, the pruned, distilled and guide networks' epochs, the embedding's splits).

A phase is scaled by the ratio of its budget in the two configs (rounds x epochs, gate epochs, n_init, K for
the loss matrix, the coreset schedule's full and subset epochs and selections) and by the ratio of the
training-set sizes (when the measured run used smaller stand-ins, ``scale`` < 1); the rest of the job's wall
time (start-up, loading, evaluation) is kept as measured. Every row says how it was projected; rows that
are ``measured`` ran at the target's budget and size. Memory is the measured job's peak; training memory
does not grow with epochs, but it does with N: a job measured at a smaller N is flagged.

This assumes time linear in N within a phase. The phases that are not (k-means-constrained's min-cost
flow, agglomerative clustering's O(n^2) on ``max_fit_samples``) are only right when measured at the target's
N: run the measured config at ``scale: 1`` on the device that will run the target.
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from prestorepro.catalogue import method as catalogue_method
from prestorepro.config import load_config, train_size
from prestorepro.io import read_json, write_json, write_text

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PlannedJob:
    rule: str
    wildcards: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    benchmark: str | None = None

    @property
    def key(self) -> tuple:
        return (self.rule, tuple(sorted(self.wildcards.items())))


@dataclass
class Measured:
    seconds: float
    rss_mib: float | None
    metrics: dict[str, Any] | None
    n_train: int | None


@dataclass
class Projection:
    seconds: float
    rss_mib: float | None
    how: str
    factors: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the DAG


def _split_paths(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def plan(configfile: str | Path, results: str | Path, cwd: Path = ROOT) -> list[PlannedJob]:
    """Every job of the workflow for ``configfile`` writing into ``results`` (``snakemake -n --forceall``),
    sorted by rule and outputs: Snakemake's dry run lists them in an order that changes from run to run, and
    job indices (edges, critical path, per-job rows) must mean the same job in every call."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--configfile", str(configfile),
                          "--config", f"results={results}"], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"snakemake could not plan {configfile}:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    jobs, cur = [], None
    for line in out.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            cur = PlannedJob(m.group(1), {}, [], [])
            jobs.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^    (input|output|benchmark|wildcards): (.*)$", line)
        if not m:
            continue
        field_, value = m.groups()
        if field_ == "input":
            cur.inputs = _split_paths(value)
        elif field_ == "output":
            cur.outputs = _split_paths(value)
        elif field_ == "benchmark":
            cur.benchmark = value.strip()
        else:
            cur.wildcards = dict(kv.split("=", 1) for kv in _split_paths(value))
    if not jobs:
        raise RuntimeError(f"snakemake planned no jobs for {configfile}:\n{out.stdout[-2000:]}")
    return sorted(jobs, key=lambda j: (j.rule, j.outputs, sorted(j.wildcards.items())))


def edges(jobs: list[PlannedJob]) -> dict[int, list[int]]:
    """Job index -> the indices of the jobs it needs (an output of one is an input of the other)."""
    producer = {o: i for i, j in enumerate(jobs) for o in j.outputs}
    return {i: sorted({producer[f] for f in j.inputs if f in producer and producer[f] != i})
            for i, j in enumerate(jobs)}


def critical_path(jobs: list[PlannedJob], seconds: list[float]) -> tuple[float, list[int]]:
    """Longest chain of dependent jobs by projected seconds: the wall time with unlimited parallel jobs."""
    deps = edges(jobs)
    finish: dict[int, float] = {}
    via: dict[int, int | None] = {}

    def visit(i: int) -> float:
        if i not in finish:
            finish[i] = 0.0  # guards against a cycle (Snakemake plans none)
            best, arg = 0.0, None
            for d in deps[i]:
                f = visit(d)
                if f > best:
                    best, arg = f, d
            finish[i], via[i] = best + seconds[i], arg
        return finish[i]

    sys.setrecursionlimit(max(10000, 4 * len(jobs)))
    end = max(range(len(jobs)), key=visit)
    chain, cur = [], end
    while cur is not None:
        chain.append(cur)
        cur = via.get(cur)
    return finish[end], chain[::-1]


# ----------------------------------------------------------------------------- the measured run


def _metadata(workdir: Path) -> dict[str, tuple[float, float]]:
    """Output path (resolved) -> (start, end) from Snakemake's per-output metadata in ``workdir``."""
    meta = {}
    base = workdir / ".snakemake" / "metadata"
    for f in base.rglob("*"):
        if not f.is_file():
            continue
        try:  # urlsafe base64 of the path, cut into folders of 255 characters when long
            path = base64.urlsafe_b64decode("".join(f.relative_to(base).parts)).decode()
            rec = json.loads(f.read_text())
        except (ValueError, OSError, UnicodeDecodeError):
            continue
        if rec.get("starttime") and rec.get("endtime"):
            meta[str((workdir / path).resolve())] = (float(rec["starttime"]), float(rec["endtime"]))
    return meta


def _read_json(path: str | Path) -> dict | None:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _max_rss(path: str | None, cwd: Path) -> float | None:
    if not path:
        return None
    try:
        lines = (cwd / path).read_text().splitlines()
        head, row = lines[0].split("\t"), lines[-1].split("\t")
        return float(row[head.index("max_rss")])
    except (OSError, ValueError, IndexError):
        return None


def _merged(metrics: list[dict | None]) -> dict | None:
    """One job's metrics; a job that writes several runs (an ablation job: one per variant) gets their
    phase seconds and rounds summed and ``runs`` set to their number."""
    metrics = [m for m in metrics if m]
    if len(metrics) <= 1:
        return metrics[0] if metrics else None
    out = dict(metrics[0], runs=len(metrics), seconds={}, rounds_run=0,
               history=[h for m in metrics for h in (m.get("history") or []) if isinstance(h, dict)])
    for m in metrics:
        for phase, sec in (m.get("seconds") or {}).items():
            if isinstance(sec, (int, float)):
                out["seconds"][phase] = out["seconds"].get(phase, 0.0) + float(sec)
        out["rounds_run"] += int(m.get("rounds_run") or 0)
    return out


def measure(jobs: list[PlannedJob], results: Path, cwd: Path = ROOT) -> dict[tuple, Measured]:
    """What each finished job of a run recorded: wall time, peak RSS, its metrics (where it writes a
    ``metrics.json`` or ``features.json``) and its dataset's training size."""
    meta = _metadata(cwd)
    sizes: dict[str, int] = {}
    for m in (results / "data").glob("*/prepared.meta.json"):
        info = _read_json(m)
        if info:
            sizes[m.parent.name] = int(info["split_sizes"]["train"])
    found = {}
    for j in jobs:
        times = [meta[str((cwd / o).resolve())] for o in j.outputs if str((cwd / o).resolve()) in meta]
        if not times:
            continue
        files = [o for o in j.outputs if o.endswith(("metrics.json", "features.json"))]
        dataset = j.wildcards.get("dataset") or j.wildcards.get("image_dataset")
        found[j.key] = Measured(
            seconds=max(e for _, e in times) - min(s for s, _ in times),
            rss_mib=_max_rss(j.benchmark, cwd),
            metrics=_merged([_read_json(cwd / f) for f in files]),
            n_train=sizes.get(dataset) if dataset else None)
    return found


_RELAXABLE = ("seed", "k", "point")  # wildcards a job's cost does not depend on much (K: scaled where it does)


def match(job: PlannedJob, measured: Mapping[tuple, Measured]) -> tuple[Measured | None, str]:
    """The measured job for ``job``: same rule and wildcards; else the seed, K and point relaxed; else the
    same method (or role) on another dataset; else the same rule and dataset; else any job of the rule."""
    if job.key in measured:
        return measured[job.key], "same job"
    by_rule = [(dict(k[1]), m) for k, m in measured.items() if k[0] == job.rule]
    wc = job.wildcards
    data = [k for k in ("dataset", "image_dataset") if k in wc]
    steps = (([k for k in wc if k != "seed"], "other seed"),
             ([k for k in wc if k not in _RELAXABLE], "other seed / K / point"),
             ([k for k in wc if k not in _RELAXABLE and k not in data], "other dataset"),
             (data, "same rule and dataset"), ([], "same rule"))
    for keep, how in steps:
        hits = [m for w, m in by_rule if all(w.get(k) == wc[k] for k in keep)]
        if hits:
            return hits[0], how
    return None, "not measured"


# ----------------------------------------------------------------------------- projection per rule


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
    keys = ([f"{role}_widths"] if role else ["reference_widths"] if method in ("snip", "grasp")
            else ["teacher_widths"] if method == "kd" else ["teacher_widths", "assistant_widths"])

    def params(cfg):
        return sum(tail_parameter_count(ds["cut"], cfg["compress"][k], m["num_classes"]) for k in keys)

    own = m.get("num_parameters", 0) if method in ("kd", "dgkd") else 0  # the student, the same in both
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
    method = job.wildcards.get("cmethod")
    return c["pruned_epochs"] if method in ("snip", "grasp") else c["student_epochs"]


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
    key = m.get("method") or job.wildcards.get("coreset_method", "full")
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


# ----------------------------------------------------------------------------- a measured run


def reduced_rehearsal(out_dir: str | Path, *, scale: float, datasets: tuple[str, ...] | None = None,
                      small: bool = False, device: str = "auto", cwd: Path = ROOT) -> Path:
    """``config/rehearsal.yaml`` with its stand-ins at ``scale`` (DermaMNIST's, the smallest, at up to 10x
    that) and the leeways scaled alike, into ``out_dir``; ``datasets`` keeps those image datasets (and the
    synthetic one). ``small`` also cuts what only keeps a quick run quick (the tests, the GPU check): the
    synthetic data to 2000 points, the pruning references and guides to narrow networks, the sweeps to two
    K and one student point, the coreset to 10% in batches of 16, the ablation to two factors. Returns the
    written config's path."""
    import yaml

    out = Path(out_dir)
    cfg = yaml.safe_load((cwd / "config" / "rehearsal.yaml").read_text())
    if datasets is not None:
        cfg["datasets"] = {n: d for n, d in cfg["datasets"].items() if n == "synthetic" or n in datasets}
    for name, d in cfg["datasets"].items():
        if d["source"] == "standin":
            d["scale"] = min(1.0, 10 * scale) if d["like"] == "dermamnist" else scale
            d["leeway"] = int(d["leeway"] * d["scale"])
    cfg.update(results=str(out / "results"), data_root=str(out / "data"), device=device)
    if small:
        cfg["synthetic"]["n"] = 2000
        cfg["presto"]["k_sweep"] = [3, 4]
        cfg["compress"].update(reference_widths=[16, 32, 64], teacher_widths=[16, 32, 64],
                               assistant_widths=[8, 16, 32], presto_k_sweep=[3, 4], student_sweep_points=1)
        cfg["coreset"].update(batch_size=16, fractions=[0.1], one_over_k=False)
        cfg["coreset"]["pbcs"]["lr"] = [0.05]
        cfg["ablation"]["factors"] = {"singleton": ["current", "trained"], "epsilon_scale": [0, 1]}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "rehearsal.yaml"
    write_text(path, yaml.safe_dump(cfg, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- the forecast


def forecast(configfile: str | Path, measured_config: str | Path, measured: str | Path, *,
             bandwidth_mb_s: float = 10.0, cwd: Path = ROOT) -> dict[str, Any]:
    import pandas as pd

    target, measured_cfg = load_config(cwd / configfile), load_config(cwd / measured_config)
    jobs = plan(configfile, "__forecast__", cwd)
    measured_root = Path(measured)
    done = measure(plan(measured_config, measured_root, cwd), measured_root, cwd)
    rows = []
    for j in jobs:
        got, how = match(j, done)
        p = project(j, target, measured_cfg, got, how, bandwidth_mb_s)
        rows.append({"rule": j.rule, "wildcards": j.wildcards, "seconds": p.seconds, "rss_mib": p.rss_mib,
                     "how": p.how, "matched": how if got is not None else "-", "factors": p.factors,
                     "memory_at_smaller_n": p.rss_mib is not None and p.factors.get("size", 1.0) > 1.0,
                     "measured_seconds": None if got is None else got.seconds})
    seconds = [0.0 if math.isnan(r["seconds"]) else r["seconds"] for r in rows]
    path_s, chain = critical_path(jobs, seconds)
    df = pd.DataFrame(rows)
    def counts(values) -> str:
        c = values.value_counts()
        return ", ".join(f"{k} {v}" for k, v in c.items()) if len(c) > 1 else str(c.index[0])

    per_rule = (df.groupby("rule", sort=False)
                .agg(jobs=("rule", "size"), hours=("seconds", lambda s: s.sum(min_count=1) / 3600),
                     max_job_hours=("seconds", lambda s: s.max() / 3600), peak_rss_mib=("rss_mib", "max"),
                     how=("how", counts), matched=("matched", counts),
                     memory_at_smaller_n=("memory_at_smaller_n", "any"))
                .reset_index())
    return {"target": str(configfile), "measured": str(measured), "measured_config": str(measured_config),
            "jobs": len(jobs), "total_hours": sum(seconds) / 3600, "critical_path_hours": path_s / 3600,
            "critical_path": [{"rule": jobs[i].rule, **jobs[i].wildcards, "hours": seconds[i] / 3600} for i in chain],
            "not_measured": int(sum(math.isnan(r["seconds"]) for r in rows)),
            "per_rule": per_rule.to_dict(orient="records"), "per_job": rows}


def to_markdown(fc: Mapping[str, Any]) -> str:
    lines = [f"# Cost forecast: {fc['target']}", "",
             f"Projected from the measured run {fc['measured']} ({fc['measured_config']}).", "",
             "| rule | jobs | hours (sum) | longest job (h) | peak RSS (MiB) | projected by | from the measured job of |",
             "|---|---|---|---|---|---|---|"]
    for r in fc["per_rule"]:
        rss = "" if r["peak_rss_mib"] is None or math.isnan(r["peak_rss_mib"]) else f"{r['peak_rss_mib']:.0f}"
        if rss and r["memory_at_smaller_n"]:
            rss += " (at a smaller N)"
        hours = "" if math.isnan(r["hours"]) else f"{r['hours']:.2f}"
        longest = "" if math.isnan(r["max_job_hours"]) else f"{r['max_job_hours']:.3f}"
        lines.append(f"| {r['rule']} | {r['jobs']} | {hours} | {longest} | {rss} | {r['how']} | {r['matched']} |")
    lines += ["", f"**Total: {fc['total_hours']:.1f} h** of jobs for {fc['jobs']} jobs, one at a time; "
                  f"**critical path {fc['critical_path_hours']:.1f} h** (unlimited parallel jobs).",
              f"Jobs not measured (no measured job of their rule): {fc['not_measured']}.", "",
              "Critical path: " + " -> ".join(
                  f"{c['rule']}({', '.join(f'{k}={v}' for k, v in c.items() if k not in ('rule', 'hours'))})"
                  f" {c['hours']:.2f} h" for c in fc["critical_path"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configfile", required=True, help="the run to forecast (e.g. config/paper.yaml)")
    ap.add_argument("--measured-config", required=True, help="the config of the finished, measured run")
    ap.add_argument("--measured", required=True, help="the measured run's results directory")
    ap.add_argument("--out", default=None, help="directory for forecast.json / forecast.md (default: print)")
    ap.add_argument("--bandwidth-mb-s", type=float, default=10.0, help="assumed download speed")
    ap.add_argument("--workdir", default=str(ROOT),
                    help="the workflow's directory, where the measured run ran (its .snakemake/ holds the job times)")
    a = ap.parse_args(argv)
    fc = forecast(a.configfile, a.measured_config, a.measured, bandwidth_mb_s=a.bandwidth_mb_s, cwd=Path(a.workdir))
    md = to_markdown(fc)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "forecast.json", fc)
        write_text(out / "forecast.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
