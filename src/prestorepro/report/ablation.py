"""The ablation table and figure (results/tables/ablation.*, results/figures/ablation.*), from metrics files.

One row per dataset and setting: the configured setting first, then every variant, which changes one
factor of it. Image datasets report test accuracy under both test-time predictors (the configured one
first, SPEC §3), its macro-F1 and the gate's agreement with the final partition; the synthetic data
Err_S (normalised), the gated test accuracy and the accuracy with each point sent to its assigned
component. Mean ± std over the seeds; ``delta`` is the variant's mean minus the configured setting's,
for the dataset's main measure (accuracy under the configured predictor; Err_S on the synthetic data).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from prestorepro.ablation import CONFIGURED, FACTORS, SCALES, format_value, parse_variant
from prestorepro.report.reading import read_metrics
from prestorepro.catalogue import method_predictors, predictor_order
from prestorepro.report.figures import COLORS, save_figure
from prestorepro.report.paper import PAPER_SETTING
from prestorepro.report.stats import NOTE as STATS_NOTE, marked, paired
from prestorepro.report.tables import mean_std, write_table

# measures per kind of data: (column, label, scale); the first is the dataset's main measure


def image_measures(predict: str = "combiner") -> tuple:
    """The image datasets' measures: accuracy under the configured predictor (the main measure), under
    the other, the configured one's macro-F1, the gate's agreement and the rounds run."""
    other = predictor_order(predict, ["presto"])[1:]
    return ((f"{predict}_test_accuracy", f"test accuracy, {predict} (%)", 100),
            *[(f"{p}_test_accuracy", f"test accuracy, {p} (%)", 100) for p in other],
            (f"{predict}_test_macro_f1", f"test macro-F1, {predict} (%)", 100),
            ("gate_train_agreement", "gate agreement (%)", 100), ("rounds_run", "rounds run", 1))


IMAGE_MEASURES = image_measures()
SYNTHETIC_MEASURES = (("err_s_normalised", "Err_S / pairs", 1), ("test_accuracy_gated", "gated test accuracy (%)", 100),
                      ("train_accuracy_assigned", "assigned train accuracy (%)", 100),
                      ("gate_train_agreement", "gate agreement (%)", 100), ("rounds_run", "rounds run", 1))


def is_paper_setting(factor: str, value: Any) -> bool:
    paper, _ = PAPER_SETTING[factor]
    return paper is not None and format_value(paper) == format_value(value)


def _measures(metrics: dict, gate_input: str | None) -> dict:
    """The measures of one run; with ``gate_input``, those of its gate reading that input instead."""
    if "final" in metrics:  # the synthetic experiment
        out = dict(metrics["final"], seed=metrics.get("seed"))
        if gate_input is not None:
            out.update(metrics["gate_inputs"][gate_input])
        return out
    out = {"rounds_run": metrics.get("rounds_run"), "seed": metrics.get("seed")}
    for predictor, scores in metrics["predictors"].items():
        if predictor == "router" and gate_input is not None:
            scores = metrics["gate_inputs"][gate_input]  # the same components routed by another gate
        out.update({f"{predictor}_{key}": v for key, v in scores.items()})
        if predictor == "router":
            out["gate_train_agreement"] = scores.get("gate_train_agreement")
    return out


def ablation_frame(layout: Mapping[str, Mapping[str, Sequence[str]]], sources: Mapping[str, str],
                   presto: Mapping, predict: str = "combiner") -> tuple[pd.DataFrame, list[str]]:
    """``layout``: dataset -> setting ("configured" or a variant) -> the seeds' metrics files;
    ``presto``: the configured values of the non-scale factors; ``predict``: the test-time predictor of
    the image datasets' main measure."""
    rows = []
    gate_variants = {}
    # how the configured setting stands against the paper's: the factors it sets otherwise
    unlike = [f"{f} = {format_value(presto[f])}" for f in FACTORS
              if f not in SCALES and f in presto and PAPER_SETTING[f][0] is not None
              and not is_paper_setting(f, presto[f])]
    configured_mark = "yes" if not unlike else "yes, except " + ", ".join(unlike)
    for name, runs in layout.items():
        synthetic = sources[name] == "synthetic"
        measures = SYNTHETIC_MEASURES if synthetic else image_measures(predict)
        base = [read_metrics(f) for f in runs[CONFIGURED]]
        settings: list[tuple[str, str, str, list[dict]]] = [
            ("configured", "", "", [_measures(m, None) for m in base])]
        # the gate input is measured on the configured runs' own components and partition
        gate_inputs = sorted({g for m in base for g in m.get("gate_inputs", {})} - {presto["gate_input"]})
        gate_variants[name] = gate_inputs
        for g in gate_inputs:
            settings.append((f"gate_input-{g}", "gate_input", g, [_measures(m, g) for m in base]))
        for variant, files in runs.items():
            if variant == CONFIGURED:
                continue
            factor, value = parse_variant(variant)
            settings.append((variant, factor, format_value(value), [_measures(read_metrics(f), None) for f in files]))
        main_key, main_scale = measures[0][0], measures[0][2]
        base_mean = None
        by_seed = {m["seed"]: main_scale * m[main_key] for m in settings[0][3]
                   if m.get(main_key) is not None and m.get("seed") is not None}
        for setting, factor, value, ms in settings:
            mark = configured_mark if not factor else "yes" if is_paper_setting(factor, value) else ""
            row = {"dataset": name, "setting": setting, "factor": factor or "(all as configured)",
                   "value": value, "paper_setting": mark,
                   "seeds": len(ms)}
            for key, label, scale in measures:
                vals = [m[key] for m in ms if m.get(key) is not None]
                mean, std = mean_std(vals) if vals else (np.nan, np.nan)
                row[label], row[f"{label} std"] = scale * mean, scale * std
                if key == main_key:
                    base_mean = row[label] if base_mean is None else base_mean
                    row["delta"] = row[label] - base_mean
            mine = {m["seed"]: main_scale * m[main_key] for m in ms
                    if m.get(main_key) is not None and m.get("seed") is not None}
            vs = paired(mine, by_seed) if setting != "configured" else None
            row["vs_configured"] = marked(vs, 3)
            row["delta_ci95"] = None if vs is None else vs.half_width
            row["delta_wins_ties_losses"] = None if vs is None else f"{vs.wins}/{vs.ties}/{vs.losses}"
            rows.append(row)
    df = pd.DataFrame(rows).round(3)
    configured = ", ".join(f"{k} = {format_value(v)}" for k, v in presto.items())
    notes = [f"configured setting: {configured}, epsilon and lambda as configured per dataset (scale 1)",
             "paper_setting = yes where the value is the paper's: "
             + "; ".join(f"{f} {format_value(v)} ({src})" for f, (v, src) in PAPER_SETTING.items() if v is not None)
             + "; alpha is not given by the paper",
             "the gate-input rows reuse the configured runs' components and partition (only pi_phi differs, so "
             "only the router's accuracy moves)",
             "reassign: bound_greedy = Eq. 8's costs assigned by the authors' greedy rule (parts capped at "
             "N/K + leeway, no minimum); authors = their score (the combiner's weight slice for the label dotted "
             "with the component's logits, + epsilon * distance) assigned greedily by argmin, as published; "
             "authors_exact = their score assigned exactly within the size bounds; authors_flipped = their score "
             "with the classifier term negated, greedily (image data only: the SVMs have no class logits)",
             "delta: the setting's mean minus the configured setting's, in the dataset's first measure "
             "(accuracy, or Err_S on the synthetic data); vs_configured: the same difference paired seed by seed, "
             "mean ± the 95 % half-width (W/T/L: seeds on which the setting's measure is higher, equal, lower)",
             STATS_NOTE]
    return df, notes


def ablation_figure(df: pd.DataFrame, stem: str, formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    """One panel per dataset: the main measure of every setting (mean ± std over seeds), the configured
    setting's value as a dashed line."""
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(df["dataset"]))
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 0.32 * df.groupby("dataset").size().max() + 1.6),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        d = df[df["dataset"] == name].reset_index(drop=True)
        # the first measure column the dataset fills is its main one (the frame lists the configured
        # predictor's accuracy first)
        main = {SYNTHETIC_MEASURES[0][1]} | {image_measures(p)[0][1] for p in method_predictors("presto")}
        label = next(c for c in d.columns if c in main and d[c].notna().any())
        ypos = np.arange(len(d))[::-1]
        colours = [COLORS[0] if s == "configured" else COLORS[1] for s in d["setting"]]
        ax.barh(ypos, d[label], xerr=d[f"{label} std"], color=colours, alpha=0.8, capsize=2)
        ax.axvline(d.loc[0, label], color="k", lw=0.8, ls="--")
        ax.set_yticks(ypos, [s + (" (paper)" if p else "") for s, p in zip(d["setting"], d["paper_setting"])],
                     fontsize=7)
        ax.set_xlabel(label)
        ax.set_title(name, fontsize=9)
    fig.suptitle("Ablation of PRESTO: one factor at a time (mean ± std over seeds; dashed: configured)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, stem, formats)


def make_ablation(layout, sources, presto, table_stem: str, figure_stem: str, formats, predict: str = "combiner") -> None:
    df, notes = ablation_frame(layout, sources, presto, predict)
    write_table(df, table_stem, caption="Ablation of PRESTO: one factor at a time from the configured setting, "
                                        "mean ± std over seeds", notes=notes, html=True)
    ablation_figure(df, figure_stem, formats)
