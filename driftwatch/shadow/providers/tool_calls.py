"""The text of a completion that called tools.

Decision: judges compare answers as text, and a model that answers by calling a tool has still
answered, so tool calls are never dropped. They become a JSON list ``[{"name", "arguments"}, ...]`` in
call order, ``arguments`` parsed from JSON when the wire carried them as a string (OpenAI) so that both
providers write the same call the same way, and keys sorted so that equal calls are equal text. Any text
the model wrote comes first, then a newline and the list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: object
    """Decoded JSON when it could be decoded; else the raw string the model wrote."""

    @classmethod
    def from_wire(cls, name: str, arguments: str) -> ToolCall:
        """A call whose arguments came as JSON text; a model may write invalid JSON, kept as is."""
        try:
            return cls(name, json.loads(arguments))
        except ValueError:
            return cls(name, arguments)


def completion_text(text: str, calls: Sequence[ToolCall]) -> str:
    """``text``, followed by the serialised ``calls`` when there are any (see the module docstring)."""
    if not calls:
        return text
    serialised = json.dumps(
        [{"name": call.name, "arguments": call.arguments} for call in calls],
        sort_keys=True,
        ensure_ascii=False,
    )
    return f"{text}\n{serialised}" if text else serialised
