"""The GPU check's workflow steps: the tiny config through Snakemake on the device, and the cost forecast from
the rehearsal."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from kit_common import ROOT, _features, _one_round, _sync  # noqa: F401


def check_snakemake_end_to_end(dev: torch.device, scale: dict) -> dict:
    if not _has_snakemake():
        return {"ok": True, "skipped": "snakemake is not installed here (benchmarks/gpu/fetch_wheels.sh)"}
    tmp = Path(tempfile.mkdtemp(prefix="gpucheck_smk_"))
    results = tmp / "results"
    cores = str(min(8, os.cpu_count() or 1))
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores, "--configfile", "tests/configs/tiny.yaml",
           "--config", f"results={results}", f"device={dev.type}", "--directory", str(ROOT)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    tables = sorted(p.name for p in (results / "tables").glob("*.csv")) if (results / "tables").exists() else []
    devices = set()
    for m in results.glob("table1/*/*/*/*/metrics.json"):
        try:
            devices.add(json.loads(m.read_text())["provenance"].get("device", "?"))
        except (OSError, ValueError, KeyError):
            devices.add("unreadable")
    ok = proc.returncode == 0 and bool(tables)
    return {"ok": ok, "returncode": proc.returncode, "seconds": seconds, "tables": tables,
            "devices_recorded": sorted(map(str, devices)), "log_tail": (proc.stdout + proc.stderr)[-3000:]}


def _has_snakemake() -> bool:
    if shutil.which("snakemake") is not None:
        return True
    try:
        import snakemake  # noqa: F401
    except ImportError:
        return False
    return True


def check_forecast(dev: torch.device, scale: dict, seconds_left: float = 600.0) -> dict:
    """config/rehearsal.yaml (stand-ins at the scale's fraction of the paper's N) run on the device, then
    config/paper.yaml forecast from it (``prestorepro.forecast``). A rehearsal cut short by the time left
    still gives a forecast: its missing jobs are projected from other jobs of their rule, or not at all
    (``not_measured``)."""
    if not _has_snakemake():
        return {"ok": True, "skipped": "snakemake is not installed here (benchmarks/gpu/fetch_wheels.sh)"}
    from prestorepro.forecast import forecast, reduced_rehearsal, to_markdown

    tmp = Path(tempfile.mkdtemp(prefix="gpucheck_forecast_"))
    reh = scale["rehearsal"]
    config = reduced_rehearsal(tmp, scale=reh["scale"], datasets=reh["datasets"], small=reh["small"],
                               device=dev.type)
    cores = str(min(8, os.cpu_count() or 1))
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores, "--configfile", str(config), "--keep-going"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=max(30.0, seconds_left - 60.0))
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as exc:
        rc, tail = "timeout", str(exc.stdout or "")[-3000:]
    run_s = time.perf_counter() - t0
    fc = forecast("config/paper.yaml", config, tmp / "results")
    return {"ok": rc in (0, "timeout"), "rehearsal": reh, "rehearsal_config": str(config),
            "rehearsal_returncode": rc, "rehearsal_seconds": run_s,
            "total_hours": fc["total_hours"], "critical_path_hours": fc["critical_path_hours"],
            "not_measured": fc["not_measured"],
            "per_rule_hours": {r["rule"]: round(r["hours"], 3) for r in fc["per_rule"]},
            "forecast_md": to_markdown(fc), "log_tail": tail}
