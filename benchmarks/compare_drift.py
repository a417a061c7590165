"""What differs between two results trees of the same config and code run on two machines (or under two
``ONEDNN_MAX_CPU_ISA`` settings on one): docs/drift.md's measurement.

    python benchmarks/compare_drift.py A_RESULTS B_RESULTS [--json out.json]

Reports, per kind of output: array files (prepared data, embeddings, partitions and test routes, synthetic
rounds) bit for bit (the prepared data's arrays, without the provenance embedded in their meta); metrics
files by ``compare_results.py``'s rule (every value but timings, memory and provenance); every test
accuracy in the metrics (largest difference, per stage); and the tables' CSVs cell by cell (largest
difference of every numeric column that is not a timing or memory reading).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_results import diff, header, normalise  # noqa: E402


def _arrays_equal(a: Path, b: Path) -> bool:
    with np.load(a) as za, np.load(b) as zb:
        keys = [k for k in za.files if k != "meta_json"]
        return sorted(za.files) == sorted(zb.files) and all(
            za[k].dtype == zb[k].dtype and np.array_equal(za[k], zb[k]) for k in keys)


def _accuracies(obj, path=""):
    """(path, value) of every test_accuracy in a metrics object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "test_accuracy" and isinstance(v, (int, float)):
                yield path + k, float(v)
            else:
                yield from _accuracies(v, f"{path}{k}.")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _accuracies(v, f"{path}{i}.")


def _skip_column(name: str) -> bool:
    return any(s in name for s in ("seconds", "time", "mib", "memory", "_s_", "ratio", "speedup")) or name.endswith("_s")


def compare(a: Path, b: Path) -> dict:
    report: dict = {"arrays": defaultdict(lambda: [0, 0]), "metrics": defaultdict(lambda: [0, 0]),
                    "accuracy": {}, "tables": {}}
    for f in sorted(a.rglob("*.npz")):
        rel = f.relative_to(a)
        if (b / rel).is_file() and "checkpoints" not in rel.parts:
            kind = rel.parts[0] + "/" + f.name
            report["arrays"][kind][0] += 1
            report["arrays"][kind][1] += _arrays_equal(f, b / rel)
    acc = defaultdict(list)
    for f in sorted(a.rglob("metrics.json")):
        rel = f.relative_to(a)
        if not (b / rel).is_file():
            continue
        ma, mb = json.loads(f.read_text()), json.loads((b / rel).read_text())
        stage = rel.parts[0]
        report["metrics"][stage][0] += 1
        report["metrics"][stage][1] += not diff(normalise(header(ma)), normalise(header(mb)))[0]
        va, vb = dict(_accuracies(ma)), dict(_accuracies(mb))
        acc[stage] += [abs(va[k] - vb[k]) for k in va if k in vb]
    report["accuracy"] = {s: {"values": len(v), "changed": sum(x > 0 for x in v), "max_abs_points": 100 * max(v)}
                          for s, v in acc.items() if v}
    for f in sorted((a / "tables").glob("*.csv")) if (a / "tables").is_dir() else []:
        if not (b / "tables" / f.name).is_file():
            continue
        ta, tb = pd.read_csv(f), pd.read_csv(b / "tables" / f.name)
        cols = [c for c in ta.columns if c in tb.columns and pd.api.types.is_numeric_dtype(ta[c])
                and pd.api.types.is_numeric_dtype(tb[c]) and not _skip_column(c.lower())]
        worst = {}
        if len(ta) == len(tb):
            for c in cols:
                d = (ta[c] - tb[c]).abs()
                d = d[~(ta[c].isna() & tb[c].isna())]
                m = float(d.max()) if len(d) else 0.0
                if m > 0 or math.isnan(m):
                    worst[c] = m
        report["tables"][f.name] = {"columns": len(cols), "rows": len(ta), "same_shape": len(ta) == len(tb),
                                    "identical": not worst and len(ta) == len(tb), "largest_differences": worst}
    report["arrays"] = {k: {"files": n, "identical": same} for k, (n, same) in report["arrays"].items()}
    report["metrics"] = {k: {"files": n, "identical": same} for k, (n, same) in report["metrics"].items()}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    r = compare(args.a, args.b)
    print("array files (bit for bit):")
    for k, v in sorted(r["arrays"].items()):
        print(f"  {k:40s} {v['identical']}/{v['files']} identical")
    print("metrics files (every value but timings, memory, provenance):")
    for k, v in sorted(r["metrics"].items()):
        print(f"  {k:40s} {v['identical']}/{v['files']} identical")
    print("test accuracies in the metrics:")
    for k, v in sorted(r["accuracy"].items()):
        print(f"  {k:40s} {v['changed']}/{v['values']} changed, largest by {v['max_abs_points']:.2f} points")
    print("tables (numeric columns but timings and memory):")
    for k, v in sorted(r["tables"].items()):
        worst = ", ".join(f"{c} {d:.4g}" for c, d in sorted(v["largest_differences"].items(), key=lambda x: -x[1])[:4])
        print(f"  {k:28s} {'identical' if v['identical'] else 'differs: ' + worst}")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
