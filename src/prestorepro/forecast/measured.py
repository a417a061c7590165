"""The measured run: what each finished job recorded (its wall time from Snakemake's metadata, its peak
memory from its benchmark file, its metrics), and the measured job each planned job is projected from."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from prestorepro.forecast.dag import ROOT, PlannedJob
from prestorepro.io import read_json


@dataclass
class Measured:
    seconds: float
    rss_mib: float | None
    metrics: dict[str, Any] | None
    n_train: int | None


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
