"""Look up a value by model name the way providers actually report model names.

Providers answer with dated or prefixed names (``gpt-4o-2024-08-06``, ``claude-haiku-4-5-20251001``,
``openai/gpt-4o-mini``, ``gemini-2.0-flash-001``) while price tables and tier maps are written with the
family name.  A lookup therefore tries, in order: the exact name, the name without a ``provider/``
prefix, the longest table key that the name extends by a *version-like* suffix only, and finally glob
patterns (``claude-haiku-*``).  Anything else is unknown: a near miss such as ``gpt-4o-audio`` must not
borrow ``gpt-4o``'s price, because a wrong cost is worse than a missing one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Generic, TypeVar

Value = TypeVar("Value")

# Dates (-2024-08-06, -20251001), revisions (-001, -v1, -v1:0, @20240620), "-latest", "-preview"
_VERSION_SUFFIX = re.compile(
    r"^(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|v\d+(?::\d+)?|latest|preview(?:-\d{2}-\d{4})?))+$"
)


class ModelTable(Generic[Value]):
    """Immutable model-name → value table with the lookup rules described in the module docstring."""

    def __init__(self, entries: Mapping[str, Value]) -> None:
        self._exact = {name.lower(): value for name, value in entries.items() if not _is_pattern(name)}
        self._patterns = [(name.lower(), value) for name, value in entries.items() if _is_pattern(name)]
        self._families = sorted(self._exact, key=len, reverse=True)
        self._cache: dict[str, Value | None] = {}

    def get(self, model: str | None) -> Value | None:
        if not model:
            return None
        key = model.strip().lower()
        if key not in self._cache:
            if len(self._cache) > 10_000:  # bounded: model names come from untrusted spans
                self._cache.clear()
            self._cache[key] = self._lookup(key)
        return self._cache[key]

    def _lookup(self, key: str) -> Value | None:
        for candidate in (key, key.rsplit("/", 1)[-1]):
            if candidate in self._exact:
                return self._exact[candidate]
            for family in self._families:
                if candidate.startswith(family) and _VERSION_SUFFIX.match(candidate[len(family) :]):
                    return self._exact[family]
            for pattern, value in self._patterns:
                if fnmatch.fnmatchcase(candidate, pattern):
                    return value
        return None


def _is_pattern(name: str) -> bool:
    return any(char in name for char in "*?[")
