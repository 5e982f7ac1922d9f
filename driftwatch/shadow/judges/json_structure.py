"""The JSON judge: field-level agreement between two structured answers (extraction-like classes).

Both answers are parsed as JSON; a fenced block (```json … ```) is read when there is one, so
prose around a fenced answer does not matter.  Then:

- the reference is not a JSON object or array → undecided (this class's answers are not structured,
  or the reference failed; another judge should look);
- the reference is, the candidate is not JSON at all → unacceptable, score 0;
- otherwise the fields compared are the configured ``keys`` (dot paths, ``items.0.name``) or, by
  default, every leaf of the reference (fields only the candidate has are not asked for, so they
  are ignored).  score = share of fields that agree; acceptable iff score ≥ ``min_agreement``.

Values agree when equal after normalisation: strings ignoring case and whitespace runs, numbers
numerically (``1`` = ``1.0``), arrays element by element in order, objects key by key.  Types are
not coerced: ``"5"`` is not ``5`` and ``true`` is not ``1``, since a consumer parsing the answer sees
the difference.  A configured key absent from both answers agrees; absent from one, it disagrees.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

from driftwatch.shadow.judges.base import JudgeCase, Verdict

# The closing fence starts a line: JSON strings hold no raw newline, so it cannot be inside a value.
_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE | re.IGNORECASE)
_MISSING = object()
_NAMED_FIELDS = 5

Path = tuple[str | int, ...]


class NotJson(ValueError):
    """The text holds no JSON document."""


def parse_json_answer(text: str) -> Any:
    """The JSON document in an answer: the first fenced block if any, else the whole text."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    try:
        # NaN and Infinity are not JSON, whatever Python's parser would accept by default.
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as error:
        raise NotJson(str(error)) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def leaf_paths(document: Any, prefix: Path = ()) -> Iterator[Path]:
    """Paths of every leaf: scalars and empty containers, objects by key and arrays by index."""
    if isinstance(document, dict) and document:
        for key, value in document.items():
            yield from leaf_paths(value, (*prefix, key))
    elif isinstance(document, list) and document:
        for index, value in enumerate(document):
            yield from leaf_paths(value, (*prefix, index))
    else:
        yield prefix


def parse_path(dotted: str) -> Path:
    """``"items.0.name"`` → ``("items", "0", "name")``; digits index arrays when :func:`lookup` meets one."""
    return tuple(dotted.split("."))


def lookup(document: Any, path: Path) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    value = document
    for segment in path:
        if isinstance(value, dict) and isinstance(segment, str):
            value = value.get(segment, _MISSING)
        elif isinstance(value, list) and _is_index(segment) and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _is_index(segment: str | int) -> bool:
    return isinstance(segment, int) or (segment.isascii() and segment.isdigit())


def same_value(left: Any, right: Any) -> bool:
    """Equality after normalisation (see the module docstring). Symmetric."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        if isinstance(left, int) and isinstance(right, int):
            return left == right
        try:
            return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
        except OverflowError:  # an integer beyond float range is close to no float
            return False
    if isinstance(left, str) and isinstance(right, str):
        return _text(left) == _text(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_value, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_value(left[key], right[key]) for key in left)
    return (left is None and right is None) or (left is _MISSING and right is _MISSING)


def _text(value: str) -> str:
    return " ".join(value.casefold().split())


def _shown(path: Path) -> str:
    name = ".".join(str(segment) for segment in path) or "(root)"
    return name if len(name) <= 40 else name[:39] + "\u2026"


class JsonJudge:
    """Field agreement of two JSON answers; free of charge. See the module docstring."""

    def __init__(self, keys: Sequence[str] | None = None, min_agreement: float = 1.0) -> None:
        if not 0.0 <= min_agreement <= 1.0:
            raise ValueError("min_agreement must be within [0, 1]")
        self._keys = None if keys is None else [parse_path(key) for key in keys]
        self._min_agreement = min_agreement

    @property
    def name(self) -> str:
        return "json"

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        return 0.0

    async def judge(self, case: JudgeCase) -> Verdict:
        return self.compare(case.candidate, case.reference)

    def compare(self, candidate: str, reference: str) -> Verdict:
        """The verdict on two answers (synchronous: no I/O happens here)."""
        try:
            expected = parse_json_answer(reference)
        except NotJson:
            return Verdict(self.name, None, None, "the reference is not JSON")
        if not isinstance(expected, dict | list):
            return Verdict(self.name, None, None, "the reference is a JSON scalar, not a structure")
        try:
            actual = parse_json_answer(candidate)
        except NotJson as error:
            return Verdict(self.name, False, 0.0, f"the candidate is not JSON: {str(error)[:120]}")
        paths = self._keys if self._keys is not None else list(leaf_paths(expected))
        if not paths:
            return Verdict(self.name, None, None, "no fields to compare")
        differing = [path for path in paths if not same_value(lookup(actual, path), lookup(expected, path))]
        agreeing = len(paths) - len(differing)
        score = agreeing / len(paths)
        summary = f"{agreeing}/{len(paths)} fields agree (needs {self._min_agreement:.0%})"
        if differing:
            named = ", ".join(_shown(path) for path in differing[:_NAMED_FIELDS])
            more = len(differing) - _NAMED_FIELDS
            summary += f"; differ: {named}" + (f" (+{more} more)" if more > 0 else "")
        return Verdict(self.name, score >= self._min_agreement, score, summary)
