"""A new method is two files: its module and its catalogue entry (docs/adding-a-method.md).

The toy methods are the ones docs/adding-a-method.md shows, read from its code blocks (so the page's
code is the code tested): a Table-1 partitioner (PC slices) and a coreset method (large loss). They are
written into a copy of the repository; nothing else in the copy changes. The fast tests check that the
copy's package holds them and that the workflow plans them; the slow one runs them into their tables,
after a run without them, and checks the page's recipe for keeping the results already there.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake_plan import ROOT, copy_repository

DOC = ROOT / "docs" / "adding-a-method.md"
CATALOGUE = Path("src") / "prestorepro" / "catalogue.py"


def doc_additions() -> tuple[dict[str, str], dict[str, str]]:
    """From the page: module path -> its code, and stage -> the catalogue entry line it adds."""
    text = DOC.read_text()
    modules, entries = {}, {}
    for before, code in re.findall(r"([^\n]*)\n+```python\n(.*?)```", text, re.S):
        path = re.search(r"`(src/prestorepro/[\w/]+\.py)`:\s*$", before)
        entry = re.fullmatch(r'\s*Method\("(\w+)", "(\w+)", .*\),\n', code)
        if path:
            modules[path.group(1)] = code
        elif entry:
            entries[entry.group(2)] = code.rstrip("\n")
    return modules, entries


def add_toy_methods(repo: Path) -> None:
    """Write the page's two modules and insert each entry after the last entry of its stage."""
    modules, entries = doc_additions()
    assert set(modules) == {"src/prestorepro/partitioners/pc_slices.py", "src/prestorepro/coreset/large_loss.py"}
    assert set(entries) == {"table1", "coreset"}
    for rel, code in modules.items():
        assert not (repo / rel).exists()
        (repo / rel).write_text(code)
    cat = (repo / CATALOGUE).read_text()
    for stage, line in entries.items():
        last = list(re.finditer(rf'^    Method\("\w+", "{stage}", .*\),$', cat, re.M))[-1]
        cat = cat[:last.end()] + "\n" + line + cat[last.end():]
    (repo / CATALOGUE).write_text(cat)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("extended") / "repo"
    copy_repository(root)
    add_toy_methods(root)
    return root


def _env(repo: Path) -> dict:
    # PYTHONPATH: the planner and the jobs import the copy's package, with the two additions
    return dict(os.environ, PYTHONPATH=str(repo / "src"), OMP_NUM_THREADS="1")


def _python(repo: Path, code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, env=_env(repo), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _config(results: str, *, toys: bool) -> dict:
    # tests/configs/tiny.yaml on digits only: one Table-1 baseline and the full-data coreset run, and the
    # toy method of each kind when ``toys``; no PRESTO (and so no Fig. 7, no compress PRESTO), no synthetic data
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["results"] = results
    cfg["datasets"].pop("synthetic")
    cfg["presto"].update(rounds=2, epochs=1, k_sweep=[])
    cfg["table1"]["methods"] = ["equal_kmeans", "pc_slices"] if toys else ["equal_kmeans"]
    cfg["compress"] = {"methods": []}
    cfg["coreset"].update(methods=["full", "large_loss"] if toys else ["full"], epochs=4, interval=2)
    return cfg


def _snakemake(repo: Path, config: dict, *args: str) -> str:
    (repo / "extended.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", "extended.yaml", *args], cwd=repo,
                         env=_env(repo), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout + out.stderr


def test_the_page_adds_two_files_and_the_copy_registers_both(repo):
    changed = subprocess.run(["git", "diff", "--no-index", "--name-only", str(ROOT / CATALOGUE), str(repo / CATALOGUE)],
                             capture_output=True, text=True).stdout
    assert changed.strip()  # the catalogue is the one existing file edited
    out = _python(repo, "from prestorepro import catalogue as c\n"
                        "from prestorepro.table1.run import METHODS\n"
                        "from prestorepro.coreset.methods import CORESET_METHODS\n"
                        "print(c.keys('table1')); print(c.partitioners()); print('pc_slices' in METHODS,"
                        " 'large_loss' in CORESET_METHODS, c.paper_name('large_loss'))")
    lines = out.splitlines()
    assert lines[0].endswith("'presto', 'pc_slices']") and "'pc_slices'" in lines[1]
    assert lines[2] == "True True Large-Loss"


def test_the_toy_partitioner_cuts_equal_slices_and_routes_by_them(repo):
    out = _python(repo, """
import numpy as np
from prestorepro.partitioners.base import fit_partition
rng = np.random.default_rng(0)
x = rng.normal(size=(301, 12)) * np.linspace(3, 0.1, 12)
res = fit_partition("pc_slices", x, 4, seed=0, pca_dim=5)
print(np.bincount(res.labels).tolist())
print(bool((res.route(x) == res.labels).all()))
z = res.pca.transform(x)[:, 0]
print(bool(all(z[res.labels == k].max() <= z[res.labels == k + 1].min() for k in range(3))))
print(res.notes)
""")
    sizes, same, ordered, notes = out.splitlines()
    assert sizes == "[76, 75, 75, 75]" and same == "True" and ordered == "True"
    assert "4 equal slices of the first principal component" in notes and "routed by the slice" in notes


def test_the_workflow_plans_the_new_methods(repo, tmp_path):
    text = _snakemake(repo, _config(str(tmp_path / "r"), toys=True), "-n")
    assert re.search(r"rule train_table1:.*?wildcards: dataset=digits, k=3, method=pc_slices, seed=0", text, re.S)
    assert re.search(r"rule train_coreset:.*?coreset_method=large_loss", text, re.S)
    # a key the catalogue lacks is still refused when the workflow is parsed
    bad = _config(str(tmp_path / "r"), toys=True)
    bad["table1"]["methods"].append("pc_slicez")
    (repo / "extended.yaml").write_text(yaml.safe_dump(bad))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "extended.yaml"], cwd=repo,
                         env=_env(repo), capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "config key table1.methods.2: 'pc_slicez' is not valid" in out.stdout + out.stderr


def _row(md: Path, *cells: str) -> list[str]:
    """The cells of the first row of a Markdown table holding every one of ``cells``."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in md.read_text().splitlines()
            if line.startswith("|")]
    hits = [r for r in rows if set(cells) <= set(r)]
    assert hits, md.read_text()
    return hits[0]


@pytest.mark.slow
def test_new_methods_run_into_their_tables_and_the_results_there_are_kept(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    _snakemake(repo, _config("results", toys=False), "--cores", "2", "results/tables/table1.md",
               "results/tables/coreset.md")
    before = {p: p.read_bytes() for p in (repo / "results").rglob("metrics.json")}
    assert before

    add_toy_methods(repo)
    extended = _config("results", toys=True)
    # the page's recipe: mark the existing outputs up to date but for the tables that are to list the new
    # methods; then only the new methods' jobs and those tables run
    _snakemake(repo, extended, "--cores", "1", "--touch", "results/tables/table1.md", "results/tables/coreset.md",
               "--omit-from", "make_table1", "make_coreset_table")
    plan = _snakemake(repo, extended, "-n", "results/tables/table1.md", "results/tables/coreset.md",
                      "--quiet", "rules")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.split("Job stats:")[1], re.M))
    counts.pop("total")
    assert counts == {"train_table1": "1", "train_coreset": "1", "make_table1": "1", "make_coreset_table": "1"}, counts
    _snakemake(repo, extended, "--cores", "2", "results/tables/table1.md", "results/tables/coreset.md")
    assert all(p.read_bytes() == b for p, b in before.items())  # nothing retrained (--touch moved the mtimes)

    results = repo / "results"
    metrics = yaml.safe_load((results / "table1" / "digits" / "k3" / "pc_slices" / "seed0" / "metrics.json").read_text())
    assert metrics["method"] == "pc_slices"
    for predictor in ("combiner", "router"):
        row = _row(results / "tables" / "table1.md", predictor, "PC-Slices")
        shown = float(re.search(r"(\d+\.\d+) ± 0\.00", " ".join(row[3:])).group(1))
        assert shown == round(100 * metrics["predictors"][predictor]["test_accuracy"], 2), row
    assert _row(results / "tables" / "table1.md", "combiner", "Equal-KMeans")
    row = _row(results / "tables" / "coreset.md", "Large-Loss")
    assert row[2:5] == ["0.5", "1", "150"], row  # fraction 0.5 of digits' 300 training points, one seed
    assert re.fullmatch(r"\d+\.\d+ ± 0\.00", row[5]), row
