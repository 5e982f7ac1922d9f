"""Pure: content redaction by pattern (``DRIFTWATCH_REDACT_PATTERNS``), applied before anything is stored.

Every path where prompt or completion text enters the store hands it to one :class:`Redactor` first:
OTLP spans (:class:`~driftwatch.ingest.records.CallMapper`), OTLP log content events
(:class:`~driftwatch.ingest.logs.ContentEventMapper`) and the Langfuse importer (which maps through
``CallMapper``).  Each match of each pattern becomes ``[REDACTED]``.

Patterns run on every stored text, so they are compiled once, at start-up, where an invalid one stops
the service with its reason.  Python's ``re`` has no time limit: a pattern with nested quantifiers such
as ``(a+)+$`` can backtrack for minutes on a hostile text, so patterns are capped at
:data:`~driftwatch.config.redaction.MAX_PATTERN_LENGTH` characters and
:data:`~driftwatch.config.redaction.MAX_PATTERNS` in number, and docs/security.md asks for
possessive quantifiers or atomic groups (``a++``, ``(?>...)``) where a pattern repeats a group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from driftwatch.config.redaction import compile_patterns

REDACTED = "[REDACTED]"

_STRUCTURAL_KEYS = frozenset({"role", "gen_ai.message.role", "type", "index", "finish_reason"})
"""Keys of a content document whose values say how to read it, not what was said: never redacted,
so a redacted event is still read as the same messages."""


class Redactor:
    """Replaces every match of the configured patterns with ``[REDACTED]``; with no pattern, a no-op.

    Patterns apply one after the other (not as one alternation), so each keeps its own inline flags
    and group numbers.  An empty match (``x*`` between two letters) replaces nothing.
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self._patterns = compile_patterns(patterns)

    @property
    def active(self) -> bool:
        return bool(self._patterns)

    def text(self, value: str) -> str:
        for pattern in self._patterns:
            value = pattern.sub(_replacement, value)
        return value

    def optional_text(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def messages(self, messages: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
        """A conversation with every message's content redacted (roles kept)."""
        if messages is None or not self._patterns:
            return messages
        return [{**message, "content": self.text(message["content"])} for message in messages]

    def document(self, value: Any) -> Any:
        """Every text inside a decoded attribute or log-record body: strings, lists and maps, and JSON
        held as a string (``gen_ai.input.messages``), which is redacted inside and written back as JSON
        so it still reads as the same messages."""
        if not self._patterns:
            return value
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, list):
            return [self.document(item) for item in value]
        if isinstance(value, dict):
            return {
                key: item if key in _STRUCTURAL_KEYS else self.document(item) for key, item in value.items()
            }
        return value

    def _string(self, value: str) -> str:
        if value.lstrip()[:1] in ("[", "{"):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                return self.text(value)
            return orjson.dumps(self.document(parsed)).decode("utf-8")
        return self.text(value)


NO_REDACTION = Redactor()


def _replacement(match: re.Match[str]) -> str:
    return REDACTED if match.group() else ""
