"""The catalogue of methods is the one list: every registry of a stage's methods holds exactly its entries,
the config schema's method lists come from it, the report orders and names methods by it, and a
registration or an entry without its counterpart is refused with the fix."""
import pytest

from prestorepro import catalogue
from prestorepro.catalogue import Method, check_implemented, keys, paper_name
from prestorepro.config import load_schema, validate_config
from prestorepro.registry import Registry


def _registered():
    from prestorepro.compress.methods import METHODS as COMPRESS
    from prestorepro.coreset.methods import CORESET_METHODS
    from prestorepro.partitioners.base import PARTITIONERS
    from prestorepro.table1.run import METHODS as TABLE1

    return {"table1": TABLE1, "compress": COMPRESS, "coreset": CORESET_METHODS, "partitioners": PARTITIONERS}


def test_every_registry_holds_exactly_the_catalogue_entries_of_its_stage():
    reg = _registered()
    assert set(reg["table1"]) == set(keys("table1"))
    assert set(reg["partitioners"]) == set(catalogue.partitioners())
    # the paper's clustering baselines and the random partition are partitioners; PRESTO is not
    assert {"equal_kmeans", "kmeans_pp", "agglomerative", "gmm", "bgmm", "random"} <= set(catalogue.partitioners())
    assert set(reg["coreset"]) == set(keys("coreset"))
    # a Table-2 row that is a Table-1 run (PRESTO, the one model) has no compress implementation of its own
    assert set(reg["compress"]) == {m.key for m in catalogue.methods("compress") if m.role not in catalogue.TABLE1_ROLES}


def _subsequence(items, within) -> bool:
    it = iter(within)
    return all(x in it for x in items)


def test_the_paper_order_and_names():
    # the paper's rows keep the paper's order among whatever else the catalogue holds
    from prestorepro.report.paper import TABLE1, TABLE2

    assert _subsequence(list(TABLE1), keys("table1")) and _subsequence(list(TABLE2), keys("compress"))
    assert [paper_name(k, "table1") for k in TABLE1] == [
        "Equal-KMeans", "KMeans++", "Agglomerative", "GMM", "BGMM", "Learn-MLR", "PRESTO"]
    assert [paper_name(k, "compress") for k in TABLE2] == ["GraSP", "SNIP", "KD", "DGKD", "PRESTO"]
    # SPEC §5b's baselines beyond the paper, after the paper's rows
    beyond = ["random", "moe", "single"]
    assert _subsequence(["presto", *beyond], keys("table1"))
    assert [paper_name(k, "table1") for k in beyond] == ["Random partition", "Mixture of experts", "One model"]
    assert {"equal_kmeans", "kmeans_pp", "random"} <= set(catalogue.presto_initialisations())
    assert "presto" not in catalogue.presto_initialisations()
    assert {"craig", "gradmatch", "pbcs"} <= set(catalogue.option_sections("coreset"))
    assert catalogue.option_sections("table1") == ["moe"]
    assert paper_name("not_a_method") == "not_a_method"


def test_kinds_and_predictors_of_the_table1_methods():
    kind = {m.key: m.kind for m in catalogue.methods("table1")}
    assert {k: kind[k] for k in ("gmm", "random", "presto", "learn_mlr", "moe", "single")} == {
        "gmm": "partitioner", "random": "partitioner", "presto": "mixture", "learn_mlr": "mixture", "moe": "mixture",
        "single": "single"}
    # every mixture and partitioner is evaluated under the shared predictors; a method may add its own
    for m in catalogue.methods("table1"):
        assert m.predictors and set(m.predictors) <= set(catalogue.PREDICTORS)
        if m.kind != "single":
            assert set(catalogue.SHARED_PREDICTORS) <= set(m.predictors), m.key
    assert catalogue.method_predictors("moe") == ("combiner", "router", "mixture")
    assert catalogue.method_predictors("single") == ("model",)
    assert catalogue.predictor_order("router", ["presto", "moe", "single"]) == ["router", "combiner", "mixture", "model"]
    assert catalogue.predictor_order("combiner", ["presto"]) == ["combiner", "router"]
    # the random partition runs on the embeddings themselves (no PCA); every clustering on the projection
    assert not catalogue.method("table1", "random").pca and catalogue.method("table1", "gmm").pca
    assert catalogue.synthetic_methods()[:1] == ["presto"] and "moe" in catalogue.synthetic_methods()
    with pytest.raises(ValueError, match="kind 'clustering' is not one of partitioner, mixture, single"):
        Method("x", "table1", "X", kind="clustering")
    with pytest.raises(ValueError, match="must be distinct names of catalogue.PREDICTORS"):
        Method("x", "table1", "X", kind="mixture", predictors=("combiner", "oracle"))


def test_the_schema_lists_and_defaults_come_from_the_catalogue():
    props = load_schema()["properties"]
    for stage in ("table1", "compress", "coreset"):
        assert props[stage]["properties"]["methods"]["items"]["enum"] == keys(stage)
    assert props["table1"]["properties"]["methods"]["default"] == keys("table1")
    init = props["datasets"]["additionalProperties"]["properties"]["init"]["enum"]
    assert init == catalogue.presto_initialisations()


def test_methods_all_is_every_method_of_the_stage_in_catalogue_order():
    default = validate_config({"datasets": {"synthetic": {"source": "synthetic"}}})
    assert default["table1"]["methods"] == keys("table1") and default["compress"]["methods"] == keys("compress")
    assert default["coreset"]["methods"] == []  # the coreset stage runs only when asked
    cfg = validate_config({"datasets": {"synthetic": {"source": "synthetic"}}, "table1": {"methods": "all"},
                           "coreset": {"methods": "all"}})
    assert cfg["table1"]["methods"] == keys("table1")
    assert cfg["coreset"]["methods"] == keys("coreset")


def test_a_registration_without_an_entry_names_the_catalogue():
    reg = Registry("toy method", stage="table1")
    with pytest.raises(ValueError, match=r"'toy' is not a table1 method of the catalogue: add its entry to "
                                         r"src/prestorepro/catalogue.py \(docs/adding-a-method.md\)"):
        reg.register("toy")
    reg.register("presto")(object())
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("presto")(object())


def test_an_entry_without_an_implementation_names_the_fix():
    with pytest.raises(RuntimeError, match=r"table1 method\(s\) equal_kmeans, learn_mlr have no implementation"):
        check_implemented("table1", [k for k in keys("table1") if k not in ("equal_kmeans", "learn_mlr")])
    check_implemented("compress", ["grasp", "snip", "kd", "dgkd"])  # PRESTO's and the one model's: Table-1 runs


def test_a_lookup_miss_lists_the_stage_and_an_entry_checks_its_stage():
    with pytest.raises(KeyError, match=r"'craig' is not a table1 method of the catalogue; valid: equal_kmeans"):
        catalogue.method("table1", "craig")
    with pytest.raises(ValueError, match="unknown stage 'tabel1'"):
        Method("x", "tabel1", "X")


def test_the_test_configs_run_every_kind_and_every_method():
    import yaml
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    tiny = yaml.safe_load((root / "tests" / "configs" / "tiny.yaml").read_text())
    kinds = {catalogue.method("table1", m).kind for m in tiny["table1"]["methods"]}
    assert kinds == set(catalogue.KINDS), "tests/configs/tiny.yaml needs a Table-1 method of every kind"
    assert {"presto", "moe"} <= set(tiny["table1"]["methods"])  # the jointly trained mixture with its own predictor
    every = yaml.safe_load((root / "tests" / "configs" / "every_rule.yaml").read_text())
    assert all(every[stage]["methods"] == "all" for stage in catalogue.STAGES)
