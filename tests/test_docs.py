"""The docs' lists of methods cannot go stale: the README names the paper's methods and SPEC §5b's by the
catalogue's names, the report caption of Table 1 is filled from the configured methods, docs/adding-a-method.md
describes the catalogue's kinds, and no doc names a workflow rule that does not exist."""
import re
from pathlib import Path

from prestorepro import catalogue
from prestorepro.report.paper import TABLE1, TABLE2

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _intro() -> str:
    return README.split("## ", 1)[0]


def test_the_readme_intro_names_the_papers_methods_and_the_baselines_beyond_it():
    intro = " ".join(_intro().split())
    for key in TABLE1:
        assert catalogue.paper_name(key, "table1") in intro, key
    for key in TABLE2:
        assert catalogue.paper_name(key, "compress") in intro, key
    for phrase in ("a random partition", "a mixture of experts", "one model of PRESTO's size"):
        assert phrase in intro
    assert catalogue.has("table1", "random") and catalogue.has("table1", "moe") and catalogue.has("table1", "single")
    assert "python -m prestorepro.catalogue" in intro and "docs/adding-a-method.md" in intro


def test_the_table1_caption_is_filled_from_the_configured_methods():
    caption = (ROOT / "workflow" / "report" / "table1.rst").read_text()
    assert "{{ snakemake.params.names" in caption
    # no method written into the caption by hand
    assert not [m.paper_name for m in catalogue.methods("table1") if m.paper_name in caption and m.key != "presto"]


def test_the_page_on_adding_a_method_describes_the_catalogues_kinds():
    page = (ROOT / "docs" / "adding-a-method.md").read_text()
    kinds = re.findall(r"^\| `(\w+)` \|", page, re.M)
    assert kinds == list(catalogue.KINDS)
    for name in catalogue.SHARED_PREDICTORS:
        assert f"`{name}`" in page


def _rules() -> set[str]:
    names = set()
    for f in (ROOT / "workflow" / "rules").glob("*.smk"):
        names |= set(re.findall(r"^rule (\w+):", f.read_text(), re.M))
    return names | set(re.findall(r"^rule (\w+):", (ROOT / "Snakefile").read_text(), re.M))


def test_every_rule_the_docs_name_exists():
    rules = _rules()
    assert {"train_table1", "table1_point", "synthetic_method", "make_fig6_method"} <= rules
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    prefixes = ("train_", "make_", "summarize_", "synthetic_", "table1_", "prepare_", "download_")
    for doc in docs:
        for name in set(re.findall(r"`(\w+)`", doc.read_text())):
            if name.startswith(prefixes) and re.fullmatch(r"[a-z0-9_]+", name) and name not in rules \
                    and not (ROOT / "workflow" / "scripts" / f"{name}.py").exists():
                # a config key or a function is written with its section or parentheses; a bare snake_case
                # name with a rule's prefix must be a rule
                assert name in KNOWN_NON_RULES, f"{doc.name} names `{name}`, which is no rule of the workflow"


# names with a rule's prefix that the docs use for something else (a function, a metrics key)
KNOWN_NON_RULES = {"train_single", "train_seconds"}
