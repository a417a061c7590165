"""The workflow plans what the configs ask for (dry runs; nothing is executed)."""
import re
import subprocess
import sys
from pathlib import Path

from snakemake_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]


def test_default_plans_every_stage(tmp_path):
    jobs = planned_jobs(results=tmp_path / "r")
    assert jobs["prepare_data"] == 2 and jobs["embed"] == 1  # synthetic has no embedding step
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    extra_k = [k for k in cfg["presto"]["k_sweep"] if k != cfg["datasets"]["digits"]["k"]]
    sweep_seeds = len(cfg["presto"]["k_sweep_seeds"])
    from prestorepro.catalogue import keys, synthetic_methods

    # every Table-1 method x 3 seeds on digits at its K, plus PRESTO at the other K of Fig. 7's sweep
    assert jobs["train_table1"] == len(keys("table1")) * 3 + len(extra_k) * sweep_seeds
    assert jobs["synthetic_experiment"] == 3
    # the methods beside PRESTO on the synthetic data (the mixture of experts), every seed, and their Fig. 6
    beside = [m for m in synthetic_methods() if m != "presto"]
    assert "moe" in beside and jobs["synthetic_method"] == 3 * len(beside) and jobs["make_fig6_method"] == len(beside)
    for rule in ("make_table1", "make_params_table", "make_fig6", "summarize_synthetic"):
        assert jobs[rule] == 1


def test_paper_config_plans_the_four_datasets(tmp_path):
    jobs = planned_jobs("--configfile", "config/paper.yaml", results=tmp_path / "r")
    assert jobs["download_data"] == 5 and jobs["prepare_data"] == 5  # 4 paper datasets + synthetic
    assert jobs["embed"] == 4
    assert jobs["train_table1"] >= 4 * 10 * 3  # the paper's seven methods and SPEC §5b's three
    # what a SLURM queue gets (docs/cluster.md, counted by benchmarks/bench_plan.py): every planned job is a
    # data or training job, or one of a local rule (`localrule: True`: tables, figures, summaries, downloads,
    # `all`). Structural, not a count: a method added to the catalogue adds jobs of both kinds.
    import re

    from snakemake_plan import ROOT

    local = set()
    for smk in [ROOT / "workflow" / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")]:
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M)[1:]:
            if re.search(r"^    localrule: True$", block, re.M):
                local.add(re.match(r"rule (\w+):", block).group(1))
    queued = {"prepare_data", "embed", "train_table1", "synthetic_experiment", "synthetic_method", "train_guide",
              "train_compress", "train_coreset", "train_coreset_full", "train_ablation", "synthetic_ablation"}
    planned = set(jobs) - {"total"}
    assert planned - local == queued and not queued & local
    assert sum(jobs[r] for r in planned & local) == jobs["total"] - sum(jobs[r] for r in queued)
    assert {r for r in planned if r.startswith(("make_", "summarize_"))} | {"table1_point"} <= local


def test_ablation_plans_one_run_per_variant_and_seed(tmp_path):
    import yaml

    from prestorepro.config import validate_config
    from prestorepro.ablation import applies, run_variants, variants

    cfg = validate_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    seeds = cfg["ablation"]["seeds"] or cfg["seeds"]
    runs = run_variants(cfg["ablation"], cfg["presto"])
    # one factor at a time: epsilon x0, x10, x100; singleton trained; keep every; alpha 0.5; lambda x10, x100;
    # bounded moves; the authors' reassignment, one choice at a time; the gate input needs no run of its own
    # (it reuses the configured runs' components)
    authors = ["reassign-bound_greedy", "reassign-authors", "reassign-authors_exact", "reassign-authors_flipped"]
    assert runs == ["epsilon_scale-0", "epsilon_scale-10", "epsilon_scale-100", "singleton-trained", "keep-every",
                    "alpha-0.5", "lam_scale-10", "lam_scale-100", "max_moves-0.05", *authors]
    # the authors' score needs class logits: the synthetic SVMs run only their greedy assignment
    assert run_variants(cfg["ablation"], cfg["presto"], "synthetic") == runs[:-3]
    assert variants(cfg["ablation"], cfg["presto"])[0] == "gate_input-probabilities"
    capped = cfg["ablation"]["rounds"]
    own = {"image": "image" in capped and capped["image"] != cfg["presto"]["rounds"],
           "synthetic": "synthetic" in capped and capped["synthetic"] != cfg["synthetic"]["rounds"]}
    # one job per dataset and seed runs every variant of that dataset (and the configured setting where
    # the rounds are capped), each into its own files
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--config", f"results={tmp_path / 'r'}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    jobs = planned_jobs(results=tmp_path / "r")
    assert jobs["train_ablation"] == len(seeds) and jobs["synthetic_ablation"] == len(seeds)  # digits, synthetic
    assert jobs["make_ablation"] == 1
    for d, kind in (("digits", "image"), ("synthetic", "synthetic")):
        expected = [v for v in runs if applies(v, kind)] + (["configured"] if own[kind] else [])
        for v in expected:
            assert f"r/ablation/{d}/{v}/seed{seeds[0]}/metrics.json" in out.stdout
        planned = set(re.findall(rf"r/ablation/{d}/([^/]+)/seed\d+/metrics.json", out.stdout))
        assert planned == set(expected)


def test_ablation_stage_is_skipped_without_factors(tmp_path):
    jobs = planned_jobs("--config", "ablation={'factors': {}}", results=tmp_path / "r")
    assert "train_ablation" not in jobs and "synthetic_ablation" not in jobs and "make_ablation" not in jobs


def test_ten_seed_table1_plans_every_method_times_ten_seeds_and_nothing_else(tmp_path):
    # config/ten_seeds.yaml: the ranking of README's Table 1, every method on digits at its K for ten seeds
    from prestorepro.catalogue import keys

    res = tmp_path / "r"
    jobs = planned_jobs("--configfile", "config/config.yaml", "config/ten_seeds.yaml", "--",
                        str(res / "tables" / "table1.md"), results=res)
    assert jobs["train_table1"] == len(keys("table1")) * 10 and jobs["make_table1"] == 1
    assert set(jobs) == {"download_data", "prepare_data", "embed", "train_table1", "make_table1", "total"}
