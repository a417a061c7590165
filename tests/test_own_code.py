"""The workflow runs the code of its own checkout (workflow/rules/own_code.smk), whatever ``prestorepro`` the
active environment imports: here the test's environment imports this repository's package (its editable
install), and a copy of the repository is run from that same environment."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from snakemake_plan import add_import_sentinel, copy_repository, env_without_pythonpath

from prestorepro.io import read_json, sha256_file

ROOT = Path(__file__).resolve().parents[1]


_env = env_without_pythonpath  # nothing on PYTHONPATH: the environment's prestorepro is this checkout's


def test_the_environment_imports_the_original_checkout():
    # the premise of the tests below: a plain `import prestorepro` here gives this repository's src/
    out = subprocess.run([sys.executable, "-c", "import prestorepro; print(prestorepro.__file__)"], cwd="/",
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and Path(out.stdout.strip()).resolve().parent == ROOT / "src" / "prestorepro"


def test_a_copied_checkout_plans_and_runs_its_own_code(tmp_path):
    copy = tmp_path / "copy"
    copy_repository(copy)
    sentinel = tmp_path / "sentinel.txt"
    # the copy's data job records which file it was imported from
    job = add_import_sentinel(copy)
    results = tmp_path / "results"
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--config", f"results={results}"],
                          cwd=copy, env=_env(), capture_output=True, text=True, timeout=600)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    # one code stamp per job, the modules of the copy's package in it (read after the run below)
    inputs = [i for line in re.findall(r"^    input: ([^\n]*)", plan.stdout, re.M) for i in line.split(", ")]
    assert any(i.endswith("/.code/prepare_data/code.json") for i in inputs)
    assert not [i for i in inputs if i.endswith(".py")]

    target = results / "data" / "synthetic" / "prepared.npz"
    run = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config", f"results={results}", "--",
                          str(target)], cwd=copy, env=_env(OWN_CODE_SENTINEL=str(sentinel)), capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert target.is_file()
    assert Path(sentinel.read_text()).resolve() == job.resolve()
    # the job's code stamp holds the digest of the copy's edited module, not the original's
    stamp = read_json(results / ".settings" / ".code" / "prepare_data" / "code.json")
    assert stamp["modules"]["prestorepro/jobs/data.py"] == sha256_file(job)
    assert stamp["modules"]["prestorepro/jobs/data.py"] != sha256_file(ROOT / "src" / "prestorepro" / "jobs" / "data.py")


_API = """
import sys
from pathlib import Path
import prestorepro  # the environment's package: the original checkout's
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings
copy = Path(sys.argv[1])
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(snakefile=copy / "Snakefile", workdir=copy, resource_settings=ResourceSettings(cores=1),
                      config_settings=ConfigSettings(config={"results": sys.argv[2]}))
    try:
        wf.dag(DAGSettings())
    except Exception as exc:
        print(type(exc).__name__, exc)
"""


def test_a_process_that_imported_another_checkouts_package_is_refused(tmp_path):
    # Snakemake's Python API in a process that had imported prestorepro from elsewhere: the workflow cannot
    # swap the imported modules, so it refuses, naming both paths
    copy = tmp_path / "copy"
    copy_repository(copy)
    out = subprocess.run([sys.executable, "-c", _API, str(copy), str(tmp_path / "r")], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=600)
    assert (f"this workflow ({copy}) runs its own package, {copy / 'src' / 'prestorepro'}, but this Python "
            f"process already imported prestorepro from {ROOT / 'src' / 'prestorepro'}") in out.stdout + out.stderr
    assert not (tmp_path / "r").exists()
