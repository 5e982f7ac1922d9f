"""The manual — README.md and docs/*.md — read the way the tests that keep it true need it: fenced code
blocks, one section's text, headings and their GitHub anchors, relative links."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """README.md, then every docs/*.md page by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def doc(name: str) -> str:
    """The text of ``docs/<name>``."""
    return read(DOCS / name)


def fenced_blocks(text: str, language: str) -> list[str]:
    """The contents of every ```language block, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks, fence lines excluded."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every ATX heading outside code blocks."""
    found = []
    for _, line in prose_lines(text):
        heading = re.match(r"(#{1,6}) (.+?)\s*#*\s*$", line)
        if heading:
            found.append((len(heading.group(1)), heading.group(2)))
    return found


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation (backticks included) dropped, spaces to
    hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated one gets ``-1``, ``-2``, … as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for _, title in headings(text):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def section(text: str, title: str) -> str:
    """The lines under the heading ``title`` up to the next heading of its level or higher."""
    lines = text.splitlines()
    level = None
    start = end = 0
    for number, line in prose_lines(text):
        heading = re.match(r"(#{1,6}) (.+?)\s*$", line)
        if heading is None:
            continue
        if level is None and heading.group(2) == title:
            level, start = len(heading.group(1)), number
        elif level is not None and len(heading.group(1)) <= level:
            end = number - 1
            break
    if level is None:
        raise AssertionError(f"no heading {title!r}")
    return "\n".join(lines[start : end or len(lines)])


def links(text: str) -> list[str]:
    """Targets of the inline links outside code (blocks and spans)."""
    targets = []
    for _, line in prose_lines(text):
        prose = re.sub(r"`[^`]*`", "``", line)
        targets += re.findall(r"\]\(([^)\s]+)\)", prose)
    return targets
