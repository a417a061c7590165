"""The compress stage (Table 2, Fig. 3 / 8): budgets, methods on tiny features, sequential PRESTO,
memory ledger, report builders on fabricated metrics, and workflow planning."""
import gc
import logging
import mmap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from prestorepro.compress.distill import match_student_widths, tail_parameter_count
from prestorepro.compress import budget as B
from prestorepro.compress import methods as M
from prestorepro.compress.ledger import MemoryLedger
from prestorepro.jobs.compress import train_compress, train_guide
from prestorepro.jobs.specs import CompressJob, Embeddings, GuideJob, Table1Job, Table1PointJob
from prestorepro.models.parameters import presto_parameters
from prestorepro.models.fused import FusedResNetTail
from prestorepro.features import Features
from prestorepro.io import read_json, save_torch, write_json, write_npz
from prestorepro.report.compress import load_runs, make_table2, make_tradeoff_figure, table2_frame
from prestorepro.report.paper import PAPER_SETUP, PARAMS
from snakemake_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
# As the jobs do (training.warmup.warm_up): every MemoryProbe starts with gc.collect(), which
# would otherwise scan every object the test session holds.
gc.freeze()

SETTINGS = {
    "reference_widths": [8, 8, 8], "prune_at": "init", "pruned_epochs": 2, "lr_pruned": 1e-3, "lr_paper": 0.1,
    "score_samples_per_class": 4, "score_batch_size": 8, "grasp_temperature": 200.0,
    "student_base_widths": [12, 16, 32], "student_epochs": 2, "lr": 0.01, "kd_temperature": 5.0, "kd_alpha": 0.9,
    "dgkd_drop_prob": 0.0, "batch_size": 8, "l2": 1e-4, "infer_batch_size": 16, "tolerance": 0.05,
    "student_param_range": {"pathmnist": [41247, 82485]}, "student_param_scale": [0.75, 1.5],
    "student_sweep_points": 3,
}
PRESTO = {"epochs": 2, "batch_size": 8, "lr": 0.01, "lam": 1e-4, "gate_epochs": 2, "gate_input": "features"}


def tiny_features(n=(24, 12, 12), classes=3, seed=0) -> Features:
    g = torch.Generator().manual_seed(seed)
    parts = {}
    for split, m in zip(("train", "val", "test"), n):
        parts[f"{split}_y"] = torch.arange(m) % classes
        parts[f"{split}_x"] = torch.randn(m, 64, 4, 4, generator=g) + parts[f"{split}_y"].view(-1, 1, 1, 1).float()
    return Features(**parts, num_classes=classes, cut="layer1")


# ------------------------------------------------------------------------------------------- budgets


@pytest.mark.parametrize("name", list(PAPER_SETUP) + ["digits"])
def test_presto_parameter_count_matches_built_model(name):
    s = PAPER_SETUP.get(name, {"cut": "layer1", "num_classes": 10, "k": 4})
    built = FusedResNetTail(s["k"], s["cut"], (4, 8, 16), s["num_classes"])
    components = sum(p.numel() for p in built.parameters())
    # §4.2: PRESTO's total is sum_k dim(theta_k), the components without the gate
    assert presto_parameters(s["cut"], (4, 8, 16), s["num_classes"], s["k"], gate_input="features",
                             features=64)["components"] == components
    if name in PARAMS:  # SPEC §3: the components within 2% of the paper's totals
        assert abs(components - PARAMS[name]) / PARAMS[name] < 0.02


def test_budget_points():
    # paper range for the source: evenly spaced, endpoints included
    assert B.student_targets("pathmnist", 54808, SETTINGS) == [41247, 61866, 82485]
    # digits is not in the paper: PRESTO's total x [0.75, 1.5]
    assert B.student_targets("digits", 54892, SETTINGS) == [41169, 61754, 82338]
    assert B.student_targets("digits", 1000, dict(SETTINGS, student_sweep_points=1)) == [1125]
    assert B.student_targets("digits", 1000, dict(SETTINGS, student_sweep_points=0)) == []
    assert B.resolve_target("table2", "digits", 54892, SETTINGS) == 54892
    assert B.resolve_target("sweep2", "digits", 54892, SETTINGS) == 82338
    with pytest.raises(ValueError, match="gives 3 point"):
        B.resolve_target("sweep3", "digits", 54892, SETTINGS)
    with pytest.raises(ValueError, match="unknown budget point"):
        B.resolve_target("k4", "digits", 54892, SETTINGS)
    # every digits sweep budget can be met by a student within 5% (what the workflow will ask for)
    for t in B.student_targets("digits", 54892, SETTINGS):
        w = match_student_widths(t, "layer1", 10)
        assert abs(tail_parameter_count("layer1", w, 10) - t) / t <= 0.05


# ------------------------------------------------------------------------------------------- methods


@pytest.mark.parametrize("criterion", ["snip", "grasp"])
def test_pruned_method_keeps_exactly_the_budget_and_stays_pruned(criterion):
    feats = tiny_features()
    target = 3000
    res = M.METHODS.get(criterion)(feats, target, SETTINGS, 0, CPU)
    assert res["num_parameters"] == target
    dense = M.seeded_tail("layer1", (8, 8, 8), 3, 0)
    unprunable = res["dense_parameters"] - sum(v["total"] for v in res["mask_summary"].values())
    kept_weights = sum(v["kept"] for v in res["mask_summary"].values())
    assert kept_weights + unprunable == target
    assert res["nonzero_weights"] == kept_weights  # pruned weights stayed exactly zero through training
    assert res["dense_parameters"] == sum(p.numel() for p in dense.parameters())
    assert 0.0 <= res["test_accuracy"] <= 1.0 and len(res["loss"]) == 2
    mem = res["memory"]
    assert mem["kind"] == "cpu_rss" and mem["training_mib"] >= 0 and mem["inference_mib"] >= 0
    assert "App. B.5: 0.1" in res["notes"]


def test_distilled_students_match_budget_and_use_their_guides(tmp_path):
    feats = tiny_features()
    guides = {}
    for role, widths in (("teacher", [8, 8, 8]), ("assistant", [4, 4, 4])):
        model, m = M.fit_guide(feats, role, {"widths": widths, "epochs": 1, "lr": 0.01, "l2": 0.0,
                                               "batch_size": 8, "infer_batch_size": 16}, 0, CPU)
        assert m["num_parameters"] == sum(p.numel() for p in model.parameters())
        guides[role] = tmp_path / f"{role}.pt"
        save_torch(guides[role], {"state_dict": model.state_dict(), "cut": "layer1", "widths": widths,
                                  "num_classes": 3, "role": role})
        loaded = M.load_guide(guides[role])
        x = feats.test_x[:4]
        torch.testing.assert_close(loaded(x), model.eval()(x))
    target = 6000
    w = match_student_widths(target, "layer1", 3)
    kd = M.METHODS.get("kd")(feats, target, SETTINGS, 0, CPU, guides={"teacher": guides["teacher"]})
    dgkd = M.METHODS.get("dgkd")(feats, target, SETTINGS, 0, CPU, guides=guides)
    for res in (kd, dgkd):
        assert res["widths"] == list(w)
        assert res["num_parameters"] == tail_parameter_count("layer1", w, 3)
        assert abs(res["num_parameters"] - target) / target <= 0.05
    # same student initialisation and batch order: only the guides differ, so the losses do
    assert kd["loss"] != dgkd["loss"]
    with pytest.raises(ValueError, match="assistant"):
        M.METHODS.get("dgkd")(feats, target, SETTINGS, 0, CPU, guides={"teacher": guides["teacher"]})


def _feature_files(tmp_path, feats):
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_x"] = getattr(feats, f"{split}_x").numpy().astype(np.float16)
        arrays[f"{split}_y"] = getattr(feats, f"{split}_y").numpy().astype(np.int64)
    npz, js = tmp_path / "features.npz", tmp_path / "features.json"
    write_npz(npz, **arrays)
    write_json(js, {"num_classes": 3, "cut": "layer1", "feature_shape": [64, 4, 4]})
    return npz, js


TABLE1_PRESTO = {"rounds": 3, "epochs": 2, "batch_size": 8, "lr": 0.01, "lam": 1e-4, "alpha": 1.0,
                 "singleton": "current", "singleton_steps": 5, "singleton_lr": 0.01, "keep": "decreased", "max_moves": 1.0,
                 "gate_input": "features", "gate_epochs": 2, "reassign": "bound", "combiner_epochs": 2,
                 "combiner_weight_decay": 1e-4}
TABLE1_DATASET = {"source": "digits", "cut": "layer1", "k": 3, "init": "equal_kmeans", "leeway": 2, "epsilon": 0.003}


def _table1_presto(tmp_path, name, npz, js, sequential):
    from prestorepro.jobs.presto import train_table1

    out = tmp_path / name
    return train_table1(Table1Job(embeddings=Embeddings(npz, js), dataset="tiny", dataset_config=TABLE1_DATASET,
                                  method="presto", k=3, seed=5, presto=TABLE1_PRESTO,
                                  table1={"pca_dim": 8, "max_fit_samples": 100, "n_init": 1, "covariance_type": "full"},
                                  widths=(2, 2, 4), embedding={}, device="cpu", precision="float32", options={},
                                  out_metrics=out / "metrics.json", out_assignment=out / "assignment.npz",
                                  checkpoint=None, sequential=sequential),
                        logging.getLogger("test_table1_point"))


def test_table2_presto_is_the_table1_run_in_sequential_mode(tmp_path):
    # §4.2: the same PRESTO accuracy in Table 1 and Table 2; the memory measured while Algorithm 1 ran
    from prestorepro.jobs.compress import table1_point

    npz, js = _feature_files(tmp_path, tiny_features(n=(30, 12, 12)))
    fused = _table1_presto(tmp_path, "fused", npz, js, sequential=False)
    seq = _table1_presto(tmp_path, "seq", npz, js, sequential=True)
    assert seq["mode"] == "sequential" and "mode" not in fused and "memory" not in fused
    # sequential mode is Algorithm 1 itself: same rounds, partition and accuracy as the fused run (float32
    # rounding aside, which on this problem changes nothing)
    assert [h["part_sizes"] for h in seq["history"]] == [h["part_sizes"] for h in fused["history"]]
    assert [h["objective"] for h in seq["history"]] == pytest.approx([h["objective"] for h in fused["history"]],
                                                                       rel=1e-5)
    for key in ("part_sizes", "num_parameters"):
        assert seq[key] == fused[key], key
    for predictor in ("combiner", "router"):  # both predictors, on the same components, in both modes
        for key in ("test_accuracy", "val_accuracy", "parameters"):
            assert seq["predictors"][predictor][key] == fused["predictors"][predictor][key], (predictor, key)
    assert seq["predictors"]["router"]["gate_train_agreement"] == fused["predictors"]["router"]["gate_train_agreement"]
    mem = seq["memory"]
    assert mem["kind"] == "cpu_rss" and set(mem["phases"]) == {"training", "router_training", "router_inference",
                                                                 "combiner_training", "combiner_inference"}
    point = table1_point(Table1PointJob(table1_metrics=str(tmp_path / "seq" / "metrics.json"), meta=js, dataset="tiny",
                                        dataset_config=TABLE1_DATASET, method="presto", k=3, seed=5,
                                        out_metrics=tmp_path / "point.json"), logging.getLogger("test_table1_point"))
    stored = read_json(tmp_path / "point.json")
    assert stored == point
    for key in ("num_parameters", "memory"):
        assert stored[key] == seq[key], key
    components = 3 * tail_parameter_count("layer1", (2, 2, 4), 3)
    assert stored["num_parameters"] == components
    assert stored["target_parameters"] == components + (3 * 3 + 1) * 3  # the paper's total: + the combiner
    for predictor, own in (("combiner", (3 * 3 + 1) * 3), ("router", (64 * 4 * 4 + 1) * 3)):
        p = stored["predictors"][predictor]
        for key in ("test_accuracy", "test_macro_f1", "val_accuracy"):
            assert p[key] == seq["predictors"][predictor][key], (predictor, key)
        assert p["num_parameters"] == components + own
        # a predictor's training memory: Algorithm 1 or its own training, whichever peaked higher
        assert p["memory"]["training_mib"] == max(mem["training_mib"], mem[f"{predictor}_training_mib"])
        assert p["memory"]["inference_mib"] == mem[f"{predictor}_inference_mib"]
    assert stored["method"] == "presto" and stored["point"] == "k3" and stored["train_size"] == 30
    # a Table-1 run without a measured sequential run behind it is refused, naming the way out
    with pytest.raises(ValueError, match=r"not a run with its memory measured \(PRESTO: in sequential mode\)"):
        table1_point(Table1PointJob(table1_metrics=str(tmp_path / "fused" / "metrics.json"), meta=js, dataset="tiny",
                                    dataset_config=TABLE1_DATASET, method="presto", k=3, seed=5,
                                    out_metrics=tmp_path / "bad.json"), logging.getLogger("test_table1_point"))
    assert not (tmp_path / "bad.json").exists()


def test_table2_one_model_is_its_table1_run_measured(tmp_path):
    # SPEC §5b: the one model of PRESTO's size in Table 1 and Table 2, its memory measured like the others'
    from prestorepro.jobs.compress import table1_point
    from prestorepro.jobs.presto import train_table1

    npz, js = _feature_files(tmp_path, tiny_features(n=(30, 12, 12)))
    t1 = train_table1(Table1Job(embeddings=Embeddings(npz, js), dataset="tiny", dataset_config=TABLE1_DATASET,
                                method="single", k=3, seed=5, presto=TABLE1_PRESTO,
                                table1={"pca_dim": 8, "max_fit_samples": 100, "n_init": 1, "covariance_type": "full"},
                                widths=(2, 2, 4), embedding={}, device="cpu", precision="float32", options={},
                                out_metrics=tmp_path / "t1" / "metrics.json",
                                out_assignment=tmp_path / "t1" / "assignment.npz", checkpoint=None, sequential=False),
                      logging.getLogger("test_table1_point"))
    assert set(t1["predictors"]) == {"model"} and t1["memory"]["kind"] == "cpu_rss"
    assert set(t1["memory"]["phases"]) == {"training", "inference"}
    total = 3 * tail_parameter_count("layer1", (2, 2, 4), 3) + (3 * 3 + 1) * 3
    assert t1["presto_parameters"] == total and abs(t1["num_parameters"] - total) / total <= 0.05
    point = table1_point(Table1PointJob(table1_metrics=str(tmp_path / "t1" / "metrics.json"), meta=js, dataset="tiny",
                                        dataset_config=TABLE1_DATASET, method="single", k=3, seed=5,
                                        out_metrics=tmp_path / "point.json"), logging.getLogger("test_table1_point"))
    assert read_json(tmp_path / "point.json") == point
    for key in ("test_accuracy", "test_macro_f1", "val_accuracy"):
        assert point[key] == t1["predictors"]["model"][key], key
    assert point["num_parameters"] == t1["num_parameters"] and point["target_parameters"] == total
    assert point["memory"]["training_mib"] == t1["memory"]["training_mib"]
    assert point["memory"]["inference_mib"] == t1["memory"]["inference_mib"]
    assert "predictors" not in point and point["point"] == "k3" and point["table1_run"] == "table1/tiny/k3/single/seed5"
    df, _ = table2_frame([str(tmp_path / "point.json")])
    assert list(df["method"]) == ["One model"] and df["parameters"].iloc[0] == t1["num_parameters"]


# ------------------------------------------------------------------------------------------- memory


def _hold(nbytes: int) -> None:
    buf = mmap.mmap(-1, nbytes)  # fresh pages, so RSS must rise by their size
    a = np.frombuffer(buf, dtype=np.float64)
    a[:] = 1.0
    time.sleep(0.03)
    del a
    buf.close()


def test_memory_ledger_reports_each_phase_above_the_job_baseline():
    ledger = MemoryLedger(CPU)
    with ledger.measure("inference"):
        _hold(30 * 2**20)
    with ledger.measure("training"):
        _hold(200 * 2**20)
    s = ledger.summary()
    assert s["kind"] == "cpu_rss" and s["device"] == "cpu"
    assert s["training_mib"] >= 0.9 * 200
    assert 0.9 * 30 <= s["inference_mib"] < s["training_mib"]
    assert s["training_mib"] == pytest.approx(s["phases"]["training"]["peak_mib"] - s["baseline"]["baseline_mib"])
    assert s["training_peak_abs_mib"] == s["phases"]["training"]["peak_mib"]


# ------------------------------------------------------------------------------------------- jobs


def test_jobs_write_metrics_with_provenance_and_drop_checkpoints(tmp_path):
    npz, js = _feature_files(tmp_path, tiny_features())
    ds = {"source": "digits", "cut": "layer1", "k": 2, "init": "equal_kmeans", "leeway": 2, "epsilon": 0.003}
    log = logging.getLogger("test_compress_jobs")
    ck = tmp_path / "ck.pt"
    g = train_guide(GuideJob(embeddings=Embeddings(npz, js), dataset="tiny", dataset_config=ds, role="teacher",
                             settings={"widths": [8, 8, 8], "epochs": 1, "lr": 0.01, "l2": 0.0, "batch_size": 8,
                                       "infer_batch_size": 16},
                             seed=0, device="cpu", precision="float32", out_model=tmp_path / "teacher.pt",
                             out_metrics=tmp_path / "teacher.json", checkpoint=ck), log)
    assert not ck.exists() and g["method"] == "teacher" and g["point"] == "guide"
    settings = dict(SETTINGS, student_sweep_points=2, student_param_scale=[0.8, 1.2])
    presto_total = 2 * tail_parameter_count("layer1", (2, 2, 4), 3) + (2 * 3 + 1) * 3  # components + combiner
    m = train_compress(CompressJob(embeddings=Embeddings(npz, js), dataset="tiny", dataset_config=ds, method="kd",
                                   point="sweep1", settings=settings, presto_widths=[2, 2, 4], seed=0, device="cpu",
                                   precision="float32", roles=["teacher"],
                                   guide_models={"teacher": tmp_path / "teacher.pt"},
                                   guide_metrics={"teacher": tmp_path / "teacher.json"},
                                   out_metrics=tmp_path / "kd.json", checkpoint=ck), log)
    stored = read_json(tmp_path / "kd.json")
    assert stored["target_parameters"] == round(1.2 * presto_total) == m["target_parameters"]
    assert stored["presto_parameters"] == presto_total
    assert stored["guides"]["teacher"]["test_accuracy"] == g["test_accuracy"]
    assert stored["provenance"]["seed"] == 0 and stored["provenance"]["device"].startswith("cpu")
    # the header every metrics file starts with
    assert stored["dataset"] == "tiny" and stored["dataset_config"] == ds and stored["source"] == "digits"
    assert stored["method"] == "kd" and stored["seed"] == 0 and stored["point"] == "sweep1"
    assert not ck.exists()


# ------------------------------------------------------------------------------------------- reports


def _fake_run(path, dataset, source, method, point, seed, acc, train, infer, params, kind="cpu_rss", guides=None):
    write_json(path, {
        "dataset": dataset, "source": source, "method": method, "point": point, "seed": seed,
        "num_parameters": params, "test_accuracy": acc, "test_macro_f1": acc - 0.01,
        "memory": {"kind": kind, "device": "cpu" if kind == "cpu_rss" else "cuda:0 (H100)", "training_mib": train,
                   "inference_mib": infer, "training_peak_abs_mib": train + 300, "inference_peak_abs_mib": infer + 300},
        "notes": f"{method} note", "guides": guides or {},
    })
    return path


def _fake_files(tmp_path, kind="cpu_rss"):
    files = []
    runs = {  # method -> (point, params, [(acc, train, infer) per seed])
        "kd": ("table2", 54000, [(0.90, 40.0, 4.0), (0.92, 44.0, 5.0), (0.91, 42.0, 6.0)]),
        "presto": ("k4", 54808, [(0.80, 10.0, 2.0), (0.84, 12.0, 2.5), (0.82, 14.0, 3.0)]),
        "snip": ("table2", 54808, [(0.95, 300.0, 40.0), (0.96, 310.0, 41.0), (0.97, 320.0, 42.0)]),
    }
    guide = {"teacher": {"widths": [32, 64, 128], "num_parameters": 700000, "test_accuracy": 0.9, "epochs": 5,
                         "training_mib": 120.0, "inference_mib": 10.0}}
    for method, (point, params, seeds) in runs.items():
        for s, (acc, tr, inf) in enumerate(seeds):
            files.append(_fake_run(tmp_path / f"{method}_{s}.json", "path", "pathmnist", method, point, s, acc, tr, inf,
                                   params, kind, guide if method == "kd" else None))
    sweep = [_fake_run(tmp_path / "kd_sweep0.json", "path", "pathmnist", "kd", "sweep0", 0, 0.85, 30.0, 3.0, 41000, kind),
             _fake_run(tmp_path / "presto_k2.json", "path", "pathmnist", "presto", "k2", 0, 0.78, 7.0, 1.5, 27400, kind)]
    return files, sweep


def test_table2_numbers_are_mean_and_std_over_seeds(tmp_path):
    files, _ = _fake_files(tmp_path)
    df, notes = table2_frame(files)
    assert list(df["method"]) == ["SNIP", "KD", "PRESTO"]  # the paper's row order
    kd = df[df["method"] == "KD"].iloc[0]
    acc = np.array([90.0, 92.0, 91.0])
    assert kd["accuracy_mean"] == pytest.approx(acc.mean()) and kd["accuracy_std"] == pytest.approx(acc.std(ddof=1))
    assert kd["accuracy"] == f"{acc.mean():.2f} ± {acc.std(ddof=1):.2f}" == "91.00 ± 1.00"
    assert kd["training_memory"] == "42.00 ± 2.00" and kd["inference_memory"] == "5.00 ± 1.00"
    assert kd["paper_accuracy"] == 75.32 and kd["paper_training_mib"] == 250.69  # Table 2, PMNIST column
    assert kd["diff_accuracy"] == pytest.approx(91.0 - 75.32)
    pr = df[df["method"] == "PRESTO"].iloc[0]
    assert pr["training_memory"] == "12.00 ± 2.00" and pr["paper_parameters"] == 54993 and pr["parameters"] == 54808
    assert set(df["memory_measure"]) == {"CPU RSS above job baseline (MiB)"}
    assert any("teacher (32, 64, 128)" in n and "90.00 ± 0.00% test accuracy" in n for n in notes)
    make_table2(files, tmp_path / "t2")
    md = (tmp_path / "t2.md").read_text()
    assert "91.00 ± 1.00" in md and "CPU RSS" in md
    assert (tmp_path / "t2.csv").exists() and "91.00 ± 1.00" in (tmp_path / "t2.tex").read_text()
    html = (tmp_path / "t2.html").read_text()  # the table the Snakemake report shows inline
    assert "<table" in html and "91.00 ± 1.00" in html and "Table 2" in html


def test_table2_refuses_mixed_memory_kinds_and_several_points(tmp_path):
    files, sweep = _fake_files(tmp_path)
    gpu = _fake_run(tmp_path / "gpu.json", "path", "pathmnist", "kd", "table2", 3, 0.9, 40.0, 4.0, 54000,
                    kind="cuda_torch_allocated")
    with pytest.raises(ValueError, match="cannot be averaged"):
        table2_frame(files + [gpu])
    with pytest.raises(ValueError, match="one budget point"):
        table2_frame(files + sweep)


def test_tradeoff_figures_are_written(tmp_path):
    files, sweep = _fake_files(tmp_path)
    out = make_tradeoff_figure(files + sweep, tmp_path / "tradeoff_path", ["png", "pdf"])
    assert [Path(p).suffix for p in out] == [".png", ".pdf"]
    assert all(Path(p).stat().st_size > 1000 for p in out)
    runs = load_runs(files + sweep)
    assert len(runs) == 11 and set(runs["point"]) == {"table2", "k4", "sweep0", "k2"}
    (tmp_path / "gpu").mkdir()
    gpu_files, gpu_sweep = _fake_files(tmp_path / "gpu", kind="cuda_torch_allocated")
    out = make_tradeoff_figure(gpu_files + gpu_sweep, tmp_path / "fig3", ["png"], title="fig3")
    assert Path(out[0]).exists()


# ------------------------------------------------------------------------------------------- workflow


def test_default_config_plans_the_compress_stage(tmp_path):
    jobs = planned_jobs(results=tmp_path / "r")
    # digits: 4 single-model methods x 3 seeds + KD, DGKD at 2 sweep budgets x 1 sweep seed
    assert jobs["train_compress"] == 4 * 3 + 2 * 2
    assert jobs["train_guide"] == 2 * 3  # teacher and assistant; no reference with prune_at: init
    # PRESTO: K = 4 for every seed, K = 3 for the sweep seed; the one model: every seed at K = 4
    assert jobs["table1_point"] == 3 + 1 + 3
    assert jobs["make_table2"] == 1 and jobs["make_tradeoff_figure"] == 1
    assert "make_paper_tradeoff_figure" not in jobs  # digits is in neither Fig. 3 nor Fig. 8


def test_paper_config_plans_the_compress_stage_for_four_datasets(tmp_path):
    jobs = planned_jobs("--configfile", "config/paper.yaml", results=tmp_path / "r")
    assert jobs["train_compress"] == 4 * (4 * 3 + 2 * 5 * 3)
    assert jobs["train_guide"] == 4 * 2 * 3
    assert jobs["table1_point"] == 4 * 5 * 3 + 4 * 3  # PRESTO at K = 2..6, the one model, every seed
    assert jobs["make_tradeoff_figure"] == 4 and jobs["make_paper_tradeoff_figure"] == 2
    assert jobs["make_table2"] == 1
