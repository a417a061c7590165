"""The workflow plans what the configs ask for (dry runs; nothing is executed)."""
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
    # 7 methods x 3 seeds on digits at its K, plus PRESTO at the other K of Fig. 7's sweep
    assert jobs["train_table1"] == 7 * 3 + len(extra_k) * sweep_seeds
    assert jobs["synthetic_experiment"] == 3
    for rule in ("make_table1", "make_params_table", "make_fig6", "summarize_synthetic"):
        assert jobs[rule] == 1


def test_paper_config_plans_the_four_datasets(tmp_path):
    jobs = planned_jobs("--configfile", "config/paper.yaml", results=tmp_path / "r")
    assert jobs["download_data"] == 5 and jobs["prepare_data"] == 5  # 4 paper datasets + synthetic
    assert jobs["embed"] == 4
    assert jobs["train_table1"] >= 4 * 7 * 3
