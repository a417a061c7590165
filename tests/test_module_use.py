"""The workflow used from another workflow: loaded as a module by path (``module x: snakefile:
'<checkout>/workflow/Snakefile'``), and deployed with snakedeploy (a ``github()`` module and a copy of
config/), as docs/modules.md shows. Each plans the jobs the checkout itself plans for the same config,
runs a job with the workflow's own code (the module's checkout, or the package of the tagged commit),
and finds everything it reads at parse time (the rules, the scripts, the config schema) from the
workflow's own folder or the package, never from the caller's folder.

snakedeploy and Snakemake's ``github()`` fetch from https://github.com/<owner>/<repo>; here git's
``url.<base>.insteadOf`` sends that address to a local repository holding this checkout (one commit,
tagged), so the real commands run offline.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake_plan import (
    add_import_sentinel,
    commit_repository,
    copy_repository,
    env_without_pythonpath,
)

from prestorepro.io import read_json, sha256_file

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
REPO = "prestorepro/prestorepro"
TAG = "v0.0.1"

CALLER = """\
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


module presto:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from presto as presto_*
"""


_env = env_without_pythonpath


def _snakemake(cwd: Path, *args: str, env: dict | None = None, ok: bool = True) -> str:
    out = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env or _env(),
                         capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert (out.returncode == 0) == ok, text[-4000:]
    return text


def _jobs(text: str, prefix: str = "") -> dict[str, int]:
    """The dry run's job counts by rule (the caller's prefix removed), without `all`."""
    table = text.split("Job stats:")[1]
    counts = {k.removeprefix(prefix): int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}
    counts.pop("total")
    counts.pop("all")
    return counts


def _checkout_plan(*args: str) -> dict[str, int]:
    return _jobs(_snakemake(ROOT, "-n", "--quiet", "rules", *args))


def _caller(folder: Path, snakefile: Path, results: str = "results") -> Path:
    (folder / "config").mkdir(parents=True)
    cfg = yaml.safe_load(TINY.read_text())
    cfg["results"] = results
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    (folder / "Snakefile").write_text(CALLER.format(snakefile=snakefile))
    return folder


def test_a_module_by_path_plans_what_the_checkout_plans(tmp_path):
    caller = _caller(tmp_path / "caller", ROOT / "workflow" / "Snakefile")
    # the caller's own config (its folder has no src/, no workflow/, no schema: all found from the module's)
    plan = _jobs(_snakemake(caller, "-n", "--quiet", "rules"), "presto_")
    assert plan == _checkout_plan("--configfile", str(TINY), "--config", f"results={tmp_path / 'r'}")
    assert plan["train_table1"] == 6 and plan["embed"] == 1
    # the paper's config given on the command line replaces the caller's (its guard, as this repository's
    # Snakefile has): the four datasets and no digits
    paper = _jobs(_snakemake(caller, "-n", "--quiet", "rules", "--configfile", str(ROOT / "config" / "paper.yaml")),
                  "presto_")
    assert paper == _checkout_plan("--configfile", "config/paper.yaml", "--config", f"results={tmp_path / 'p'}")
    assert paper["embed"] == 4 and paper["download_data"] == 5
    # a plan writes nothing into the caller's results tree
    assert not (caller / "results").exists()


def test_a_module_by_path_runs_the_modules_own_code(tmp_path):
    # the module is a copy of this checkout whose data job records where it was imported from; the
    # environment's prestorepro is this checkout's (its editable install)
    module = tmp_path / "module"
    copy_repository(module)
    job = add_import_sentinel(module)
    caller = _caller(tmp_path / "caller", module / "workflow" / "Snakefile")
    sentinel = tmp_path / "sentinel.txt"
    _snakemake(caller, "--cores", "1", "results/data/synthetic/prepared.npz", env=_env(OWN_CODE_SENTINEL=str(sentinel)))
    assert (caller / "results" / "data" / "synthetic" / "prepared.npz").is_file()
    assert Path(sentinel.read_text()).resolve() == job.resolve()
    stamp = read_json(caller / "results" / ".settings" / ".code" / "prepare_data" / "code.json")
    assert stamp["modules"]["prestorepro/jobs/data.py"] == sha256_file(job)
    # the rules keep the caller's names (prefixed), and their stamps follow them
    assert (caller / "results" / ".settings" / "presto_prepare_data").is_dir()


def _hosted(tmp_path: Path, repo: Path) -> dict:
    """The environment in which https://github.com/<REPO> is the local repository ``repo``."""
    return _env(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.{repo}.insteadOf",
                GIT_CONFIG_VALUE_0=f"https://github.com/{REPO}", XDG_CACHE_HOME=str(tmp_path / "cache"))


@pytest.fixture
def hosted(tmp_path) -> tuple[Path, dict]:
    """A git repository holding this checkout at tag v0.0.1, reachable as https://github.com/<REPO>, whose
    data job differs from this checkout's (it records where it was imported from)."""
    repo = tmp_path / "hosted"
    copy_repository(repo)
    add_import_sentinel(repo)
    commit_repository(repo)
    subprocess.run(["git", "tag", TAG], cwd=repo, check=True)
    return repo, _hosted(tmp_path, repo)


def test_a_snakedeploy_deployment_plans_and_runs_the_tagged_code(tmp_path, hosted):
    repo, env = hosted
    deployed = tmp_path / "deployed"
    if shutil.which("snakedeploy"):
        out = subprocess.run(["snakedeploy", "deploy-workflow", f"https://github.com/{REPO}", str(deployed),
                              "--tag", TAG], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    else:  # what snakedeploy 0.17 writes: the repository's config/ and a module Snakefile
        shutil.copytree(ROOT / "config", deployed / "config")
        (deployed / "workflow").mkdir()
        (deployed / "workflow" / "Snakefile").write_text(
            f'configfile: "config/config.yaml"\n\n\nmodule prestorepro:\n    snakefile:\n        github("{REPO}", '
            f'path="workflow/Snakefile", tag="{TAG}")\n    config:\n        config\n\n\nuse rule * from prestorepro\n')
    snakefile = (deployed / "workflow" / "Snakefile").read_text()
    assert f'github("{REPO}", path="workflow/Snakefile", tag="{TAG}")' in snakefile
    assert sorted(p.name for p in (deployed / "config").iterdir()) == sorted(p.name for p in (ROOT / "config").iterdir())
    assert not (deployed / "src").exists()

    # the embedded default, as deployed: the same plan as the checkout's, with the package of the tag
    text = _snakemake(deployed, "-n", "--quiet", "rules", env=env)
    assert f"prestorepro: the package of {REPO}@{TAG}, unpacked at" in text
    assert _jobs(text) == _checkout_plan("--config", f"results={tmp_path / 'r'}")
    # the paper's config in place of the deployed one (Snakemake's --replace-workflow-config: a plain
    # --configfile is merged into config/config.yaml, and the default's digits would remain)
    paper = _jobs(_snakemake(deployed, "-n", "--quiet", "rules", "--configfile", "config/paper.yaml",
                             "--replace-workflow-config", env=env))
    assert paper == _checkout_plan("--configfile", "config/paper.yaml", "--config", f"results={tmp_path / 'p'}")
    # a job runs its script from the fetched repository and the package of the same commit, not the
    # environment's (this checkout's)
    sentinel = tmp_path / "sentinel.txt"
    _snakemake(deployed, "--cores", "1", "results/data/synthetic/prepared.npz",
               env=dict(env, OWN_CODE_SENTINEL=str(sentinel)))
    assert (deployed / "results" / "data" / "synthetic" / "prepared.npz").is_file()
    ran = Path(sentinel.read_text())
    assert ran.is_relative_to(tmp_path / "cache") and ran.read_bytes() == (repo / "src/prestorepro/jobs/data.py").read_bytes()
    stamp = read_json(deployed / "results" / ".settings" / ".code" / "prepare_data" / "code.json")
    assert stamp["modules"]["prestorepro/jobs/data.py"] == sha256_file(repo / "src" / "prestorepro" / "jobs" / "data.py")


def test_a_module_from_another_git_source_uses_the_installed_package(tmp_path):
    # gitfile() (a local repository) has no src/ beside the workflow and is not a GitHub or GitLab
    # repository: the installed package (this checkout's editable install) is used and named, and
    # --use-conda, whose jobs could not see it, is refused
    repo = tmp_path / "repo"
    copy_repository(repo, commit=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    caller = tmp_path / "caller"
    shutil.copytree(ROOT / "config", caller / "config")
    (caller / "Snakefile").write_text(
        f'configfile: "config/config.yaml"\n\n\nmodule presto:\n    snakefile:\n        gitfile("{repo}", '
        f'path="workflow/Snakefile", commit="{sha}")\n    config:\n        config\n\n\nuse rule * from presto\n')
    text = _snakemake(caller, "--list-rules")
    assert "using the installed package at" in text and "train_table1" in text
    refused = _snakemake(caller, "--list-rules", "--use-conda", ok=False)
    assert "--use-conda with a workflow read from" in refused and "Run without --use-conda" in refused


def test_an_installed_wheel_carries_the_config_schema(tmp_path):
    # a github() module's jobs and plan import the installed package, which has no workflow/ beside it:
    # the config schema is package data
    source = tmp_path / "source"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    copy_repository(source)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                          str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = next((tmp_path / "wheel").glob("prestorepro-*.whl"))
    shutil.unpack_archive(wheel, tmp_path / "site", "zip")
    code = ("import prestorepro, prestorepro.config as c; print(prestorepro.__file__); "
            "print(len(c.load_schema()['properties']))")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(PYTHONPATH=str(tmp_path / "site")),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    where, keys = run.stdout.split()
    assert Path(where).is_relative_to(tmp_path / "site") and int(keys) > 10
