"""The DAG of a configured run: every job Snakemake plans (``snakemake -n --forceall``), its edges, and the
critical path (the longest chain of dependent jobs by their projected seconds)."""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class PlannedJob:
    rule: str
    wildcards: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    benchmark: str | None = None

    @property
    def key(self) -> tuple:
        return (self.rule, tuple(sorted(self.wildcards.items())))


def _split_paths(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def plan(configfile: str | Path, results: str | Path, cwd: Path = ROOT) -> list[PlannedJob]:
    """Every job of the workflow for ``configfile`` writing into ``results`` (``snakemake -n --forceall``),
    sorted by rule and outputs: Snakemake's dry run lists them in an order that changes from run to run, and
    job indices (edges, critical path, per-job rows) must mean the same job in every call."""
    # A results tree that does not exist (a name to plan under, as the forecast's "__forecast__") is planned in a
    # scratch folder and its paths written back as given, so that nothing of the plan can land in the checkout
    # (a dry run writes nothing into its tree: tests/test_inspection.py).
    with tempfile.TemporaryDirectory(prefix="plan-") as scratch:
        where = results if Path(cwd, results).is_dir() else Path(scratch) / "results"
        out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--configfile", str(configfile),
                              "--config", f"results={where}"], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"snakemake could not plan {configfile}:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    text = out.stdout.replace(str(where), str(results)) if where != results else out.stdout
    jobs, cur = [], None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            cur = PlannedJob(m.group(1), {}, [], [])
            jobs.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^    (input|output|benchmark|wildcards): (.*)$", line)
        if not m:
            continue
        field_, value = m.groups()
        if field_ == "input":
            cur.inputs = _split_paths(value)
        elif field_ == "output":
            cur.outputs = _split_paths(value)
        elif field_ == "benchmark":
            cur.benchmark = value.strip()
        else:
            cur.wildcards = dict(kv.split("=", 1) for kv in _split_paths(value))
    if not jobs:
        raise RuntimeError(f"snakemake planned no jobs for {configfile}:\n{out.stdout[-2000:]}")
    return sorted(jobs, key=lambda j: (j.rule, j.outputs, sorted(j.wildcards.items())))


def edges(jobs: list[PlannedJob]) -> dict[int, list[int]]:
    """Job index -> the indices of the jobs it needs (an output of one is an input of the other)."""
    producer = {o: i for i, j in enumerate(jobs) for o in j.outputs}
    return {i: sorted({producer[f] for f in j.inputs if f in producer and producer[f] != i})
            for i, j in enumerate(jobs)}


def critical_path(jobs: list[PlannedJob], seconds: list[float]) -> tuple[float, list[int]]:
    """Longest chain of dependent jobs by projected seconds: the wall time with unlimited parallel jobs."""
    deps = edges(jobs)
    finish: dict[int, float] = {}
    via: dict[int, int | None] = {}

    def visit(i: int) -> float:
        if i not in finish:
            finish[i] = 0.0  # guards against a cycle (Snakemake plans none)
            best, arg = 0.0, None
            for d in deps[i]:
                f = visit(d)
                if f > best:
                    best, arg = f, d
            finish[i], via[i] = best + seconds[i], arg
        return finish[i]

    sys.setrecursionlimit(max(10000, 4 * len(jobs)))
    end = max(range(len(jobs)), key=visit)
    chain, cur = [], end
    while cur is not None:
        chain.append(cur)
        cur = via.get(cur)
    return finish[end], chain[::-1]
