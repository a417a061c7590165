"""Test-session settings shared by every test file."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NO_CONTROLLER = Path(__file__).resolve().parent / "slurm" / "no_controller"


def _controller_down() -> bool:
    """A SLURM client is installed and its controller does not answer (`scontrol ping` is quick either way)."""
    if not shutil.which("scontrol"):
        return False
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return "UP" not in ping.stdout


# One thread per pytest-xdist worker (one worker per core): two workers of two threads each on two cores spent
# most of their time in OpenMP's spin-waits (tests/test_presto.py took 56 s instead of 5). Read by torch when it
# is first imported, after this file; the tests' Snakemake runs inherit it, as most already set it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

# Every Snakemake start asks `scontrol show config` (the SLURM executor plugin, at import); with a client but no
# controller that waits about 9 s. The tests' Snakemake runs (their subprocesses inherit this) get a scontrol
# that fails at once instead; with a live controller (the SLURM suite) nothing changes.
if os.environ.get("PRESTOREPRO_TEST_SCONTROL") is None:
    os.environ["PRESTOREPRO_TEST_SCONTROL"] = "stand-in" if _controller_down() else "real"
    if os.environ["PRESTOREPRO_TEST_SCONTROL"] == "stand-in":
        os.environ["PATH"] = f"{NO_CONTROLLER}{os.pathsep}{os.environ['PATH']}"

# Files whose tests take minutes (test_resume_workflow.py kills and resumes seven jobs of the tiny workflow,
# test_reliability_workflow.py runs it a second time and feeds it bad input: about four minutes each on 2
# cores), started first: with one worker per core (pytest-xdist, files kept whole) a long file started last
# would leave the other workers idle at the end.
LONG_FIRST = ("test_rehearsal_run.py", "test_catalogue_extension.py",  # the slow suite's two longest
              "test_resume_workflow.py", "test_reliability_workflow.py", "test_codedeps.py", "test_forecast.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory, worker_id):
    """One whole run of the tiny workflow, shared by the test files (and pytest-xdist workers) that compare
    with it: tests/tiny_workflow.py."""
    from tiny_workflow import reference_run

    return reference_run(tmp_path_factory, worker_id)
