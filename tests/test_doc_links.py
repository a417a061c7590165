"""The docs hold together: every relative link and image in README.md, config/README.md and docs/*.md points
at a file that exists, every `#anchor` names a heading of its target (GitHub's anchor rule), the README stays
a short first page, and it links every page under docs/."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINKING = [README, ROOT / "config" / "README.md", *DOCS]

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str):
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield re.sub(r"(`+)(?:(?!\1).)+\1", "", line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without Markdown markup, lowercased, every character but
    letters, digits, underscores, hyphens and spaces dropped, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor the headings of a Markdown text give, a repeated heading numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images of a text, outside code."""
    return [m.group(1) for line in _prose_lines(text) for m in _LINK.finditer(line)]


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """What is wrong with the relative links of the Markdown file `path` (its contents, or `text`): a
    target that does not exist, or an anchor that names no heading of the target."""
    text = path.read_text() if text is None else text
    problems = []
    for target in links(text):
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # an external address (https:, mailto:)
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{path.name}: {target}: no file {dest}")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            problems.append(f"{path.name}: {target}: no heading with the anchor #{anchor} in {dest.name}")
    return problems


def test_the_anchor_rule_is_githubs():
    assert slug("PRESTO against the paper: what reproduces and what does not") == \
        "presto-against-the-paper-what-reproduces-and-what-does-not"
    assert slug("The authors' code beside ours") == "the-authors-code-beside-ours"
    assert slug("The software environment under `--use-conda`") == "the-software-environment-under---use-conda"
    assert slug("Table 1: three kinds of method") == "table-1-three-kinds-of-method"
    assert anchors("# A\n```\n# not a heading\n```\n## A\n### B c\n") == {"a", "a-1", "b-c"}


def test_the_checker_catches_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.md").write_text("# Other page\n\n## A section: with punctuation\n")
    (tmp_path / "pic.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Here\n\n"
        "[ok](sub/other.md) [ok](sub/other.md#a-section-with-punctuation) [ok](#here) ![ok](pic.png)\n"
        "[ok](https://example.org/x.md) `[in code](missing.md)`\n"
        "```\n[in a block](missing.md)\n```\n"
        "[bad](sub/missing.md) [bad](sub/other.md#no-such-section) [bad](#nowhere) ![bad](missing.png)\n"
    )
    problems = broken_links(page)
    assert len(problems) == 4, problems
    for target in ("sub/missing.md", "sub/other.md#no-such-section", "#nowhere", "missing.png"):
        assert any(f": {target}: " in p for p in problems), (target, problems)
    # the same page, every link fixed, passes
    fixed = page.read_text().split("[bad]")[0]
    assert broken_links(page, fixed) == []


@pytest.mark.parametrize("path", LINKING, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    assert path.is_file(), path
    assert broken_links(path) == []


def test_the_readme_is_a_short_first_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= 160, f"README.md has {len(lines)} lines; move the details into docs/"
    first_screen = "\n".join(lines[:40])
    assert "<!-- test-command -->" in first_screen and "snakemake --cores 2" in first_screen


def test_the_readme_links_every_docs_page():
    assert DOCS
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in links(README.read_text())}
    assert [p.name for p in DOCS if p.resolve() not in linked] == []
