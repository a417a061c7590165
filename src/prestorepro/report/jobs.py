"""Report jobs: tables and figures from metrics files (called by workflow/scripts/make_*.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from prestorepro.io import read_json, write_json
from prestorepro.report.figures import fig6_synthetic
from prestorepro.report.paper import PAPER_SETUP
from prestorepro.report.tables import mean_std, params_frame, table1_frame, write_table


def make_table1(metric_files, out_stem: str) -> None:
    df, notes = table1_frame(metric_files)
    write_table(df, out_stem, caption="Table 1: test accuracy and macro-F1 (%), mean ± std over seeds; paper values beside",
                notes=notes)


def make_params(feature_sidecars: dict, datasets: dict, widths, out_stem: str) -> None:
    rows = dict(PAPER_SETUP)
    for name, side in feature_sidecars.items():
        meta = read_json(side)
        d = datasets[name]
        rows[name] = {"source": d["source"], "cut": d["cut"], "num_classes": meta["num_classes"], "k": d["k"]}
    df = params_frame(rows, widths)
    write_table(df, out_stem, caption="PRESTO parameters: K components + gate pi_phi, next to the paper's totals",
                notes=["paper totals from §4.2 / Table 2 caption; the four paper datasets are computed from the "
                       "architecture (Table 4 classes, Table 5 K, App. B.1 cut) without data"])


def summarize_synthetic(metric_files, out_json: str) -> None:
    finals = [read_json(f)["final"] for f in metric_files]
    summary = {"seeds": len(finals), "runs": finals}
    for key in ("train_accuracy_assigned", "test_accuracy_gated", "err_s_normalised", "initial_err_s_normalised",
                "rounds_run"):
        m, s = mean_std([f[key] for f in finals])
        summary[key] = {"mean": m, "std": s}
    write_json(out_json, summary)


def make_fig6(rounds_npz: str, metrics_json: str, snapshot_rounds, out_stem: str, formats) -> None:
    with np.load(rounds_npz) as z:
        arrays = {k: z[k] for k in z.files}
    history = read_json(metrics_json)["history"]
    fig6_synthetic(arrays, history, snapshot_rounds, out_stem, formats)
