"""The cost forecast (prestorepro.forecast): DAG, critical path, matching and per-rule projections."""
from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest

from prestorepro.config import load_config
from prestorepro.forecast import Measured, PlannedJob, critical_path, edges, match, measure, plan, project
from prestorepro.forecast.projections import _coreset, _epochs_job, _table1
from snakemake_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]


def _job(rule, outputs, inputs=(), **wc):
    return PlannedJob(rule, {k: str(v) for k, v in wc.items()}, list(inputs), list(outputs))


def test_critical_path_is_the_longest_dependent_chain_by_brute_force():
    # a -> c, b -> c, c -> e, d -> e (inputs name the producers' outputs)
    jobs = [_job("a", ["a"]), _job("b", ["b"]), _job("c", ["c"], ["a", "b"]), _job("d", ["d"]),
            _job("e", ["e"], ["c", "d", "raw"])]
    secs = [3.0, 5.0, 2.0, 8.5, 1.0]
    assert edges(jobs) == {0: [], 1: [], 2: [0, 1], 3: [], 4: [2, 3]}
    total, chain = critical_path(jobs, secs)
    # brute force: every chain of jobs in dependency order
    deps = edges(jobs)
    best = 0.0
    for r in range(1, 6):
        for perm in itertools.permutations(range(5), r):
            if all(perm[i] in deps[perm[i + 1]] for i in range(r - 1)):
                best = max(best, sum(secs[i] for i in perm))
    assert total == best == 9.5 and chain == [3, 4]  # d (8.5) -> e (1), not b -> c -> e (8)


def test_plan_lists_every_job_of_the_embedded_default_with_its_files(tmp_path):
    jobs = plan("config/config.yaml", tmp_path / "r")
    counts = {}
    for j in jobs:
        counts[j.rule] = counts.get(j.rule, 0) + 1
    expected = planned_jobs("--configfile", "config/config.yaml", results=tmp_path / "r2")
    assert counts == {k: v for k, v in expected.items() if k != "total"} and len(jobs) == expected["total"]
    t1 = [j for j in jobs if j.rule == "train_table1"]
    assert all(set(j.wildcards) == {"dataset", "k", "method", "seed"} for j in t1)
    assert all(j.benchmark and j.benchmark.endswith(".tsv") for j in t1)
    deps = edges(jobs)
    embed = next(i for i, j in enumerate(jobs) if j.rule == "embed")
    assert all(embed in deps[i] for i, j in enumerate(jobs) if j.rule == "train_table1")
    total, chain = critical_path(jobs, [1.0] * len(jobs))
    # download -> prepare -> embed -> ... -> all: every link of the chain is a dependency
    assert [jobs[i].rule for i in chain[:3]] == ["download_data", "prepare_data", "embed"]
    assert all(a in deps[b] for a, b in zip(chain, chain[1:])) and total == len(chain)


def test_planning_under_a_name_writes_nothing_into_the_checkout():
    # the forecast plans under "__forecast__"; the plan's lock and dry-run stamps went into a folder of
    # that name in the checkout
    from snakemake_plan import ROOT

    jobs = plan("config/config.yaml", "__plan_name__")
    assert not (ROOT / "__plan_name__").exists()
    assert jobs and all(o.startswith("__plan_name__/") for j in jobs for o in j.outputs)


def test_plan_lists_the_jobs_in_the_same_order_whatever_the_hash_seed(tmp_path, monkeypatch):
    # Snakemake's dry run orders jobs by set iteration, which the hash seed changes; the forecast's job
    # indices (edges, critical path, per-job rows) must name the same job in every call
    orders = []
    for seed in ("1", "2", "3"):
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        jobs = plan("config/config.yaml", tmp_path / "r")
        orders.append([(j.rule, j.outputs) for j in jobs])
    assert orders[0] == orders[1] == orders[2]
    assert orders[0] == sorted(orders[0])


def test_measure_reads_snakemake_metadata_benchmarks_and_metrics(tmp_path):
    res = tmp_path / "results"
    (res / "data" / "d").mkdir(parents=True)
    (res / "data" / "d" / "prepared.meta.json").write_text(json.dumps({"split_sizes": {"train": 500}}))
    out = res / ("t" * 200) / "metrics.json"  # long enough for Snakemake to cut its metadata name
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({"seconds": {"train": 4.0}}))
    bench = res / "b.tsv"
    bench.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t321.5\n")
    meta = tmp_path / ".snakemake" / "metadata"
    meta.mkdir(parents=True)
    name = base64.urlsafe_b64encode(str(out).encode()).decode()
    assert len(name) > 255
    # Snakemake cuts long names into folders of 255 characters
    (meta / name[:255]).mkdir()
    (meta / name[:255] / name[255:]).write_text(json.dumps({"starttime": 100.0, "endtime": 112.25}))
    job = PlannedJob("train_table1", {"dataset": "d", "seed": "0"}, [], [str(out)], str(bench))
    got = measure([job], res, cwd=tmp_path)[job.key]
    assert (got.seconds, got.rss_mib, got.metrics, got.n_train) == (12.25, 321.5, {"seconds": {"train": 4.0}}, 500)


def test_match_relaxes_the_seed_then_k_then_the_rest():
    m0, m1 = Measured(1.0, None, None, None), Measured(2.0, None, None, None)
    done = {("r", (("dataset", "a"), ("k", "4"), ("seed", "0"))): m0,
            ("r", (("dataset", "b"), ("k", "4"), ("seed", "0"))): m1}
    assert match(_job("r", [], dataset="a", k=4, seed=0), done) == (m0, "same job")
    assert match(_job("r", [], dataset="b", k=4, seed=2), done) == (m1, "other seed")
    assert match(_job("r", [], dataset="b", k=6, seed=1), done) == (m1, "other seed / K / point")
    assert match(_job("r", [], dataset="c", k=4, seed=0), done) == (m0, "other dataset")
    assert match(_job("x", [], dataset="b"), done) == (None, "not measured")
    # the same method on another dataset before another method on the same dataset
    a, b = Measured(3.0, None, None, None), Measured(4.0, None, None, None)
    done = {("t", (("dataset", "a"), ("method", "gmm"), ("seed", "0"))): a,
            ("t", (("dataset", "b"), ("method", "presto"), ("seed", "0"))): b}
    assert match(_job("t", [], dataset="a", method="presto", seed=1), done) == (b, "other dataset")
    assert match(_job("t", [], dataset="a", method="bgmm", seed=1), done) == (a, "same rule and dataset")


@pytest.fixture(scope="module")
def configs():
    return load_config(ROOT / "config" / "paper.yaml"), load_config(ROOT / "config" / "rehearsal.yaml")


def test_presto_projection_scales_each_phase_by_its_budget(configs):
    paper, reh = configs
    # a rehearsal PRESTO run (2 rounds x 1 epoch, gate 1 epoch, n_init 1) at the full pathmnist stand-in
    m = {"method": "presto", "k": 4, "rounds_run": 2, "seconds": {
        "train": 10.0, "loss_matrix": 2.0, "assignment": 1.0, "gate": 3.0, "initial_partition": 5.0,
        "singleton": 0.0}}
    got = Measured(30.0, 900.0, m, 89996)
    p = _table1(_job("train_table1", [], dataset="pathmnist", k=6, method="presto", seed=1), paper, reh, got)
    expected = (10.0 / 2 * 300        # 5 s an epoch, 30 x 10 epochs
                + 2.0 / 8 * 30 * 6    # loss matrix: 0.25 s per round and component, K = 6
                + 1.0 / 2 * 30        # assignment per round
                + 3.0 * 10            # gate epochs
                + 5.0 * 10            # equal-kmeans init, n_init 10
                + (30.0 - 21.0))      # the rest as measured
    assert p.seconds == pytest.approx(expected) and p.rss_mib == 900.0 and p.factors["size"] == 1.0
    # measured at 1% of N: the phases grow with N, the rest does not
    small = Measured(30.0, 900.0, m, 900)
    p2 = _table1(_job("train_table1", [], dataset="pathmnist", k=6, method="presto", seed=1), paper, reh, small)
    assert p2.seconds == pytest.approx((expected - 9.0) * 89996 / 900 + 9.0)


def test_coreset_projection_follows_the_paper_schedule(configs):
    paper, reh = configs
    # GRAD-MATCH at 10%: the rehearsal (T = 2, R = 1) trained 2 subset epochs after 2 selections
    m = {"fraction": 0.1, "warm_epochs": 0, "history": [
        {"epoch": 0, "full_data": False, "seconds": 2.0, "skipped": False},
        {"epoch": 1, "full_data": False, "seconds": 2.0, "skipped": False}],
        "selections": [{"epoch": 0, "seconds": 4.0}, {"epoch": 1, "seconds": 4.0}], "selection_epochs": [0, 1]}
    got = Measured(20.0, 500.0, m, 45000)
    p = _coreset(_job("train_coreset", [], dataset="cifar10", method="gradmatch", fraction="f0.1", seed=0),
                 paper, reh, got)
    # paper: T = 300, R = 20, no warm start: 300 subset epochs, selections at 0, 20, ..., 280 (15)
    assert p.factors == {"size": 1.0, "full_epochs": 0, "subset_epochs": 300, "selections": 15}
    assert p.seconds == pytest.approx((20.0 - 4.0 - 8.0) + 300 * 2.0 + 15 * 4.0)
    # PBCS selects once: one selection in the rehearsal, one in the paper's run
    once = dict(m, selections=[{"epoch": 0, "seconds": 4.0}], selection_epochs=[0])
    p = _coreset(_job("train_coreset", [], dataset="cifar10", method="pbcs", fraction="f0.1", seed=0),
                 paper, reh, Measured(16.0, 500.0, once, 45000))
    assert p.factors["selections"] == 1 and p.seconds == pytest.approx(8.0 + 300 * 2.0 + 4.0)
    # GRAD-MATCH-WARM: the rehearsal (T = 2: T_f = round(1 x 0.1) = 0) skipped epoch 0, trained epoch 1
    m = {"fraction": 0.1, "warm_epochs": 0, "history": [
        {"epoch": 0, "full_data": False, "seconds": 1.0, "skipped": True},
        {"epoch": 1, "full_data": False, "seconds": 2.0, "skipped": False}],
        "selections": [{"epoch": 1, "seconds": 4.0}], "selection_epochs": [1]}
    got = Measured(20.0, 500.0, m, 45000)
    p = _coreset(_job("train_coreset", [], dataset="cifar10", method="gradmatch_warm", fraction="f0.1", seed=0),
                 paper, reh, got)
    # T_f = round(150 x 0.1) = 15 full epochs (each 2 s / 0.1), 150 subset epochs, selections every 20 of them
    assert p.factors == {"size": 1.0, "full_epochs": 15, "subset_epochs": 150, "selections": 8}
    assert p.seconds == pytest.approx(14.0 + 15 * 20.0 + 150 * 2.0 + 8 * 4.0)


def test_epoch_projection_of_a_pruned_network(configs):
    paper, reh = configs
    m = {"epoch_seconds": [6.0], "seconds": {"scoring": 3.0}}
    p = _epochs_job(lambda cfg, job: cfg["compress"]["pruned_epochs"])(
        _job("train_compress", [], dataset="svhn", cmethod="snip", point="table2", seed=0), paper, reh,
        Measured(15.0, 2000.0, m, 659))
    assert p.seconds == pytest.approx(9.0 + 6.0 * 20 * 65932 / 659)
    assert p.factors == {"size": pytest.approx(65932 / 659), "epochs": 20.0}


def test_downloads_are_an_assumption_and_missing_rules_are_flagged(configs):
    paper, reh = configs
    p = project(_job("download_data", [], dataset="svhn"), paper, reh, None, "not measured", 10.0)
    assert p.seconds == pytest.approx(24.6) and "assumed 10 MB/s" in p.how
    p = project(_job("make_table1", ["t.md"]), paper, reh, None, "not measured", 10.0)
    assert p.how == "not measured" and p.seconds != p.seconds  # NaN
    assert project(_job("all", []), paper, reh, None, "not measured", 10.0).seconds == 0.0


def test_an_ablation_job_is_projected_per_variant(configs):
    paper, reh = configs
    from prestorepro.forecast.measured import _merged

    # two variants of the rehearsal (2 rounds x 1 epoch each), 4 s of training each
    m = _merged([{"method": "presto", "k": 3, "rounds_run": 2, "seconds": {"train": 4.0, "gate": 1.0}},
                 {"method": "presto", "k": 3, "rounds_run": 2, "seconds": {"train": 4.0, "gate": 1.0}}])
    assert m["runs"] == 2 and m["rounds_run"] == 4 and m["seconds"] == {"train": 8.0, "gate": 2.0}
    p = _table1(_job("train_ablation", [], dataset="dermamnist", seed=0), paper, reh, Measured(20.0, None, m, 7007))
    # each variant: 300 epochs at 2 s, 10 gate epochs at 1 s; the rest (10 s) as measured
    assert p.seconds == pytest.approx(2 * (300 * 2.0 + 10 * 1.0) + 10.0)


def test_synthetic_rounds_are_scaled_by_rounds_epochs_and_n(configs):
    paper, reh = configs
    from prestorepro.forecast.projections import _synthetic

    # the rehearsal's App. C run: 2 rounds of 1 epoch, 3 s of training each, in a 10 s job
    m = {"history": [{"round": 1, "train_seconds": 3.0}, {"round": 2, "train_seconds": 3.0}]}
    p = _synthetic(_job("synthetic_experiment", [], dataset="synthetic", seed=0), paper, reh,
                   Measured(10.0, 500.0, m, 16000))
    assert p.seconds == pytest.approx(4.0 + 50 * 3.0 * 10)  # 50 rounds of 10 epochs (same n)
