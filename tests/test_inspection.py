"""Inspecting the workflow writes nothing into the results tree: ``-n``, ``--summary``, ``--dag``,
``--rulegraph`` and ``--lint`` leave a finished tree byte for byte and date for date as they found it (also
with a config whose settings stamps would change), and make no tree where there was none. Settings and
code stamps that would change go to Snakemake's own temporary folder instead (prestorepro.stamps), and the
lock is only checked (prestorepro.lock.check_results)."""
from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from snakemake_plan import ROOT
from tiny_workflow import TINY, TRAINING_OUTPUTS, run

INSPECT = (["-n"], ["--summary"], ["--detailed-summary"], ["--dag"], ["--rulegraph"], ["--lint"])


def _snapshot(tree: Path) -> dict[str, tuple]:
    """Every file and folder under ``tree``: kind, size, modification time and content digest."""
    out = {}
    for p in sorted(tree.rglob("*")):
        st = p.lstat()
        rel = str(p.relative_to(tree))
        if p.is_dir():
            out[rel] = ("dir", st.st_mtime_ns)
        else:
            out[rel] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def _inspect(work: Path, results: Path, args: list[str], *config: str) -> str:
    targets = [str(results / f) for f in TRAINING_OUTPUTS]
    cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(ROOT / "Snakefile"), "-d", str(work),
           "--configfile", str(TINY), *args, "--config", f"results={results}", *config]
    out = run(cmd, timeout=600)
    assert out.returncode == 0, (args, config, out.stdout[-3000:] + out.stderr[-3000:])
    return out.stdout + out.stderr


def test_inspecting_a_finished_tree_changes_nothing(tiny_reference, tmp_path):
    results, work = tmp_path / "results", tmp_path / "work"
    shutil.copytree(tiny_reference, results, symlinks=True)  # copy2: modification times kept
    (results / ".lock").unlink(missing_ok=True)
    before = _snapshot(results)
    assert any(k.startswith(".settings/.code/") for k in before)
    for args in INSPECT:
        _inspect(work, results, args)
        assert _snapshot(results) == before, args
    # a setting whose stamps would change: the plan shows the jobs it re-runs, and the tree is untouched
    text = _inspect(work, results, ["-n"], "split_seed=7")
    assert "rule prepare_data:" in text and "/.settings/prepare_data/" in text
    _inspect(work, results, ["--summary"], "split_seed=7")
    assert _snapshot(results) == before
    # and the next real plan with the tree's own settings has nothing to do
    assert "Nothing to be done" in _inspect(work, results, ["-n"])
    assert not (results / ".lock").exists()


def test_inspecting_a_tree_that_does_not_exist_makes_none(tmp_path):
    results, work = tmp_path / "results", tmp_path / "work"
    for args in (["-n"], ["--rulegraph"], ["--lint"]):
        _inspect(work, results, args)
        assert not results.exists(), args
