"""Table 1 (every method under both test-time predictors) and Fig. 7's numbers (PRESTO against K), from the
Table-1 runs' metrics files."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from prestorepro import paths
from prestorepro.catalogue import PREDICTORS, keys, method_predictors, paper_name, predictor_order, predictor_scores
from prestorepro.report.reading import read_metrics
from prestorepro.report.paper import TABLE1, TABLE5, paper_value
from prestorepro.report.stats import NOTE as STATS_NOTE, interval, marked, paired
from prestorepro.report.tables import BOLD, _int_columns, fmt, mean_std


TABLE1_SHOWN = ["dataset", "predictor", "method", "K", "seeds", "accuracy", "accuracy_ci", "macro_f1", "vs_presto",
                "paper_accuracy", "diff_accuracy", "paper_macro_f1", "diff_macro_f1", "device"]


def _ci_text(mean: float, half: float) -> str | None:
    return None if math.isnan(half) else f"[{mean - half:.2f}, {mean + half:.2f}]"


def table1_frame(metric_files: Iterable[str | Path], predict: str = "combiner") -> tuple[pd.DataFrame, list[str]]:
    """One row per (dataset, test-time predictor, method) for every predictor of the method's catalogue entry
    (and no other): accuracy and macro-F1 in %, mean ± std over seeds with the mean's 95 % interval, the
    paired comparison with PRESTO seed by seed (``vs_presto``: the row minus PRESTO, ``report.stats``) under
    the same predictor, or under ``predict`` for a predictor PRESTO does not have (the note says which), the
    paper's beside. All of a run's predictors are evaluated on the same trained model (SPEC §3); the
    configured one (``predict``) comes first, and the most accurate method of each (dataset, predictor) is
    bold."""
    rows: dict[tuple[str, str, str], dict] = {}
    notes: dict[str, str] = {}
    routing: dict[tuple[str, str], str] = {}
    for f in metric_files:
        m = read_metrics(f)
        name = paths.parse("table1_metrics", f)["dataset"]
        for predictor in method_predictors(m["method"]):
            p = predictor_scores(m, predictor, str(f))
            r = rows.setdefault((name, predictor, m["method"]), {"source": m["source"], "k": m["k"], "acc": {},
                                                                 "f1": {}, "devices": set()})
            r["devices"].add(m.get("provenance", {}).get("device", "unknown"))
            r["acc"][int(m["seed"])] = 100 * p["test_accuracy"]
            r["f1"][int(m["seed"])] = 100 * p["test_macro_f1"]
            routing.setdefault((predictor, m["method"]), p.get("predictor", ""))
        if m.get("notes"):
            notes.setdefault(m["method"], f"{m['method']} ({name}): {m['notes']}")
    order = keys("table1")
    predictors = predictor_order(predict, {method for _, _, method in rows} or None)
    presto_predictors = set(method_predictors("presto"))
    out = []
    for (name, predictor, method), r in sorted(rows.items(), key=lambda kv: (kv[0][0], predictors.index(kv[0][1]),
                                                                             order.index(kv[0][2]))):
        accs, f1s = list(r["acc"].values()), list(r["f1"].values())
        acc, f1 = mean_std(accs), mean_std(f1s)
        acc_h, f1_h = interval(accs)[1], interval(f1s)[1]
        pa = paper_value(TABLE1, method, "accuracy", r["source"])
        pf = paper_value(TABLE1, method, "macro_f1", r["source"])
        against = predictor if predictor in presto_predictors else predict
        ref = rows.get((name, against, "presto"))
        vs = paired(r["acc"], ref["acc"]) if ref is not None and method != "presto" else None
        out.append({
            "dataset": name, "predictor": predictor, "method": paper_name(method, "table1"), "K": r["k"], "seeds": len(accs),
            "accuracy": fmt(*acc), "accuracy_ci": _ci_text(acc[0], acc_h), "macro_f1": fmt(*f1),
            "vs_presto": marked(vs) if against == predictor or vs is None else f"{marked(vs)} vs {against}",
            "accuracy_mean": round(acc[0], 4), "accuracy_std": round(acc[1], 4), "accuracy_ci95": round(acc_h, 4),
            "macro_f1_mean": round(f1[0], 4), "macro_f1_std": round(f1[1], 4), "macro_f1_ci95": round(f1_h, 4),
            "vs_presto_mean": None if vs is None else round(vs.mean, 4),
            "vs_presto_ci95": None if vs is None else round(vs.half_width, 4),
            "vs_presto_wins": None if vs is None else vs.wins, "vs_presto_ties": None if vs is None else vs.ties,
            "vs_presto_losses": None if vs is None else vs.losses,
            "vs_presto_predictor": None if vs is None else against,
            "paper_accuracy": pa, "paper_macro_f1": pf,
            "diff_accuracy": None if pa is None else round(acc[0] - pa, 2),
            "diff_macro_f1": None if pf is None else round(f1[0] - pf, 2),
            "device": ", ".join(sorted(r["devices"])),
        })
    df = pd.DataFrame(out)
    if len(df):
        best = df.groupby(["dataset", "predictor"])["accuracy_mean"].transform("max") == df["accuracy_mean"]
        df.loc[best, "accuracy"] = BOLD + df.loc[best, "accuracy"] + BOLD
        df = _int_columns(df, ["vs_presto_wins", "vs_presto_ties", "vs_presto_losses"])
    described = [f"{paper_name(m, 'table1')}, {p}: {text}" for (p, m), text in sorted(
        routing.items(), key=lambda kv: (predictors.index(kv[0][0]), order.index(kv[0][1]))) if text]
    lead = (f"every method under each of its test-time predictors, on the same trained model (SPEC §3, §5b), "
            f"{predict} first (presto.predict): "
            + "; ".join(f"{p}: {PREDICTORS[p]}" for p in predictors)
            + "; the paper's numbers were produced with the combiner (its parameter totals contain exactly that "
            "layer), so the paper columns compare like for like in its rows")
    stat = ("accuracy, macro_f1: mean ± std (ddof 1) over seeds; accuracy_ci: the mean's 95 % interval (Student's t); "
            "bold: the most accurate method of the dataset under that predictor; vs_presto: the row minus PRESTO "
            "under the same predictor, seed by seed, mean ± the 95 % half-width (W/T/L); for a predictor PRESTO does "
            f"not have, against PRESTO under {predict} ('vs {predict}')")
    return df, [lead, stat, STATS_NOTE] + described + list(notes.values())


def k_sweep_frame(metric_files: Iterable[str | Path], predict: str = "combiner") -> pd.DataFrame:
    """Paper Fig. 7 (App. D): PRESTO's test accuracy and macro-F1 (%) per dataset, test-time predictor and
    K, mean ± std over seeds (the configured predictor ``predict`` first). The paper prints no numbers for
    Fig. 7; at a paper dataset's Table-5 K its Table-1 PRESTO row is the printed value."""
    runs: dict[tuple[str, str, int], dict] = {}
    predictors = predictor_order(predict, ["presto"])
    for f in metric_files:
        m = read_metrics(f)
        name = paths.parse("table1_metrics", f)["dataset"]
        for predictor in predictors:
            p = predictor_scores(m, predictor, str(f))
            r = runs.setdefault((name, predictor, int(m["k"])), {"source": m["source"], "acc": [], "f1": [],
                                                                 "devices": set()})
            r["acc"].append(100 * p["test_accuracy"])
            r["f1"].append(100 * p["test_macro_f1"])
            r["devices"].add(m.get("provenance", {}).get("device", "unknown"))
    rows = []
    for (name, predictor, k), r in sorted(runs.items(), key=lambda kv: (kv[0][0], predictors.index(kv[0][1]), kv[0][2])):
        acc, f1 = mean_std(r["acc"]), mean_std(r["f1"])
        at_paper_k = TABLE5.get(r["source"], {}).get("k") == k
        pa = paper_value(TABLE1, "presto", "accuracy", r["source"]) if at_paper_k else None
        pf = paper_value(TABLE1, "presto", "macro_f1", r["source"]) if at_paper_k else None
        rows.append({"dataset": name, "predictor": predictor, "K": k, "seeds": len(r["acc"]),
                     "accuracy_mean": round(acc[0], 4), "accuracy_std": round(acc[1], 4),
                     "accuracy_ci95": round(interval(r["acc"])[1], 4),
                     "macro_f1_mean": round(f1[0], 4), "macro_f1_std": round(f1[1], 4),
                     "macro_f1_ci95": round(interval(r["f1"])[1], 4),
                     "paper_accuracy": pa, "paper_macro_f1": pf,
                     "device": ", ".join(sorted(r["devices"]))})
    return pd.DataFrame(rows)
