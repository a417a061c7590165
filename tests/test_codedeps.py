"""Every rule's code input is the code stamp of its own script, holding the package modules its job runs
(prestorepro.codedeps, prestorepro.stamps.code_stamp), so that an edit to any of them re-plans exactly the
jobs that run it."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prestorepro.codedeps import closure_by_name, import_closure
from prestorepro.io import read_json, sha256_file

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
PKG = ROOT / "src" / "prestorepro"


def _rule_scripts() -> dict[str, str]:
    """rule name -> its script's name, read from the rule files."""
    out = {}
    for f in (ROOT / "workflow" / "rules").glob("*.smk"):
        for rule, body in re.findall(r"(?m)^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", f.read_text()):
            m = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', body)
            if m:
                out[rule] = m.group(1)
    return out


def _job_imports(script: Path) -> str:
    """The script's import statements, then the import statements inside the job functions it imports."""
    tree = ast.parse(script.read_text())
    lines = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prestorepro.jobs."):
            module = PKG.joinpath(*node.module.split(".")[1:]).with_suffix(".py")
            defs = {d.name: d for d in ast.parse(module.read_text()).body if isinstance(d, ast.FunctionDef)}
            for alias in node.names:
                if alias.name in defs:
                    lines += [ast.unparse(n) for n in ast.walk(defs[alias.name])
                              if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join(lines)


# One interpreter imports the heavy third-party packages once, then forks one child per script: each child
# executes the script's imports and its job's own (lazy) imports and lists the package modules Python
# loaded. A fork starts from a sys.modules without any prestorepro module, as a fresh interpreter does
# (the third-party imports load none), at a fraction of 27 interpreters' start-up.
_THIRD_PARTY = "import numpy, scipy, sklearn, torch, matplotlib, pandas, yaml"
_PROBE = "import json, os, sys\n" + _THIRD_PARTY + """
scripts = json.loads(sys.argv[1])
for name, imports in scripts:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            exec(imports, {})
            files = sorted(getattr(m, "__file__", "") or "" for n, m in list(sys.modules.items())
                           if n == "prestorepro" or n.startswith("prestorepro."))
            os.write(w, json.dumps({"ok": True, "files": files}).encode())
        except BaseException as exc:
            os.write(w, json.dumps({"ok": False, "error": repr(exc)}).encode())
        os.close(w)
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        print(json.dumps([name, json.loads(f.read())]))
    os.waitpid(pid, 0)
"""


def test_the_static_closure_covers_what_the_job_really_imports():
    assert not any(n == "prestorepro" or n.startswith("prestorepro.") for n in _third_party_modules_loaded())
    scripts = [[s.name, _job_imports(s)] for s in SCRIPTS]
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(scripts)], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = dict(json.loads(line) for line in out.stdout.splitlines())
    assert sorted(seen) == sorted(s.name for s in SCRIPTS)
    for script in SCRIPTS:
        got = seen[script.name]
        assert got["ok"], (script.name, got.get("error"))
        loaded = {Path(p).resolve() for p in got["files"] if p}
        static = {p.resolve() for p in import_closure(script)}
        assert loaded and loaded <= static, (script.name, sorted(str(p) for p in loaded - static))


def _third_party_modules_loaded() -> list[str]:
    """The modules a fresh interpreter holds after the probe's third-party imports (none of the package's)."""
    out = subprocess.run([sys.executable, "-c", f"import sys\n{_THIRD_PARTY}\nprint('\\n'.join(sys.modules))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_every_rule_lists_one_code_stamp_of_its_own_script(tmp_path):
    scripts = _rule_scripts()
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--config",
                          f"results={tmp_path / 'r'}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n    input: ([^\n]*)", out.stdout, re.M)
    checked = set()
    for rule, inputs in jobs:
        if rule not in scripts or rule == "download_data":
            continue
        # one code input per job (not every module: the plan stays readable), its own script's stamp;
        # a dry run writes it under Snakemake's temporary folder, not into the results tree
        code = [i for i in inputs.split(", ") if "/.code/" in i]
        assert [c.split("/.settings/.code/")[1] for c in code] == [f"{scripts[rule]}/code.json"], (rule, inputs)
        assert not any("src/prestorepro" in i for i in inputs.split(", ")), rule
        checked.add(rule)
    # every rule with a script was seen in the plan, but download_data (a code edit never re-downloads)
    # and Fig. 3 / 8 (the paper's datasets only)
    assert checked == set(scripts) - {"download_data", "make_paper_tradeoff_figure"}, set(scripts) - checked
    assert not (tmp_path / "r").exists()  # a dry run writes nothing into the results tree


def test_the_code_stamps_of_a_finished_run_hold_each_scripts_closure(tiny_reference):
    # the tiny reference run (tests/tiny_workflow.py) wrote one code stamp per job script it ran
    stamps = sorted((tiny_reference / ".settings" / ".code").glob("*/code.json"))
    assert len(stamps) >= 8, stamps  # the training jobs' scripts and table1_point
    for stamp in stamps:
        content = read_json(stamp)
        script = ROOT / "workflow" / "scripts" / f"{content['script']}.py"
        closure = closure_by_name(script)
        assert sorted(content["modules"]) == sorted(closure), content["script"]
        assert content["modules"] == {name: sha256_file(path) for name, path in closure.items()}


@pytest.mark.parametrize("module, runs, never", [
    # the embeddings loader, missed by the hand-kept lists once: every training job reads it
    ("features.py", {"train_table1", "train_compress", "train_guide_compress", "train_coreset", "train_ablation"},
     {"make_table1", "make_fig6", "prepare_data", "table1_point"}),
    # plotting code: figure jobs only, never a training job
    ("report/figures.py", {"make_fig6", "make_fig7", "make_presto_rounds", "make_tradeoff_compress", "make_ablation"},
     {"train_table1", "train_compress", "train_coreset", "synthetic_experiment", "embed", "make_table4"}),
    ("training/fused.py", {"train_table1", "synthetic_experiment", "train_ablation", "synthetic_ablation"},
     {"make_table1", "prepare_data", "embed", "make_ablation"}),
])
def test_who_runs_a_module(module, runs, never):
    target = (PKG / module).resolve()
    readers = {s.stem for s in SCRIPTS if target in {p.resolve() for p in import_closure(s)}}
    assert runs <= readers, runs - readers
    assert not never & readers, never & readers


def test_job_modules_keep_heavy_imports_inside_the_jobs():
    # a job module's top level stays light (no torch, no report drawing code), so that its jobs' code
    # inputs are their own imports and a table job loads no torch
    for f in (PKG / "jobs").glob("*.py"):
        tree = ast.parse(f.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        heavy = ("prestorepro.report", "sklearn", "prestorepro.jobs.presto", "prestorepro.table1", "prestorepro.presto")
        assert not {n for n in names if n == "torch" or n.startswith(heavy)}, f.name


def test_relative_imports_and_packages_are_followed(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from prestorepro.presto import gate\n")
    files = {p.relative_to(PKG).as_posix() for p in import_closure(script)}
    # the package initialisers run on the way, and gate's own imports follow
    assert {"__init__.py", "presto/__init__.py", "presto/gate.py", "training/single.py", "streams.py"} <= files
    # a code stamp's names hold wherever the package lies (a copied checkout, a github() module's unpacked src/)
    assert sorted(closure_by_name(script)) == sorted(f"prestorepro/{f}" for f in files)


def test_imports_for_annotations_only_are_not_code_a_job_runs(tmp_path):
    # a job module names its spec's type under `if TYPE_CHECKING:` (never imported when it runs): the training
    # job's code inputs hold no table or figure spec, and the table job's none of the training jobs' specs
    script = tmp_path / "job.py"
    script.write_text("from prestorepro.jobs.compress import train_compress\n")
    names = {p.name for p in import_closure(script)}
    assert "compress.py" in names and "report_specs.py" not in names and "specs.py" not in names
    script.write_text("from prestorepro.jobs.compress import make_table2\n")
    names = {str(p) for p in import_closure(script)}
    assert not any(n.endswith(("jobs/specs.py", "jobs/report_specs.py", "features.py")) for n in names)
