"""One workflow at a time on a results tree (prestorepro.lock): a second Snakemake on the same absolute
``results:``, from another checkout or working directory, is refused with the first one's process,
host and checkout named; a killed holder leaves no stale lock."""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from prestorepro.errors import ConfigError
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


# ----------------------------------------------------------------------------- a damaged lock, named with the fix


def test_a_lock_that_is_a_folder_or_not_a_file_is_named_with_the_fix(tmp_path):
    folder = tmp_path / "a" / ".lock"
    (folder / "inside").mkdir(parents=True)  # left by a tool or a user's mkdir
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(folder))} is a folder; it is the workflow's lock file "
                                          rf".*remove it \(rm -rf {re.escape(str(folder))}\) and run again$"):
        hold_results(tmp_path / "a", ROOT)
    assert (folder / "inside").is_dir()  # nothing removed behind the user's back
    fifo = tmp_path / "b" / ".lock"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(fifo))} is not a regular file; .*\(rm -rf "):
        hold_results(tmp_path / "b", ROOT)
    # the fix given works
    shutil.rmtree(folder)
    assert hold_results(tmp_path / "a", ROOT) == folder


@contextlib.contextmanager
def _another_user(path: Path):
    """This process acts as a user that cannot write ``path``: as root, the effective user becomes nobody
    (root's own access ignores file modes); otherwise the file is made read-only for its owner."""
    if os.geteuid() == 0:
        os.seteuid(65534)
        try:
            yield
        finally:
            os.seteuid(0)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


@pytest.fixture
def shared_tmp():
    """A folder every user can read (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="lock-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_lock_file_this_user_cannot_write_is_named_with_the_fix(shared_tmp):
    tree = shared_tmp / "r"
    hold = subprocess.run([sys.executable, "-c", f"from prestorepro.lock import hold_results; "
                           f"hold_results({str(tree)!r}, '/other/checkout')"], env=ENV, check=True)
    assert hold.returncode == 0  # made by another process (and user), which has ended: nobody holds it
    lock = tree / ".lock"
    lock.chmod(0o644)
    with _another_user(lock):
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(lock))}: this user \(uid \d+\) cannot write the "
                                              rf"workflow's lock file \(owner uid {lock.stat().st_uid}, mode \d+\); no "
                                              rf"running workflow holds it. Remove it \(rm -f {re.escape(str(lock))}\)"):
            hold_results(tree, ROOT)
    # held by a live process of its owner: the usual refusal, naming that process
    proc = _holder(tree)
    try:
        with _another_user(lock):
            with pytest.raises(ResultsLocked, match=rf"is in use by another snakemake \(process {proc.pid} on "):
                hold_results(tree, ROOT)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a second user: as root, the effective user becomes nobody")
def test_a_results_tree_this_user_cannot_write_is_named_with_the_fix(shared_tmp):
    with _another_user(shared_tmp):
        with pytest.raises(ConfigError, match=rf"^config key results: cannot make the results tree "
                                              rf"{re.escape(str(shared_tmp / 'r'))} \(Permission denied\); name a "
                                              rf"folder this user can write"):
            hold_results(shared_tmp / "r", ROOT)
    (shared_tmp / "r2").mkdir()
    with _another_user(shared_tmp):
        with pytest.raises(ConfigError, match=r"^config key results: this user cannot write the results tree "):
            hold_results(shared_tmp / "r2", ROOT)
    assert not (shared_tmp / "r").exists() and not any((shared_tmp / "r2").iterdir())


def test_a_plan_that_runs_nothing_only_checks_the_lock(tmp_path):
    # -n, --summary, --dag: refused while another process holds the tree, told of a damaged lock, and
    # nothing is made (no tree, no lock file)
    from prestorepro.lock import check_results

    check_results(tmp_path / "none")
    assert not (tmp_path / "none").exists()
    proc = _holder(tmp_path / "held")
    try:
        with pytest.raises(ResultsLocked, match=rf"is in use by another snakemake \(process {proc.pid} on "):
            check_results(tmp_path / "held")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = (tmp_path / "held" / ".lock").read_bytes()
    check_results(tmp_path / "held")  # its holder has gone: nothing to say, nothing rewritten
    assert (tmp_path / "held" / ".lock").read_bytes() == before
    (tmp_path / "d" / ".lock").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"\.lock is a folder; it is the workflow's lock file"):
        check_results(tmp_path / "d")
    (tmp_path / "f").mkdir()
    os.mkfifo(tmp_path / "f" / ".lock")
    with pytest.raises(ConfigError, match=r"\.lock is not a regular file"):
        check_results(tmp_path / "f")
