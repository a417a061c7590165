"""Figures (PNG + PDF), drawn from stored metrics and arrays only."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from prestorepro.catalogue import paper_name  # noqa: E402
from prestorepro.io import atomic_path  # noqa: E402

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")


def save_figure(fig, stem: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    out = []
    for ext in formats:
        path = f"{stem}.{ext}"
        with atomic_path(path, suffix=f".tmp.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def _scatter_partition(ax, x, y, parts, title, lines=None):
    for k in np.unique(parts):
        sel = parts == k
        for label, marker in ((1, "o"), (-1, "x")):
            s = sel & (y == label)
            ax.scatter(x[s, 0], x[s, 1], s=3, marker=marker, color=COLORS[int(k) % len(COLORS)], alpha=0.5,
                       linewidths=0.5)
    if lines is not None:
        w, b = lines
        xs = np.linspace(x[:, 0].min(), x[:, 0].max(), 50)
        for k in range(len(b)):
            if abs(w[k][1]) > 1e-9:
                ax.plot(xs, -(w[k][0] * xs + b[k]) / w[k][1], color=COLORS[k % len(COLORS)], lw=1.2)
    ax.set_xlim(x[:, 0].min() - 0.1, x[:, 0].max() + 0.1)
    ax.set_ylim(x[:, 1].min() - 0.3, x[:, 1].max() + 0.3)
    ax.set_xlabel("x[1] (standardised)")
    ax.set_ylabel("x[2] (standardised)")
    ax.set_title(title, fontsize=9)


def fig6_synthetic(arrays: dict, history: list[dict], snapshot_rounds: Sequence[int], stem: str | Path,
                   formats: Sequence[str] = ("png", "pdf"), stop_reason: str = "partition stable",
                   method: str = "presto", expert: str | None = None) -> list[str]:
    """Paper Fig. 6: (a) the true partition; (b)-(d) the method's partition and linear components at three
    rounds (PRESTO's SVMs; a mixture of experts' experts, its partition the one its gate routes by).

    A run stops before its last round only when the partition is stable (every later round would train
    the same partition from the same state), so a requested round past the last one run shows that
    stable state, labelled so; past the last round of a run that did not stop early there is nothing
    to show, and that is an error (the config check refuses such rounds before anything runs)."""
    x, y, group, per_round = arrays["x"], arrays["y"], arrays["group"], arrays["per_round"]
    late = [r for r in snapshot_rounds if r > len(per_round)]
    if late and not stop_reason.startswith("partition stable"):
        raise ValueError(f"Fig. 6 panel round(s) {late} come after the run's last round {len(per_round)} "
                         f"(stopped: {stop_reason}); draw rounds <= {len(per_round)}")
    fig, axes = plt.subplots(1, 1 + len(snapshot_rounds), figsize=(4 * (1 + len(snapshot_rounds)), 3.8),
                             sharex=True, sharey=True)
    _scatter_partition(axes[0], x, y, group, "(a) true partition S*_k")
    for i, r in enumerate(snapshot_rounds):
        j = min(r, len(per_round)) - 1
        h = history[j]
        title = (f"round {r} (= round {h['round']}, partition stable)" if r > len(per_round)
                 else f"round {h['round']}")
        _scatter_partition(axes[i + 1], x, y, per_round[j].astype(int),
                           f"({chr(98 + i)}) {title}: acc {100 * h['accuracy']:.1f}%, "
                           f"Err_S {h['err_s_normalised']:.3f}", lines=(h["w"], h["b"]))
    what = ("PRESTO with K linear SVMs" if method == "presto" else
            f"{paper_name(method, 'table1')} with K linear {expert or 'hinge'} experts (parts: argmax of the gate)")
    fig.suptitle(f"Fig. 6: {what} on the synthetic data (colour: part; o: y=+1, x: y=-1; "
                 "lines: w_k·x + b_k = 0; Err_S: split same-component pairs / all such pairs)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, stem, formats)


def fig7_k_sweep(df, stem: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    """Paper Fig. 7 (App. D): PRESTO's test accuracy and macro-F1 against the number of parts K.

    ``df`` is ``tables.k_sweep_frame``'s frame: one panel per dataset, one curve per measure (colour and
    marker) and test-time predictor (solid: the first predictor of the frame, the configured one;
    dashed: the other), mean ± std over seeds as error bars; where the paper has a number (its Table-1
    PRESTO row, at the Table-5 K) it is drawn hollow."""
    names = list(dict.fromkeys(df["dataset"]))
    predictors = list(dict.fromkeys(df["predictor"]))
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        for j, predictor in enumerate(predictors):
            d = df[(df["dataset"] == name) & (df["predictor"] == predictor)].sort_values("K")
            for i, (col, label, marker) in enumerate((("accuracy", "accuracy", "o"), ("macro_f1", "macro-F1", "s"))):
                dodge = 0.05 * (2 * i - 1) + 0.1 * (j - 0.5) * (len(predictors) > 1)  # keeps error bars apart
                ax.errorbar(d["K"] + dodge, d[f"{col}_mean"], yerr=d[f"{col}_std"], color=COLORS[i], marker=marker,
                            ms=5, capsize=3, lw=1.2, ls="-" if j == 0 else "--", label=f"ours, {label}, {predictor}")
                paper = d[d[f"paper_{col}"].notna()]
                if len(paper) and j == 0:
                    ax.plot(paper["K"], paper[f"paper_{col}"], linestyle="none", marker=marker, ms=9,
                            markerfacecolor="none", markeredgecolor=COLORS[i], markeredgewidth=1.5,
                            label=f"paper (Table 1), {label}")
        d = df[df["dataset"] == name]
        seeds = sorted(set(int(s) for s in d["seeds"]))
        ax.set_title(f"{name} (seeds per K: {', '.join(map(str, seeds))})", fontsize=10)
        ax.set_xlabel("number of parts K")
        ax.set_ylabel("test score (%)")
        ax.set_xticks(sorted(set(d["K"].astype(int))))
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.suptitle("Fig. 7: PRESTO's accuracy and macro-F1 against K (mean ± std over seeds; solid: "
                 f"{predictors[0]}, dashed: {', '.join(predictors[1:]) or '-'})", fontsize=10)
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return save_figure(fig, stem, formats)


# legends under their panel, so they never hide a curve
_BELOW = {"fontsize": 8, "loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncol": 2, "frameon": False}


def presto_rounds(runs: Sequence[tuple[int, list[dict]]], bounds: tuple[int, int] | None, title: str,
                  stem: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    """Algorithm 1 round by round: (a) the objective G (SPEC §4 step 5) per round, one curve per
    seed, rejected rounds marked; (b) the part sizes |S_k| of the first seed against the allowed
    [N/K - leeway, N/K + leeway]; (c) points moved by the assignment step, mean ± std over seeds;
    and, where the history records them (the synthetic experiment, App. C), (d) the training accuracy
    and the normalised Err_S per round, mean ± std over seeds.

    ``runs``: (seed, history) pairs, history as stored in the metrics file (round, objective,
    accepted, part_sizes, moves); ``bounds``: the integer size bounds, None when unconstrained."""
    synthetic = all("err_s_normalised" in e and "accuracy" in e for _, h in runs for e in h)
    fig, axes = plt.subplots(1, 4 if synthetic else 3, figsize=(18 if synthetic else 13.5, 4.6))
    rounds = max(len(h) for _, h in runs)
    r = np.arange(1, rounds + 1)

    def stacked(key):
        a = np.full((len(runs), rounds), np.nan)
        for i, (_, h) in enumerate(runs):
            a[i, :len(h)] = [e[key] for e in h]
        return a

    def band(ax, a, color, label):
        mean, std = np.nanmean(a, 0), np.nan_to_num(np.nanstd(a, 0))
        ax.errorbar(r, mean, yerr=std, color=color, marker="o", ms=3, capsize=3, lw=1.2, label=label)

    # G spans orders of magnitude and rejected rounds jump up: one curve per seed (on a log scale)
    # shows that better than a mean whose error bar would cross zero
    G = stacked("objective")
    for i, (seed, h) in enumerate(runs):
        axes[0].plot([e["round"] for e in h], [e["objective"] for e in h], marker="o", ms=3, lw=1.2,
                     color=COLORS[i % len(COLORS)], label=f"seed {seed}")
    rejected = [(e["round"], e["objective"]) for _, h in runs for e in h if not e.get("accepted", True)]
    if rejected:
        axes[0].plot(*zip(*rejected), "x", color="k", ms=8, mew=1.5, label="rejected round (G not decreased)")
    if np.nanmin(G) > 0 and np.nanmax(G) / np.nanmin(G) > 20:
        axes[0].set_yscale("log")
    axes[0].set_xlabel("round r")
    axes[0].set_ylabel("objective G = Σ losses + λ Σ‖θ_k‖²")
    axes[0].set_title("(a) objective per round", fontsize=10)
    axes[0].legend(**_BELOW)

    seed0, h0 = runs[0]
    sizes = np.array([e["part_sizes"] for e in h0])
    for k in range(sizes.shape[1]):
        axes[1].plot(np.arange(1, len(h0) + 1), sizes[:, k], marker=".", color=COLORS[k % len(COLORS)],
                     label=f"part {k + 1}")
    if bounds is not None:
        for b in bounds:
            axes[1].axhline(b, color="k", ls="--", lw=0.8)
        axes[1].text(1, bounds[1], " allowed size range", va="bottom", fontsize=8)
    axes[1].set_xlabel("round r")
    axes[1].set_ylabel("part size |S_k| (points)")
    axes[1].set_title(f"(b) part sizes, seed {seed0}", fontsize=10)
    axes[1].legend(**_BELOW)

    band(axes[2], stacked("moves"), COLORS[1], f"mean ± std over {len(runs)} seed(s)")
    axes[2].set_xlabel("round r")
    axes[2].set_ylabel("points moved to another part")
    axes[2].set_title("(c) moves proposed by the assignment step", fontsize=10)
    axes[2].legend(**_BELOW)
    if synthetic:
        band(axes[3], 100 * stacked("accuracy"), COLORS[2], "training accuracy (%)")
        axes[3].set_ylabel("training accuracy (%)", color=COLORS[2])
        err = axes[3].twinx()
        band(err, stacked("err_s_normalised"), COLORS[4], "Err_S / same-component pairs")
        err.set_ylabel("Err_S / same-component pairs", color=COLORS[4])
        axes[3].set_xlabel("round r")
        axes[3].set_title("(d) accuracy and Err_S per round", fontsize=10)
        lines = axes[3].get_legend_handles_labels(), err.get_legend_handles_labels()
        axes[3].legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], **_BELOW)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, stem, formats)
