"""config/rehearsal.yaml runs end to end at reduced sizes, and config/paper.yaml is forecast from that run:
the GPU check's ``forecast`` step (benchmarks/gpu/check.py), run here on the CPU at its tiny scale. Marked
slow: about ten minutes on 2 cores.

The reductions (``prestorepro.forecast.reduced_rehearsal(small=True)``), all on top of
config/rehearsal.yaml: the stand-ins at 1% (DermaMNIST's at 10%) with the leeways scaled alike, the
synthetic data at 2000 points, one of the four image datasets (DermaMNIST: K = 3, k-means++ init, 28 px;
the others are projected from its jobs), narrow pruning references and guides, shorter sweeps, the coreset at
10% in batches of 16 so that GRAD-MATCH-PB's budget holds a batch. Every rule of the paper's DAG still runs
(the whole DAG is planned in tests/test_standin.py).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from prestorepro.forecast import critical_path, forecast, plan
from snakemake_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_rehearsal_runs_and_the_paper_run_is_forecast_from_it(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu" / "check.py"), "--out", str(tmp_path),
                           "--device", "cpu", "--only", "forecast", "--budget-s", "3000"],
                          cwd=ROOT, capture_output=True, text=True, timeout=3300)
    report = json.loads((tmp_path / "check.json").read_text())
    r = report["checks"]["forecast"]
    assert proc.returncode == 0 and r["rehearsal_returncode"] == 0, r.get("log_tail", proc.stderr[-4000:])
    config = Path(r["rehearsal_config"])
    res = config.parent / "results"
    rules_paper = set(planned_jobs("--configfile", "config/paper.yaml", results=tmp_path / "p")) - {"total"}
    assert planned_jobs("--configfile", str(config), results=res) == {}  # nothing left to run
    assert {j.rule for j in plan(config, res)} == rules_paper  # every rule of the paper's DAG ran
    assert sorted(p.name for p in (res / "data").iterdir()) == ["dermamnist", "synthetic"]
    derma = json.loads((res / "data" / "dermamnist" / "prepared.meta.json").read_text())
    assert derma["split_sizes"] == {"train": 701, "val": 100, "test": 200} and derma["num_classes"] == 7
    assert derma["image_shape"] == [28, 28, 3]
    assert (tmp_path / "forecast.md").read_text().startswith("# Cost forecast: config/paper.yaml")

    fc = forecast("config/paper.yaml", config, res)
    jobs = plan("config/paper.yaml", "__forecast__")
    # 540 jobs with the paper's methods; SPEC §5b's three add 36 Table-1 runs (4 datasets x 3 seeds), 12 Table-2
    # rows of the one model, and the mixture of experts' 3 synthetic runs and their Fig. 6
    assert fc["jobs"] == len(jobs) == 540 + 4 * 3 * 3 + 4 * 3 + 3 + 1 and fc["not_measured"] == 0
    assert fc["total_hours"] == pytest.approx(r["total_hours"], rel=1e-9)
    rows = fc["per_job"]
    assert all(math.isfinite(x["seconds"]) and x["seconds"] >= 0 for x in rows)
    # jobs of datasets the run did not have come from another dataset's job of the rule, and say so
    svhn = [x for x in rows if x["wildcards"].get("dataset") == "svhn" and x["rule"] == "train_table1"]
    assert svhn and all(x["matched"] == "other dataset" for x in svhn)
    total, chain = critical_path(jobs, [x["seconds"] for x in rows])
    assert fc["critical_path_hours"] == pytest.approx(total / 3600)
    assert 0 < fc["critical_path_hours"] <= fc["total_hours"]
    assert fc["total_hours"] == pytest.approx(sum(x["seconds"] for x in rows) / 3600)
    # the paper's PRESTO (30 rounds x 10 epochs at 10x the N) is projected far above the measured run
    presto = [x for x in rows if x["rule"] == "train_table1" and x["wildcards"]["method"] == "presto"
              and x["wildcards"]["dataset"] == "dermamnist"]
    assert presto and all(x["seconds"] > 20 * x["measured_seconds"] for x in presto)
