"""A new method is two files: its module and its catalogue entry (docs/adding-a-method.md).

The toy methods are the ones docs/adding-a-method.md shows, read from its code blocks (so the page's
code is the code tested): a Table-1 method of each kind (a partitioner, PC slices; a jointly trained
mixture with a predictor of its own, PRESTO-Vote; a single model, a linear probe) and a coreset method
(large loss). They are written into a copy of the repository; nothing else in the copy changes. The fast
tests check that the copy's package holds them, that each kind took the files the page says and that the
workflow plans them; the slow ones run the copy's whole default test suite (a test, caption or doc that
lists the methods by hand fails there) and run the toys into their tables under every one of their
predictors, after a run without them, checking the page's recipe for keeping the results already there.
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
TOYS = {"table1": ["pc_slices", "presto_vote", "linear_probe"], "coreset": ["large_loss"]}
# the toys' own predictors, besides the shared ones
TOY_PREDICTORS = {"pc_slices": ("combiner", "router"), "presto_vote": ("combiner", "router", "vote"),
                  "linear_probe": ("model",)}


def doc_additions() -> tuple[dict[str, str], list[tuple[str, str, str]], list[str]]:
    """From the page: module path -> its code; (key, stage, line) of every catalogue entry it adds; the
    ``PREDICTORS`` lines it adds."""
    text = DOC.read_text()
    modules, entries, predictors = {}, [], []
    for before, code in re.findall(r"([^\n]*)\n+```python\n(.*?)```", text, re.S):
        path = re.search(r"`(src/prestorepro/[\w/]+\.py)`:\s*$", before)
        entry = re.fullmatch(r'\s*Method\("(\w+)", "(\w+)", .*\),\n', code)
        predictor = re.fullmatch(r'\s*"(\w+)": ".*",\n', code)
        if path:
            modules[path.group(1)] = code
        elif entry:
            entries.append((entry.group(1), entry.group(2), code.rstrip("\n")))
        elif predictor:
            predictors.append(code.rstrip("\n"))
    return modules, entries, predictors


def add_toy_methods(repo: Path) -> None:
    """Write the page's modules, insert each entry after the last entry of its stage and each predictor at
    the end of ``PREDICTORS``."""
    modules, entries, predictors = doc_additions()
    assert set(modules) == {"src/prestorepro/partitioners/pc_slices.py", "src/prestorepro/table1/presto_vote.py",
                            "src/prestorepro/table1/linear_probe.py", "src/prestorepro/coreset/large_loss.py"}
    assert sorted(k for k, _, _ in entries) == sorted(k for keys in TOYS.values() for k in keys)
    for rel, code in modules.items():
        assert not (repo / rel).exists()
        (repo / rel).write_text(code)
    cat = (repo / CATALOGUE).read_text()
    for _, stage, line in entries:
        last = list(re.finditer(rf'^    Method\("\w+", "{stage}", .*\),$', cat, re.M))[-1]
        cat = cat[:last.end()] + "\n" + line + cat[last.end():]
    for line in predictors:
        end = re.search(r"^PREDICTORS: dict\[str, str\] = \{\n.*?^\}", cat, re.M | re.S)
        cat = cat[:end.end() - 1] + line + "\n" + cat[end.end() - 1:]
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
    cfg["table1"]["methods"] = ["equal_kmeans"] + (TOYS["table1"] if toys else [])
    cfg["compress"] = {"methods": []}
    cfg["coreset"].update(methods=["full"] + (TOYS["coreset"] if toys else []), epochs=4, interval=2)
    return cfg


def _snakemake(repo: Path, config: dict, *args: str) -> str:
    (repo / "extended.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", "extended.yaml", *args], cwd=repo,
                         env=_env(repo), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout + out.stderr


def _changed_files(repo: Path) -> set[str]:
    """The copy's files (the repository's, without caches) that differ from the checkout's or are new."""
    changed = set()
    for f in repo.rglob("*"):
        rel = f.relative_to(repo)
        if not f.is_file() or "__pycache__" in rel.parts or rel.name == "extended.yaml":
            continue
        if not (ROOT / rel).is_file() or (ROOT / rel).read_bytes() != f.read_bytes():
            changed.add(str(rel))
    return changed


def test_each_kind_takes_the_files_the_page_says_and_the_copy_registers_them(repo):
    changed = _changed_files(repo)
    # one module per toy, and the catalogue: a partitioner, a mixture with its own predictor, a single model
    # and a coreset method each in two files (their module and the one shared catalogue)
    assert changed == {f"src/prestorepro/{f}" for f in ("catalogue.py", "partitioners/pc_slices.py",
                                                         "table1/presto_vote.py", "table1/linear_probe.py",
                                                         "coreset/large_loss.py")}, changed
    out = _python(repo, "from prestorepro import catalogue as c\n"
                        "from prestorepro.table1.run import METHODS\n"
                        "from prestorepro.coreset.methods import CORESET_METHODS\n"
                        "print(c.keys('table1')[-3:]); print(c.partitioners());"
                        " print(all(k in METHODS for k in ['pc_slices', 'presto_vote', 'linear_probe']),"
                        " 'large_loss' in CORESET_METHODS, c.paper_name('large_loss'));"
                        " print(c.method_predictors('presto_vote'), c.method('table1', 'linear_probe').kind)")
    lines = out.splitlines()
    assert lines[0] == "['pc_slices', 'presto_vote', 'linear_probe']" and "'pc_slices'" in lines[1]
    assert lines[2] == "True True Large-Loss"
    assert lines[3] == "('combiner', 'router', 'vote') single"


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
    for toy in TOYS["table1"]:
        assert re.search(rf"rule train_table1:.*?wildcards: dataset=digits, k=3, method={toy}, seed=0", text, re.S)
    assert re.search(r"rule train_coreset:.*?coreset_method=large_loss", text, re.S)
    # a key the catalogue lacks is still refused when the workflow is parsed
    bad = _config(str(tmp_path / "r"), toys=True)
    bad["table1"]["methods"].append("pc_slicez")
    (repo / "extended.yaml").write_text(yaml.safe_dump(bad))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "extended.yaml"], cwd=repo,
                         env=_env(repo), capture_output=True, text=True, timeout=300)
    index = len(bad["table1"]["methods"]) - 1
    assert out.returncode != 0 and f"config key table1.methods.{index}: 'pc_slicez' is not valid" in out.stdout + out.stderr


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
    assert counts == {"train_table1": str(len(TOYS["table1"])), "train_coreset": "1", "make_table1": "1",
                      "make_coreset_table": "1"}, counts
    _snakemake(repo, extended, "--cores", "2", "results/tables/table1.md", "results/tables/coreset.md")
    assert all(p.read_bytes() == b for p, b in before.items())  # nothing retrained (--touch moved the mtimes)

    results = repo / "results"
    names = {"pc_slices": "PC-Slices", "presto_vote": "PRESTO-Vote", "linear_probe": "Linear probe"}
    table = (results / "tables" / "table1.md").read_text()
    for toy, predictors in TOY_PREDICTORS.items():
        metrics = yaml.safe_load((results / "table1" / "digits" / "k3" / toy / "seed0" / "metrics.json").read_text())
        assert metrics["method"] == toy and set(metrics["predictors"]) == set(predictors)
        for predictor in predictors:  # every predictor the method has, and no other
            row = _row(results / "tables" / "table1.md", predictor, names[toy])
            shown = float(re.search(r"(\d+\.\d+) ± 0\.00", " ".join(row[3:])).group(1))
            assert shown == round(100 * metrics["predictors"][predictor]["test_accuracy"], 2), row
        others = {"combiner", "router", "vote", "model"} - set(predictors)
        assert not any(re.search(rf"\| {p} \| {re.escape(names[toy])} \|", table) for p in others), toy
    assert _row(results / "tables" / "table1.md", "combiner", "Equal-KMeans")
    row = _row(results / "tables" / "coreset.md", "Large-Loss")
    assert row[2:5] == ["0.5", "1", "150"], row  # fraction 0.5 of digits' 300 training points, one seed
    assert re.fullmatch(r"\d+\.\d+ ± 0\.00", row[5]), row


@pytest.mark.slow
def test_the_copys_whole_default_suite_passes_with_the_toy_methods(tmp_path):
    # a test, caption or doc of the copy that lists the methods by hand fails here, not only in a user's fork
    repo = tmp_path / "repo"
    copy_repository(repo, commit=True)
    add_toy_methods(repo)
    # deselected: this file (it would copy the copy); the two tests whose premise is that the active
    # environment's editable install is the checkout under test, which a copy run beside it is not; and the
    # tiny workflow's two full runs and the resumes compared with them, whose runs read tests/configs/tiny.yaml's
    # method list, which a new method does not join (the copy would repeat the checkout's runs; the rest of that
    # file, its config errors included, runs)
    tiny_runs = ["tests/test_reliability_workflow.py::test_two_runs_give_identical_metrics_and_assignments",
                 "tests/test_resume_workflow.py"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *(arg for name in tiny_runs for arg in ("--deselect", name)),
                          "--deselect", "tests/test_catalogue_extension.py",
                          "--deselect", "tests/test_own_code.py::test_the_environment_imports_the_original_checkout",
                          "--deselect", "tests/test_own_code.py::test_a_process_that_imported_another_checkouts_package"
                                        "_is_refused"], cwd=repo, env=_env(repo),
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    assert re.search(r"\d+ passed", out.stdout), out.stdout[-2000:]
