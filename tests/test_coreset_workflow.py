"""Coreset training (SPEC §7) on tiny random features, the coreset report, and the workflow's plan."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from prestorepro.catalogue import method as catalogue_method, methods as catalogue_methods
from prestorepro.coreset import SELECTORS
from prestorepro.coreset.methods import CORESET_METHODS
from prestorepro.models.parameters import presto_parameter_total
from prestorepro.coreset.run import (CoresetSpec, build_model, model_widths,
                                     run_coreset, subset_budget)
from prestorepro.jobs.coreset import train_coreset
from prestorepro.jobs.specs import CoresetJob, Embeddings
from prestorepro.features import Features
from prestorepro.io import read_json, write_json
from prestorepro.models.resnet_tail import count_parameters
from prestorepro.report.coreset import coreset_frame, make_coreset_figure, make_coreset_table
from prestorepro.training.single import (Batching, EpochData, Recipe, TrainingSet, batch_bounds, train_epoch,
                                         train_single)
from snakemake_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (2, 2, 4)  # a tiny tail keeps every run here well under a second

CFG = {
    "epochs": 6, "interval": 2, "kappa": 0.5, "batch_size": 8, "lr": 0.01, "lr_schedule": "cosine", "l2": 1e-4,
    "craig": {"greedy": "lazy", "epsilon": 0.01},
    "gradmatch": {"lam": 0.5, "tol": 1e-10, "valid": False},
    "pbcs": {"outer_steps": 4, "num_masks": 3, "lr": [2.5, 0.05], "l2": 1e-3, "inner_max_iter": 10,
             "inner_tol": 1e-5, "outer": "train"},
}


def tiny_data(seed=0, n=60, classes=3):
    """Class-dependent random 64 x 4 x 4 feature maps (the layer1 cut, small spatially)."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, 64, 1, 1, generator=g)

    def split(m):
        y = torch.arange(m) % classes
        return means[y] + torch.randn(m, 64, 4, 4, generator=g), y

    (tx, ty), (vx, vy), (sx, sy) = split(n), split(24), split(24)
    return Features(tx, ty, vx, vy, sx, sy, num_classes=classes, cut="layer1")


def run(method, fraction=0.3, seed=0, data=None, cfg=CFG, **kw):
    spec = CoresetSpec(method=method, fraction=fraction, seed=seed, widths=WIDTHS, cfg=cfg)
    return run_coreset(data or tiny_data(), spec, device="cpu", **kw)


# ------------------------------------------------------------------------------------ experiment

GOLDEN_SELECTION_EPOCHS = {
    # T = 6, R = 2; warm: T_s = int(0.5 * 6) = 3, T_f = round(3 * 0.3) = 1 full-data epoch (epoch 0),
    # epochs 1-2 skipped, subset epochs 3-5 selected at 3 and 5; PBCS once
    "random": [0, 2, 4], "craig": [0, 2, 4], "gradmatch": [0, 2, 4], "gradmatch_pb": [0, 2, 4],
    "random_warm": [3, 5], "gradmatch_warm": [3, 5], "pbcs": [0],
}


def _expected_selection_epochs(method: str) -> list[int]:
    """The schedule above from a method's catalogue flags: warm-started, one selection, or every R epochs."""
    entry = catalogue_method("coreset", method)
    return [3, 5] if entry.warm else [0] if not entry.reselects else [0, 2, 4]


# every selecting method of the catalogue (a new one included), each with the schedule its flags give
EXPECTED_SELECTION_EPOCHS = {m.key: _expected_selection_epochs(m.key) for m in catalogue_methods("coreset") if m.selects}


def test_every_method_is_covered():
    assert sorted([*EXPECTED_SELECTION_EPOCHS, "full"]) == CORESET_METHODS.names()
    assert set(GOLDEN_SELECTION_EPOCHS) <= set(EXPECTED_SELECTION_EPOCHS)
    assert all(EXPECTED_SELECTION_EPOCHS[m] == e for m, e in GOLDEN_SELECTION_EPOCHS.items())


@pytest.mark.parametrize("method", sorted(EXPECTED_SELECTION_EPOCHS))
def test_subsets_within_budget_positive_weights_and_scheduled_reselection(method):
    res = run(method)
    budget = subset_budget(0.3, 60)
    assert budget == 18 and res["budget"] == 18
    expected = EXPECTED_SELECTION_EPOCHS[method]
    assert [s["epoch"] for s in res["selections"]] == expected == res["selection_epochs"]
    warm = 1 if method.endswith("_warm") else 0
    assert res["warm_epochs"] == warm
    for s in res["selections"]:
        assert 1 <= s["trained"] <= s["selected"] <= budget
        assert s["weight_min"] > 0 and math.isfinite(s["weight_max"])  # zero weights are dropped before training
    assert res["subset_sizes"] == [s["trained"] for s in res["selections"]]
    # each epoch trains on the full data (warm start), nothing (the warm variants' epochs 1-2, as CORDS
    # skips them) or the subset selected last: 1 + 3 trained epochs with a warm start, else 6
    current = None
    assert res["trained_epochs"] == (4 if warm else 6) == sum(not h["skipped"] for h in res["history"])
    for h in res["history"]:
        sel = [s for s in res["selections"] if s["epoch"] == h["epoch"]]
        current = sel[0]["trained"] if sel else current
        assert h["full_data"] == (h["epoch"] < warm)
        assert h["skipped"] == (warm and 1 <= h["epoch"] < 3)
        assert h["points"] == (0 if h["skipped"] else 60 if h["full_data"] else current)
    assert res["seconds"]["selection"] > 0 and res["seconds"]["training"] > 0
    assert res["selection_training_ratio"] == pytest.approx(res["seconds"]["selection"] / res["seconds"]["training"])
    assert 0.0 <= res["test_accuracy"] <= 1.0 and res["peak_memory"]["kind"] == "cpu_rss"


def test_full_data_trains_every_epoch_on_everything():
    res = run("full", fraction=1.0)
    assert res["selections"] == [] and res["subset_sizes"] == [] and res["seconds"]["selection"] == 0.0
    assert [h["points"] for h in res["history"]] == [60] * 6 and all(h["full_data"] for h in res["history"])


def test_selector_sees_last_layer_gradients_of_the_current_model(monkeypatch):
    # GRAD-MATCH gets [p - y | (p - y) e] of the model as it is at each selection epoch
    calls = []
    original = SELECTORS.get("gradmatch")

    def recording(budget, **kw):
        calls.append(np.array(kw["grads"], copy=True))
        return original(budget, **kw)

    monkeypatch.setitem(SELECTORS._items, "gradmatch", recording)
    data = tiny_data()
    run("gradmatch", data=data)
    assert len(calls) == 3
    # epoch 0: the freshly initialised model (seed 0), per-point autograd of the last layer
    model = build_model("layer1", WIDTHS, 3, 0, "cpu").eval()
    for i in (0, 7, 31):
        model.zero_grad()
        F.cross_entropy(model(data.train_x[i:i + 1]), data.train_y[i:i + 1]).backward()
        expected = torch.cat([model.fc.bias.grad, model.fc.weight.grad.reshape(-1)]).numpy()
        np.testing.assert_allclose(calls[0][i], expected, rtol=1e-4, atol=1e-6)
    assert calls[0].shape == (60, 3 * (1 + WIDTHS[-1]))
    assert not np.allclose(calls[0], calls[1])  # recomputed after two epochs of training


def test_same_seed_same_run_other_seed_other_run():
    a, b, c = run("craig", seed=3), run("craig", seed=3), run("craig", seed=4)
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["test_accuracy"] == b["test_accuracy"] and a["selections"][1]["weight_sum"] == b["selections"][1]["weight_sum"]
    assert [h["loss"] for h in a["history"]] != [h["loss"] for h in c["history"]]


def test_non_finite_loss_names_dataset_method_fraction_seed_and_epoch():
    with pytest.raises(FloatingPointError) as err:
        run("craig", fraction=0.3, seed=2, cfg=dict(CFG, lr=1e30), dataset_name="digits")
    assert str(err.value).startswith("[digits craig f=0.3 seed 2] epoch ")
    assert "non-finite training loss" in str(err.value) and "lower the learning rate" in str(err.value)
    with pytest.raises(FloatingPointError, match=r"^\[craig f=0.3 seed 2\] epoch "):  # no dataset name given
        run("craig", fraction=0.3, seed=2, cfg=dict(CFG, lr=1e30))


class Killed(Exception):
    pass


@pytest.mark.parametrize("method", ["gradmatch_warm", "random"])
def test_resume_after_kill_equals_uninterrupted_run(tmp_path, method):
    full = run(method)
    ckpt = tmp_path / "run.pt"

    def kill_after_epoch_2(epoch):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        run(method, checkpoint_path=ckpt, on_epoch_end=kill_after_epoch_2)
    assert ckpt.exists()
    resumed = run(method, checkpoint_path=ckpt)
    assert resumed["resumed_from_epoch"] == 3
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert [s["weight_sum"] for s in resumed["selections"]] == [s["weight_sum"] for s in full["selections"]]
    assert resumed["test_accuracy"] == full["test_accuracy"] and resumed["subset_sizes"] == full["subset_sizes"]
    again = run(method, checkpoint_path=ckpt)  # a finished run keeps its result in the checkpoint
    assert again["history"] == resumed["history"] and again["seconds"] == resumed["seconds"]
    # one resume protocol (prestorepro.checkpoint): a checkpoint of a run with other settings or data is
    # ignored, said in the log, and the run starts afresh: its result is a fresh run's
    for other in (dict(cfg=dict(CFG, lr=0.02)), dict(cfg=dict(CFG, gradmatch=dict(CFG["gradmatch"], lam=1.0))),
                  dict(data=tiny_data(seed=1))):  # the last: same size, other embeddings
        lines = []
        fresh = run(method, **other)
        got = run(method, checkpoint_path=ckpt, log=lines.append, **other)
        assert any("ignoring checkpoint" in line and "starting from epoch 1" in line for line in lines), lines
        assert got["resumed_from_epoch"] == 0 and got["history"] == [
            dict(h, seconds=g["seconds"]) for h, g in zip(fresh["history"], got["history"])]
        assert got["test_accuracy"] == fresh["test_accuracy"]


def test_weighted_epoch_on_rows_equals_train_single_on_the_subset():
    # an epoch on the selected rows of the whole set (the coreset runs) equals train_single on a copy of
    # those rows: same objective (weighted mean CE + l2 ||theta||^2), same batches
    data = tiny_data()
    idx = torch.tensor([3, 5, 8, 13, 21, 34, 40, 41, 42, 55, 57])
    w = torch.linspace(0.5, 3.0, idx.numel())
    a = build_model("layer1", WIDTHS, 3, 1, "cpu")
    b = build_model("layer1", WIDTHS, 3, 1, "cpu")
    opt = torch.optim.Adam(a.parameters(), lr=0.01)
    train_epoch(a, opt, EpochData(data.train_x, data.train_y, rows=idx, weights=w),
                batching=Batching(4, torch.Generator().manual_seed(9)), l2=1e-3)
    train_single(b, TrainingSet(data.train_x[idx], data.train_y[idx], sample_weights=w),
                 recipe=Recipe(1, 4, 0.01, l2=1e-3), device="cpu", generator=torch.Generator().manual_seed(9))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-7)


def test_last_batch_of_one_point_joins_the_previous_batch():
    data = tiny_data()
    model = build_model("layer1", WIDTHS, 3, 0, "cpu")
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    # 9 points in batches of 4: 4 + 5, never a batch of one (batch norm cannot train on it)
    loss, bad, steps = train_epoch(model, opt, EpochData(data.train_x, data.train_y, rows=torch.arange(9)),
                                   batching=Batching(4, torch.Generator(), min_batch=2))
    assert math.isfinite(loss) and bad == -1 and steps == 2
    assert opt.state[next(iter(model.parameters()))]["step"] == 2
    assert batch_bounds(9, 4, 2) == [(0, 4), (4, 9)] and batch_bounds(9, 4) == [(0, 4), (4, 8), (8, 9)]
    assert batch_bounds(1, 4, 2) == [(0, 1)] and batch_bounds(8, 4, 2) == [(0, 4), (4, 8)]


def test_subset_budget_and_model_widths():
    assert subset_budget(0.1, 1078) == 107 and subset_budget(1 / 3, 9) == 3 and subset_budget(1e-6, 10) == 1
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        subset_budget(1.5, 10)
    from prestorepro.models.fused import FusedResNetTail

    for cut, c, k in (("layer1", 10, 4), ("layer2", 10, 4), ("layer1", 7, 3)):
        total = presto_parameter_total(cut, (4, 8, 16), c, k)
        # the paper's total: the components and the combiner over their logits, (K*C + 1) * C
        assert total == sum(p.numel() for p in FusedResNetTail(k, cut, (4, 8, 16), c).parameters()) + (k * c + 1) * c
        widths = model_widths(cut, (4, 8, 16), c, k)
        assert abs(count_parameters(build_model(cut, widths, c, 0, "cpu")) - total) <= 0.05 * total
    assert model_widths("layer1", (4, 8, 16), 10, 4) == (12, 16, 33)  # digits: 56033 vs PRESTO's 55138 (12, 16, 32: 54098)


def test_train_coreset_job_writes_one_metrics_file_per_fraction(tmp_path):
    data = tiny_data()
    npz = tmp_path / "features.npz"
    np.savez(npz, **{f"{s}_{a}": getattr(data, f"{s}_{a}").numpy().astype(np.float16 if a == "x" else np.int64)
                     for s in ("train", "val", "test") for a in ("x", "y")})
    write_json(tmp_path / "features.json", {"num_classes": 3, "cut": "layer1"})
    outs = [str(tmp_path / "a" / "metrics.json"), str(tmp_path / "b" / "metrics.json")]
    ckpt_dir = tmp_path / "ckpt"

    class Log:
        def info(self, msg):
            pass

    train_coreset(CoresetJob(embeddings=Embeddings(str(npz), str(tmp_path / "features.json")), dataset="tiny",
                             dataset_config={"source": "npz", "k": 3}, coreset=dict(CFG, epochs=2), widths=[1, 1, 1],
                             method="random", seed=0, fractions={"0.1": 0.1, "1_over_k": 1 / 3}, device="cpu",
                             precision="float32", out_metrics=outs, checkpoint_dir=str(ckpt_dir)), Log())
    m = [read_json(o) for o in outs]
    assert [x["fraction_label"] for x in m] == ["0.1", "1_over_k"]
    assert [x["budget"] for x in m] == [6, 20] and m[1]["fraction"] == pytest.approx(1 / 3)
    assert m[0]["dataset"] == "tiny" and m[0]["provenance"]["seed"] == 0
    # the header every metrics file starts with
    assert m[0]["dataset_config"] == {"source": "npz", "k": 3} and m[0]["source"] == "npz"
    assert m[0]["method"] == "random" and m[0]["seed"] == 0
    assert not any(ckpt_dir.glob("*.pt"))  # checkpoints removed after success


# ---------------------------------------------------------------------------------------- report


def _fake_run(path, dataset, method, label, fraction, seed, acc, f1, sel, train, peak, sizes=(5, 5), lr=None):
    selections = [{"epoch": 0, "selected": sizes[0], "trained": sizes[0], "weight_sum": 5.0, "seconds": sel}]
    if lr is not None:
        selections[0]["lr"] = lr
    write_json(path, {
        "dataset": dataset, "method": method, "fraction_label": label, "fraction": fraction, "seed": seed,
        "n_train": 50, "epochs": 10, "interval": 5, "test_accuracy": acc, "test_macro_f1": f1,
        "selection_epochs": [] if method in ("full", "pbcs") else [0, 5], "optimizer": "adam",
        "seconds": {"selection": sel, "training": train, "total": sel + train},
        "subset_sizes": list(sizes) if method != "full" else [], "selections": selections if method != "full" else [],
        "peak_memory": {"kind": "cpu_rss", "peak_mib": peak}, "provenance": {"device": "cpu:test"},
    })
    return str(path)


def _fake_files(tmp_path):
    files = []
    for seed, (acc, train) in enumerate([(0.90, 10.0), (0.94, 14.0)]):
        files.append(_fake_run(tmp_path / f"full{seed}.json", "digits", "full", "1", 1.0, seed, acc, acc - 0.01,
                               0.0, train, 400.0))
    for seed, (acc, sel, train) in enumerate([(0.70, 0.2, 1.0), (0.80, 0.4, 2.0), (0.75, 0.3, 1.5)]):
        files.append(_fake_run(tmp_path / f"craig{seed}.json", "digits", "craig", "0.1", 0.1, seed, acc, acc / 2,
                               sel, train, 300.0 + seed))
    files.append(_fake_run(tmp_path / "pbcs.json", "digits", "pbcs", "1_over_k", 0.25, 0, 0.85, 0.8, 9.0, 3.0, 350.0,
                           sizes=(12,), lr=0.05))
    return files


def test_coreset_frame_numbers_equal_hand_computed_mean_and_std(tmp_path):
    df, notes = coreset_frame(_fake_files(tmp_path))
    assert list(df["method"]) == ["Full", "PBCS", "CRAIG"]  # by fraction, largest first
    full, pbcs, craig = (df.iloc[i] for i in range(3))
    # CRAIG accuracy 70, 80, 75 %: mean 75, sample std 5
    assert craig["accuracy_mean"] == 75.0 and craig["accuracy_std"] == pytest.approx(5.0)
    assert craig["accuracy"] == "75.00 ± 5.00" and craig["macro_f1"] == "37.50 ± 2.50"
    # selection / training = 0.2 in every seed; selection 0.2, 0.4, 0.3 s: mean 0.3, std 0.1
    assert craig["ratio_mean"] == pytest.approx(0.2) and craig["ratio_std"] == pytest.approx(0.0, abs=1e-12)
    assert craig["selection_s_mean"] == pytest.approx(0.3) and craig["selection_s_std"] == pytest.approx(0.1)
    # speed-up: mean full time 12 s over mean CRAIG total (1.2 + 2.4 + 1.8) / 3 = 1.8 s
    assert craig["speedup_vs_full"] == pytest.approx(12.0 / 1.8, abs=1e-3)
    assert craig["peak_mib"] == 301.0 and craig["subset_size"] == 5.0 and craig["fraction"] == "0.1"
    # full: 90 and 94 %: mean 92, std sqrt(8) = 2.83; one seed gives std 0
    assert full["accuracy"] == "92.00 ± 2.83" and full["speedup_vs_full"] == 1.0
    assert pbcs["fraction"] == "0.25 (1/K)" and pbcs["accuracy_std"] == 0.0 and pbcs["ratio_mean"] == 3.0
    assert any("0.05 in 1 run" in n for n in notes) and any("cpu_rss" in n for n in notes)
    assert any("T=10, adam" in n for n in notes)
    # R: the reselection interval of the methods that reselect, none for full data and one-shot PBCS
    assert craig["R"] == 5 and pd.isna(full["R"]) and pd.isna(pbcs["R"])


def test_report_writes_table_and_figure(tmp_path):
    files = _fake_files(tmp_path)
    make_coreset_table(files, tmp_path / "coreset")
    csv = pd.read_csv(tmp_path / "coreset.csv")
    assert len(csv) == 3 and list(csv["accuracy_mean"]) == [92.0, 85.0, 75.0]
    md = (tmp_path / "coreset.md").read_text()
    assert md.count("CRAIG") == 1 and "75.00 ± 5.00" in md and "accuracy_mean" not in md
    assert "tabular" in (tmp_path / "coreset.tex").read_text()
    html = (tmp_path / "coreset.html").read_text()  # the table the Snakemake report shows inline
    assert "<table" in html and html.count("CRAIG") == 1 and "75.00 ± 5.00" in html
    out = make_coreset_figure(files, "digits", tmp_path / "fig", ["png", "pdf"])
    assert [Path(p).stat().st_size > 1000 for p in out] == [True, True]
    with pytest.raises(ValueError, match="no coreset runs for dataset 'svhn'"):
        make_coreset_figure(files, "svhn", tmp_path / "fig2", ["png"])


@pytest.mark.parametrize("span", [(1.3, 4.2), (0.8, 9.0), (0.3, 6.0), (2.0, 60.0), (0.05, 40.0), (0.3, 3000.0)])
def test_time_axis_labels_do_not_overlap(span):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from prestorepro.report.coreset import log_time_axis

    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    ax.plot(span, [50, 60], "o")
    log_time_axis(ax)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    lo, hi = ax.get_xlim()
    boxes = sorted(
        (t.get_window_extent(renderer) for tick, t in
         [(tk, tk.label1) for tk in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()]
         if t.get_visible() and t.get_text() and lo <= tick.get_loc() <= hi),
        key=lambda b: b.x0)
    plt.close(fig)
    assert len(boxes) >= 2, "the axis needs at least two labelled times"
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]


# -------------------------------------------------------------------------------------- workflow


def test_default_config_plans_the_coreset_stage(tmp_path):
    jobs = planned_jobs(results=tmp_path / "r")
    # digits: every subset method (7 in the paper's set) x 3 seeds (each job runs fractions 0.1, 0.3, 1/K), full data
    selecting = len(EXPECTED_SELECTION_EPOCHS)
    assert selecting >= 7 and jobs["train_coreset"] == selecting * 3 and jobs["train_coreset_full"] == 3
    assert jobs["make_coreset_table"] == 1 and jobs["make_coreset_figure"] == 1


def test_paper_config_plans_the_coreset_stage_for_four_datasets(tmp_path):
    jobs = planned_jobs("--configfile", "config/paper.yaml", results=tmp_path / "r")
    assert jobs["train_coreset"] == 4 * len(EXPECTED_SELECTION_EPOCHS) * 3 and jobs["train_coreset_full"] == 4 * 3
    assert jobs["make_coreset_table"] == 1 and jobs["make_coreset_figure"] == 4


def test_gradmatch_pb_trains_on_the_selected_minibatches_as_they_are(monkeypatch):
    # GRAD-MATCH §4: "we use the subset of mini-batches selected directly without any additional
    # shuffling": each subset epoch's batches are the selected batches (their order may change)
    from prestorepro.coreset import methods as coreset_methods
    from prestorepro.coreset import run as coreset_run

    selected, epochs = [], []
    pick = coreset_methods.gradmatch_pb_batches

    def spy_select(*args, **kw):
        batches, w = pick(*args, **kw)
        selected.append(sorted(tuple(sorted(b.tolist())) for b in batches))
        return batches, w

    def spy_epoch(model, opt, data, **kw):
        if data.batches is not None:
            epochs.append([tuple(data.rows[b].tolist()) for b in data.batches])
        return train_epoch(model, opt, data, **kw)

    monkeypatch.setattr(coreset_methods, "gradmatch_pb_batches", spy_select)
    monkeypatch.setattr(coreset_run, "train_epoch", spy_epoch)
    res = run("gradmatch_pb", fraction=0.5, data=tiny_data(n=64))
    assert len(selected) == 3 and len(epochs) == 6  # selections at epochs 0, 2, 4; every epoch on the subset
    for epoch, batches in enumerate(epochs):
        # the batches trained on are exactly the selected ones, each a whole mini-batch of 8
        assert sorted(tuple(sorted(b)) for b in batches) == selected[epoch // 2]
        assert all(len(b) == 8 for b in batches) and len(batches) == 4  # budget 32 // 8
    assert [s["batches"] for s in res["selections"]] == [4, 4, 4]


def test_gradmatch_pb_budget_below_one_batch_names_the_fix():
    # 10% of 64 points is 6, below one mini-batch of 8: nothing can be selected, and the error says why
    with pytest.raises(RuntimeError, match=r"gradmatch_pb selected no point with positive weight at epoch 1 "
                                           r"\(budget 6 of 64\); it selects whole mini-batches of 8 points: lower "
                                           r"coreset.batch_size to at most 6 or raise the fraction"):
        run("gradmatch_pb", fraction=0.1, data=tiny_data(n=64))


def test_craig_reselects_at_its_own_interval_and_the_others_at_coreset_interval():
    # CRAIG §5 (Fig. 5a): a new subset at the beginning of every epoch; GRAD-MATCH §5: every R = 20
    craig = dict(CFG, craig=dict(CFG["craig"], interval=1))
    assert CoresetSpec("craig", 0.3, 0, WIDTHS, craig).interval() == 1
    assert CoresetSpec("craig", 0.3, 0, WIDTHS, dict(CFG, craig=dict(CFG["craig"], interval=None))).interval() == 2
    assert CoresetSpec("gradmatch", 0.3, 0, WIDTHS, craig).interval() == 2  # only CRAIG's section says 1
    res = run("craig", cfg=craig)
    assert res["interval"] == 1 and res["selection_epochs"] == list(range(CFG["epochs"]))
    assert len(res["selections"]) == CFG["epochs"]
    assert run("gradmatch", cfg=craig)["selection_epochs"] == [0, 2, 4]


def test_coreset_optimizer_is_adam_or_gradmatch_sgd():
    from prestorepro.coreset.run import make_optimizer

    params = [torch.nn.Parameter(torch.zeros(3))]
    adam = make_optimizer(dict(CFG), params)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 0.01
    sgd = make_optimizer(dict(CFG, optimizer="sgd", momentum=0.9, weight_decay=5e-4), params)
    assert isinstance(sgd, torch.optim.SGD)
    assert (sgd.defaults["lr"], sgd.defaults["momentum"], sgd.defaults["weight_decay"]) == (0.01, 0.9, 5e-4)
    with pytest.raises(ValueError, match="unknown coreset optimizer 'rmsprop'"):
        make_optimizer(dict(CFG, optimizer="rmsprop"), params)
    # a run with SGD trains and records its optimiser; another optimiser is another run (its signature)
    res = run("random", cfg=dict(CFG, optimizer="sgd", momentum=0.9, weight_decay=5e-4))
    assert res["optimizer"] == "sgd" and res["history"][-1]["loss"] is not None
    spec = CoresetSpec("random", 0.3, 0, WIDTHS, dict(CFG, optimizer="sgd", momentum=0.9, weight_decay=5e-4))
    assert spec.signature(60) != CoresetSpec("random", 0.3, 0, WIDTHS, dict(CFG, optimizer="adam")).signature(60)
