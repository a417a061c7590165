"""Tables as CSV, Markdown and LaTeX, with the paper's numbers beside ours."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from prestorepro.io import read_json, write_text
from prestorepro.models.fused import FusedResNetTail
from prestorepro.presto.gate import Gate
from prestorepro.report.paper import PARAMS, TABLE1, paper_value


def write_table(df: pd.DataFrame, stem: str | Path, caption: str = "", notes: Iterable[str] = ()) -> None:
    """Write ``stem``.csv / .md / .tex atomically; notes become footnotes of the md and tex files."""
    stem = str(stem)
    notes = [n for n in notes if n]
    write_text(stem + ".csv", df.to_csv(index=False))
    md = (f"**{caption}**\n\n" if caption else "") + df.to_markdown(index=False)
    if notes:
        md += "\n\n" + "\n".join(f"- {n}" for n in notes)
    write_text(stem + ".md", md + "\n")
    tex = df.to_latex(index=False, escape=True, caption=caption or None, na_rep="--")
    if notes:
        esc = [n.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("#", r"\#") for n in notes]
        tex += "% notes:\n" + "".join(f"% {n}\n" for n in esc)
    write_text(stem + ".tex", tex)


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def fmt(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


def table1_frame(metric_files: Iterable[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """One row per (dataset, method): accuracy and macro-F1 in %, mean ± std over seeds, paper beside."""
    rows: dict[tuple[str, str], dict] = {}
    notes: dict[str, str] = {}
    for f in metric_files:
        m = read_json(f)
        name = Path(f).parts[-5]  # <results>/table1/<dataset>/k<k>/<method>/seed<s>/metrics.json
        key = (name, m["method"])
        r = rows.setdefault(key, {"source": m["dataset"]["source"], "k": m["k"], "acc": [], "f1": [], "seeds": []})
        r["acc"].append(100 * m["test_accuracy"])
        r["f1"].append(100 * m["test_macro_f1"])
        r["seeds"].append(m["seed"])
        if m.get("notes"):
            notes.setdefault(m["method"], f"{m['method']} ({name}): {m['notes']}")
    from prestorepro.experiments.table1 import PAPER_NAMES

    order = list(PAPER_NAMES)
    out = []
    for (name, method), r in sorted(rows.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))):
        acc, f1 = mean_std(r["acc"]), mean_std(r["f1"])
        pa = paper_value(TABLE1, method, "accuracy", r["source"])
        pf = paper_value(TABLE1, method, "macro_f1", r["source"])
        out.append({
            "dataset": name, "method": PAPER_NAMES[method], "K": r["k"], "seeds": len(r["seeds"]),
            "accuracy": fmt(*acc), "macro_f1": fmt(*f1),
            "accuracy_mean": round(acc[0], 4), "accuracy_std": round(acc[1], 4),
            "macro_f1_mean": round(f1[0], 4), "macro_f1_std": round(f1[1], 4),
            "paper_accuracy": pa, "paper_macro_f1": pf,
            "diff_accuracy": None if pa is None else round(acc[0] - pa, 2),
            "diff_macro_f1": None if pf is None else round(f1[0] - pf, 2),
        })
    return pd.DataFrame(out), list(notes.values())


def component_parameters(cut: str, widths, num_classes: int, k: int) -> dict:
    model = FusedResNetTail(1, cut, widths, num_classes)
    per = model.num_parameters_per_component()
    gate = sum(p.numel() for p in Gate(k, num_classes).parameters())
    return {"per_component": per, "gate": gate, "total": per * k + gate}


def params_frame(datasets: Mapping[str, dict], widths) -> pd.DataFrame:
    """PRESTO's parameter count (K components + pi_phi) per dataset, next to the paper's (§4.2)."""
    rows = []
    for name, d in datasets.items():
        c = component_parameters(d["cut"], widths, d["num_classes"], d["k"])
        paper = PARAMS.get(d["source"])
        rows.append({"dataset": name, "K": d["k"], "cut": d["cut"], "classes": d["num_classes"],
                     "per_component": c["per_component"], "gate": c["gate"], "total": c["total"],
                     "paper_total": paper,
                     "diff_percent": None if paper is None else round(100 * (c["total"] - paper) / paper, 2)})
    return pd.DataFrame(rows)
