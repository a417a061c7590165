"""The rows of ``paper_comparison.md`` (rendered by ``comparison_page``): every number the paper prints that
the pipeline reproduces, ours beside it, the difference (ours − paper), and the device and configuration it
came from (SPEC §9).

Built from the table CSVs only (which carry the device of the runs behind them), so it re-runs
whenever a table changes and never touches training. A paper number this configuration does not
produce (a paper dataset not configured) is listed with a dash, so the file always shows the whole
of what the paper prints and how much of it a run covers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from prestorepro.catalogue import paper_name, predictor_order
from prestorepro.report.paper import PAPER_DATASETS, PRESTO_SHARED, TABLE1, TABLE2, paper_value

METRIC_LABELS = {"accuracy": "accuracy (%)", "macro_f1": "macro-F1 (%)"}
NOT_RUN = "–"


@dataclass
class Row:
    dataset: str
    quantity: str
    paper: Any
    ours: Any = None
    ours_std: float | None = None
    seeds: int | None = None
    device: str = ""
    decimals: int = 2
    relative: bool = False   # also print the difference in % of the paper's value


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _value(v):
    """A CSV cell as a plain Python value (None when empty)."""
    if isinstance(v, str):
        return v
    if v is None or pd.isna(v):
        return None
    return v.item() if hasattr(v, "item") else v


def _fmt(v, decimals: int) -> str:
    if _missing(v):
        return NOT_RUN
    if isinstance(v, str):
        return v
    return f"{float(v):.{decimals}f}"


def _difference(row: Row) -> str:
    if _missing(row.ours) or _missing(row.paper):
        return NOT_RUN
    if isinstance(row.ours, str) or isinstance(row.paper, str):
        return "same" if str(row.ours) == str(row.paper) else "differs"
    d = float(row.ours) - float(row.paper)
    text = f"{d:+.{row.decimals}f}"
    if row.relative and float(row.paper) != 0:
        text += f" ({100 * d / float(row.paper):+.2f}%)"
    return text


def _names_by_source(sources: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, src in sources.items():
        out.setdefault(src, []).append(name)
    return out


def _lookup(df: pd.DataFrame | None, **match) -> pd.Series | None:
    if df is None or df.empty:
        return None
    sel = pd.Series(True, index=df.index)
    for col, val in match.items():
        if col not in df:
            return None
        sel &= df[col].astype(str) == str(val)
    hit = df[sel]
    return hit.iloc[0] if len(hit) else None


def _method_rows(df: pd.DataFrame | None, sources: Mapping[str, str], table: Mapping, names: Mapping[str, str],
                 metrics: Sequence[tuple[str, str]], measured, variants: Mapping[str, Sequence[str]] | None = None
                 ) -> list[Row]:
    """One row per paper dataset, method of ``table``, variant and (metric, label) of ``metrics``: the
    paper's value, and ``measured(hit, metric)`` -> (mean, std, seeds, device) from the table row of each
    configured dataset of that source (None where the table has no such value). ``variants[method]``
    names the table's rows of one method (its test-time predictors; default: the paper's name alone),
    each compared with the same paper number. A paper dataset not configured, or a method not run, gives
    a row with the paper's value only."""
    by_source = _names_by_source(sources)
    rows = []
    for src in PAPER_DATASETS:
        for method in table:
            for variant in (variants or {}).get(method, [names[method]]):
                for metric, label in metrics:
                    paper = paper_value(table, method, metric, src)
                    text = f"{variant} {label}"
                    configured = by_source.get(src, [])
                    if not configured:
                        rows.append(Row(src, text, paper))
                    for name in configured:
                        h = _lookup(df, dataset=name, method=variant)
                        ours = None if h is None else measured(h, metric)
                        rows.append(Row(name, text, paper) if ours is None else Row(name, text, paper, *ours))
    return rows


def table1_rows(df: pd.DataFrame | None, sources: Mapping[str, str], predict: str = "combiner") -> list[Row]:
    """Paper Table 1 (accuracy and macro-F1 of PRESTO and six baselines on four datasets), every method
    under each of its test-time predictors (the configured ``predict`` first), each against the paper's number."""
    predictors = predictor_order(predict, list(TABLE1))
    rows = []
    for predictor in predictors:
        part = None if df is None else df[df["predictor"].astype(str) == predictor]

        def measured(h: pd.Series, metric: str) -> tuple:
            return (_value(h[f"{metric}_mean"]), _value(h[f"{metric}_std"]), _value(h["seeds"]),
                    str(h.get("device", "")))

        labels = [(metric, f"{label}, {predictor}") for metric, label in METRIC_LABELS.items()]
        rows += _method_rows(part, sources, TABLE1, {m: paper_name(m, "table1") for m in TABLE1}, labels, measured)
    return rows


def table2_rows(df: pd.DataFrame | None, sources: Mapping[str, str], predict: str = "combiner") -> list[Row]:
    """Paper Table 2 (accuracy and training-time GPU memory at PRESTO's parameter budget), PRESTO under
    each test-time predictor (the configured ``predict`` first).

    Reads ``tables/table2.csv`` (the compress stage's): dataset, method (the paper's name, PRESTO's with its
    predictor), accuracy_mean / _std, training_mib_mean / _std (peak training memory, MiB), memory_measure,
    seeds and device. A CPU run measures resident memory, which the device column says."""
    names = {m: paper_name(m, "compress") for m in TABLE2}
    columns = {"accuracy": "accuracy", "train_mib": "training_mib"}
    predictors = predictor_order(predict, ["presto"])

    def measured(h: pd.Series, metric: str) -> tuple | None:
        column = columns[metric]
        if column + "_mean" not in h:
            return None
        device = str(h.get("device", ""))
        if metric == "train_mib" and not _missing(_value(h.get("memory_measure"))):
            device += f" ({h['memory_measure']})"
        return (_value(h[f"{column}_mean"]), _value(h.get(f"{column}_std")), _value(h.get("seeds")), device)

    return _method_rows(df, sources, TABLE2, names,
                        [("accuracy", "accuracy (%)"), ("train_mib", "peak training memory (MiB)")], measured,
                        variants={"presto": [f"PRESTO ({p})" for p in predictors]})


def params_rows(df: pd.DataFrame | None) -> list[Row]:
    """§4.2 / Table 2 caption: PRESTO's total parameters, the K components plus the combiner."""
    if df is None:
        return []
    return [Row(str(r["dataset"]), f"PRESTO parameters at K = {int(r['K'])} (components + combiner)",
                _value(r["paper_total"]), _value(r["components_and_combiner"]),
                device="none (counted from the architecture)", decimals=0, relative=True)
            for _, r in df.iterrows() if not _missing(_value(r["paper_total"]))]


def table4_rows(df: pd.DataFrame | None) -> list[Row]:
    """Paper Table 4 (App. B.1): dataset statistics."""
    if df is None:
        return []
    rows = []
    fields = (("classes", "classes", "#Classes", 0), ("instances", "instances", "#Instances", 0),
              ("train_compared", "train", "#Train", 0), ("test", "test", "#Test", 0),
              ("per_class_mean", "per_class_mean", "#Avg points per class, mean", 2),
              ("per_class_std", "per_class_std", "#Avg points per class, std", 2))
    for _, r in df.iterrows():
        if _missing(_value(r.get("paper_classes"))):
            continue
        for ours_col, paper_col, label, dec in fields:
            rows.append(Row(str(r["dataset"]), label, _value(r[f"paper_{paper_col}"]), _value(r.get(ours_col)),
                            device="none (counted from the prepared data)", decimals=dec, relative=dec == 0))
    return rows


def table5_rows(df: pd.DataFrame | None) -> list[Row]:
    """Paper Table 5 and App. B.3: PRESTO's hyper-parameters."""
    if df is None:
        return []
    rows = []
    labels = {"k": ("K", 0), "init": ("initialisation", 0), "leeway": ("leeway", 0), "epsilon": ("epsilon", 4)}
    for _, r in df.iterrows():
        if _missing(_value(r.get("paper_k"))) or str(r["dataset"]) == "synthetic":
            continue
        for key, (label, dec) in labels.items():
            rows.append(Row(str(r["dataset"]), label, _value(r[f"paper_{key}"]), _value(r.get(key)),
                            device="none (from the config)", decimals=dec))
    # App. B.3's settings hold for every dataset: compared once, against the image datasets' config
    images = df.iloc[0:0]
    if "rounds" in df:
        images = df[(df["dataset"].astype(str) != "synthetic") & df["rounds"].notna()]
    for key, paper in PRESTO_SHARED.items():
        ours = _value(images[key].iloc[0]) if len(images) else None
        dec = 0 if float(paper).is_integer() else 4
        rows.append(Row("every dataset", f"{key} (App. B.3)", paper, ours, device="none (from the config)",
                        decimals=dec))
    return rows


def fig7_rows(df: pd.DataFrame | None) -> list[Row]:
    """Fig. 7 prints no numbers; at a paper dataset's Table-5 K it is Table 1's PRESTO row."""
    if df is None:
        return []
    rows = []
    for _, r in df.iterrows():
        for metric in ("accuracy", "macro_f1"):
            paper = _value(r.get(f"paper_{metric}"))
            if _missing(paper):
                continue
            predictor = f", {r['predictor']}" if "predictor" in r and not _missing(_value(r["predictor"])) else ""
            rows.append(Row(str(r["dataset"]), f"PRESTO {METRIC_LABELS[metric]}{predictor} at K = {int(r['K'])}", paper,
                            _value(r[f"{metric}_mean"]), _value(r[f"{metric}_std"]), _value(r["seeds"]),
                            str(r.get("device", ""))))
    return rows


def synthetic_rows(frames: Mapping[str, pd.DataFrame]) -> list[Row]:
    """App. C: the synthetic data's size and standardised boxes (Eqs. 35-38)."""
    rows = []
    for name, df in frames.items():
        for _, r in df.iterrows():
            paper = _value(r["paper"])
            if _missing(paper):
                continue
            q = str(r["quantity"])
            count = q.startswith("points")
            rows.append(Row(name, q, paper, _value(r["ours"]), _value(r.get("ours_std")), _value(r.get("seeds")),
                            device="none (from the generated data)" if _missing(_value(r.get("device")))
                            else str(r["device"]), decimals=0 if count else 2))
    return rows
