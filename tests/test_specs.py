"""One typed, frozen spec per training job (prestorepro.jobs.specs): the rule's params come from it and the job is
built from Snakemake's job object by it alone."""
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from prestorepro.config import load_config
from prestorepro.jobs import specs
from prestorepro.plan import Plan

ROOT = Path(__file__).resolve().parents[1]

# The params each rule has given its jobs since results trees were first written: a settings stamp records
# them (prestorepro.stamps), so a name that changed would re-run every job of a finished tree.
RECORDED = {
    specs.Table1Job: ["checkpoint", "dataset", "device", "embedding", "options", "precision", "presto", "sequential",
                      "table1", "widths"],
    specs.SyntheticJob: ["algorithm", "checkpoint", "dataset", "device", "precision", "synthetic"],
    specs.SyntheticMethodJob: ["checkpoint", "dataset", "device", "options", "precision", "synthetic"],
    specs.GuideJob: ["checkpoint", "dataset", "device", "precision", "settings"],
    specs.CompressJob: ["checkpoint", "dataset", "device", "precision", "presto_widths", "roles", "settings"],
    specs.Table1PointJob: ["dataset"],
    specs.CoresetJob: ["checkpoint_dir", "coreset", "dataset", "device", "fractions", "precision", "widths"],
    specs.AblationImageJob: ["checkpoint_dir", "device", "embedding", "k", "precision", "settings", "table1",
                             "variants", "widths"],
    specs.AblationSyntheticJob: ["checkpoint_dir", "dataset", "device", "precision", "settings", "variants"],
}


@pytest.fixture(scope="module")
def plan():
    return Plan(load_config(str(ROOT / "config" / "config.yaml")))


@pytest.mark.parametrize("spec", list(RECORDED), ids=lambda s: s.__name__)
def test_a_specs_params_are_the_names_results_trees_recorded(plan, spec):
    assert sorted(spec.params(plan)) == RECORDED[spec]
    assert dataclasses.is_dataclass(spec) and spec.__dataclass_params__.frozen


def test_params_come_from_the_plan_and_a_rule_can_override_one(plan):
    p = specs.Table1Job.params(plan)
    run = plan.run
    assert p["presto"] is run.train_presto and p["table1"] is run.train_table1 and p["device"] == run.config["device"]
    assert p["checkpoint"] == f"{run.results}/checkpoints/table1/{{dataset}}/k{{k}}/{{method}}/seed{{seed}}.pt"
    wc = SimpleNamespace(dataset="digits", method="presto", k="5", seed="0")
    assert p["dataset"](wc) == run.config["datasets"]["digits"] and p["sequential"](wc) is False
    full = specs.CoresetJob.params(plan, fractions={"1": 1.0})
    assert full["fractions"] == {"1": 1.0} and callable(specs.CoresetJob.params(plan)["fractions"])
    with pytest.raises(KeyError, match="has no setting"):
        specs.CoresetJob.params(plan, epochs=3)


class _Files(list):
    """Snakemake's output list of a job whose outputs are not named (a table's and a figure's files)."""


def _job(**parts):
    return SimpleNamespace(**{k: _Files(v) if isinstance(v, list) else SimpleNamespace(**v) for k, v in parts.items()})


def test_a_spec_is_built_from_the_snakemake_job():
    job = _job(wildcards={"dataset": "digits", "method": "presto", "k": "5", "seed": "3"},
               input={"features": "r/embeddings/digits/features.npz", "meta": "r/embeddings/digits/features.json",
                      "code": "c"},
               output={"metrics": "m.json", "assignment": "a.npz"},
               params={"device": "cpu", "precision": "float64", "embedding": {"e": 1}, "dataset": {"k": 5},
                       "presto": {"rounds": 2}, "table1": {"t": 1}, "options": {}, "widths": [1, 2, 3],
                       "checkpoint": "ck.pt", "sequential": True})
    spec = specs.Table1Job.from_snakemake(job)
    assert spec.k == 5 and spec.seed == 3 and spec.dataset == "digits" and spec.dataset_config == {"k": 5}
    assert spec.embeddings == specs.Embeddings("r/embeddings/digits/features.npz", "r/embeddings/digits/features.json")
    assert (spec.out_metrics, spec.out_assignment, spec.checkpoint, spec.sequential) == ("m.json", "a.npz", "ck.pt", True)
    assert spec.label is None and spec.other_gates is True and spec.name == "digits presto seed 3"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 4


def test_a_spec_reads_renamed_wildcards_and_the_guides_of_its_roles():
    job = _job(wildcards={"dataset": "d", "cmethod": "dgkd", "point": "table2", "seed": "0"},
               input={"features": "f.npz", "meta": "f.json", "guide_teacher": "t.pt", "guide_teacher_metrics": "t.json",
                      "guide_assistant": "a.pt", "guide_assistant_metrics": "a.json"},
               output={"metrics": "m.json"},
               params={"device": "cpu", "precision": "float32", "dataset": {}, "settings": {}, "presto_widths": [1],
                       "roles": ["teacher", "assistant"], "checkpoint": None})
    spec = specs.CompressJob.from_snakemake(job)
    assert spec.method == "dgkd" and spec.point == "table2"
    assert spec.guide_models == {"teacher": "t.pt", "assistant": "a.pt"}
    assert spec.guide_metrics == {"teacher": "t.json", "assistant": "a.json"}
    full = specs.CoresetJob.from_snakemake(_job(
        wildcards={"dataset": "d", "seed": "1"}, input={"features": "f.npz", "meta": "f.json"},
        output={"metrics": ("a.json",)},
        params={"device": "cpu", "precision": "float32", "dataset": {}, "fractions": {"1": 1.0}, "coreset": {},
                "widths": [1], "checkpoint_dir": None}))
    assert full.method == "full" and full.out_metrics == ["a.json"]


def test_an_ablation_variant_is_the_table1_presto_run_with_its_settings():
    from prestorepro.jobs.ablation import image_variant

    base = specs.AblationImageJob(
        dataset="digits", seed=1, embeddings=specs.Embeddings("f.npz", "f.json"), out_metrics=[], out_assignments=[],
        device="cpu", precision="float32", embedding={}, variants=["configured", "alpha-0.5"],
        settings={"configured": {"dataset": {"k": 5}, "presto": {"alpha": 1.0}},
                  "alpha-0.5": {"dataset": {"k": 5}, "presto": {"alpha": 0.5}}},
        table1={"t": 1}, widths=[1, 2, 3], k=5, checkpoint_dir="ck")
    v = image_variant(base, "alpha-0.5", {"metrics": "m.json", "assignment": "a.npz"}, "ck/alpha-0.5.pt")
    assert isinstance(v, specs.Table1Job) and v.method == "presto" and v.presto == {"alpha": 0.5}
    assert (v.out_metrics, v.out_assignment, v.checkpoint) == ("m.json", "a.npz", "ck/alpha-0.5.pt")
    assert v.label == "digits ablation alpha-0.5" and v.other_gates is False and v.options == {}
    assert image_variant(base, "configured", {"metrics": "m", "assignment": "a"}, "c").other_gates is True


@pytest.mark.parametrize("script", sorted(p.stem for p in (ROOT / "workflow" / "scripts").glob("*.py")))
def test_every_script_only_runs_its_job_with_its_spec(script):
    code = [line for line in (ROOT / "workflow" / "scripts" / f"{script}.py").read_text().splitlines()
            if line and not line.startswith(("#", "from "))]
    assert len(code) == 1 and code[0].startswith("run_script(snakemake, "), code


def test_a_setting_the_rule_gives_must_be_given(plan):
    from prestorepro.jobs.report_specs import ComparisonReport

    with pytest.raises(KeyError, match=r"ComparisonReport.params: the rule gives origin=\.\.\."):
        ComparisonReport.params(plan)
    given = ComparisonReport.params(plan, origin={"files": ["config/config.yaml"], "overrides": {}})
    assert given["origin"] == {"files": ["config/config.yaml"], "overrides": {}}
    assert sorted(given) == ["device", "origin", "predict", "sources"]


def test_a_report_spec_finds_its_stems_among_its_outputs():
    from prestorepro.jobs.report_specs import Fig7Report

    job = _job(wildcards={}, input={"metrics": ["a.json", "b.json"]},
               output=["r/figures/fig7.png", "r/figures/fig7.pdf", "r/tables/fig7_k_sweep.html",
                       "r/tables/fig7_k_sweep.csv", "r/tables/fig7_k_sweep.md"],
               params={"formats": ["png", "pdf"], "predict": "combiner"})
    spec = Fig7Report.from_snakemake(job)
    assert (spec.table_stem, spec.figure_stem) == ("r/tables/fig7_k_sweep", "r/figures/fig7")
    assert spec.metrics == ["a.json", "b.json"] and spec.formats == ["png", "pdf"]
    no_table = _job(wildcards={}, input={"metrics": []}, output=["r/figures/fig7.png"],
                    params={"formats": ["png"], "predict": "combiner"})
    with pytest.raises(ValueError, match=r"no table output among \['r/figures/fig7.png'\]"):
        Fig7Report.from_snakemake(no_table)
