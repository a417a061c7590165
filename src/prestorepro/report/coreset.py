"""The coreset table and the accuracy-vs-time figures (SPEC §7), from the runs' metrics files only.

Per (dataset, method, fraction), over seeds: test accuracy and macro-F1 (%), selection seconds
(gradient proxies + selector, every reselection), training seconds (every epoch, warm-start epochs
included), their ratio (per seed, then mean ± std), the speed-up of selection + training against
full-data training (mean full-data time over mean total time), the mean subset size actually
trained on, and peak memory (with its kind: ``cpu_rss`` on the CPU is the process's resident set,
not GPU memory). Standard deviations are the sample std (ddof = 1), 0 for one seed.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from prestorepro.catalogue import methods
from prestorepro.io import write_text
from prestorepro.report.reading import read_metrics
from prestorepro.report.figures import COLORS, save_figure
from prestorepro.report.tables import fmt, mean_std, write_table
from prestorepro.report.stats import interval

# names, order and markers: the catalogue's
METHOD_NAMES = {m.key: m.paper_name for m in methods("coreset")}
METHOD_ORDER = list(METHOD_NAMES)
MARKERS = {m.key: m.marker for m in methods("coreset")}


def _fraction_text(value: float, label: str) -> str:
    return f"{value:.4g} (1/K)" if label == "1_over_k" else f"{value:.4g}"


def _group(metric_files: Iterable[str | Path]) -> dict[tuple[str, str, str], list[dict]]:
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for f in metric_files:
        m = read_metrics(f)
        groups[(m["dataset"], m["method"], str(m["fraction_label"]))].append(m)
    return groups


def coreset_frame(metric_files: Iterable[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """One row per (dataset, method, fraction), mean ± std over seeds; and the table's notes."""
    groups = _group(metric_files)
    full_total: dict[str, float] = {}
    for (dataset, method, _), runs in groups.items():
        if method == "full":
            full_total[dataset] = float(np.mean([r["seconds"]["total"] for r in runs]))
    rows, kinds, devices, pbcs_lrs = [], set(), set(), defaultdict(int)
    settings = set()
    for (dataset, method, label), runs in groups.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        acc = mean_std([100 * r["test_accuracy"] for r in runs])
        f1 = mean_std([100 * r["test_macro_f1"] for r in runs])
        sel = mean_std([r["seconds"]["selection"] for r in runs])
        tra = mean_std([r["seconds"]["training"] for r in runs])
        total = float(np.mean([r["seconds"]["total"] for r in runs]))
        ratios = [r["seconds"]["selection"] / r["seconds"]["training"] for r in runs]
        ratio = mean_std(ratios)
        peak = float(np.mean([r["peak_memory"]["peak_mib"] for r in runs]))
        kind = ", ".join(sorted({r["peak_memory"]["kind"] for r in runs}))
        kinds.add(kind)
        devices.update(r["provenance"]["device"] for r in runs)
        sizes = [s for r in runs for s in r["subset_sizes"]]
        for r in runs:
            settings.add((r["epochs"], r.get("optimizer", "adam")))
            for s in r["selections"]:
                if "lr" in s:
                    pbcs_lrs[s["lr"]] += 1
        fraction = float(runs[0]["fraction"])
        rows.append({
            "dataset": dataset, "method": METHOD_NAMES.get(method, method), "fraction": _fraction_text(fraction, label),
            "seeds": len(runs), "R": runs[0].get("interval") if runs[0].get("selection_epochs") else None,
            "subset_size": round(float(np.mean(sizes)), 1) if sizes else runs[0]["n_train"],
            "accuracy": fmt(*acc), "accuracy_ci95": round(interval([100 * r["test_accuracy"] for r in runs])[1], 4),
            "macro_f1": fmt(*f1),
            "selection_s": f"{sel[0]:.3g} ± {sel[1]:.2g}", "training_s": f"{tra[0]:.3g} ± {tra[1]:.2g}",
            "selection_over_training": f"{ratio[0]:.3g} ± {ratio[1]:.2g}",
            "speedup_vs_full": round(full_total[dataset] / total, 3) if dataset in full_total and total > 0 else None,
            "peak_mib": round(peak, 1), "memory_kind": kind,
            "accuracy_mean": round(acc[0], 4), "accuracy_std": round(acc[1], 4),
            "macro_f1_mean": round(f1[0], 4), "macro_f1_std": round(f1[1], 4),
            "selection_s_mean": sel[0], "selection_s_std": sel[1],
            "training_s_mean": tra[0], "training_s_std": tra[1], "total_s_mean": total,
            "ratio_mean": ratio[0], "ratio_std": ratio[1], "fraction_value": fraction, "fraction_label": label,
            "method_key": method,
        })
    df = pd.DataFrame(rows)
    if len(df):
        df["_order"] = [METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER) for m in df["method_key"]]
        df = df.sort_values(["dataset", "fraction_value", "_order"], ascending=[True, False, True])
        df = df.drop(columns="_order").reset_index(drop=True)
    notes = [
        "accuracy, macro-F1: test split, %, mean ± std (ddof 1) over seeds; one model of the component "
        "architecture with widths matched to PRESTO's total parameters",
        "selection_s: gradient proxies (one forward pass of the training set) + selector, summed over "
        "reselections; training_s: every epoch that trains, the warm start's full-data epochs included; "
        "speedup_vs_full = mean full-data time / mean (selection + training) time",
        "warm variants (GRAD-MATCH §4, laid out as CORDS): T_f = round(int(kappa T) k / n) full-data epochs, "
        "then the last T - int(kappa T) epochs on the subset; the epochs between train nothing",
        "epochs T and optimiser: " + "; ".join(f"T={t}, {o}" for t, o in sorted(settings))
        + "; R: the epochs between reselections (GRAD-MATCH §5: 20 for every method; coreset.craig.interval "
          "sets the facility-location method's own, 1 = a new subset at the beginning of every epoch as in its §5)",
        "timed on: " + "; ".join(sorted(devices)),
    ]
    if any("cpu_rss" in k for k in kinds):
        notes.append("peak_mib of kind cpu_rss is the process's peak resident set size on the CPU (data, model "
                     "and interpreter included), not GPU memory")
    if pbcs_lrs:
        notes.append("PBCS learning rate chosen on validation: "
                     + ", ".join(f"{lr:g} in {n} run(s)" for lr, n in sorted(pbcs_lrs.items())))
    return df, notes


DISPLAY_COLUMNS = ["dataset", "method", "fraction", "seeds", "subset_size", "accuracy", "macro_f1", "selection_s",
                   "training_s", "selection_over_training", "speedup_vs_full", "peak_mib", "memory_kind"]


def make_coreset_table(metric_files: Sequence[str | Path], out_stem: str | Path) -> pd.DataFrame:
    """Markdown and LaTeX show the formatted columns; the CSV also keeps the numeric means and stds."""
    df, notes = coreset_frame(metric_files)
    shown = df[DISPLAY_COLUMNS] if len(df) else df
    write_table(shown, out_stem, caption="Coreset baselines (SPEC §7): test accuracy, macro-F1, selection and "
                "training time, peak memory; mean ± std over seeds", notes=notes, html=True)
    write_text(f"{out_stem}.csv", df.to_csv(index=False))
    return df


def log_time_axis(ax) -> None:
    """Log-scale x axis with plain-number labels at 1, 2 and 5 times each power of ten (only at the
    powers when the data span two decades or more), so that labels never run into each other."""
    from matplotlib import ticker

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10))
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_locator(ticker.LogLocator(base=10, subs=(2, 5)))
    ax.xaxis.set_minor_formatter(plain if np.log10(hi / lo) < 2 else ticker.NullFormatter())


def coreset_figure(df: pd.DataFrame, dataset: str, stem: str | Path,
                   formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    """Test accuracy against selection + training time (log scale) for one dataset: one marker per
    method, one colour per subset fraction, error bars = std over seeds (time: std of the training
    time plus that of the selection time, an upper bound of the total's), full data as a line."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    d = df[df["dataset"] == dataset]
    if d.empty:
        raise ValueError(f"no coreset runs for dataset {dataset!r}; datasets with runs: "
                         f"{', '.join(sorted(set(df['dataset']))) or 'none'}")
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    labels = list(dict.fromkeys(d[d["method_key"] != "full"].sort_values("fraction_value")["fraction"]))
    colour = {lab: COLORS[i % len(COLORS)] for i, lab in enumerate(labels)}
    for _, r in d.iterrows():
        if r["method_key"] == "full":
            ax.axhline(r["accuracy_mean"], color="black", ls="--", lw=1)
            ax.axhspan(r["accuracy_mean"] - r["accuracy_std"], r["accuracy_mean"] + r["accuracy_std"],
                       color="black", alpha=0.08, lw=0)
            c = "black"
        else:
            c = colour[r["fraction"]]
        ax.errorbar(r["total_s_mean"], r["accuracy_mean"], yerr=r["accuracy_std"],
                    xerr=r["selection_s_std"] + r["training_s_std"], fmt=MARKERS.get(r["method_key"], "o"),
                    color=c, ms=8 if r["method_key"] == "full" else 6, capsize=2, lw=0.8, alpha=0.9)
    log_time_axis(ax)
    ax.set_xlabel("selection + training time (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    present = [m for m in METHOD_ORDER if m in set(d["method_key"])]
    method_handles = [Line2D([], [], ls="none", marker=MARKERS[m], color="black" if m == "full" else "gray",
                             label=METHOD_NAMES[m] + (" (dashed: mean)" if m == "full" else "")) for m in present]
    frac_handles = [Line2D([], [], ls="none", marker="o", color=colour[lab], label=f"fraction {lab}") for lab in labels]
    leg = ax.legend(handles=method_handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="method")
    ax.add_artist(leg)
    ax.legend(handles=frac_handles, fontsize=7.5, loc="lower left", bbox_to_anchor=(1.01, 0.0), title="subset")
    seeds = sorted(set(int(s) for s in d["seeds"]))
    ax.set_title(f"Coreset baselines on {dataset}: accuracy vs time (mean ± std over {'/'.join(map(str, seeds))} seeds)",
                 fontsize=9.5)
    fig.tight_layout()
    return save_figure(fig, stem, formats)


def make_coreset_figure(metric_files: Sequence[str | Path], dataset: str, out_stem: str | Path,
                        formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    df, _ = coreset_frame(metric_files)
    return coreset_figure(df, dataset, out_stem, formats)
