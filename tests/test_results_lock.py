"""One workflow at a time on a results tree (prestorepro.lock): a second Snakemake on the same absolute
``results:``, from another checkout or working directory, is refused with the first one's process,
host and checkout named; a killed holder leaves no stale lock."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from prestorepro.lock import ResultsLocked, hold_results

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT / "src"))
HOLDER = "import sys, time; from prestorepro.lock import hold_results; hold_results(sys.argv[1], '/other/checkout'); " \
         "print('held', flush=True); time.sleep(600)"


def _holder(results: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(results)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_until_the_first_is_killed(tmp_path):
    proc = _holder(tmp_path / "r")
    try:
        with pytest.raises(ResultsLocked, match=rf"results tree {tmp_path / 'r'} is in use by another snakemake "
                                                rf"\(process {proc.pid} on .*from /other/checkout\)"):
            hold_results(tmp_path / "r", ROOT)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel released the lock with the process: nothing stale to remove
    assert hold_results(tmp_path / "r", ROOT) == (tmp_path / "r").resolve() / ".lock"
    assert hold_results(tmp_path / "r", ROOT) == (tmp_path / "r").resolve() / ".lock"  # held already: kept


def _snakemake(work: Path, results: Path, config: Path, *targets, extra=()) -> list:
    return [sys.executable, "-m", "snakemake", *map(str, targets), "-s", str(ROOT / "Snakefile"), "-d", str(work),
            "--cores", "1", "--configfile", str(config), *extra, "--config", f"results={results}"]


def test_two_workflows_on_one_results_tree(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["datasets"] = {"digits": cfg["datasets"]["digits"]}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    results = tmp_path / "shared-results"
    target = results / "embeddings" / "digits" / "features.npz"
    first = subprocess.Popen(_snakemake(tmp_path / "work-a", results, config, target), cwd=ROOT, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while not (results / "logs").exists():  # the first run is executing its jobs
            assert first.poll() is None and time.time() < deadline, first.stdout.read()
            time.sleep(0.2)
        # held still while the others try: on an idle machine its one job can end before a second Snakemake
        # has parsed the workflow (stopped, it keeps the lock; its job's own process may finish meanwhile)
        first.send_signal(signal.SIGSTOP)
        assert first.poll() is None, "the first run ended before it could be paused"
        # another working directory (or checkout), a dry run there, and the first run's own directory (where
        # Snakemake alone said to use --rerun-incomplete on the files being written)
        for work, extra in (("work-b", ()), ("work-b", ("-n",)), ("work-a", ())):
            second = subprocess.run(_snakemake(tmp_path / work, results, config, target, extra=extra), cwd=ROOT,
                                    env=ENV, capture_output=True, text=True, timeout=300)
            text = second.stdout + second.stderr
            assert second.returncode != 0
            assert f"results tree {results} is in use by another snakemake (process {first.pid} on" in text, text[-2000:]
            assert f"from {ROOT})" in text and "--config results=" in text
    finally:
        first.send_signal(signal.SIGCONT)
        out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    assert target.is_file()
    after = subprocess.run(_snakemake(tmp_path / "work-b", results, config, target, extra=("-n",)), cwd=ROOT, env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert after.returncode == 0 and "Nothing to be done" in after.stdout + after.stderr
