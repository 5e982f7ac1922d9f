"""Pure: the limits on redaction patterns (``DRIFTWATCH_REDACT_PATTERNS``) and their compilation.

Settings keep the patterns as text and check them here, so an unusable one stops start-up with its
reason; ingest's :class:`~driftwatch.ingest.redaction.Redactor` compiles them once to apply them.
Python's ``re`` has no time limit, so patterns are capped in length and number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_PATTERNS = 100
MAX_PATTERN_LENGTH = 500


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """The patterns compiled, or ``ValueError`` naming the first unusable one and why."""
    listed = list(patterns)
    if len(listed) > MAX_PATTERNS:
        raise ValueError(f"at most {MAX_PATTERNS} redaction patterns, got {len(listed)}")
    compiled = []
    for index, pattern in enumerate(listed):
        if not pattern:
            raise ValueError(f"redaction pattern {index} is empty")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise ValueError(
                f"redaction pattern {index} is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH}"
            )
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise ValueError(
                f"redaction pattern {index} {pattern!r} is not a regular expression: {error}"
            ) from None
    return tuple(compiled)
