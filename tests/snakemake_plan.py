"""Dry runs of the repository's workflow for the tests: how many jobs of each rule Snakemake plans."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def planned_jobs(*args: str, results) -> dict[str, int]:
    """``snakemake -n`` from the repository root into ``results`` (plus ``args``): rule -> job count."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--config",
                          f"results={results}", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", out.stdout, re.M)}
