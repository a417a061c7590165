"""The plan as a user and a cluster see it: the size of a dry run, which jobs reach the queue, and what
parsing the workflow imports.

    python benchmarks/bench_plan.py [--configfile config/paper.yaml] [--repeats 3]

Prints, for the config: the dry run's bytes and lines (``snakemake -n``, into a results folder that does
not exist, so every job is planned), its bytes by kind of line, the job counts by rule split into those
submitted to a cluster and the local rules (``localrule: True``, read from workflow/rules), the time to
import the modules the workflow imports at parse time, and whether any heavy package is among them.
"""
from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARSE_IMPORTS = ["prestorepro.codedeps", "prestorepro.config", "prestorepro.config_checks", "prestorepro.config_yaml",
                 "prestorepro.plan", "prestorepro.lock", "prestorepro.snakemake_state", "prestorepro.stamps",
                 "prestorepro.report.paper"]
HEAVY = ("torch", "torchvision", "ortools", "sklearn", "k_means_constrained", "medmnist", "scipy", "matplotlib")


def local_rules() -> set[str]:
    out = set()
    for smk in [ROOT / "Snakefile", ROOT / "workflow" / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")]:
        if not smk.is_file():
            continue
        for names in re.findall(r"^localrules:\s*([\w, ]+)$", smk.read_text(), re.M):  # the older directive
            out.update(n.strip() for n in names.split(",") if n.strip())
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M)[1:]:
            if re.search(r"^    localrule: True$", block, re.M):
                out.add(re.match(r"rule (\w+):", block).group(1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", default="config/paper.yaml")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", args.configfile, "--config",
                              f"results={tmp}/results"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(out.stdout[-3000:] + out.stderr[-3000:])
    # the paths as a user sees them with `results: results`, so the size does not depend on the scratch name
    text = out.stdout.replace(f"{tmp}/results", "results") + out.stderr.replace(f"{tmp}/results", "results")
    print(f"{args.configfile}: dry run {len(text.encode()) / 1000:.0f} KB, {text.count(chr(10))} lines")
    by_kind = collections.Counter()
    for line in text.splitlines():
        key = line.strip().split(":")[0] if re.match(r"^\s+\w+:", line) else "other"
        by_kind[key] += len(line) + 1
    print("  by line kind (KB): " + ", ".join(f"{k} {v / 1000:.0f}" for k, v in by_kind.most_common(8)))

    table = text.split("Job stats:")[1]
    counts = {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}
    total = counts.pop("total")
    local = local_rules()
    queued = {k: v for k, v in counts.items() if k not in local}
    print(f"  jobs {total}: submitted {sum(queued.values())}, local {total - sum(queued.values())}")
    print("  submitted: " + ", ".join(f"{k} {v}" for k, v in sorted(queued.items(), key=lambda kv: -kv[1])))

    # what workflow/rules/common.smk does at parse time: the imports, the config check, the plan
    code = (f"import sys, time; t = time.perf_counter()\nfor m in {PARSE_IMPORTS!r}: __import__(m)\n"
            "import yaml\nfrom prestorepro.config import validate_config\nfrom prestorepro.plan import Plan\n"
            f"config = yaml.safe_load(open({args.configfile!r}))\nvalidate_config(config)\nPlan(config)\n"
            f"print(time.perf_counter() - t, sorted(m for m in {HEAVY!r} if m in sys.modules))")
    times, heavy = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        probe = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        seconds, heavy = probe.stdout.split(" ", 1)
        times.append((float(seconds), wall))
    best = min(times)
    print(f"  parse-time imports, config check and plan: {best[0] * 1000:.0f} ms (process {best[1] * 1000:.0f} ms, best of {args.repeats}); "
          f"heavy packages loaded: {heavy.strip()}")


if __name__ == "__main__":
    main()
