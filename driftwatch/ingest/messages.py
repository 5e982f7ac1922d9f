"""Pure: the shapes a conversation takes in telemetry → a list of ``{"role", "content"}`` messages.

The same conversation arrives as current-semconv JSON (``[{"role", "parts": [...]}]``), as flattened
indexed attributes (``gen_ai.prompt.0.content``, ``llm.input_messages.0.message.content``), as free-form
input/output text, or as a sequence of GenAI events, on a span or as OTLP log records
(``gen_ai.user.message``, ``gen_ai.choice``, ``gen_ai.client.inference.operation.details`` …).
Whatever the source, a call stores its prompt as :func:`prompt_text` and its completion as the text of
the first output message, so a prompt from log records looks exactly like one from span attributes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from driftwatch.ingest.otlp import AttributeValue, EventView

Message = dict[str, str]

CHOICE_EVENT = "gen_ai.choice"
OPERATION_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
LEGACY_PROMPT_EVENT = "gen_ai.content.prompt"
LEGACY_COMPLETION_EVENT = "gen_ai.content.completion"
_OTHER_CONTENT_EVENTS = frozenset(
    {CHOICE_EVENT, OPERATION_DETAILS_EVENT, LEGACY_PROMPT_EVENT, LEGACY_COMPLETION_EVENT}
)
EVENT_CONTENT_KEYS = frozenset(
    {
        "content",
        "role",
        "gen_ai.message.role",
        "message",
        "index",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    }
)
"""Every attribute (or log-record body field) the event readers below look at."""


def message_event_role(name: str) -> str | None:
    """``gen_ai.{role}.message`` events carry one input message each: the role their name gives
    (``system``, ``user``, ``assistant``, ``tool``, and whatever else, e.g. ``developer``)."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "gen_ai" and parts[2] == "message" and parts[1]:
        return parts[1]
    return None


def is_content_event(name: str) -> bool:
    """Whether an event (span event or log record) of this name may carry a call's messages."""
    return name in _OTHER_CONTENT_EVENTS or message_event_role(name) is not None


def prompt_text(messages: list[Message] | None) -> str | None:
    """How a call stores its prompt: the JSON text of the messages, or null when there are none."""
    return orjson.dumps(messages).decode("utf-8") if messages else None


def prompt_from_events(events: Iterable[EventView]) -> list[Message] | None:
    messages: list[Message] = []
    for event in events:
        attributes = event.attributes
        named_role = message_event_role(event.name)
        if named_role:
            role = text(attributes.get("gen_ai.message.role") or attributes.get("role")) or named_role
            messages.append({"role": role, "content": content_text(attributes.get("content"))})
        elif event.name == LEGACY_PROMPT_EVENT:
            return loose_messages(attributes.get("gen_ai.prompt"))
        elif event.name == OPERATION_DETAILS_EVENT:
            found = structured_messages(attributes.get("gen_ai.input.messages"))
            if found is not None:
                return system_instructions(attributes.get("gen_ai.system_instructions")) + found
    return messages or None


def completion_from_events(events: Iterable[EventView]) -> list[Message] | None:
    for event in events:
        attributes = event.attributes
        if event.name == CHOICE_EVENT:
            message = json_value(attributes.get("message"))
            if not isinstance(message, dict):
                message = {"content": attributes.get("content")}
            # Traceloop's event mode puts the tool calls beside the message, not in it.
            calls = message.get("tool_calls") or json_value(attributes.get("tool_calls"))
            return [
                {
                    "role": text(message.get("role")) or "assistant",
                    "content": message_content({**message, "tool_calls": calls}),
                }
            ]
        if event.name == LEGACY_COMPLETION_EVENT:
            return loose_messages(attributes.get("gen_ai.completion"))
        if event.name == OPERATION_DETAILS_EVENT:
            return structured_messages(attributes.get("gen_ai.output.messages"))
    return None


def event_has_content(name: str, attributes: dict[str, AttributeValue]) -> bool:
    """Whether a GenAI event carries message text; instrumentations still send the events, empty,
    when their content capture is off."""
    if message_event_role(name):
        return attributes.get("content") is not None
    if name == CHOICE_EVENT:
        message = json_value(attributes.get("message"))
        if isinstance(message, dict) and (message.get("content") is not None or message.get("tool_calls")):
            return True
        return attributes.get("content") is not None or bool(attributes.get("tool_calls"))
    keys = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt", "gen_ai.completion")
    return any(attributes.get(key) is not None for key in keys)


def structured_messages(value: AttributeValue) -> list[Message] | None:
    """Current semconv: ``[{"role", "parts": [{"type": "text", "content"}, …]}]`` (JSON or structured)."""
    items = json_value(value)
    if not isinstance(items, list):
        return None
    messages = []
    for item in items:
        if isinstance(item, dict):
            role = text(item.get("role")) or "user"
            messages.append({"role": role, "content": _parts_text(item.get("parts", item.get("content")))})
    return messages


def system_instructions(value: AttributeValue) -> list[Message]:
    parts = json_value(value)
    if parts is None:
        return []
    return [{"role": "system", "content": _parts_text(parts)}]


def tool_call(name: Any, arguments: Any) -> dict[str, Any]:
    """The one form a tool call takes in a stored completion, whatever the convention: its name and
    its arguments as JSON (parsed where they came as text), no call id (ids differ between the two
    tiers' answers, so judges would never see two equal calls)."""
    return {"type": "tool_call", "name": text(name) or "", "arguments": json_value(arguments)}


def message_content(message: dict[str, Any]) -> str:
    """A message's text; for an answer that is tool calls (OpenAI's ``tool_calls``), those calls."""
    content = message.get("content", message.get("text"))
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls and not content:
        functions = [call.get("function", call) if isinstance(call, dict) else {} for call in calls]
        return _canonical([tool_call(item.get("name"), item.get("arguments")) for item in functions])
    return content_text(content)


def _canonical(parts: list[Any]) -> str:
    return orjson.dumps(parts, default=str, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def _parts_text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return "" if parts is None else dump(parts)
    parts = [
        tool_call(part.get("name"), part.get("arguments"))
        if isinstance(part, dict) and part.get("type") == "tool_call"
        else part
        for part in parts
    ]
    texts = [
        part.get("content") if isinstance(part, dict) else part
        for part in parts
        if not isinstance(part, dict) or part.get("type", "text") == "text"
    ]
    if texts and all(isinstance(item, str) for item in texts):
        return "\n".join(item for item in texts if isinstance(item, str))
    return _canonical(parts)  # tool calls, images: kept as JSON rather than lost


def indexed_messages(
    attributes: dict[str, AttributeValue], prefix: str, role_suffix: str, content_suffix: str
) -> list[Message] | None:
    """Flattened ``prefix.N.role`` / ``prefix.N.content`` (older GenAI semconv, OpenInference)."""
    messages = []
    for index in range(10_000):
        role = attributes.get(f"{prefix}{index}{role_suffix}")
        content = attributes.get(f"{prefix}{index}{content_suffix}")
        # Traceloop: gen_ai.completion.N.tool_calls.M.name / .arguments
        calls = _indexed_tool_calls(attributes, f"{prefix}{index}.tool_calls.", ".name", ".arguments")
        if role is None and content is None and not calls:
            if index == 0:
                continue  # some instrumentations count from 1
            break
        messages.append(
            {
                "role": text(role) or "user",
                "content": calls if calls and not content else content_text(content),
            }
        )
    return messages or None


def openinference_messages(attributes: dict[str, AttributeValue], prefix: str) -> list[Message] | None:
    """``prefix.N.message.role`` with ``.message.content``, or the multi-part form
    ``.message.contents.M.message_content.text`` (OpenInference's Anthropic instrumentation)."""
    messages = []
    for index in range(10_000):
        base = f"{prefix}{index}.message"
        role = attributes.get(f"{base}.role")
        content = attributes.get(f"{base}.content")
        if content is None:
            content = _indexed_tool_calls(
                attributes, f"{base}.tool_calls.", ".tool_call.function.name", ".tool_call.function.arguments"
            )
        if content is None:
            parts = []
            for part in range(10_000):
                part_text = attributes.get(f"{base}.contents.{part}.message_content.text")
                if part_text is None:
                    break
                parts.append(content_text(part_text))
            content = "\n".join(parts) if parts else None
        if role is None and content is None:
            break
        messages.append({"role": text(role) or "user", "content": content_text(content)})
    return messages or None


def _indexed_tool_calls(
    attributes: dict[str, AttributeValue], prefix: str, name_suffix: str, arguments_suffix: str
) -> str | None:
    """Flattened tool calls ``prefix.M{name_suffix}`` / ``prefix.M{arguments_suffix}``, canonical."""
    calls = []
    for index in range(10_000):
        name = attributes.get(f"{prefix}{index}{name_suffix}")
        if name is None:
            break
        calls.append(tool_call(name, attributes.get(f"{prefix}{index}{arguments_suffix}")))
    return _canonical(calls) if calls else None


def loose_messages(value: AttributeValue) -> list[Message] | None:
    """Free-form input/output (Langfuse, ``input.value``): a string, a message, a list of messages,
    a request body with ``messages``, or a chat-completion response with ``choices``."""
    document = json_value(value)
    if document is None or document == "":
        return None
    if isinstance(document, dict):
        if isinstance(document.get("messages"), list):
            document = document["messages"]
        elif isinstance(document.get("choices"), list) and document["choices"]:
            choice = document["choices"][0]
            document = choice.get("message", choice) if isinstance(choice, dict) else choice
    if isinstance(document, dict) and (
        "content" in document or "role" in document or "tool_calls" in document
    ):
        document = [document]
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        return [
            {"role": text(item.get("role")) or "user", "content": message_content(item)} for item in document
        ]
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [{"role": "user", "content": dump(document)}]


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return _parts_text(
            [
                part
                if not isinstance(part, dict) or "content" in part
                else {**part, "content": part.get("text")}
                for part in content
            ]
        )
    return "" if content is None else dump(content)


def json_value(value: AttributeValue) -> Any:
    """Attributes carry structures either natively or as JSON text; plain text stays text."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("[", "{", '"'):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
        return value
    return value


def dump(value: Any) -> str:
    return orjson.dumps(value, default=str).decode("utf-8")


def text(value: AttributeValue) -> str | None:
    if value is None or isinstance(value, dict | list | bytes):
        return None
    stripped = str(value).strip()
    return stripped or None
