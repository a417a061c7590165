"""The forecast of a configured run from a measured one, and its Markdown table."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from prestorepro.config import load_config
from prestorepro.forecast.dag import ROOT, critical_path, plan
from prestorepro.forecast.measured import match, measure
from prestorepro.forecast.projections import project


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
