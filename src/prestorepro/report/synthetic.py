"""App. C / Fig. 6 in numbers: the synthetic data against Eqs. 35-38, the runs' Err_S and accuracy, and the
diagnostics that tell a search failure from an objective that prefers another partition."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from prestorepro.catalogue import paper_name
from prestorepro.report.paper import SYNTHETIC
from prestorepro.report.tables import _int_columns


def stats_t975(n: int) -> float:
    """t_{0.975, n-1}: the factor of s / sqrt(n) in a 95 % interval of a mean of n seeds."""
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def diagnostic_scalars(metrics: Mapping) -> dict[str, float]:
    """The synthetic run's diagnostics (``synthetic.run``) as ``diag_*`` numbers, one per table row:
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
    # the methods run beside PRESTO (SPEC §5b): does any recover the true partition where PRESTO does not?
    for method, entry in (summary.get("methods") or {}).items():
        name = paper_name(method, "table1")
        n = int(entry["seeds"])
        for key, label, scale in (("initial_err_s_normalised", "Err_S / pairs after round 1", 1),
                                  ("err_s_normalised", "Err_S / pairs, final (parts: argmax of the gate)", 1),
                                  ("train_accuracy_assigned", "train accuracy (%) routed by the gate, final", 100),
                                  ("test_accuracy_gated", "test accuracy (%) routed by the gate (top-1), final", 100),
                                  ("test_accuracy_mixture", "test accuracy (%) of the gate-weighted mixture, final",
                                   100),
                                  ("rounds_run", "rounds run", 1)):
            if key not in entry:
                continue
            rows.append({"quantity": f"{name}: {label}", "ours": scale * entry[key]["mean"],
                         "ours_std": scale * entry[key]["std"],
                         "ours_ci95": scale * entry[key]["std"] * (stats_t975(n) / math.sqrt(n) if n > 1 else math.nan),
                         "paper": None, "seeds": n, "device": summary.get("device")})
    df = pd.DataFrame(rows)
    df["difference"] = df["ours"] - df["paper"]
    df = df.round(4)[["quantity", "ours", "ours_std", "ours_ci95", "paper", "difference", "seeds", "device"]]
    return _int_columns(df, ["seeds"])
