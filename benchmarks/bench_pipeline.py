"""Wall time and peak memory of the whole workflow from an empty results tree.

    python benchmarks/bench_pipeline.py                                  # embedded default, 2 cores
    python benchmarks/bench_pipeline.py --results /tmp/bench/results --cores 2 --json out.json
    python benchmarks/bench_pipeline.py --results /tmp/bench/noabl --config "ablation={'factors': {}}"

Runs ``snakemake --cores N --config results=DIR`` (plus ``--configfile`` if given) from the
repository root into DIR, which must not exist or be empty, so every job runs. While it runs, the
resident memory of snakemake and all its descendant processes is sampled every ``--interval``
seconds; the peak of the sum is the pipeline's peak memory (jobs running side by side add up), and
the largest single process is reported too. Afterwards the per-job benchmark files that the rules
write (``DIR/benchmarks/<rule>/...tsv``: wall seconds ``s``, ``cpu_time`` and peak ``max_rss`` in
MB) are tabulated per rule; on a shared machine a job's CPU time is the steadier figure. Every job, including those of rules without a ``benchmark:`` directive (data
preparation, reports), is also timed from the start and finish stamps of Snakemake's own log
(1 s resolution).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]


class TreeMemory:
    """Peak summed RSS of a process and its descendants, sampled in a background thread."""

    def __init__(self, pid: int, interval: float):
        self.root, self.interval = psutil.Process(pid), interval
        self.peak_sum = self.peak_one = 0
        self.peak_one_cmd = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        procs = [self.root]
        try:
            procs += self.root.children(recursive=True)
        except psutil.Error:
            return
        total = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:  # exited between listing and reading
                continue
            total += rss
            if rss > self.peak_one:
                self.peak_one = rss
                try:
                    self.peak_one_cmd = " ".join(p.cmdline())[:160]
                except psutil.Error:
                    pass
        self.peak_sum = max(self.peak_sum, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def rule_table(results: Path) -> pd.DataFrame:
    """One row per rule: jobs, summed / mean / max wall seconds and max RSS from its benchmark files."""
    rows = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        df = pd.read_csv(tsv, sep="\t")
        rule = tsv.relative_to(results / "benchmarks").parts[0]
        for _, r in df.iterrows():
            rss = pd.to_numeric(r.get("max_rss"), errors="coerce")
            cpu = pd.to_numeric(r.get("cpu_time"), errors="coerce")
            rows.append({"rule": rule, "job": str(tsv.relative_to(results / "benchmarks")), "s": float(r["s"]),
                         "cpu_s": float(cpu) if pd.notna(cpu) else float("nan"),
                         "max_rss_mb": float(rss) if pd.notna(rss) else float("nan")})
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "mean_s", "max_s", "cpu_s", "max_rss_mb"])
    jobs = pd.DataFrame(rows)
    return (jobs.groupby("rule")
            .agg(jobs=("s", "size"), total_s=("s", "sum"), mean_s=("s", "mean"), max_s=("s", "max"),
                 cpu_s=("cpu_s", "sum"), max_rss_mb=("max_rss_mb", "max"))
            .sort_values("total_s", ascending=False).reset_index())


_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")


def log_table(log_path: Path) -> pd.DataFrame:
    """Per rule: jobs and wall seconds from the job start / finish stamps of Snakemake's log."""
    stamp, rule, starts, jobs = None, None, {}, []
    for line in log_path.read_text().splitlines():
        if m := _STAMP.match(line):
            stamp = pd.to_datetime(m.group(1), format="%a %b %d %H:%M:%S %Y")
        elif m := _RULE.match(line):
            rule = (m.group(1), stamp)
        elif (m := _JOBID.match(line)) and rule is not None:
            starts[m.group(1)] = rule
            rule = None
        elif (m := _DONE.match(line)) and m.group(1) in starts:
            name, t0 = starts.pop(m.group(1))
            jobs.append({"rule": name, "s": (stamp - t0).total_seconds()})
    if not jobs:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "max_s"])
    return (pd.DataFrame(jobs).groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"), max_s=("s", "max"))
            .sort_values("total_s", ascending=False).reset_index())


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="/tmp/bench/results", help="results folder (must be empty or absent)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--configfile", default=None, help="default: the embedded default, config/config.yaml")
    ap.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                    help="more --config overrides, e.g. \"ablation={'factors': {}}\" (a run without the ablation)")
    ap.add_argument("--interval", type=float, default=0.5, help="memory sampling interval, seconds")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--log", default=None, help="snakemake's output goes here (default: RESULTS/../snakemake.log)")
    ap.add_argument("--tabulate-only", action="store_true",
                    help="run nothing; tabulate the benchmark files and the log of an earlier run")
    args = ap.parse_args(argv)

    results = Path(args.results).resolve()
    log_path = Path(args.log) if args.log else results.parent / f"{results.name}_snakemake.log"
    if args.tabulate_only:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(rule_table(results).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
            print(log_table(log_path).to_string(index=False, float_format=lambda v: f"{v:.0f}"))
        return {}
    if results.exists() and any(results.iterdir()):
        raise SystemExit(f"{results} is not empty; the benchmark runs the workflow from an empty results tree. "
                         "Name a new folder with --results, or empty this one yourself.")
    results.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["snakemake", "--cores", str(args.cores)]
    if args.configfile:
        cmd += ["--configfile", args.configfile]
    cmd += ["--config", f"results={results}", *args.config]
    load = os.getloadavg()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
          f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("command: " + " ".join(cmd) + f"  (in {ROOT}; output in {log_path})", flush=True)
    cpu0 = os.times()
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid, args.interval) as mem:
            rc = proc.wait()
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    # CPU seconds of snakemake and every job (each process waits for its children, so their times
    # add up into snakemake's, and snakemake's into ours once it has been waited for)
    cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    load_end = os.getloadavg()
    if rc != 0:
        print(f"snakemake exited with status {rc} after {wall:.0f} s; see {log_path}", file=sys.stderr)
    table = rule_table(results)
    from_log = log_table(log_path)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("per rule, from the rules' benchmark files (wall s, CPU s, max_rss MB):")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        print("per rule, every job, from Snakemake's log (wall s, 1 s resolution):")
        print(from_log.to_string(index=False, float_format=lambda v: f"{v:.0f}"))
    print(f"benchmarked jobs: {int(table['jobs'].sum()) if len(table) else 0}, their summed wall time "
          f"{table['total_s'].sum():.0f} s (jobs run side by side on {args.cores} cores)")
    print(f"total wall time: {wall:.0f} s ({wall / 60:.1f} min); exit status {rc}; load average at end "
          f"{load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(f"CPU time of the whole run: {cpu:.0f} s, i.e. {cpu / wall:.2f} cores busy on average; with "
          f"{args.cores} cores to itself the run needs at least {cpu / args.cores:.0f} s ({cpu / args.cores / 60:.1f} min)")
    print(f"peak memory: {mem.peak_sum / 2**30:.2f} GiB summed over snakemake and its jobs; largest single "
          f"process {mem.peak_one / 2**30:.2f} GiB ({mem.peak_one_cmd})")
    out = {"command": " ".join(cmd), "wall_s": wall, "cpu_s": cpu, "exit_status": rc, "peak_rss_sum_gib": mem.peak_sum / 2**30,
           "peak_rss_one_gib": mem.peak_one / 2**30, "rules": table.to_dict(orient="records"),
           "rules_from_log": from_log.to_dict(orient="records")}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if rc != 0:
        raise SystemExit(rc)
    return out


if __name__ == "__main__":
    main()
