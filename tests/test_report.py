"""Tables, figures and the paper comparison (SPEC §9): golden values against the paper's printed
numbers, brute-force means and standard deviations, and what each figure draws."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prestorepro.config import load_config
from prestorepro.data.synthetic import component_boxes
from prestorepro.report import figures, setup, synthetic, table1, tables
from prestorepro.report.comparison import table1_rows
from prestorepro.report.comparison_page import comparison_sections, render, render_html
from prestorepro.report.paper import PRESTO_SHARED, TABLE1, TABLE4, TABLE5

ROOT = Path(__file__).resolve().parents[1]

# Official training-split class counts (SVHN labels 0..9; DermaMNIST and PathMNIST classes 0..6 / 0..8).
SVHN_TRAIN = [4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659]
DERMA_TRAIN = [228, 359, 769, 80, 779, 4693, 99]
PATH_TRAIN = [9366, 9509, 10360, 10401, 8006, 12182, 7886, 9401, 12885]


def _meta(train, val, test):
    return {"num_classes": len(train), "split_sizes": {"train": sum(train), "val": sum(val), "test": sum(test)},
            "class_counts": {"train": list(train), "val": list(val), "test": list(test)}, "split_rule": "test"}


def test_per_class_statistics_reproduce_table4_as_printed():
    # the paper's "#Avg points per class" is the population std (ddof 0) of the training class counts
    for counts, src in ((SVHN_TRAIN, "svhn"), (DERMA_TRAIN, "dermamnist"), (PATH_TRAIN, "pathmnist")):
        mean, std = setup.per_class_stats(counts)
        assert sum(counts) == TABLE4[src]["train"]
        assert mean == pytest.approx(TABLE4[src]["per_class"][0], abs=0.01)
        assert std == pytest.approx(TABLE4[src]["per_class"][1], abs=0.01)
    assert setup.per_class_stats([3, 5])[1] == 1.0  # not the sample std (1.414)


def test_table4_compares_train_plus_carved_validation_and_lists_paper_only_rows():
    # CIFAR10: SPEC §1 carves 10% of the official train set out as validation
    metas = {"c10": _meta([4500] * 10, [500] * 10, [1000] * 10), "tiny": _meta([6, 4], [2, 2], [2, 2])}
    df, notes = setup.table4_frame(metas, {"c10": "cifar10", "tiny": "digits"})
    c10 = df.set_index("dataset").loc["c10"]
    assert (c10["train"], c10["val"], c10["train_compared"], c10["instances"]) == (45000, 5000, 50000, 60000)
    assert (c10["per_class_mean"], c10["per_class_std"]) == (5000.0, 0.0)
    assert (c10["paper_train"], c10["paper_instances"], c10["paper_test"]) == (50000, 60000, 10000)
    tiny = df.set_index("dataset").loc["tiny"]
    assert tiny["train_compared"] == 10 and tiny["per_class_std"] == 1.0 and pd.isna(tiny["paper_train"])
    # the three paper datasets not configured appear with the paper's numbers only
    rest = df[df["dataset"].isin(["svhn", "pathmnist", "dermamnist"])]
    assert len(rest) == 3 and rest["train"].isna().all() and list(rest["paper_classes"]) == [10, 9, 7]
    assert any("c10" in n and "train + val" in n for n in notes)
    assert str(df["train"].dtype) == "Int64"  # integers stay integers despite the gaps


def test_table5_of_the_paper_config_matches_the_paper():
    cfg = load_config(ROOT / "config" / "paper.yaml")
    images = {n: d for n, d in cfg["datasets"].items() if d["source"] != "synthetic"}
    df, notes = setup.table5_frame(images, cfg["presto"], cfg["synthetic"])
    paper_rows = df[df["dataset"].isin(list(TABLE5))]
    assert len(paper_rows) == 4
    for key in setup.TABLE5_KEYS:
        assert (paper_rows[key].astype(str) == paper_rows[f"paper_{key}"].astype(str)).all(), key
    for key, value in PRESTO_SHARED.items():
        assert (paper_rows[key] == value).all(), key
    syn = df.set_index("dataset").loc["synthetic"]
    assert syn["k"] == 4 and syn["paper_k"] == 4 and syn["paper_rounds"] == 50


def test_table5_of_the_default_lists_paper_rows_without_ours():
    cfg = load_config(ROOT / "config" / "config.yaml")
    images = {n: d for n, d in cfg["datasets"].items() if d["source"] != "synthetic"}
    df, _ = setup.table5_frame(images, cfg["presto"], None)
    digits = df.set_index("dataset").loc["digits"]
    assert digits["k"] == cfg["datasets"]["digits"]["k"] and pd.isna(digits["paper_k"])
    assert digits["rounds"] == cfg["presto"]["rounds"]
    cifar = df.set_index("dataset").loc["cifar10"]
    assert pd.isna(cifar["k"]) and cifar["paper_k"] == 4 and cifar["paper_leeway"] == 0


def _metrics_file(root, name, source, k, seed, acc, f1, method="presto", device="cpu:x86_64", router_shift=-0.1):
    """A Table-1 metrics file: ``acc`` and ``f1`` are the combiner's, the router's are ``router_shift`` lower."""
    path = Path(root) / "table1" / name / f"k{k}" / method / f"seed{seed}" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # the metrics header of every job (jobs.common.header)
    predictors = {"combiner": {"test_accuracy": acc, "test_macro_f1": f1, "predictor": "combiner: linear"},
                  "router": {"test_accuracy": acc + router_shift, "test_macro_f1": f1 + router_shift,
                             "predictor": "router: own rule"}}
    path.write_text(json.dumps({"dataset": name, "dataset_config": {"source": source}, "source": source,
                                "method": method, "k": k, "seed": seed, "predictors": predictors,
                                "provenance": {"device": device}}))
    return str(path)


def test_table1_frame_lists_every_method_under_both_predictors_configured_first(tmp_path):
    files = [_metrics_file(tmp_path, "c10", "cifar10", 4, s, acc, acc, method=m)
             for m, accs in (("presto", (0.90, 0.92)), ("equal_kmeans", (0.88, 0.86))) for s, acc in enumerate(accs)]
    for predict, first in (("combiner", "combiner"), ("router", "router")):
        df, notes = table1.table1_frame(files, predict)
        assert list(df["predictor"]) == [first, first, *[p for p in ("combiner", "router") if p != first] * 2]
        assert list(df["method"])[:2] == ["Equal-KMeans", "PRESTO"]  # the paper's order within a predictor
        got = df.set_index(["predictor", "method"])
        assert got.loc[("combiner", "PRESTO"), "accuracy_mean"] == pytest.approx(91.0)
        assert got.loc[("router", "PRESTO"), "accuracy_mean"] == pytest.approx(81.0)
        assert got.loc[("router", "Equal-KMeans"), "accuracy_std"] == pytest.approx(np.std([78, 76], ddof=1), abs=1e-4)
        # the paper's number beside both predictors' rows
        assert got.loc[("router", "PRESTO"), "paper_accuracy"] == TABLE1["presto"]["accuracy"][0]
        assert got.loc[("combiner", "PRESTO"), "diff_accuracy"] == pytest.approx(91.0 - 90.04, abs=0.01)
        assert any("PRESTO, router: router: own rule" in n for n in notes)


def test_table1_frame_shows_every_predictor_a_method_has_and_nothing_else(tmp_path):
    files = [_metrics_file(tmp_path, "d", "digits", 4, s, acc, acc, method=m)
             for m, accs in (("presto", (0.90, 0.92)), ("random", (0.85, 0.83))) for s, acc in enumerate(accs)]
    for s, (mix, comb) in enumerate(((0.95, 0.91), (0.94, 0.93))):
        path = Path(_metrics_file(tmp_path, "d", "digits", 4, s, comb, comb, method="moe"))
        m = json.loads(path.read_text())
        m["predictors"]["mixture"] = {"test_accuracy": mix, "test_macro_f1": mix, "predictor": "mixture: gate-weighted"}
        path.write_text(json.dumps(m))
        files.append(str(path))
        path = Path(_metrics_file(tmp_path, "d", "digits", 4, s, 0.96 - s / 100, 0.9, method="single"))
        m = json.loads(path.read_text())
        m["predictors"] = {"model": m["predictors"]["combiner"]}  # one model: its own predictor only
        path.write_text(json.dumps(m))
        files.append(str(path))
    df, notes = table1.table1_frame(files, "combiner")
    shown = {(r["predictor"], r["method"]) for _, r in df.iterrows()}
    assert shown == {("combiner", "PRESTO"), ("router", "PRESTO"), ("combiner", "Random partition"),
                     ("router", "Random partition"), ("combiner", "Mixture of experts"),
                     ("router", "Mixture of experts"), ("mixture", "Mixture of experts"), ("model", "One model")}
    assert list(dict.fromkeys(df["predictor"])) == ["combiner", "router", "mixture", "model"]
    got = df.set_index(["predictor", "method"])
    # the paired difference from PRESTO under the same predictor; under PRESTO's configured one where PRESTO
    # has no such predictor (the text says which)
    assert got.loc[("combiner", "Random partition"), "vs_presto_mean"] == pytest.approx(-7.0)
    assert got.loc[("mixture", "Mixture of experts"), "vs_presto_mean"] == pytest.approx(3.5)
    assert got.loc[("mixture", "Mixture of experts"), "vs_presto"].endswith("vs combiner")
    assert got.loc[("model", "One model"), "vs_presto_mean"] == pytest.approx(((96 - 90) + (95 - 92)) / 2)
    assert got.loc[("model", "One model"), "vs_presto_predictor"] == "combiner"
    assert pd.isna(got.loc[("combiner", "Random partition"), "paper_accuracy"])  # not a paper method
    assert got.loc[("model", "One model"), "accuracy"].startswith("**")  # the best of its (only) block
    assert any(n.startswith("every method under each of its test-time predictors") and "mixture: the gate-weighted"
               in n for n in notes)


def test_table1_frame_without_presto_shows_the_others_with_no_difference(tmp_path):
    # a Table 1 of the baselines alone (table1.methods: [random, single]) is written, with no paired difference
    files = [_metrics_file(tmp_path, "d", "digits", 4, s, acc, acc, method="random")
             for s, acc in enumerate((0.85, 0.83))]
    for s in range(2):
        path = Path(_metrics_file(tmp_path, "d", "digits", 4, s, 0.96 - s / 100, 0.9, method="single"))
        m = json.loads(path.read_text())
        m["predictors"] = {"model": m["predictors"]["combiner"]}
        path.write_text(json.dumps(m))
        files.append(str(path))
    df, _ = table1.table1_frame(files, "combiner")
    got = df.set_index(["predictor", "method"])
    assert set(got.index) == {("combiner", "Random partition"), ("router", "Random partition"), ("model", "One model")}
    assert got.loc[("combiner", "Random partition"), "accuracy_mean"] == pytest.approx(84.0)
    assert got.loc[("model", "One model"), "accuracy_mean"] == pytest.approx(95.5)
    assert df["vs_presto"].isna().all() and df["vs_presto_mean"].isna().all()  # "–" in the written table


def test_table1_frame_names_a_metrics_file_without_both_predictors(tmp_path):
    path = tmp_path / "table1" / "c10" / "k4" / "presto" / "seed0" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"dataset": "c10", "source": "cifar10", "method": "presto", "k": 4, "seed": 0,
                                "test_accuracy": 0.9, "test_macro_f1": 0.9}))
    with pytest.raises(ValueError, match=f"{path}.*combiner predictor.*re-run its training job"):
        table1.table1_frame([str(path)])


def test_k_sweep_frame_means_stds_and_paper_value_only_at_table5_k(tmp_path):
    files = [_metrics_file(tmp_path, "c10", "cifar10", k, s, acc, f1)
             for k, s, acc, f1 in ((3, 0, 0.80, 0.70), (3, 1, 0.84, 0.74), (4, 0, 0.90, 0.88), (4, 1, 0.86, 0.80),
                                   (4, 2, 0.88, 0.81))]
    both = table1.k_sweep_frame(files)
    assert list(both["predictor"]) == ["combiner"] * 2 + ["router"] * 2
    assert both.set_index(["predictor", "K"]).loc[("router", 3), "accuracy_mean"] == pytest.approx(72.0)
    df = both[both["predictor"] == "combiner"].set_index("K")
    assert df.loc[3, "accuracy_mean"] == pytest.approx(82.0)
    assert df.loc[3, "accuracy_std"] == pytest.approx(np.std([80, 84], ddof=1), abs=1e-4)  # stored to 4 decimals
    assert df.loc[4, "macro_f1_mean"] == pytest.approx(np.mean([88, 80, 81]))
    assert df.loc[4, "seeds"] == 3
    assert pd.isna(df.loc[3, "paper_accuracy"])  # the paper prints Fig. 7 as a picture only
    assert df.loc[4, "paper_accuracy"] == TABLE1["presto"]["accuracy"][0]
    assert df.loc[4, "device"] == "cpu:x86_64"


def test_synthetic_frame_boxes_counts_and_differences():
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(4), 5)
    x = rng.normal(size=(20, 2))
    summary = {"seeds": 2, "runs": [],
               **{k: {"mean": 0.5, "std": 0.1} for k in ("initial_err_s_normalised", "err_s_normalised",
                                                          "train_accuracy_assigned", "test_accuracy_gated")},
               "rounds_run": {"mean": 50.0, "std": 0.0}, "device": "cpu:x"}
    df = synthetic.synthetic_frame(summary, component_boxes(x, group)).set_index("quantity")
    assert df.loc["points in D", "ours"] == 20 and df.loc["points in D", "difference"] == 20 - 20000
    assert df.loc["points in S*_3", "ours"] == 5 and df.loc["points in S*_3", "paper"] == 5000
    assert df.loc["S*_2 x1 min", "ours"] == pytest.approx(round(x[5:10, 0].min(), 4))
    assert df.loc["S*_2 x1 min", "paper"] == -0.87 and df.loc["S*_4 x2 max", "paper"] == 0.04
    rounds = [q for q in df.index if q.startswith("rounds run")]
    assert len(rounds) == 1 and df.loc[rounds[0], "ours"] == 50.0
    assert pd.isna(df.loc[rounds[0], "paper"])  # a run that stops early is stable, not short of Fig. 6's r = 50
    assert pd.isna(df.loc["Err_S / pairs, final", "paper"])
    assert df.loc["test accuracy (%) gated, final", "ours"] == 50.0  # fractions become percentages
    assert df.loc["Err_S / pairs, final", "seeds"] == 2 and pd.isna(df.loc["points in S*_1", "seeds"])
    assert df.loc["Err_S / pairs, final", "device"] == "cpu:x" and pd.isna(df.loc["points in D", "device"])


def test_write_table_formats(tmp_path):
    df = pd.DataFrame([{"a": 1, "b": None, "c": "x_y"}, {"a": None, "b": 2.5, "c": None}])
    df["a"] = df["a"].astype("Int64")
    tables.write_table(df, tmp_path / "t", caption="cap", notes=["50% of n_1"], html=True)
    md = (tmp_path / "t.md").read_text()
    assert "**cap**" in md and "nan" not in md and "<NA>" not in md and md.count("–") == 3
    tex = (tmp_path / "t.tex").read_text()
    assert "2.5 " in tex and "2.500000" not in tex and r"x\_y" in tex and r"50\% of n\_1" in tex
    assert pd.read_csv(tmp_path / "t.csv").shape == (2, 3)
    html = (tmp_path / "t.html").read_text()
    assert html.count("<td>–</td>") == 3 and "None" not in html and "<li>50% of n_1</li>" in html


def test_comparison_rows_difference_and_coverage(tmp_path):
    t1 = pd.DataFrame([{"dataset": "c10", "predictor": "combiner", "method": "PRESTO", "seeds": 3,
                        "accuracy_mean": 91.04, "accuracy_std": 0.5, "macro_f1_mean": 89.0, "macro_f1_std": 0.25,
                        "device": "cuda:X"},
                       {"dataset": "c10", "predictor": "router", "method": "PRESTO", "seeds": 3,
                        "accuracy_mean": 88.04, "accuracy_std": 1.5, "macro_f1_mean": 87.0, "macro_f1_std": 0.5,
                        "device": "cuda:X"}])
    rows = table1_rows(t1, {"c10": "cifar10"})
    assert len(rows) == 2 * 4 * 7 * 2  # every number of the paper's Table 1, under each predictor
    hit = [r for r in rows if r.dataset == "c10" and r.quantity == "PRESTO accuracy (%), combiner"]
    assert len(hit) == 1 and hit[0].ours == 91.04 and hit[0].paper == 90.04
    # the configured predictor first
    assert rows[0].quantity.endswith(", combiner") and table1_rows(t1, {"c10": "cifar10"}, "router")[0].quantity.endswith(", router")
    t1.to_csv(tmp_path / "table1.csv", index=False)
    sections = comparison_sections({"table1": str(tmp_path / "table1.csv")}, {}, {"c10": "cifar10"})
    md = render(sections, {"config": "config/x.yaml"})
    # the paper's number inside our 95 % interval (t_{0.975, 2} = 4.30): 4.30 x 0.5 / sqrt(3) = 1.24 >= 1.00,
    # 4.30 x 0.25 / sqrt(3) = 0.62 < 1.00, 4.30 x 1.5 / sqrt(3) = 3.73 >= 2.00
    assert "| c10 | PRESTO accuracy (%), combiner | 90.04 | 91.04 ± 0.50 | +1.00 | yes | 3 | cuda:X |" in md
    assert "| c10 | PRESTO macro-F1 (%), combiner | 90.00 | 89.00 ± 0.25 | -1.00 | no | 3 | cuda:X |" in md
    assert "| c10 | PRESTO accuracy (%), router | 90.04 | 88.04 ± 1.50 | -2.00 | yes | 3 | cuda:X |" in md
    # a configured paper dataset has every method's row; a method it did not run shows a dash
    assert "| c10 | GMM accuracy (%), combiner | 89.66 | – | – |  |  |  |" in md
    assert "| svhn | PRESTO accuracy (%), router | 88.11 | – | – |  |  |  |" in md
    # Table 1: 2 x 56, Table 2: 2 x 8 for PRESTO + 32 for the others
    assert re.search(r"coverage\*\*: 4 of 160 paper numbers", md)
    assert "<td>91.04 ± 0.50</td>" in render_html(sections, {"config": "config/x.yaml"})


def test_comparison_params_relative_difference(tmp_path):
    df = pd.DataFrame([{"dataset": "cifar10", "K": 4, "components_and_combiner": 82680, "paper_total": 82690},
                       {"dataset": "digits", "K": 4, "components_and_combiner": 55138, "paper_total": None}])
    df.to_csv(tmp_path / "params.csv", index=False)
    md = render(comparison_sections({"params": str(tmp_path / "params.csv")}, {}, {}), {})
    assert "| cifar10 | PRESTO parameters at K = 4 (components + combiner) | 82690 | 82680 | -10 (-0.01%) |" in md
    assert "digits" not in md.split("## Parameter counts")[1].split("##")[0]


def _capture(monkeypatch):
    figs = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem, formats=(): figs.append(fig) or [])
    return figs


def test_fig7_draws_means_with_error_bars_and_paper_markers(monkeypatch):
    figs = _capture(monkeypatch)
    df = pd.DataFrame([{"dataset": "c10", "predictor": pred, "K": k, "seeds": 2, "accuracy_mean": a - shift,
                        "accuracy_std": s, "macro_f1_mean": a - 1, "macro_f1_std": s, "paper_accuracy": p,
                        "paper_macro_f1": p}
                       for pred, shift in (("combiner", 0.0), ("router", 5.0))
                       for k, a, s, p in ((3, 80.0, 1.0, None), (4, 82.0, 0.5, 90.04), (5, 81.0, 2.0, None))])
    figures.fig7_k_sweep(df, "unused")
    ax = figs[0].axes[0]
    assert ax.get_xlabel() == "number of parts K" and "(%)" in ax.get_ylabel()
    data_line, _caps, (bars,) = ax.containers[0].lines  # ErrorbarContainer of the combiner's accuracy series
    np.testing.assert_allclose(np.asarray(data_line.get_ydata(), float), [80, 82, 81])
    np.testing.assert_allclose(np.asarray(data_line.get_xdata(), float), [2.9, 3.9, 4.9])  # dodged left
    assert data_line.get_linestyle() == "-"
    segs = bars.get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segs], [2.0, 1.0, 4.0])  # 2 x std
    router_line = ax.containers[2].lines[0]  # the router's accuracy: dashed, beside it
    np.testing.assert_allclose(np.asarray(router_line.get_ydata(), float), [75, 77, 76])
    assert router_line.get_linestyle() == "--" and "router" in ax.containers[2].get_label()
    paper = [l for l in ax.lines if l.get_label().startswith("paper")]
    assert len(paper) == 2 and list(paper[0].get_xdata()) == [4] and list(paper[0].get_ydata()) == [90.04]


def test_presto_rounds_draws_bounds_rejections_and_seed_spread(monkeypatch):
    figs = _capture(monkeypatch)
    h0 = [{"round": 1, "objective": 10.0, "accepted": True, "part_sizes": [5, 5], "moves": 4},
          {"round": 2, "objective": 12.0, "accepted": False, "part_sizes": [5, 5], "moves": 2},
          {"round": 3, "objective": 8.0, "accepted": True, "part_sizes": [6, 4], "moves": 0}]
    h1 = [dict(e, objective=e["objective"] + 2, moves=e["moves"] + 2) for e in h0[:2]]
    figures.presto_rounds([(0, h0), (1, h1)], (4, 6), "t", "unused")
    a, b, c = figs[0].axes
    seed1 = [l for l in a.lines if l.get_label() == "seed 1"][0]
    assert list(seed1.get_xdata()) == [1, 2] and list(seed1.get_ydata()) == [12.0, 14.0]
    rejected = [l for l in a.lines if l.get_label().startswith("rejected")]
    assert list(rejected[0].get_xdata()) == [2, 2] and list(rejected[0].get_ydata()) == [12.0, 14.0]
    assert a.get_legend_handles_labels()[1] == ["seed 0", "seed 1", "rejected round (G not decreased)"]
    bounds = sorted(l.get_ydata()[0] for l in b.lines if l.get_linestyle() == "--")
    assert bounds == [4, 6]
    part1 = [l for l in b.lines if l.get_label() == "part 1"][0]
    assert list(part1.get_ydata()) == [5, 5, 6]
    np.testing.assert_allclose(np.asarray(c.containers[0].lines[0].get_ydata(), float), [5.0, 3.0, 0.0])
    assert "MiB" not in a.get_ylabel() and a.get_xlabel() == "round r"


def test_comparison_reads_table2_with_the_memory_measure(tmp_path):
    df = pd.DataFrame([{"dataset": "d", "method": "KD", "seeds": 2, "accuracy_mean": 88.5, "accuracy_std": 0.5,
                        "training_mib_mean": 300.0, "training_mib_std": 10.0, "device": "cpu:x",
                        "memory_measure": "CPU RSS above job baseline (MiB)"}])
    df.to_csv(tmp_path / "table2.csv", index=False)
    md = render(comparison_sections({"table2": str(tmp_path / "table2.csv")}, {}, {"d": "dermamnist"}), {})
    # two seeds: t_{0.975, 1} = 12.71, half-widths 4.49 (accuracy) and 89.8 (memory)
    assert "| d | KD accuracy (%) | 72.37 | 88.50 ± 0.50 | +16.13 | no | 2 | cpu:x |" in md
    assert ("| d | KD peak training memory (MiB) | 250.56 | 300.00 ± 10.00 | +49.44 | yes | 2 | "
            "cpu:x (CPU RSS above job baseline (MiB)) |") in md
    # PRESTO under each predictor, against the same paper number; configured, not in the CSV
    assert "| d | PRESTO (combiner) accuracy (%) | 75.61 | – |" in md
    assert "| d | PRESTO (router) accuracy (%) | 75.61 | – |" in md


def test_presto_rounds_adds_accuracy_and_err_s_for_the_synthetic_history(monkeypatch):
    figs = _capture(monkeypatch)
    h = [{"round": r, "objective": 10.0 - r, "accepted": True, "part_sizes": [5, 5], "moves": 3 - r,
          "accuracy": 0.5 + 0.1 * r, "err_s_normalised": 0.4 - 0.1 * r} for r in (1, 2, 3)]
    figures.presto_rounds([(0, h), (1, h)], None, "t", "unused")
    axes = figs[0].axes
    assert len(axes) == 5  # three panels, accuracy, and Err_S on a twin axis
    np.testing.assert_allclose(np.asarray(axes[3].containers[0].lines[0].get_ydata(), float), [60, 70, 80])
    np.testing.assert_allclose(np.asarray(axes[4].containers[0].lines[0].get_ydata(), float), [0.3, 0.2, 0.1])
    assert "%" in axes[3].get_ylabel() and "Err_S" in axes[4].get_ylabel()


def test_table5_comparison_lists_app_b3_once_and_escapes_pipes(tmp_path):
    cfg = load_config(ROOT / "config" / "config.yaml")
    images = {n: d for n, d in cfg["datasets"].items() if d["source"] != "synthetic"}
    df, _ = setup.table5_frame(images, cfg["presto"], cfg["synthetic"])
    df.to_csv(tmp_path / "table5.csv", index=False)
    sections = comparison_sections({"table5": str(tmp_path / "table5.csv")}, {}, {"digits": "digits"})
    rows = [r for _, _, rs in sections for r in rs]
    shared = {r.quantity: (r.paper, r.ours) for r in rows if r.dataset == "every dataset"}
    assert shared["rounds (App. B.3)"] == (30, cfg["presto"]["rounds"])
    assert shared["lam (App. B.3)"] == (0.0001, cfg["presto"]["lam"]) and len(shared) == 6
    assert shared["combiner_epochs (App. B.3)"] == (10, cfg["presto"]["combiner_epochs"])
    assert [r.paper for r in rows if r.dataset == "dermamnist" and r.quantity == "leeway"] == [500]
    from prestorepro.report.comparison import Row
    md = render([("t", "", [Row("d", "a|b", 1.0, 2.0)])], {})
    assert "| d | a\\|b | 1.00 | 2.00 | +1.00 |" in md


def test_params_frame_counts_components_the_combiner_and_the_gate_on_x():
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.presto.combiner import new_combiner
    from prestorepro.presto.gate import new_gate
    from prestorepro.report.paper import PAPER_SETUP
    from prestorepro.report.setup import params_frame

    setup = {name: dict(d, features=f) for (name, d), f in zip(PAPER_SETUP.items(), (2048, 3136, 3136, 4096))}
    df = params_frame(setup, (4, 8, 16), "features").set_index("dataset")
    for name, d in setup.items():
        built = sum(p.numel() for p in FusedResNetTail(d["k"], d["cut"], (4, 8, 16), d["num_classes"]).parameters())
        gate = sum(p.numel() for p in new_gate(d["k"], d["num_classes"], d["features"], "features", 0).parameters())
        comb = sum(p.numel() for p in new_combiner(d["k"], d["num_classes"], 0).parameters())
        assert df.loc[name, "components"] == built and df.loc[name, "gate"] == gate
        assert df.loc[name, "combiner"] == comb and df.loc[name, "components_and_combiner"] == built + comb
        assert df.loc[name, "components_and_gate"] == built + gate
    # SPEC §3: components + combiner are the paper's printed totals, to the parameter
    assert (df["diff"] == 0).all()
    assert df.loc["cifar10", "gate"] == (2048 + 1) * 4


# The paper's printed totals: Table 2's caption at Table 5's K, and §4.2's sweep end points at K = 3 and 6
PRINTED_TOTALS = [("cifar10", 4, 82690), ("pathmnist", 4, 54993), ("dermamnist", 3, 41047), ("svhn", 4, 55138),
                  ("cifar10", 3, 62020), ("cifar10", 6, 124030), ("pathmnist", 3, 41247), ("pathmnist", 6, 82485),
                  ("dermamnist", 3, 41047), ("dermamnist", 6, 82087), ("svhn", 3, 41356), ("svhn", 6, 82702)]


@pytest.mark.parametrize("name,k,printed", PRINTED_TOTALS)
def test_built_components_plus_combiner_equal_the_papers_printed_totals(name, k, printed):
    from prestorepro.models.fused import FusedResNetTail
    from prestorepro.presto.combiner import new_combiner
    from prestorepro.report.paper import PAPER_SETUP, paper_parameters

    d = PAPER_SETUP[name]
    components = sum(p.numel() for p in FusedResNetTail(k, d["cut"], (4, 8, 16), d["num_classes"]).parameters())
    combiner = sum(p.numel() for p in new_combiner(k, d["num_classes"], 0).parameters())
    assert components + combiner == printed == paper_parameters(name, k)
    assert components != printed  # the components alone do not give it


def test_params_table_lists_the_papers_sweep_end_points(tmp_path):
    from prestorepro.jobs.report import make_params_table
    from prestorepro.jobs.report_specs import ParamsReport

    make_params_table(ParamsReport(sidecars={}, datasets={}, widths=(4, 8, 16), gate_input="features", names=[],
                                   stem=str(tmp_path / "p")))
    df = pd.read_csv(tmp_path / "p.csv")
    got = {(r.dataset, int(r.K)): int(r.components_and_combiner) for r in df.itertuples()}
    assert got == {(n, k): t for n, k, t in PRINTED_TOTALS}
    assert (df["diff"] == 0).all()



@pytest.mark.parametrize("damage, needle", [
    # a NaN score printed "nan ± nan" in Table 1
    (lambda p: p.write_text(p.read_text().replace('"test_accuracy": 0.9,', '"test_accuracy": NaN,', 1)),
     "{path}: predictors.combiner.test_accuracy is nan, not a finite score; a run never writes that"),
    # a truncated file raised a JSONDecodeError that did not name it
    (lambda p: p.write_text(p.read_text()[:40]),
     "cannot read {path} as JSON (Unterminated string starting at: line 1 column 39 (char 38)): it is truncated "
     "or corrupt; delete {path} and run snakemake again"),
    # {} raised KeyError: 'method' (the method says which predictors the file must hold)
    (lambda p: p.write_text("{}"), "{path} has no 'method' (it has: nothing); it was written by another version"),
    (lambda p: p.write_text(p.read_text().replace('"method"', '"methd"')), "{path} has no 'method' (it has: "),
    (lambda p: p.write_text("[1, 2]"), "{path} holds a JSON list, not the mapping a job writes"),
    (lambda p: p.write_bytes(b"\xff\xfe binary"), "cannot read {path} (UnicodeDecodeError"),
], ids=["nan", "truncated", "empty-mapping", "key-missing", "not-a-mapping", "binary"])
def test_the_report_names_a_damaged_metrics_file(tmp_path, damage, needle):
    from prestorepro.errors import DataError

    files = [_metrics_file(tmp_path, "c10", "cifar10", 4, s, 0.9, 0.8) for s in range(2)]
    damage(Path(files[1]))
    with pytest.raises((DataError, ValueError)) as err:
        table1.table1_frame(files)
    assert needle.format(path=files[1]) in str(err.value), str(err.value)


def test_fig6_refuses_a_pickled_rounds_file_without_loading_it(tmp_path):
    from prestorepro.errors import DataError
    from prestorepro.jobs.report import make_fig6
    from prestorepro.jobs.report_specs import Fig6Report

    rounds = tmp_path / "rounds.npz"
    np.savez(rounds, x=np.zeros((4, 2)), per_round=np.array([{"evil": 1}], dtype=object))
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"history": [], "final": {"stop_reason": "rounds exhausted"}}))
    with pytest.raises(DataError, match=rf"cannot read {rounds} \(ValueError: Object arrays cannot be loaded when "
                                        r"allow_pickle=False\): it is truncated or corrupt, or holds Python objects "
                                        rf"\(never loaded\); delete {rounds} and run snakemake again"):
        make_fig6(Fig6Report(rounds=str(rounds), metrics=str(metrics), snapshot_rounds=[1], stem=str(tmp_path / "f"),
                             formats=["png"]))
