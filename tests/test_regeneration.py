"""Cheap regeneration (SPEC §9): after an edit to report code only, Snakemake plans only table and
figure jobs and rebuilds them; after an edit to config keys that only select runs (the Fig. 7 sweep,
the method list), it retrains nothing; after an edit to training code, it plans the training jobs again.

Runs the real workflow on a copy of the repository with a tiny configuration (tests/configs/tiny.yaml
cut to two Table-1 methods and two rounds), so it takes a minute or two: marked slow.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from snakemake_plan import copy_repository

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

TRAINING_RULES = {"train_table1", "synthetic_experiment", "embed", "prepare_data", "download_data"}


def _is_report_rule(rule: str) -> bool:
    return rule.startswith("make_") or rule.startswith("summarize_")


def _tiny_config(results) -> dict:
    # tests/configs/tiny.yaml cut further: two Table-1 methods, two rounds, and a Fig. 7 sweep that
    # adds a single PRESTO run (K = 2; K = 3 is the Table-1 run). The compress and coreset stages stay
    # off to keep this quick; that no training job of any stage reads report code is checked on the
    # default config's plan (tests/test_report_workflow.py).
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["results"] = str(results)
    cfg["compress"] = {"methods": []}
    cfg["coreset"] = {"methods": []}
    cfg["presto"].update(rounds=2, epochs=1, gate_epochs=1, k_sweep=[2, 3], k_sweep_seeds=[])
    cfg["table1"]["methods"] = ["gmm", "presto"]
    cfg["synthetic"].update(n=400, rounds=2, epochs=1, snapshot_rounds=[1, 2])
    return cfg


def _snakemake(repo: Path, *args: str) -> str:
    # PYTHONPATH makes the jobs import the copy's package, so the edited code is the code that runs
    env = dict(os.environ, PYTHONPATH=str(repo / "src"), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", "tiny.yaml", *args], cwd=repo,
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout + out.stderr


def _planned(repo: Path) -> dict[str, int]:
    text = _snakemake(repo, "-n", "--quiet", "rules")
    table = text.split("Job stats:")[1] if "Job stats:" in text else ""
    counts = {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}
    counts.pop("total", None)
    counts.pop("all", None)
    return counts


def _append_comment(path: Path) -> None:
    path.write_text(path.read_text() + "\n# edited\n")
    later = time.time() + 2  # strictly newer than every output, whatever the file system's resolution
    os.utime(path, (later, later))


def _readers(module: str) -> set[str]:
    """The rules whose job runs ``module`` (its script's import closure, prestorepro.codedeps)."""
    import re

    from prestorepro.codedeps import import_closure

    target = (ROOT / "src" / "prestorepro" / module).resolve()
    scripts = {}
    for f in (ROOT / "workflow" / "rules").glob("*.smk"):
        for rule, body in re.findall(r"(?m)^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", f.read_text()):
            m = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', body)
            if m:
                scripts[rule] = ROOT / "workflow" / "scripts" / f"{m.group(1)}.py"
    return {rule for rule, script in scripts.items() if target in {p.resolve() for p in import_closure(script)}}


def test_report_edit_rebuilds_only_reports_training_edit_retrains(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    results = repo / "results"  # inside the checkout, as in the quick start: the copy below takes it along
    (repo / "tiny.yaml").write_text(yaml.safe_dump(_tiny_config("results")))

    _snakemake(repo, "--cores", "2")
    assert _planned(repo) == {}
    table1_runs = sorted(results.glob("table1/*/k*/*/seed*/metrics.json"))
    assert {"k3/gmm", "k3/presto", "k2/presto"} <= {"/".join(p.parts[-4:-2]) for p in table1_runs}
    # every training output of every stage, and the embeddings
    trained = sorted(results.rglob("metrics.json")) + sorted(results.glob("embeddings/*/features.npz"))
    figures = {p: p.stat().st_mtime for p in results.glob("figures/*")}
    tables = {p: p.stat().st_mtime for p in [*results.glob("tables/*"), results / "paper_comparison.md"]}
    assert any(p.name == "fig7.png" for p in figures) and any(p.name == "table4.csv" for p in tables)
    trained_mtimes = {p: p.stat().st_mtime for p in trained}

    # the HTML report of the finished run (README: `snakemake --report`): every experiment's category,
    # the tables and figures as files, the captions rendered with the run's config
    _snakemake(repo, "--report", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    for category in ("0. Paper comparison", "1. Table 1: partitioning and mixture baselines",
                     "2. Fig. 7: accuracy against K", "3. PRESTO round by round",
                     "6. App. C, Fig. 6: synthetic mixture of SVMs",
                     "7. Set-up: datasets, hyper-parameters, parameter counts"):
        assert category in html, category
    for f in ("results/tables/table1.html", "results/figures/fig7.png", "results/figures/fig6_synthetic.png",
              "results/paper_comparison.html"):
        assert f'"{f}"' in html, f
    # table1.rst's caption, its template filled from the config (the report stores captions JSON-escaped)
    assert "mean \\u00b1 std over 1 seeds" in html
    assert "of GMM, PRESTO:" in html  # the configured methods' names, in Table 1's order
    # each table and figure labelled with its name and dataset; per-dataset figures in their dataset's
    # subcategory, the others under "All datasets"
    assert '"labels": {"name": "Accuracy and loss by round", "dataset": "digits"}' in html
    assert '"labels": {"name": "Fig. 6: PRESTO", "dataset": "synthetic"}' in html
    assert '"labels": {"name": "Table 1", "dataset": "All datasets"}' in html
    rounds = re.search(r'"3\. PRESTO round by round": (\{[^}]*\})', html).group(1)
    assert set(re.findall(r'"(\w+)": \[', rounds)) == {"digits", "synthetic"}, rounds
    assert _planned(repo) == {}  # building the report ran and changed nothing

    # (0) the finished checkout copied elsewhere (a cluster mounting it under another path): nothing to do,
    # and an edit to plotting code there plans the figure jobs only
    moved = tmp_path / "elsewhere" / "repo"
    shutil.copytree(repo, moved, symlinks=True)
    assert _planned(moved) == {}
    _append_comment(moved / "src" / "prestorepro" / "report" / "figures.py")
    plan = _planned(moved)
    # the jobs that draw with it, and the paper comparison, which reads the Fig. 7 table make_fig7 rewrites
    assert plan and set(plan) <= _readers("report/figures.py") | {"make_paper_comparison"}, plan
    assert {"make_fig6", "make_fig7", "make_presto_rounds"} <= set(plan), plan
    shutil.rmtree(tmp_path / "elsewhere")

    # (a) plotting code only: every planned job is a job that draws with it, and they all rebuild; the
    # tables drawn without it stay as they are, and nothing retrains
    _append_comment(repo / "src" / "prestorepro" / "report" / "figures.py")
    plan = _planned(repo)
    assert plan and all(_is_report_rule(r) for r in plan), plan
    assert set(plan) <= _readers("report/figures.py") | {"make_paper_comparison"}, plan
    assert {"make_fig6", "make_fig7", "make_presto_rounds"} <= set(plan), plan
    _snakemake(repo, "--cores", "2")
    assert _planned(repo) == {}
    for p, before in figures.items():
        assert p.stat().st_mtime > before, f"{p.name} was not rebuilt"
    assert tables[results / "tables" / "table4.csv"] == (results / "tables" / "table4.csv").stat().st_mtime
    assert {p: p.stat().st_mtime for p in trained} == trained_mtimes  # nothing retrained

    # (a2) the embeddings loader, which the hand-kept code lists once missed: every job that trains on
    # the embeddings is planned, the data and embedding jobs are not
    _append_comment(repo / "src" / "prestorepro" / "features.py")
    plan = _planned(repo)
    assert plan.get("train_table1") == len(table1_runs), plan
    assert not {"embed", "prepare_data", "download_data"} & set(plan), plan
    (repo / "src" / "prestorepro" / "features.py").write_text(
        (ROOT / "src" / "prestorepro" / "features.py").read_text())
    _snakemake(repo, "--cores", "2")
    assert _planned(repo) == {}
    trained_mtimes = {p: p.stat().st_mtime for p in trained}

    # (b) config keys that only choose which runs exist (the Fig. 7 sweep, the method order) re-run no
    # training job: they are not among the training jobs' params
    edited = _tiny_config("results")
    edited["presto"]["k_sweep"] = [3]
    edited["table1"]["methods"] = ["presto", "gmm"]
    (repo / "tiny.yaml").write_text(yaml.safe_dump(edited))
    plan = _planned(repo)
    assert not {r for r in plan if r in TRAINING_RULES or r.startswith("train_")}, plan
    (repo / "tiny.yaml").write_text(yaml.safe_dump(_tiny_config("results")))
    assert _planned(repo) == {}

    # (c) training code: the Table-1 and synthetic training jobs are planned, the data and embedding are not
    _append_comment(repo / "src" / "prestorepro" / "training" / "fused.py")
    plan = _planned(repo)
    assert plan.get("train_table1") == len(table1_runs) and plan.get("synthetic_experiment") == 1, plan
    assert not {"embed", "prepare_data", "download_data"} & set(plan), plan
    assert all(_is_report_rule(r) or r in TRAINING_RULES or r.startswith("train_") for r in plan), plan
