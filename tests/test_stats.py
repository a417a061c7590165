"""Intervals and paired comparisons over seeds (report.stats), and the tables that carry them."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prestorepro.report import stats, table1, tables


def test_t_interval_golden():
    # three values 90, 92, 97: mean 93, s = sqrt(13), t_{0.975, 2} = 4.302653
    mean, half = stats.interval([90.0, 92.0, 97.0])
    assert mean == pytest.approx(93.0)
    assert half == pytest.approx(4.302652729749462 * math.sqrt(13.0) / math.sqrt(3.0), rel=1e-12)
    # ten values: t_{0.975, 9} = 2.262157
    v = np.arange(10.0)
    assert stats.interval(v)[1] == pytest.approx(2.262157162798205 * v.std(ddof=1) / math.sqrt(10), rel=1e-12)
    assert math.isnan(stats.interval([5.0])[1])
    with pytest.raises(ValueError):
        stats.interval([])


def test_paired_differences_by_seed():
    a = {0: 90.0, 1: 92.0, 2: 95.0, 3: 80.0}
    b = {0: 88.0, 1: 92.0, 2: 91.0, 7: 10.0}  # seed 3 and 7 are not shared
    p = stats.paired(a, b)
    # differences 2, 0, 4 over seeds 0, 1, 2
    assert (p.wins, p.ties, p.losses, p.n) == (2, 1, 0, 3)
    assert p.mean == pytest.approx(2.0)
    assert p.half_width == pytest.approx(4.302652729749462 * 2.0 / math.sqrt(3.0), rel=1e-12)
    assert not p.resolved  # 2 - 4.97 < 0 < 2 + 4.97
    assert stats.marked(p) == "+2.00 ± 4.97 (2/1/0) †"
    q = stats.paired({0: 3.0, 1: 3.1, 2: 2.9}, {0: 1.0, 1: 1.0, 2: 1.0})
    assert q.resolved and stats.marked(q) == "+2.00 ± 0.25 (3/0/0)"
    assert stats.paired({0: 1.0}, {1: 1.0}) is None and stats.marked(None) is None
    one = stats.paired({0: 1.0}, {0: 2.0})
    assert stats.marked(one) == "-1.00 ± – (0/0/1) †"  # one seed resolves nothing


def test_within_the_interval():
    assert stats.within(90.0, 91.0, 1.5) is True and stats.within(90.0, 93.0, 1.5) is False
    assert stats.within(90.0, 91.0, math.nan) is None


def _metrics(root, method, seed, combiner, router):
    path = Path(root) / "table1" / "d" / "k4" / method / f"seed{seed}" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dataset": "d", "source": "digits", "method": method, "k": 4, "seed": seed,
                                "predictors": {"combiner": {"test_accuracy": combiner, "test_macro_f1": combiner},
                                               "router": {"test_accuracy": router, "test_macro_f1": router}}}))
    return str(path)


def test_table1_carries_intervals_the_paired_comparison_and_the_best_method(tmp_path):
    files = [_metrics(tmp_path, "presto", s, c, r) for s, (c, r) in enumerate([(0.90, 0.95), (0.92, 0.97), (0.97, 0.93)])]
    files += [_metrics(tmp_path, "equal_kmeans", s, c, r)
              for s, (c, r) in enumerate([(0.93, 0.91), (0.94, 0.92), (0.98, 0.90)])]
    df, notes = table1.table1_frame(files, "combiner")
    got = df.set_index(["predictor", "method"])
    presto = got.loc[("combiner", "PRESTO")]
    assert presto["accuracy_ci95"] == pytest.approx(4.302652729749462 * math.sqrt(13.0) / math.sqrt(3.0), abs=1e-4)
    assert presto["accuracy_ci"] == f"[{93 - presto['accuracy_ci95']:.2f}, {93 + presto['accuracy_ci95']:.2f}]"
    assert pd.isna(presto["vs_presto"])
    ekm = got.loc[("combiner", "Equal-KMeans")]
    # Equal-KMeans - PRESTO per seed: 3, 2, 1 points: mean 2, s 1, half-width 4.30 / sqrt(3)
    assert ekm["vs_presto_mean"] == pytest.approx(2.0) and (ekm["vs_presto_wins"], ekm["vs_presto_losses"]) == (3, 0)
    assert ekm["vs_presto_ci95"] == pytest.approx(4.302652729749462 / math.sqrt(3.0), abs=1e-4)
    assert ekm["vs_presto"] == "+2.00 ± 2.48 (3/0/0) †"  # three wins, but the interval [-0.48, 4.48] holds 0
    # the best of each predictor is bold (in the formatted column only)
    assert ekm["accuracy"].startswith("**") and not presto["accuracy"].startswith("**")
    assert got.loc[("router", "PRESTO"), "accuracy"].startswith("**")
    # router: Equal-KMeans - PRESTO = -4, -5, -3: every seed a loss, resolved
    assert got.loc[("router", "Equal-KMeans"), "vs_presto"] == "-4.00 ± 2.48 (0/0/3)"
    assert any("Student's t" in n for n in notes)
    # the CSV keeps the raw numbers and no bold marker; the Markdown shows only the formatted columns
    tables.write_table(df, tmp_path / "t1", notes=notes, shown=table1.TABLE1_SHOWN)
    csv = pd.read_csv(tmp_path / "t1.csv")
    assert "accuracy_mean" in csv and not csv["accuracy"].str.contains(r"\*\*").any()
    md = (tmp_path / "t1.md").read_text()
    assert "accuracy_mean" not in md and "| **95.33 ± 1.53** |" not in md and "**95.00 ± 2.65**" in md
