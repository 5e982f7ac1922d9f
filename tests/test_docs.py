"""The manual holds together: a README short enough to read first, links that lead somewhere, and every
file and test it names as proof really there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.manual import DOCS, README, ROOT, anchors, headings, links, pages, read, slug

README_MAX_LINES = 300
PAGES = pages()
# A file the manual names in code: a path in the repository, optionally a glob.
NAMED_FILE = re.compile(r"(?<![\w/.])(?:tests|bench|driftwatch|dashboards|scripts|docs|\.ci)/[\w/.*-]+")
# Files the manual shows a command writing, as examples (docs/development.md: a new migration).
EXAMPLE_FILE = re.compile(r"driftwatch/migrations/versions/\d{4}_what_it_changes\.py")
SECURITY_TESTS = ROOT / "tests" / "reliability"


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_readme_is_at_most_300_lines() -> None:
    assert len(read(README).splitlines()) <= README_MAX_LINES


def test_the_readme_links_every_docs_page() -> None:
    linked = {target.split("#")[0] for target in links(read(README))}

    assert {f"docs/{page.name}" for page in DOCS.glob("*.md")} <= linked


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in links(read(page)):
        if re.match(r"[a-z]+:", target):  # https:, mailto: — not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.is_relative_to(ROOT) or not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(read(linked)):
            broken.append(f"{target}: no such heading")

    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_heading_has_its_own_anchor(page: Path) -> None:
    """Two headings with one title would leave links to the second one depending on GitHub's numbering."""
    titles = [slug(title) for _, title in headings(read(page))]

    assert sorted({title for title in titles if titles.count(title) > 1}) == []


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_file_the_manual_names_exists(page: Path) -> None:
    named = {
        match.rstrip(".")
        for code in re.findall(r"`([^`\n]+)`", read(page))
        for match in NAMED_FILE.findall(code)
    }

    missing = [
        name for name in sorted(named) if not EXAMPLE_FILE.fullmatch(name) and not list(ROOT.glob(name))
    ]

    assert missing == []


def _defines(path: Path, function: str) -> bool:
    return (
        path.exists()
        and re.search(rf"^(?:async )?def {function}\(", read(path), flags=re.MULTILINE) is not None
    )


def _proof_missing(reference: str) -> bool:
    """Whether a test the security or reliability page names as proof is missing. Forms: a path with an
    optional ``::test``, ``X::test`` for ``tests/reliability/test_security_X.py``, a bare ``test_….py`` in
    tests/reliability, a bare ``test_…`` defined in one of the security tests."""
    file, _, function = reference.partition("::")
    if "/" in file:
        path = ROOT / file
    elif file.endswith(".py"):
        path = SECURITY_TESTS / file
    elif function:
        path = SECURITY_TESTS / f"test_security_{file}.py"
    else:
        return not any(_defines(path, file) for path in SECURITY_TESTS.glob("test_security_*.py"))
    return not path.exists() or (bool(function) and not _defines(path, function))


@pytest.mark.parametrize("name", ["security.md", "reliability.md"])
def test_every_test_named_as_proof_exists(name: str) -> None:
    references = {
        code
        for code in re.findall(r"`([^`\n]+)`", read(DOCS / name))
        if re.fullmatch(r"([\w/]+\.py|\w+)(::\w+)?", code) and "test_" in code
    }

    missing = [reference for reference in sorted(references) if _proof_missing(reference)]

    assert len(references) >= 10 and missing == []
