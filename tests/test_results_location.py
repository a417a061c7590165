"""Where a results tree may be (prestorepro.config_checks._check_outside_code): never the checkout root nor
inside its code, tests, workflow, config, docs, benchmarks or git folders, refused before the workflow writes
anything of its own (its lock, settings stamps, caches); anywhere else it works."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prestorepro.config import ConfigError, validate_config
from prestorepro.config_checks import CODE_FOLDERS
from snakemake_plan import copy_repository

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"

# (key, value relative to the checkout root, the folder the message names: None for the root itself)
REFUSED = [("results", "src/prestorepro", "src"), ("results", "src", "src"), ("results", "tests", "tests"),
           ("results", "workflow", "workflow"), ("results", "benchmarks", "benchmarks"), ("results", ".git/x", ".git"),
           ("results", ".", None), ("results", "config/out", "config"), ("results", "docs", "docs"),
           ("data_root", "src/prestorepro/data", "src"), ("data_root", ".", None)]


def _config(**changes) -> dict:
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(changes)
    return cfg


def _expected(key: str, value: str, folder: str | None, root: Path) -> str:
    if folder is None:
        return f"config key {key}: {value!r} is the checkout itself ({root}), whose benchmarks/, data/ and code folders"
    return f"config key {key}: {value!r} is inside the checkout's {folder}/ folder ({root / folder}), where the " \
           "workflow's outputs would land beside its own code, tests or git repository; name a folder outside"


@pytest.mark.parametrize("key,value,folder", REFUSED, ids=[f"{k}={v}" for k, v, _ in REFUSED])
def test_a_tree_in_the_checkouts_code_is_refused(monkeypatch, key, value, folder):
    monkeypatch.chdir(ROOT)  # relative paths are read from the working directory, as Snakemake reads them
    with pytest.raises(ConfigError) as err:
        validate_config(_config(**{key: value}))
    assert str(err.value).startswith(_expected(key, value, folder, ROOT)), str(err.value)


def test_a_link_into_the_code_and_an_absolute_path_there_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(ROOT / "src")
    with pytest.raises(ConfigError, match=r"^config key results: 'link/out' is inside the checkout's src/ folder"):
        validate_config(_config(results="link/out"))
    with pytest.raises(ConfigError, match=r"is inside the checkout's tests/ folder"):
        validate_config(_config(results=str(ROOT / "tests" / "r")))


def test_a_tree_anywhere_else_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    elsewhere = tmp_path / "scratch"
    elsewhere.mkdir()
    (tmp_path / "linked").symlink_to(elsewhere)
    for value in ("results", "results/paper", "results-tiny", "data/out", "../results-beside-the-checkout",
                  str(tmp_path / "abs"), str(tmp_path / "linked"), "~/prestorepro-results", "src-results"):
        cfg = validate_config(_config(results=value))
        assert cfg["results"] == os.path.expanduser(value)
    assert validate_config(_config(data_root="data"))["data_root"] == "data"
    # every code folder the check names is one of this checkout's (or one Snakemake and git make in it)
    assert {f for f in CODE_FOLDERS if (ROOT / f).is_dir()} >= {"src", "tests", "workflow", "config", "docs",
                                                                "benchmarks", ".git"}


def test_planning_a_refused_tree_from_a_clean_checkout_writes_nothing(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo, commit=True)
    env = dict(os.environ, PYTHONPATH=str(repo / "src"), OMP_NUM_THREADS="1")
    for key, value, folder in REFUSED:
        out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--config", f"{key}={value}"],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        text = out.stdout + out.stderr
        assert out.returncode != 0 and _expected(key, value, folder, repo.resolve()) in text, text[-2000:]
        # nothing written: no change git sees, and none of the workflow's bookkeeping anywhere (Snakemake's own
        # .snakemake/ and Python's bytecode caches are ignored by git and are not the workflow's)
        status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=repo, capture_output=True,
                                text=True, check=True).stdout.splitlines()
        assert [s for s in status if not s.endswith(("/.snakemake/", "__pycache__/")) and s != "!! .snakemake/"] \
            == [], (key, value, status)
        assert not [p for p in repo.rglob("*") if p.name in (".lock", ".settings", ".cache")], (key, value)
