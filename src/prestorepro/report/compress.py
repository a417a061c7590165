"""Table 2 and the accuracy-memory trade-off figures (paper §4.2, Table 2, Fig. 3 and 8).

Built from the compress stage's metrics files only (written by ``prestorepro.jobs.compress``).

- Table 2: one row per (dataset, method) at PRESTO's parameter budget: test accuracy, peak training
  and inference memory (mean ± std over seeds), parameter count, the memory measure and device, and
  the paper's accuracy and training MiB beside ours. Memory on the CPU is resident set size (RSS,
  host memory) and is labelled so; it is not comparable with the paper's GPU MiB.
- Trade-off figures: per dataset, accuracy against (a) peak training and (b) peak inference memory,
  one line per method through its budget points (students: width sweep; PRESTO: K sweep), error bars
  over seeds (none where a point ran one seed), each point labelled with its parameter count. The
  paper's Table-2 training point is drawn (hollow, panel a) only when our memory is GPU memory.
  ``tradeoff_<dataset>`` has one row; Fig. 3 (CIFAR10, PathMNIST) and Fig. 8 (DermaMNIST, SVHN) stack
  one row per configured dataset of the pair.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import pandas as pd  # noqa: E402

from prestorepro.report.reading import read_metrics  # noqa: E402
from prestorepro.report.figures import COLORS, save_figure  # noqa: E402
from prestorepro.catalogue import keys, method as catalogue_method, paper_name  # noqa: E402
from prestorepro.report.paper import PARAMS, TABLE2, paper_value  # noqa: E402
from prestorepro.report.stats import NOTE as STATS_NOTE, interval, marked, paired  # noqa: E402
from prestorepro.report.tables import BOLD, fmt, mean_std, write_table  # noqa: E402

ORDER = tuple(keys("compress"))  # the paper's row order (the catalogue's)
MEASURES = {
    "cpu_rss": "CPU RSS above job baseline (MiB)",
    "cuda_torch_allocated": "GPU, torch peak allocated (MiB)",
}
FIGURE_TITLES = {
    "fig3": "Fig. 3: accuracy vs. peak memory (CIFAR10, PathMNIST)",
    "fig8": "Fig. 8: accuracy vs. peak memory (DermaMNIST, SVHN)",
}


def load_runs(metric_files: Iterable[str | Path]) -> pd.DataFrame:
    """One row per metrics file and predictor: accuracy in %, memory in MiB above the job baseline.
    A PRESTO point holds one entry per test-time predictor (SPEC §3: combiner and router), each with
    its own accuracy, parameter count and memory; the other methods have one predictor, themselves
    (``predictor`` empty)."""
    rows = []
    for f in metric_files:
        m = read_metrics(f)
        for predictor, p in (m["predictors"].items() if "predictors" in m else [("", m)]):
            mem = p["memory"]
            rows.append({
                "dataset": m["dataset"], "source": m["source"], "method": m["method"], "predictor": predictor,
                "point": m["point"], "seed": int(m["seed"]), "parameters": int(p["num_parameters"]),
                "accuracy": 100 * p["test_accuracy"], "macro_f1": 100 * p["test_macro_f1"],
                "training_mib": mem["training_mib"], "inference_mib": mem["inference_mib"],
                "training_peak_abs_mib": mem["training_peak_abs_mib"],
                "inference_peak_abs_mib": mem["inference_peak_abs_mib"],
                "kind": mem["kind"], "device": mem["device"], "notes": m.get("notes", ""),
                "guides": m.get("guides", {}), "file": str(f),
            })
    if not rows:
        raise ValueError("no compress metrics files given")
    return pd.DataFrame(rows)


def display_name(method: str, predictor: str = "") -> str:
    """The paper's name of a method, with its test-time predictor where it has two (PRESTO)."""
    name = paper_name(method, "compress")
    return f"{name} ({predictor})" if predictor else name


def _single(values: pd.Series, what: str, key) -> str:
    u = sorted(set(values))
    if len(u) != 1:
        raise ValueError(f"{key}: runs disagree on {what} ({u}); memory of different kinds or devices cannot be "
                         "averaged — re-run them on one device")
    return u[0]


def _marker(method: str) -> str:
    return catalogue_method("compress", method).marker if method in ORDER else "o"


def _method_order(method: str) -> int:
    return ORDER.index(method) if method in ORDER else len(ORDER)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (dataset, method, predictor, point)."""
    out = []
    for key, g in runs.groupby(["dataset", "method", "predictor", "point"], sort=False):
        row = {"dataset": key[0], "source": g["source"].iloc[0], "method": key[1], "predictor": key[2],
               "point": key[3],
               "seeds": len(g), "parameters": int(round(g["parameters"].mean())),
               "kind": _single(g["kind"], "the memory measure", key), "device": _single(g["device"], "the device", key)}
        for col in ("accuracy", "macro_f1", "training_mib", "inference_mib"):
            row[f"{col}_mean"], row[f"{col}_std"] = mean_std(g[col].tolist())
        out.append(row)
    return pd.DataFrame(out)


TABLE2_SHOWN = ["dataset", "method", "seeds", "parameters", "accuracy", "accuracy_ci", "vs_presto", "training_memory",
                "inference_memory", "memory_measure", "device", "paper_accuracy", "diff_accuracy", "paper_training_mib",
                "paper_parameters"]


def table2_frame(metric_files: Iterable[str | Path], predict: str = "combiner") -> tuple[pd.DataFrame, list[str]]:
    """Table 2: one row per (dataset, method), mean ± std over seeds with the 95 % interval, the paired
    difference from PRESTO under the configured predictor seed by seed (``vs_presto``, ``report.stats``),
    the paper's numbers beside; the most accurate method of each dataset bold."""
    runs = load_runs(metric_files)
    s = summarise(runs)
    per_seed = {key: dict(zip(g["seed"], g["accuracy"]))
                for key, g in runs.groupby(["dataset", "method", "predictor"], sort=False)}
    dup = s.groupby(["dataset", "method", "predictor"]).size()
    if (dup > 1).any():
        raise ValueError(f"Table 2 takes one budget point per (dataset, method); several for {list(dup[dup > 1].index)}: "
                         "pass the table2 points (and PRESTO at the dataset's K) only")
    s = s.assign(_o=s["method"].map(_method_order)).sort_values(["dataset", "_o", "predictor"])
    rows, notes = [], []
    for _, r in s.iterrows():
        pa = paper_value(TABLE2, r["method"], "accuracy", r["source"])
        pm = paper_value(TABLE2, r["method"], "train_mib", r["source"])
        mine = per_seed[(r["dataset"], r["method"], r["predictor"])]
        acc_h = interval(list(mine.values()))[1]
        ref = per_seed.get((r["dataset"], "presto", predict))
        vs = paired(mine, ref) if ref is not None and (r["method"], r["predictor"]) != ("presto", predict) else None
        rows.append({
            "dataset": r["dataset"], "method": display_name(r["method"], r["predictor"]),
            "predictor": r["predictor"] or None, "seeds": r["seeds"],
            "parameters": r["parameters"],
            "accuracy": fmt(r["accuracy_mean"], r["accuracy_std"]),
            "accuracy_ci": None if math.isnan(acc_h) else
            f"[{r['accuracy_mean'] - acc_h:.2f}, {r['accuracy_mean'] + acc_h:.2f}]",
            "vs_presto": marked(vs),
            "training_memory": fmt(r["training_mib_mean"], r["training_mib_std"]),
            "inference_memory": fmt(r["inference_mib_mean"], r["inference_mib_std"]),
            "memory_measure": MEASURES.get(r["kind"], r["kind"]), "device": r["device"],
            "paper_accuracy": pa, "paper_training_mib": pm,
            "paper_parameters": PARAMS.get(r["source"]) if r["method"] == "presto" else None,
            "diff_accuracy": None if pa is None else round(r["accuracy_mean"] - pa, 2),
            "accuracy_mean": round(r["accuracy_mean"], 4), "accuracy_std": round(r["accuracy_std"], 4),
            "accuracy_ci95": round(acc_h, 4), "vs_presto_mean": None if vs is None else round(vs.mean, 4),
            "vs_presto_ci95": None if vs is None else round(vs.half_width, 4),
            "vs_presto_wins": None if vs is None else vs.wins, "vs_presto_ties": None if vs is None else vs.ties,
            "vs_presto_losses": None if vs is None else vs.losses,
            "training_mib_mean": round(r["training_mib_mean"], 3), "training_mib_std": round(r["training_mib_std"], 3),
            "inference_mib_mean": round(r["inference_mib_mean"], 3),
            "inference_mib_std": round(r["inference_mib_std"], 3),
        })
    table_runs = runs.merge(s[["dataset", "method", "predictor", "point"]], on=["dataset", "method", "predictor", "point"])
    for (dataset, method), g in table_runs.groupby(["dataset", "method"], sort=False):
        if g["notes"].iloc[0]:
            notes.append(f"{dataset}: {g['notes'].iloc[0]}")
        for role, info in sorted(g["guides"].iloc[0].items()):
            accs = [100 * gr[role]["test_accuracy"] for gr in g["guides"]]
            mibs = [gr[role]["training_mib"] for gr in g["guides"]]
            notes.append(f"{dataset}, {paper_name(method, 'compress')}: {role} {tuple(info['widths'])} "
                         f"({info['num_parameters']} parameters, {info['epochs']} epochs, own job) reached "
                         f"{fmt(*mean_std(accs))}% test accuracy; its training took {fmt(*mean_std(mibs))} MiB")
    notes.append("memory: the peak of each phase above the job's own baseline (features on the host, kernels "
                 "warmed up); inference measured on the initialised model before training, in batches; on the CPU "
                 "it is the process's resident set size, not GPU memory, and not comparable with the paper's MiB")
    if (s["predictor"] != "").any():
        notes.append("PRESTO under both test-time predictors, on the same trained components (SPEC §3): its "
                     "parameters are the K components plus the predictor (the combiner's (K*C+1)*C, which gives the "
                     "paper's totals; or the router's gate); training memory: Algorithm 1 and the predictor's own "
                     "training, whichever peaks higher; inference: the router holds one component at a time on "
                     "the device, the combiner all K at once (it needs every component's logits for every instance)")
    notes.append("paper columns: Table 2 of the paper (test accuracy %, maximum GPU MiB during training); the paper "
                 "reports no inference memory in Table 2")
    notes.append(f"accuracy: mean ± std (ddof 1) over seeds; accuracy_ci: the mean's 95 % interval (Student's t); bold: "
                 f"the most accurate method of the dataset; vs_presto: the row minus PRESTO ({predict}), seed by seed, "
                 "mean ± the 95 % half-width (W/T/L)")
    notes.append(STATS_NOTE)
    df = pd.DataFrame(rows)
    if len(df):
        best = df.groupby("dataset")["accuracy_mean"].transform("max") == df["accuracy_mean"]
        df.loc[best, "accuracy"] = BOLD + df.loc[best, "accuracy"] + BOLD
    return df, list(dict.fromkeys(notes))


def make_table2(metric_files: Iterable[str | Path], out_stem: str | Path, predict: str = "combiner") -> pd.DataFrame:
    df, notes = table2_frame(metric_files, predict)
    write_table(df, out_stem, caption="Table 2: test accuracy (%) and peak training / inference memory (MiB) at "
                                      "PRESTO's parameter count, mean ± std over seeds with the 95 % interval and the "
                                      "paired difference from PRESTO; paper values beside",
                notes=notes, html=True, shown=[c for c in TABLE2_SHOWN if c in df])
    return df


def _axis_label(phase: str, kind: str) -> str:
    what = {"training_mib": "peak training memory", "inference_mib": "peak inference memory"}[phase]
    return f"{what}, {MEASURES.get(kind, kind)}"


def _panel(ax, pts: pd.DataFrame, phase: str, source: str, draw_paper: bool) -> None:
    kind = _single(pts["kind"], "the memory measure", source)
    series = sorted({(m, p) for m, p in zip(pts["method"], pts["predictor"])}, key=lambda mp: (_method_order(mp[0]), mp[1]))
    for method, predictor in series:
        p = pts[(pts["method"] == method) & (pts["predictor"] == predictor)].sort_values("parameters")
        color = COLORS[_method_order(method) % len(COLORS)]
        ax.errorbar(p[f"{phase}_mean"], p["accuracy_mean"], xerr=p[f"{phase}_std"], yerr=p["accuracy_std"],
                    marker=_marker(method), color=color, capsize=3, lw=1.2, ms=5,
                    ls="--" if predictor == "router" else "-", label=display_name(method, predictor),
                    # the router's series hollow, so the two PRESTO series differ in the legend too
                    markerfacecolor="none" if predictor == "router" else color)
        for _, r in p.iterrows():
            ax.annotate(f"{r['parameters'] / 1000:.0f}k", (r[f"{phase}_mean"], r["accuracy_mean"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=6, color=color)
        if draw_paper and phase == "training_mib" and predictor != "router":
            pa = paper_value(TABLE2, method, "accuracy", source)
            pm = paper_value(TABLE2, method, "train_mib", source)
            if pa is not None:
                ax.scatter([pm], [pa], marker=_marker(method), facecolors="none", edgecolors=color, s=50,
                           label=f"{paper_name(method, 'compress')} (paper)")
    lo, hi = pts[f"{phase}_mean"].min(), pts[f"{phase}_mean"].max()
    if lo > 0 and hi / lo > 20:  # SNIP / GraSP can sit two orders of magnitude right of the students
        ax.set_xscale("log")
        # ticks at 1, 2, 5 x 10^n written as plain numbers: readable within a single decade too
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(_axis_label(phase, kind), fontsize=8)
    ax.set_ylabel("test accuracy (%)", fontsize=8)
    ax.grid(alpha=0.3)


def make_tradeoff_figure(metric_files: Sequence[str | Path], out_stem: str | Path,
                         formats: Sequence[str] = ("png", "pdf"), title: str | None = None) -> list[str]:
    """Accuracy vs. peak (a) training and (b) inference memory, one row per dataset in the files."""
    pts = summarise(load_runs(metric_files))
    datasets = list(dict.fromkeys(pts["dataset"]))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(10, 4 * len(datasets)), squeeze=False)
    for row, name in enumerate(datasets):
        d = pts[pts["dataset"] == name]
        source = d["source"].iloc[0]
        gpu = _single(d["kind"], "the memory measure", name) != "cpu_rss"
        for col, phase in enumerate(("training_mib", "inference_mib")):
            ax = axes[row, col]
            _panel(ax, d, phase, source, draw_paper=gpu)
            ax.set_title(f"{name}: ({'ab'[col]}) {'training' if col == 0 else 'inference'}", fontsize=9)
        axes[row, 0].legend(fontsize=7, loc="best")
        if not gpu and paper_value(TABLE2, "presto", "accuracy", source) is not None:
            axes[row, 1].text(0.02, 0.02, "paper's GPU MiB not drawn on a CPU RSS axis", transform=axes[row, 1].transAxes,
                              fontsize=6, color="gray")
    devices = ", ".join(sorted(set(pts["device"])))
    fig.suptitle(f"{FIGURE_TITLES.get(title, title or 'Accuracy vs. peak memory')} — device {devices}; "
                 "labels: parameter count", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_stem, formats)
