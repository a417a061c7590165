"""The set-up files agree: environment.yml carries exactly pyproject.toml's dependencies."""
import os
import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"]} | {_norm(r) for r in project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    got = {_norm(r) for r in pip_block}
    assert got == wanted, f"only in environment.yml: {sorted(got - wanted)}; only in pyproject: {sorted(wanted - got)}"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.split("=")[1] >= project["requires-python"].lstrip(">=")


def test_torch_pins_are_the_known_working_pair():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert block, "README must show the test command in a fenced block after <!-- test-command -->"
    command = block.group(1).strip()
    assert command in ci


def test_the_rules_environment_mirrors_environment_yml():
    top = yaml.safe_load((ROOT / "environment.yml").read_text())
    rules = yaml.safe_load((ROOT / "workflow" / "envs" / "prestorepro.yaml").read_text())

    def pip(env):
        return {_norm(r) for d in env["dependencies"] if isinstance(d, dict) and "pip" in d for r in d["pip"]}

    # the same dependencies but the package itself, which the jobs import from the workflow's own src/
    # (PYTHONPATH, workflow/rules/own_code.smk)
    assert pip(rules) == {r for r in pip(top) if not r.startswith("-e")}
    assert [d for d in rules["dependencies"] if isinstance(d, str)] == [d for d in top["dependencies"] if isinstance(d, str)]
    # no path at all: Snakemake copies the file into .snakemake/conda/ or --conda-prefix, where a path
    # relative to it (the former `-e ../..`) points elsewhere
    text = (ROOT / "workflow" / "envs" / "prestorepro.yaml").read_text()
    assert not re.search(r"^\s*-\s*(-e|--editable|\.|/|file:)", text, re.M), text


BLOCKER = """
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"No module named {{name!r}} (not installed here)")
        return None


sys.meta_path.insert(0, _NotInstalled())
"""
# What parsing the workflow must not need: the training, solver and plotting stack. (pandas stays: the
# SLURM executor plugin, which Snakemake loads at start, imports it.)
HEAVY = ("torch", "torchvision", "ortools", "sklearn", "k_means_constrained", "medmnist", "scipy", "matplotlib")


def test_snakemakes_linter_finds_nothing_with_snakemake_and_the_light_package_only(tmp_path):
    import subprocess
    import sys

    # an environment with Snakemake and the torch-free part of the package: the heavy packages cannot be
    # imported (a sitecustomize refuses them), as where only the workflow's parse-time needs are installed
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(HEAVY)))
    for env in (dict(os.environ), dict(os.environ, PYTHONPATH=str(tmp_path))):
        out = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0 and "Congratulations, your workflow is in a good condition!" in out.stdout + \
            out.stderr, out.stdout[-3000:] + out.stderr[-3000:]
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "not installed here" in probe.stderr  # the blocker works


def test_the_workflow_files_are_snakefmt_clean():
    import subprocess

    # the formatter the Snakemake Workflow Catalog checks, with this repository's settings (pyproject.toml)
    out = subprocess.run(["snakefmt", "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_the_catalog_files_describe_every_config_file_and_key():
    # the Snakemake Workflow Catalog's standardized usage: workflow/Snakefile, config/README.md and
    # .snakemake-workflow-catalog.yml
    from prestorepro.config import load_schema

    assert (ROOT / "workflow" / "Snakefile").is_file() and (ROOT / "LICENSE").is_file()
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert catalog["report"] is True and any(catalog["software-stack-deployment"].values())
    text = (ROOT / "config" / "README.md").read_text()
    files = sorted(p.name for p in (ROOT / "config").glob("*.yaml"))
    assert files and all(f"`{f}`" in text for f in files), files
    keys = list(load_schema()["properties"])
    assert [k for k in keys if f"`{k}`" not in text] == []
