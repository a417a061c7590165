"""Compare the metrics of two results trees, leaving out what differs between identical runs.

    python benchmarks/compare_results.py BEFORE_RESULTS AFTER_RESULTS [--json out.json]

For every ``metrics.json`` (and the synthetic ``summary.json``) present in both trees, the two files
are compared value by value after dropping what is not a result: timings (any key holding
``seconds``, ``_s`` or ``duration``, and the selection/training time ratio), memory readings
(``memory``, ``peak_memory``, ``*_mib``: RSS and allocator peaks vary run to run), and the provenance fields that name the run rather than its settings
(``created``, ``git_commit``, ``versions``). Floats must be equal exactly (CPU runs of the same code
and seed are bit-for-bit reproducible). An older header layout is read as today's
(``header``). Keys present on one side only are listed apart (a change of the metrics layout), not
counted as differences.

Prints one line per file that differs, with its first differing values, then a summary; exits 1 when
any file differs in a shared value.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DROP_KEYS = {"memory", "peak_memory", "created", "git_commit", "versions", "selection_training_ratio"}


def _timing(key: str) -> bool:
    # timings, and memory readings (``*_mib``: RSS and allocator peaks)
    return "seconds" in key or key.endswith(("_s", "_mib")) or "duration" in key or key == "total"


def header(m: dict) -> dict:
    """The one metrics header (``jobs.common.header``) from an older layout: Table 1 kept the dataset's
    config entry under ``dataset``, the compress stage the name under ``dataset_name``."""
    m = dict(m)
    if isinstance(m.get("dataset"), dict):
        m["dataset_config"] = m.pop("dataset")
    if "dataset_name" in m:
        m["dataset"] = m.pop("dataset_name")
    return m


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in DROP_KEYS and not _timing(k)}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def diff(a: Any, b: Any, path: str = "") -> tuple[list[str], list[str]]:
    """(differences in shared values, keys present on one side only)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out, only = [], []
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}" if path else k
            if k not in a or k not in b:
                only.append(f"{p} ({'after' if k in b else 'before'} only)")
                continue
            d, o = diff(a[k], b[k], p)
            out += d
            only += o
        return out, only
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} -> {len(b)}"], []
        out, only = [], []
        for i, (x, y) in enumerate(zip(a, b)):
            d, o = diff(x, y, f"{path}[{i}]")
            out += d
            only += o
        return out, only
    return ([] if a == b else [f"{path}: {a!r} -> {b!r}"]), []


def compare(before: Path, after: Path) -> dict:
    names = ("metrics.json", "summary.json")
    files_a = {p.relative_to(before) for n in names for p in before.rglob(n)}
    files_b = {p.relative_to(after) for n in names for p in after.rglob(n)}
    report = {"compared": 0, "identical": [], "different": {}, "layout": {}, "before_only": sorted(map(str, files_a - files_b)),
              "after_only": sorted(map(str, files_b - files_a))}
    for rel in sorted(files_a & files_b):
        a = normalise(header(json.loads((before / rel).read_text())))
        b = normalise(header(json.loads((after / rel).read_text())))
        d, only = diff(a, b)
        report["compared"] += 1
        if d:
            report["different"][str(rel)] = d
        else:
            report["identical"].append(str(rel))
        if only:
            report["layout"][str(rel)] = only
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--json", default=None, help="also write the whole report here")
    args = ap.parse_args(argv)
    report = compare(args.before, args.after)
    for rel, d in report["different"].items():
        print(f"DIFFERENT {rel}: {len(d)} value(s), e.g. {'; '.join(d[:3])}")
    layouts = sorted({k.split(' (')[0].split('.')[0] + (' (after only)' if 'after only' in k else ' (before only)')
                      for only in report["layout"].values() for k in only})
    print(f"{report['compared']} files compared: {len(report['identical'])} identical, "
          f"{len(report['different'])} different; only before: {len(report['before_only'])}, "
          f"only after: {len(report['after_only'])}")
    if layouts:
        print("top-level keys on one side only (layout):", ", ".join(layouts))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 1 if report["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
