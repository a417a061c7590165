"""The code stays easy to change (benchmarks/code_measures.py measures it from the source alone)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("code_measures", ROOT / "benchmarks" / "code_measures.py")
measures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measures)


def test_no_function_takes_more_than_eight_parameters():
    m = measures.measure()
    assert m["functions_over_limit"] == [] and m["largest_parameter_count"] <= measures.MAX_PARAMETERS


def test_run_presto_reads_like_algorithm_1():
    assert measures.measure()["run_presto_lines"] <= 60


def test_no_module_is_longer_than_the_docs_say():
    assert measures.measure()["longest_module"]["lines"] <= measures.MAX_MODULE_LINES
    assert f"no module is over {measures.MAX_MODULE_LINES}" in (ROOT / "docs" / "architecture.md").read_text()


def test_no_module_imports_one_that_imports_it_back():
    assert measures.circles(measures.import_graph()) == []


def test_the_measures_see_what_they_measure():
    # a circle and a parameter bag, as the measures would find them in the package
    assert measures.circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert measures.circles({"a": {"b"}, "b": set()}) == []
    import ast

    fn = ast.parse("def f(self, a, b, *c, d=1, **e): pass").body[0]
    assert measures.parameter_count(fn) == 5
    graph = measures.import_graph()
    assert "prestorepro.config" in graph["prestorepro.plan.base"]
    assert "prestorepro.jobs.specs" in graph["prestorepro.jobs.presto"]
