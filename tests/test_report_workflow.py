"""The report stage's plan (dry runs; nothing is executed): which table and figure jobs each config
asks for, the Fig. 7 sweep's training jobs, and the config checks of the stage."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(*args, results):
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--config", f"results={results}", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    return out.returncode, out.stdout + out.stderr


def _jobs(text):
    table = text.split("Job stats:")[1].split("total")[0]
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def _sweep_runs(text):
    """(K, seed) of every planned PRESTO Table-1 job."""
    return sorted({(int(k), int(s)) for k, s in re.findall(r"table1/digits/k(\d+)/presto/seed(\d+)/metrics\.json", text)})


def test_default_plans_every_report_job_and_the_fig7_sweep(tmp_path):
    rc, text = _dry_run(results=tmp_path / "r")
    assert rc == 0, text
    jobs = _jobs(text)
    for rule in ("make_table1", "make_params_table", "make_table4", "make_table5", "make_fig6", "make_fig7",
                 "make_synthetic_table", "make_paper_comparison"):
        assert jobs[rule] == 1, rule
    assert jobs["make_presto_rounds"] == 2  # digits and synthetic
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    sweep_seeds = cfg["presto"]["k_sweep_seeds"] or cfg["seeds"]
    expected = {(cfg["datasets"]["digits"]["k"], s) for s in cfg["seeds"]}
    expected |= {(k, s) for k in cfg["presto"]["k_sweep"] for s in sweep_seeds}
    planned = set(_sweep_runs(text))
    assert expected <= planned  # the compress stage may add PRESTO runs at further K
    assert {(k, s) for k, s in planned if k in cfg["presto"]["k_sweep"] and k != 4} == \
        {(k, s) for k in cfg["presto"]["k_sweep"] if k != 4 for s in sweep_seeds}


def test_sweep_seeds_default_to_every_seed_and_an_empty_sweep_drops_fig7(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["presto"]["k_sweep_seeds"] = []
    cfg["compress"]["methods"] = []
    cfg["coreset"]["methods"] = []
    (tmp_path / "all_seeds.yaml").write_text(yaml.safe_dump(cfg))
    rc, text = _dry_run("--configfile", str(tmp_path / "all_seeds.yaml"), results=tmp_path / "r1")
    assert rc == 0, text
    assert set(_sweep_runs(text)) == {(k, s) for k in cfg["presto"]["k_sweep"] for s in cfg["seeds"]}
    from prestorepro.catalogue import keys

    others = len(keys("table1")) - 1
    assert _jobs(text)["train_table1"] == others * 3 + 4 * 3  # every other method at K = 4, PRESTO at K = 3..6

    cfg["presto"]["k_sweep"] = []
    (tmp_path / "no_sweep.yaml").write_text(yaml.safe_dump(cfg))
    rc, text = _dry_run("--configfile", str(tmp_path / "no_sweep.yaml"), results=tmp_path / "r2")
    assert rc == 0, text
    assert "make_fig7" not in _jobs(text) and _jobs(text)["make_paper_comparison"] == 1


def test_a_sweep_without_presto_in_table1_stops_with_a_message(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["table1"]["methods"] = ["gmm"]
    cfg["compress"]["methods"] = []
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    rc, text = _dry_run("--configfile", str(tmp_path / "c.yaml"), results=tmp_path / "r")
    assert rc != 0 and "presto.k_sweep" in text and "table1.methods" in text


def test_no_training_job_depends_on_report_code(tmp_path):
    # what makes report edits cheap in every stage: a job runs src/prestorepro/report/ only if it is a
    # table / figure job (make_*, summarize_*), so editing report code re-runs nothing that trains. Each
    # job's code input is its script's code stamp (prestorepro.stamps.code_stamp), which holds the
    # script's import closure.
    from prestorepro.codedeps import closure_by_name

    rc, text = _dry_run("--forceall", results=tmp_path / "r")
    assert rc == 0, text
    jobs = re.findall(r"^(?:local)?rule (\w+):\n    input: ([^\n]*)", text, re.M)
    assert len(jobs) > 50
    scripts = {rule: re.search(r"/\.settings/\.code/(\w+)/code\.json", inputs) for rule, inputs in jobs}
    scripts = {rule: m.group(1) for rule, m in scripts.items() if m}
    assert len(scripts) > 20
    closures = {s: closure_by_name(ROOT / "workflow" / "scripts" / f"{s}.py") for s in set(scripts.values())}
    reading_report = {rule for rule, s in scripts.items() if any(n.startswith("prestorepro/report/") for n in closures[s])}
    assert reading_report and all(r.startswith(("make_", "summarize_")) for r in reading_report), reading_report
    report_rules = {rule for rule, _ in jobs if rule.startswith(("make_", "summarize_"))}
    assert report_rules == reading_report  # and every one of them does


def test_table_and_figure_jobs_do_not_load_torch():
    """Regenerating tables and figures must stay cheap: the report entry points (and the job-log helper
    every adapter uses) import without torch; only the params table builds models."""
    modules = ["prestorepro.jobs.common", "prestorepro.jobs.report", "prestorepro.report.compress",
               "prestorepro.report.coreset", "prestorepro.report.figures", "prestorepro.report.tables",
                   "prestorepro.report.ablation", "prestorepro.jobs.compress", "prestorepro.jobs.coreset",
               "prestorepro.presto.assignment", "prestorepro.data", "prestorepro.models.parameters",
               "prestorepro.compress.budget"]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint(sorted(m for m in sys.modules if m == 'torch'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_report_job_with_a_table_and_a_figure_writes_each_where_its_outputs_say(tmp_path):
    # make_fig7 draws a figure and writes a table; their stems come from the rule's outputs
    # (workflow/rules/plan/report.smk: stem_of), whatever order the outputs are listed in
    import json

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    results = tmp_path / "r"
    for k in cfg["presto"]["k_sweep"]:
        for seed in cfg["presto"]["k_sweep_seeds"] or cfg["seeds"]:
            f = results / "table1" / "digits" / f"k{k}" / "presto" / f"seed{seed}" / "metrics.json"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps({"dataset": "digits", "dataset_config": {"source": "digits"}, "source": "digits",
                                     "method": "presto", "seed": seed, "k": k,
                                     "predictors": {p: {"test_accuracy": 0.5 + k / 100 - shift, "test_macro_f1": 0.5}
                                                    for p, shift in (("combiner", 0.0), ("router", 0.1))},
                                     "provenance": {"device": "cpu"}}))
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config", f"results={results}",
                          "--allowed-rules", "make_fig7", "--rerun-triggers", "mtime", "--",
                          str(results / "figures" / "fig7.png")], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert sorted(p.name for p in (results / "figures").iterdir()) == [f"fig7.{e}" for e in sorted(cfg["report"]["formats"])]
    assert sorted(p.name for p in (results / "tables").iterdir()) == [f"fig7_k_sweep.{e}" for e in ("csv", "html", "md", "tex")]
    table = (results / "tables" / "fig7_k_sweep.csv").read_text()
    assert "digits,combiner,6,2,56.0," in table  # K = 6, two seeds: 0.5 + 6/100 -> 56.0 %
    assert "digits,router,6,2,46.0," in table
