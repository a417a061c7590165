"""Dry runs of the repository's workflow for the tests (how many jobs of each rule Snakemake plans), and
copies of the repository to run it in."""
import os
import re
import shutil
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


def copy_repository(dest: Path, *, commit: bool = False) -> None:
    """The checkout's files as git sees them (tracked and untracked, not ignored) copied to ``dest``; with
    ``commit``, made a git repository of one commit holding them (a clean clone: ``git status`` shows what
    is written into it afterwards)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    if commit:
        commit_repository(dest)


def commit_repository(dest: Path) -> None:
    """``dest`` made a git repository of one commit holding its files."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)


def add_import_sentinel(repo: Path) -> Path:
    """The data job module of the repository at ``repo``, edited to write the path it was imported from
    into the file named by $OWN_CODE_SENTINEL (which copy of the code a job ran); returns the module."""
    job = repo / "src" / "prestorepro" / "jobs" / "data.py"
    job.write_text(job.read_text() + "\nimport os as _os\n\nif _os.environ.get('OWN_CODE_SENTINEL'):\n"
                   "    Path(_os.environ['OWN_CODE_SENTINEL']).write_text(__file__)\n")
    return job


def env_without_pythonpath(**extra) -> dict:
    """The environment with nothing on PYTHONPATH (the environment's own prestorepro is this checkout's)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return dict(env, OMP_NUM_THREADS="1", **extra)
