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
    assert set(reg["partitioners"]) == set(catalogue.partitioners()) == {
        "equal_kmeans", "kmeans_pp", "agglomerative", "gmm", "bgmm"}
    assert set(reg["coreset"]) == set(keys("coreset"))
    # Table 2's PRESTO is the Table-1 run; every other compress entry has its own implementation
    assert set(reg["compress"]) == set(keys("compress")) - {"presto"}


def test_the_paper_order_and_names():
    assert keys("table1") == ["equal_kmeans", "kmeans_pp", "agglomerative", "gmm", "bgmm", "learn_mlr", "presto"]
    assert [paper_name(k, "table1") for k in keys("table1")] == [
        "Equal-KMeans", "KMeans++", "Agglomerative", "GMM", "BGMM", "Learn-MLR", "PRESTO"]
    assert keys("compress") == ["grasp", "snip", "kd", "dgkd", "presto"]
    assert catalogue.presto_initialisations() == ["equal_kmeans", "kmeans_pp", "random"]
    assert catalogue.option_sections("coreset") == ["craig", "gradmatch", "pbcs"]
    assert paper_name("not_a_method") == "not_a_method"


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
    check_implemented("compress", ["grasp", "snip", "kd", "dgkd"])  # PRESTO's is the Table-1 run


def test_a_lookup_miss_lists_the_stage_and_an_entry_checks_its_stage():
    with pytest.raises(KeyError, match=r"'craig' is not a table1 method of the catalogue; valid: equal_kmeans"):
        catalogue.method("table1", "craig")
    with pytest.raises(ValueError, match="unknown stage 'tabel1'"):
        Method("x", "tabel1", "X")
