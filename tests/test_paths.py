"""The one layout of the results tree (prestorepro.paths): the rules, the plan and the report name their files
through it, and a file's fields read back from its path."""
import re
from pathlib import Path

import pytest

from prestorepro import paths
from prestorepro.compress.budget import GUIDE_ROLES
from prestorepro.config import load_config
from prestorepro.plan import Plan

ROOT = Path(__file__).resolve().parents[1]


def test_pattern_keeps_unfilled_fields_as_wildcards_and_renames_on_request():
    assert paths.pattern("res", "table1_metrics") == "res/table1/{dataset}/k{k}/{method}/seed{seed}/metrics.json"
    assert paths.pattern("res", "table1_metrics", method="presto", seed=2) == \
        "res/table1/{dataset}/k{k}/presto/seed2/metrics.json"
    assert paths.pattern("res", "features", dataset="{image_dataset}") == "res/embeddings/{image_dataset}/features.npz"
    assert paths.stem("res", "figure", "fig6_{dataset}") == "res/figures/fig6_{dataset}"
    assert paths.relative("coreset_metrics", dataset="d", coreset_method="full", fraction="1", seed=0) == \
        "coreset/d/full/f1/seed0/metrics.json"
    with pytest.raises(KeyError, match="has no field \\['role'\\]"):
        paths.pattern("res", "table1_metrics", role="teacher")


def test_files_is_snakemakes_expand_in_order():
    assert paths.files("r", "ablation", dataset="d", variant=["a", "b"], seed=[0, 1], file="metrics.json") == [
        "r/ablation/d/a/seed0/metrics.json", "r/ablation/d/a/seed1/metrics.json",
        "r/ablation/d/b/seed0/metrics.json", "r/ablation/d/b/seed1/metrics.json"]
    assert paths.files("r", "coreset_metrics", fraction=["0.1", "1_over_k"]) == [
        "r/coreset/{dataset}/{coreset_method}/f0.1/seed{seed}/metrics.json",
        "r/coreset/{dataset}/{coreset_method}/f1_over_k/seed{seed}/metrics.json"]
    assert paths.files("r", "table", name="t", ext=[]) == []


@pytest.mark.parametrize("template", sorted(paths.TEMPLATES))
def test_every_template_reads_back_its_fields(template):
    values = {f: f"v{i}" for i, f in enumerate(paths.fields(template))}
    for root in ("results", "/abs/other results/x", "."):
        assert paths.parse(template, paths.pattern(root, template, **values)) == values


def test_parse_refuses_a_file_of_another_layout():
    assert paths.parse("table1_metrics", "results/table1/digits/k5/presto/seed0/metrics.json") == \
        {"dataset": "digits", "k": "5", "method": "presto", "seed": "0"}
    with pytest.raises(ValueError, match="is not a file of the layout"):
        paths.parse("table1_metrics", "results/table1/digits/presto/seed0/metrics.json")
    with pytest.raises(ValueError, match="is not a file of the layout"):
        paths.parse("table1_metrics", "results/compress/digits/presto/k5/seed0/metrics.json")


def test_the_rules_write_no_results_path_of_their_own():
    # every input and output under the results root comes from prestorepro.paths (P.path, P.files, P.stem);
    # only a job's log, benchmark and checkpoint, which no other job or the report reads, are written in place
    for f in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for literal in re.findall(r'f"\{R\}/([^"]*)"', line):
                assert literal.startswith(("logs/", "benchmarks/", "checkpoints/")), f"{f.name}:{n}: {line.strip()}"


def test_the_guide_roles_are_written_once():
    plan = Plan(load_config(str(ROOT / "config" / "paper.yaml")))
    pattern = re.compile(f"^(?:{plan.compress.guide_role_constraint()})$")
    assert [r for r in GUIDE_ROLES if pattern.match(r)] == list(GUIDE_ROLES)
    assert not pattern.match("student") and not pattern.match("teacherx")
    rules = (ROOT / "workflow" / "rules" / "compress.smk").read_text()
    assert "role=P.compress.guide_role_constraint()" in rules
    assert not any(f'"{r}' in rules or f'|{r}' in rules for r in GUIDE_ROLES)


def test_the_plan_names_the_layouts_files():
    plan = Plan(load_config(str(ROOT / "config" / "paper.yaml")))
    run = plan.run
    R, k = run.results, run.dataset_k("cifar10")
    first = run.table1_metrics("cifar10")[0]
    assert first == f"{R}/table1/cifar10/k{k}/{run.table1_methods[0]}/seed{run.seeds[0]}/metrics.json"
    assert all(paths.parse("table1_metrics", f)["dataset"] == "cifar10" for f in run.table1_metrics("cifar10"))
    for f in plan.compress.metrics("cifar10"):
        try:
            fields = paths.parse("compress_metrics", f)
        except ValueError:
            fields = paths.parse("compress_table1_metrics", f)
        assert fields["dataset"] == "cifar10"
    assert all(paths.parse("coreset_metrics", f)["dataset"] == "cifar10" for f in plan.coreset.metrics("cifar10"))
    assert f"{R}/paper_comparison.md" in plan.all_targets()
