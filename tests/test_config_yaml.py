"""Config files read as written (prestorepro.config_yaml): each YAML form that PyYAML reads other than the
user meant is refused with its line and the fix; the project's own config files pass."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prestorepro.config_yaml import check_config_file
from prestorepro.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text,message", [
    # a second presto: block replaced the first (epochs 2 -> the default 10, k_sweep lost)
    ("presto:\n  epochs: 2\n  k_sweep: [3, 4]\nseeds: [0]\npresto:\n  rounds: 3\n",
     "line 5: key 'presto' appears twice in one mapping (first on line 1); YAML keeps only the second, so the "
     "first is lost: merge the two"),
    ("datasets:\n  digits: {source: digits, k: 4}\n  digits: {source: digits, k: 6}\n",
     "line 3: key 'digits' appears twice in one mapping (first on line 2)"),
    ("seeds: [0, 010]\n", "line 1: 010 is read as the octal number 8; write 10 (decimal), or '010' for a string"),
    ("datasets:\n  d:\n    k: 1:30\n", "line 3: 1:30 is read as a base-60 number (90); quote it ('1:30') if it is "
                                       "a string, or write the number"),
    ("presto:\n  lr: 1e-3\n", "line 2: 1e-3 is read as a string, not a number (YAML 1.1 needs a dot); write 1.0e-3"),
    ("download: off\n", "line 1: off is read as the boolean False; write false, or 'off' for a string"),
    ("datasets:\n  yes: {source: digits}\n", "line 2: key yes is read as a boolean, not a name; quote it ('yes')"),
    ("datasets:\n  123: {source: digits}\n", "line 2: key 123 is read as an integer, not a name; quote it ('123')"),
    ("datasets:\n  null: {source: digits}\n", "line 2: key null is read as null (no value), not a name"),
], ids=["second-section", "duplicate-dataset", "octal", "sexagesimal", "exponent-without-dot", "off",
        "key-yes", "key-123", "key-null"])
def test_forms_read_otherwise_are_refused_with_their_line(tmp_path, text, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        check_config_file(f)
    assert f"{f}, {message}" in str(err.value)


def test_every_problem_is_listed_and_what_is_meant_passes(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seeds: [0, 07]\nlr: 5e-4\npresto:\n  a: 1\npresto:\n  b: 2\n")
    with pytest.raises(ConfigError) as err:
        check_config_file(f)
    assert [line.split(": ", 1)[0] for line in str(err.value).splitlines()[1:]] == [
        f"  {f}, line {n}" for n in (1, 2, 5)]
    # what the user meant, written unambiguously, and YAML merge keys
    f.write_text("seeds: [0, 10, '010']\nlr: 1.0e-3\nx: '1:30'\ndownload: false\ndatasets:\n  'yes': {k: 4}\n"
                 "base: &b {k: 4}\nother:\n  <<: *b\n  leeway: 0\n")
    check_config_file(f)


def test_the_projects_config_files_pass():
    files = [*ROOT.glob("config/*.yaml"), *ROOT.glob("tests/configs/*.yaml"), *ROOT.glob("workflow/profiles/*/*.yaml")]
    assert len(files) >= 5
    for f in files:
        check_config_file(f)


def test_the_workflow_refuses_before_anything_runs(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("presto:\n  epochs: 2\npresto:\n  rounds: 3\n")
    results = tmp_path / "results"
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "config/config.yaml", str(f),
                          "--config", f"results={results}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert f"{f}, line 3: key 'presto' appears twice in one mapping" in out.stdout + out.stderr
    assert not results.exists()
