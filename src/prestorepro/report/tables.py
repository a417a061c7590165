"""Tables as CSV, Markdown and LaTeX, with the paper's numbers beside ours."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from prestorepro.io import read_json, write_text
from prestorepro.models.parameters import presto_parameters
from prestorepro.catalogue import PREDICTORS, keys, paper_name, predictor_scores
from prestorepro.report.stats import NOTE as STATS_NOTE, interval, marked, paired
from prestorepro.report.paper import (PRESTO_SHARED, SYNTHETIC, TABLE1, TABLE4, TABLE5, TRAIN_INCLUDES_VAL,
                                      paper_parameters, paper_value)


BOLD = "**"  # a cell wrapped in it is the best of its group: bold in the Markdown, HTML and LaTeX


def write_table(df: pd.DataFrame, stem: str | Path, caption: str = "", notes: Iterable[str] = (),
                html: bool = False, shown: Sequence[str] | None = None) -> None:
    """Write ``stem``.csv / .md / .tex atomically; notes become footnotes of the md and tex files.

    ``html=True`` also writes a standalone ``stem``.html (the table, caption and notes) for the
    Snakemake report, which shows HTML inline but offers CSV only as a download. ``shown``: the columns
    the md, tex and html show (the formatted ones); the CSV keeps every column (the raw numbers). A text
    cell ``**x**`` prints bold in all three."""
    stem = str(stem)
    notes = [n for n in notes if n]
    write_text(stem + ".csv", _unbold(df).to_csv(index=False))
    view = df if shown is None else df[list(shown)]
    # missing values (a paper number we have no counterpart for, and the reverse) print as a dash
    cells = view.astype(object).where(view.notna(), None)
    if html:
        write_text(stem + ".html", table_html(view, caption, notes))
    md = (f"**{caption}**\n\n" if caption else "") + cells.to_markdown(index=False, missingval="–")
    if notes:
        md += "\n\n" + "\n".join(f"- {n}" for n in notes)
    write_text(stem + ".md", md + "\n")
    tex = _tex_bold(view).to_latex(index=False, escape=True, caption=caption or None, na_rep="--",
                                   float_format=lambda v: f"{v:.6g}")
    tex = tex.replace("\\textbackslash textbf\\{", "\\textbf{").replace("\\}\\textbackslash endbold", "}")
    if notes:
        esc = [n.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("#", r"\#") for n in notes]
        tex += "% notes:\n" + "".join(f"% {n}\n" for n in esc)
    write_text(stem + ".tex", tex)


def _is_bold(v) -> bool:
    return isinstance(v, str) and len(v) > 4 and v.startswith(BOLD) and v.endswith(BOLD)


def _unbold(df: pd.DataFrame) -> pd.DataFrame:
    return df.apply(lambda col: col.map(lambda v: v[2:-2] if _is_bold(v) else v)) if len(df) else df


def _tex_bold(df: pd.DataFrame) -> pd.DataFrame:
    # marked so that to_latex's escaping leaves a recognisable pattern, turned into \textbf{...} after it
    return df.apply(lambda col: col.map(lambda v: f"\\textbf{{{v[2:-2]}}}\\endbold" if _is_bold(v) else v)) if len(df) else df


def table_html(df: pd.DataFrame, caption: str = "", notes: Iterable[str] = ()) -> str:
    """A small self-contained HTML page holding one table (no external style sheets or scripts)."""
    import html as _html

    import re

    body = df.astype(object).where(df.notna(), "–").to_html(index=False, border=0, classes="t")
    body = re.sub(r"<td>\*\*(.+?)\*\*</td>", r"<td><b>\1</b></td>", body)
    notes_html = "".join(f"<li>{_html.escape(n)}</li>" for n in notes)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
            "body{font-family:sans-serif;font-size:13px} table.t{border-collapse:collapse}"
            "table.t td,table.t th{border-bottom:1px solid #ccc;padding:3px 8px;text-align:right}"
            "table.t th{background:#f0f0f0}</style></head><body>"
            + (f"<p><b>{_html.escape(caption)}</b></p>" if caption else "") + body
            + (f"<ul>{notes_html}</ul>" if notes_html else "") + "</body></html>\n")


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def fmt(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


TABLE1_SHOWN = ["dataset", "predictor", "method", "K", "seeds", "accuracy", "accuracy_ci", "macro_f1", "vs_presto",
                "paper_accuracy", "diff_accuracy", "paper_macro_f1", "diff_macro_f1", "device"]


def _ci_text(mean: float, half: float) -> str | None:
    return None if math.isnan(half) else f"[{mean - half:.2f}, {mean + half:.2f}]"


def table1_frame(metric_files: Iterable[str | Path], predict: str = "combiner") -> tuple[pd.DataFrame, list[str]]:
    """One row per (dataset, test-time predictor, method): accuracy and macro-F1 in %, mean ± std over
    seeds with the mean's 95 % interval, the paired comparison with PRESTO under the same predictor seed
    by seed (``vs_presto``: the row minus PRESTO, ``report.stats``), the paper's beside. Every run holds
    both predictors (SPEC §3), evaluated on the same trained components; the configured one (``predict``)
    comes first, and the most accurate method of each (dataset, predictor) is bold."""
    rows: dict[tuple[str, str, str], dict] = {}
    notes: dict[str, str] = {}
    routing: dict[tuple[str, str], str] = {}
    for f in metric_files:
        m = read_json(f)
        name = Path(f).parts[-5]  # <results>/table1/<dataset>/k<k>/<method>/seed<s>/metrics.json
        for predictor in PREDICTORS:
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
    predictors = [predict] + [p for p in PREDICTORS if p != predict]
    out = []
    for (name, predictor, method), r in sorted(rows.items(), key=lambda kv: (kv[0][0], predictors.index(kv[0][1]),
                                                                             order.index(kv[0][2]))):
        accs, f1s = list(r["acc"].values()), list(r["f1"].values())
        acc, f1 = mean_std(accs), mean_std(f1s)
        acc_h, f1_h = interval(accs)[1], interval(f1s)[1]
        pa = paper_value(TABLE1, method, "accuracy", r["source"])
        pf = paper_value(TABLE1, method, "macro_f1", r["source"])
        ref = rows.get((name, predictor, "presto"))
        vs = paired(r["acc"], ref["acc"]) if ref is not None and method != "presto" else None
        out.append({
            "dataset": name, "predictor": predictor, "method": paper_name(method, "table1"), "K": r["k"], "seeds": len(accs),
            "accuracy": fmt(*acc), "accuracy_ci": _ci_text(acc[0], acc_h), "macro_f1": fmt(*f1),
            "vs_presto": marked(vs),
            "accuracy_mean": round(acc[0], 4), "accuracy_std": round(acc[1], 4), "accuracy_ci95": round(acc_h, 4),
            "macro_f1_mean": round(f1[0], 4), "macro_f1_std": round(f1[1], 4), "macro_f1_ci95": round(f1_h, 4),
            "vs_presto_mean": None if vs is None else round(vs.mean, 4),
            "vs_presto_ci95": None if vs is None else round(vs.half_width, 4),
            "vs_presto_wins": None if vs is None else vs.wins, "vs_presto_ties": None if vs is None else vs.ties,
            "vs_presto_losses": None if vs is None else vs.losses,
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
    lead = (f"both test-time predictors on the same trained components (SPEC §3), {predict} first (presto.predict); "
            "the paper's numbers were produced with the combiner (its parameter totals contain exactly that layer), "
            "so the paper columns compare like for like in its rows")
    stat = ("accuracy, macro_f1: mean ± std (ddof 1) over seeds; accuracy_ci: the mean's 95 % interval (Student's t); "
            "bold: the most accurate method of the dataset under that predictor; vs_presto: the row minus PRESTO "
            "under the same predictor, seed by seed, mean ± the 95 % half-width (W/T/L)")
    return df, [lead, stat, STATS_NOTE] + described + list(notes.values())


def params_frame(datasets: Mapping[str, dict], widths, gate_input: str) -> pd.DataFrame:
    """PRESTO's parameter count per dataset and K: the K components, the combiner ((K*C+1)*C) and their
    sum, next to the paper's printed total, which it equals on the paper's datasets (SPEC §3); the
    router's gate pi_phi reading ``gate_input`` beside them. ``datasets[name]`` holds source, cut,
    num_classes, features and ``k``, or ``ks`` (several K: the paper's sweep end points)."""
    rows = []
    for name, d in datasets.items():
        for k in d.get("ks", [d["k"]]):
            c = presto_parameters(d["cut"], widths, d["num_classes"], k, gate_input=gate_input,
                                  features=d["features"])
            paper = paper_parameters(d["source"], k)
            rows.append({"dataset": name, "K": k, "cut": d["cut"], "classes": d["num_classes"],
                         "per_component": c["per_component"], "components": c["components"],
                         "combiner": c["combiner"], "components_and_combiner": c["total"], "paper_total": paper,
                         "diff": None if paper is None else c["total"] - paper,
                         "gate_input": gate_input, "gate": c["gate"], "components_and_gate": c["components_and_gate"]})
    return _int_columns(pd.DataFrame(rows), ["paper_total", "diff"])


def _int_columns(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    # integer columns with gaps (a paper-only row) stay integers instead of turning into floats
    for c in columns:
        if c in df:
            df[c] = df[c].astype("Int64")
    return df


def per_class_stats(counts) -> tuple[float, float]:
    """Table 4's "#Avg points per class": mean and population std (ddof 0) of the class counts."""
    a = np.asarray(counts, dtype=float)
    return float(a.mean()), float(a.std())


def table4_frame(metas: Mapping[str, dict], sources: Mapping[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Paper Table 4 (App. B.1): dataset statistics from the prepared data's meta, the paper's beside.

    ``metas[name]`` is a ``prepared.meta.json``; ``sources[name]`` its loader. Paper datasets that
    are not configured appear with the paper's numbers only. ``train_compared`` is what the paper's
    #Train counts: our train split, plus our validation split where SPEC §1 carves it out of the
    official training set (CIFAR10, SVHN); the per-class statistics are over the same points."""
    rows, notes = [], []
    for name, meta in metas.items():
        source = sources[name]
        sizes, counts = meta["split_sizes"], meta["class_counts"]
        carved = source in TRAIN_INCLUDES_VAL
        train_counts = np.asarray(counts["train"]) + (np.asarray(counts["val"]) if carved else 0)
        mean, std = per_class_stats(train_counts)
        paper = TABLE4.get(source, {})
        rows.append({
            "dataset": name, "classes": int(meta["num_classes"]),
            "instances": int(sizes["train"] + sizes["val"] + sizes["test"]),
            "train": int(sizes["train"]), "val": int(sizes["val"]), "test": int(sizes["test"]),
            "train_compared": int(train_counts.sum()),
            "per_class_mean": round(mean, 2), "per_class_std": round(std, 2),
            "paper_classes": paper.get("classes"), "paper_instances": paper.get("instances"),
            "paper_train": paper.get("train"), "paper_test": paper.get("test"),
            "paper_per_class_mean": paper.get("per_class", (None, None))[0],
            "paper_per_class_std": paper.get("per_class", (None, None))[1],
        })
        if carved:
            notes.append(f"{name}: validation carved out of the official training set (SPEC §1); "
                         "train_compared = train + val, as the paper's #Train")
        if "max_train" in meta:
            notes.append(f"{name}: training split subsampled to max_train = {meta['max_train']}")
        if not paper:
            notes.append(f"{name}: not in the paper's Table 4 ({meta.get('split_rule', 'own split')})")
    configured = set(sources.values())
    for source, paper in TABLE4.items():
        if source not in configured:
            rows.append({"dataset": source, "paper_classes": paper["classes"], "paper_instances": paper["instances"],
                         "paper_train": paper["train"], "paper_test": paper["test"],
                         "paper_per_class_mean": paper["per_class"][0], "paper_per_class_std": paper["per_class"][1]})
    notes.append("per class: mean ± population std (ddof 0) of the training class counts, as the paper's "
                 "'#Avg points per class' (which SVHN's official counts reproduce exactly); rows without our "
                 "numbers are paper datasets not in this config")
    df = pd.DataFrame(rows)
    return _int_columns(df, ["classes", "instances", "train", "val", "test", "train_compared", "paper_classes",
                             "paper_instances", "paper_train", "paper_test"]), notes


TABLE5_KEYS = ("k", "init", "leeway", "epsilon")


def table5_frame(datasets: Mapping[str, dict], presto: Mapping, synthetic: Mapping | None = None
                 ) -> tuple[pd.DataFrame, list[str]]:
    """Paper Table 5 + App. B.3: PRESTO's hyper-parameters from the resolved config, the paper's beside.

    ``datasets``: the image datasets' resolved config entries; ``presto``: config["presto"] (the
    settings shared by every image dataset); ``synthetic``: config["synthetic"] (App. C's own
    settings) when a synthetic dataset is configured."""
    rows = []
    shared = {key: presto[key] for key in PRESTO_SHARED}
    for name, d in datasets.items():
        paper = TABLE5.get(d["source"], {})
        row = {"dataset": name}
        for key in TABLE5_KEYS:
            row[key] = d[key]
            row[f"paper_{key}"] = paper.get(key)
        row.update(shared)
        rows.append(row)
    if synthetic is not None:
        row = {"dataset": "synthetic"}
        for key in TABLE5_KEYS:
            row[key] = synthetic[key]
            row[f"paper_{key}"] = 4 if key == "k" else None  # App. C: K = 4 linear SVMs
        row.update({key: synthetic.get(key) for key in PRESTO_SHARED})
        row["paper_rounds"] = SYNTHETIC["final_round"]
        rows.append(row)
    configured = {d["source"] for d in datasets.values()}
    for source, paper in TABLE5.items():
        if source not in configured:
            rows.append({"dataset": source, **{f"paper_{key}": paper[key] for key in TABLE5_KEYS}})
    df = pd.DataFrame(rows)
    notes = ["paper, every dataset (App. B.3): " + ", ".join(f"{k} {v:g}" for k, v in PRESTO_SHARED.items()),
             "rows without our values are paper datasets not in this config"]
    if synthetic is not None:
        notes.append("synthetic: App. C settings from config['synthetic'] (K = 4 SVMs, Fig. 6 up to r = 50); "
                     "it has no pi_phi")
    return _int_columns(df, ["k", "paper_k", "leeway", "paper_leeway", "rounds", "paper_rounds", "epochs",
                             "gate_epochs", "combiner_epochs"]), notes


def k_sweep_frame(metric_files: Iterable[str | Path], predict: str = "combiner") -> pd.DataFrame:
    """Paper Fig. 7 (App. D): PRESTO's test accuracy and macro-F1 (%) per dataset, test-time predictor and
    K, mean ± std over seeds (the configured predictor ``predict`` first). The paper prints no numbers for
    Fig. 7; at a paper dataset's Table-5 K its Table-1 PRESTO row is the printed value."""
    runs: dict[tuple[str, str, int], dict] = {}
    predictors = [predict] + [p for p in PREDICTORS if p != predict]
    for f in metric_files:
        m = read_json(f)
        name = Path(f).parts[-5]
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


def stats_t975(n: int) -> float:
    """t_{0.975, n-1}: the factor of s / sqrt(n) in a 95 % interval of a mean of n seeds."""
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def diagnostic_scalars(metrics: Mapping) -> dict[str, float]:
    """The synthetic run's diagnostics (``experiments.synthetic``) as ``diag_*`` numbers, one per table row:
    G + epsilon * D of the true and the final partition at each epsilon, the epsilon above which the true
    one is preferred, and the runs started at the true partition (round-1 moves, final Err_S / pairs)."""
    d = metrics.get("diagnostics") or {}
    out: dict[str, float] = {}
    ove = d.get("objective_vs_epsilon")
    if ove:
        for i, eps in enumerate(ove["epsilon"]):
            for part in ("true", "final"):
                out[f"diag_eps_{eps:g}_{part}"] = ove[part]["G_plus_epsilon_D"][i]
        if ove.get("crossover_epsilon") is not None:
            out["diag_crossover_epsilon"] = ove["crossover_epsilon"]
    for name, run in (d.get("true_start") or {}).items():
        out[f"diag_true_start_{name}_moves_round1"] = float(run["moves_per_round"][0]) if run["moves_per_round"] else 0.0
        out[f"diag_true_start_{name}_err_s"] = run["final_err_s_normalised"]
    return out


def _diagnostic_order(key: str) -> tuple:
    """The diagnostics' rows: the epsilon grid in increasing epsilon (true partition first), the
    crossover, then the runs started at the true partition."""
    rest = key[len("diag_"):]
    if rest.startswith("eps_"):
        eps, part = rest[len("eps_"):].rsplit("_", 1)
        return (0, float(eps), part != "true")
    return (1, rest != "crossover_epsilon", rest)


def _diagnostic_label(key: str) -> str:
    rest = key[len("diag_"):]
    if rest == "crossover_epsilon":
        return "epsilon above which Eq. 1 + epsilon * D prefers the true partition"
    if rest.startswith("eps_"):
        eps, part = rest[len("eps_"):].rsplit("_", 1)
        which = "true partition S*_k" if part == "true" else "PRESTO's final partition"
        return f"Eq. 1 at its optimum + epsilon * D, epsilon = {eps}, {which}"
    name, _, what = rest[len("true_start_"):].partition("_")
    budget = "configured Train()" if name == "configured" else "Train() converged"
    return (f"started at S*_k, {budget}: points moved in round 1" if what == "moves_round1"
            else f"started at S*_k, {budget}: final Err_S / pairs")


def synthetic_frame(summary: Mapping, components: Sequence[Mapping]) -> pd.DataFrame:
    """App. C / Fig. 6 in numbers: the data's size and standardised boxes against Eqs. 35-38, and the
    experiment's first- and last-round accuracy and Err_S (mean ± std over seeds).

    ``components``: the prepared data's ``components`` metadata (size and [min, max] of x1 and x2 of each
    true component over all splits, ``prestorepro.data.synthetic.component_boxes``); ``summary`` is
    summary.json."""
    rows = [{"quantity": "points in D", "ours": float(sum(c["points"] for c in components)),
             "paper": float(SYNTHETIC["points"])}]
    for k, c in enumerate(components):
        rows.append({"quantity": f"points in S*_{k + 1}", "ours": float(c["points"]),
                     "paper": float(SYNTHETIC["per_component"])})
    for k, c in enumerate(components):
        for name in ("x1", "x2"):
            lo, hi = SYNTHETIC[name][k] if k < len(SYNTHETIC[name]) else (None, None)
            rows.append({"quantity": f"S*_{k + 1} {name} min", "ours": float(c[name][0]), "paper": lo})
            rows.append({"quantity": f"S*_{k + 1} {name} max", "ours": float(c[name][1]), "paper": hi})
    # the paper prints no accuracy or Err_S for Fig. 6, only that Err_S falls and accuracy rises
    # with r and that the partition is almost recovered at r = 50
    for key, label, scale in (("initial_err_s_normalised", "Err_S / pairs, initial partition", 1),
                              ("err_s_normalised", "Err_S / pairs, final", 1),
                              ("train_accuracy_assigned", "train accuracy (%) by assigned component, final", 100),
                              ("test_accuracy_gated", "test accuracy (%) gated, final", 100),
                              ("gate_train_agreement", "gate agreement with the final partition (%)", 100),
                              ("rounds_run", "rounds run (stops early only when the partition is stable)", 1),
                              ("objective", "Eq. 1 objective G, final (trained components)", 1),
                              ("optimal_objective_final_partition", "Eq. 1 at its optimum, PRESTO's final partition", 1),
                              ("optimal_objective_true_partition", "Eq. 1 at its optimum, true partition S*_k", 1),
                              *[(k, _diagnostic_label(k), 1) for k in sorted(
                                  (k for k in summary if k.startswith("diag_")), key=_diagnostic_order)]):
        if key not in summary:
            continue
        n = int(summary["seeds"])
        rows.append({"quantity": label, "ours": scale * summary[key]["mean"], "ours_std": scale * summary[key]["std"],
                     "ours_ci95": scale * summary[key]["std"] * (stats_t975(n) / math.sqrt(n) if n > 1 else math.nan),
                     "paper": None,
                     "seeds": int(summary["seeds"]),  # the data rows do not depend on the seed
                     "device": summary.get("device")})
    df = pd.DataFrame(rows)
    df["difference"] = df["ours"] - df["paper"]
    df = df.round(4)[["quantity", "ours", "ours_std", "ours_ci95", "paper", "difference", "seeds", "device"]]
    return _int_columns(df, ["seeds"])
