"""Figures (PNG + PDF), drawn from stored metrics and arrays only."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
                   formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    """Paper Fig. 6: (a) the true partition; (b)-(d) PRESTO's partition and SVMs at three rounds.

    A requested round past the last one run shows the last round."""
    x, y, group, per_round = arrays["x"], arrays["y"], arrays["group"], arrays["per_round"]
    fig, axes = plt.subplots(1, 1 + len(snapshot_rounds), figsize=(4 * (1 + len(snapshot_rounds)), 3.8),
                             sharex=True, sharey=True)
    _scatter_partition(axes[0], x, y, group, "(a) true partition S*_k")
    for i, r in enumerate(snapshot_rounds):
        j = min(r, len(per_round)) - 1
        h = history[j]
        _scatter_partition(axes[i + 1], x, y, per_round[j].astype(int),
                           f"({chr(98 + i)}) round {h['round']}: acc {100 * h['accuracy']:.1f}%, "
                           f"Err_S {h['err_s_normalised']:.3f}", lines=(h["w"], h["b"]))
    fig.suptitle("PRESTO with K linear SVMs on the synthetic data (o: y=+1, x: y=-1; lines: w_k.x+b_k=0)",
                 fontsize=10)
    return save_figure(fig, stem, formats)
