"""Pure mapping from the attribute conventions real instrumentations use to a call's fields.

Conventions understood (see ``tests/fixtures/instrumentations/NOTES.md`` for what each really emits):

* OTel GenAI semantic conventions, current (``gen_ai.input.messages`` / ``gen_ai.output.messages`` /
  ``gen_ai.system_instructions`` as JSON, ``gen_ai.provider.name``, ``gen_ai.usage.input_tokens``) and
  older (``gen_ai.system``, indexed ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``,
  ``gen_ai.usage.prompt_tokens``), with content also accepted from span events
  (``gen_ai.user.message``, ``gen_ai.choice``, ``gen_ai.content.prompt``,
  ``gen_ai.client.inference.operation.details`` …);
* OpenInference (``openinference.span.kind``, ``llm.model_name``, ``llm.token_count.*``,
  ``llm.input_messages.N.message.*``, ``input.value`` / ``output.value``);
* OpenLLMetry / Traceloop (``llm.request.type`` plus the GenAI keys it writes);
* Langfuse's OTel attributes (``langfuse.observation.type``, ``.model.name``, ``.input``, ``.output``,
  ``.usage_details``).

A span is an LLM call when one of these says it is a chat or completion; embeddings, tools, agents and
plain application spans are not calls.  When several conventions are present the OTel GenAI keys win,
then OpenInference, then Langfuse: the first non-empty source of each field is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from driftwatch.ingest.otlp import AttributeValue, SpanView

Message = dict[str, str]

_LLM_OPERATIONS = frozenset({"chat", "text_completion", "completion", "generate_content", "generation"})
_NOT_LLM_OPERATIONS = frozenset(
    {"embeddings", "embedding", "execute_tool", "invoke_agent", "create_agent", "rerank"}
)
_ROLE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


@dataclass(frozen=True, slots=True)
class LlmFields:
    """What the conventions say about one LLM call; any field may be missing."""

    operation: str
    provider: str | None
    model: str | None
    response_id: str | None
    input_tokens: int | None
    output_tokens: int | None
    prompt: list[Message] | None
    completion: str | None


def is_shadow(span: SpanView) -> bool:
    """driftwatch's own shadow and judge calls carry ``driftwatch.shadow``; they are not traffic."""
    return bool(span.attributes.get("driftwatch.shadow") or span.resource.get("driftwatch.shadow"))


def llm_operation(attributes: dict[str, AttributeValue]) -> str | None:
    """The operation if this span is an LLM chat/completion call by any convention, else ``None``."""
    operation = _text(attributes.get("gen_ai.operation.name"))
    if operation:
        return operation if operation in _LLM_OPERATIONS else None
    openinference_kind = _text(attributes.get("openinference.span.kind"))
    if openinference_kind:
        return "chat" if openinference_kind.upper() == "LLM" else None
    request_type = _text(attributes.get("llm.request.type"))
    if request_type:
        return request_type if request_type in _LLM_OPERATIONS else None
    observation_type = _text(attributes.get("langfuse.observation.type"))
    if observation_type:
        return "generation" if observation_type == "generation" else None
    has_model = any(key in attributes for key in ("gen_ai.request.model", "gen_ai.response.model"))
    if has_model or "driftwatch.task_class" in attributes or "driftwatch.tier" in attributes:
        return "chat"
    return None


def extract(span: SpanView, operation: str) -> LlmFields:
    attributes = span.attributes
    return LlmFields(
        operation=operation,
        provider=_lower(
            _first_text(attributes, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
        ),
        # The response model is what ran and what was billed (a dated snapshot the price table knows).
        model=_first_text(
            attributes,
            "gen_ai.response.model",
            "llm.response.model_name",
            "llm.model_name",
            "gen_ai.request.model",
            "llm.request.model_name",
            "langfuse.observation.model.name",
        ),
        response_id=_first_text(attributes, "gen_ai.response.id"),
        input_tokens=_first_not_none(
            _first_int(
                attributes,
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt",
            ),
            _usage_detail(attributes, "input", "prompt_tokens", "input_tokens"),
        ),
        output_tokens=_first_not_none(
            _first_int(
                attributes,
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.token_count.completion",
            ),
            _usage_detail(attributes, "output", "completion_tokens", "output_tokens"),
        ),
        prompt=_prompt(span),
        completion=_completion(span),
    )


def _prompt(span: SpanView) -> list[Message] | None:
    attributes = span.attributes
    messages = _structured_messages(attributes.get("gen_ai.input.messages"))
    if messages is not None:
        return _system_instructions(attributes.get("gen_ai.system_instructions")) + messages
    return (
        _indexed_messages(attributes, "gen_ai.prompt.", ".role", ".content")
        or _openinference_messages(attributes, "llm.input_messages.")
        or _prompt_from_events(span)
        or _loose_messages(attributes.get("gen_ai.input.messages"))  # present but not the JSON we expect
        or _loose_messages(attributes.get("langfuse.observation.input"))
        or _loose_messages(attributes.get("input.value"))
    )


def _completion(span: SpanView) -> str | None:
    attributes = span.attributes
    for messages in (
        _structured_messages(attributes.get("gen_ai.output.messages")),
        _indexed_messages(attributes, "gen_ai.completion.", ".role", ".content"),
        _openinference_messages(attributes, "llm.output_messages."),
        _completion_from_events(span),
        _loose_messages(attributes.get("gen_ai.output.messages")),
        _loose_messages(attributes.get("langfuse.observation.output")),
        _loose_messages(attributes.get("output.value")),
    ):
        if messages:
            return messages[0]["content"]
    return None


def _structured_messages(value: AttributeValue) -> list[Message] | None:
    """Current semconv: ``[{"role", "parts": [{"type": "text", "content"}, …]}]`` (JSON or structured)."""
    items = _json(value)
    if not isinstance(items, list):
        return None
    messages = []
    for item in items:
        if isinstance(item, dict):
            role = _text(item.get("role")) or "user"
            messages.append({"role": role, "content": _parts_text(item.get("parts", item.get("content")))})
    return messages


def _system_instructions(value: AttributeValue) -> list[Message]:
    parts = _json(value)
    if parts is None:
        return []
    return [{"role": "system", "content": _parts_text(parts)}]


def _parts_text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return "" if parts is None else _dump(parts)
    texts = [
        part.get("content") if isinstance(part, dict) else part
        for part in parts
        if not isinstance(part, dict) or part.get("type", "text") == "text"
    ]
    if texts and all(isinstance(text, str) for text in texts):
        return "\n".join(text for text in texts if isinstance(text, str))
    return _dump(parts)  # tool calls, images: kept as JSON rather than lost


def _indexed_messages(
    attributes: dict[str, AttributeValue], prefix: str, role_suffix: str, content_suffix: str
) -> list[Message] | None:
    """Flattened ``prefix.N.role`` / ``prefix.N.content`` (older GenAI semconv, OpenInference)."""
    messages = []
    for index in range(10_000):
        role = attributes.get(f"{prefix}{index}{role_suffix}")
        content = attributes.get(f"{prefix}{index}{content_suffix}")
        if role is None and content is None:
            if index == 0:
                continue  # some instrumentations count from 1
            break
        messages.append({"role": _text(role) or "user", "content": _content_text(content)})
    return messages or None


def _openinference_messages(attributes: dict[str, AttributeValue], prefix: str) -> list[Message] | None:
    """``prefix.N.message.role`` with ``.message.content``, or the multi-part form
    ``.message.contents.M.message_content.text`` (OpenInference's Anthropic instrumentation)."""
    messages = []
    for index in range(10_000):
        base = f"{prefix}{index}.message"
        role = attributes.get(f"{base}.role")
        content = attributes.get(f"{base}.content")
        if content is None:
            parts = []
            for part in range(10_000):
                text = attributes.get(f"{base}.contents.{part}.message_content.text")
                if text is None:
                    break
                parts.append(_content_text(text))
            content = "\n".join(parts) if parts else None
        if role is None and content is None:
            break
        messages.append({"role": _text(role) or "user", "content": _content_text(content)})
    return messages or None


def _prompt_from_events(span: SpanView) -> list[Message] | None:
    messages: list[Message] = []
    for event in span.events:
        attributes = event.attributes
        if event.name in _ROLE_EVENTS:
            role = (
                _text(attributes.get("gen_ai.message.role") or attributes.get("role"))
                or _ROLE_EVENTS[event.name]
            )
            messages.append({"role": role, "content": _content_text(attributes.get("content"))})
        elif event.name == "gen_ai.content.prompt":
            return _loose_messages(attributes.get("gen_ai.prompt"))
        elif event.name == "gen_ai.client.inference.operation.details":
            found = _structured_messages(attributes.get("gen_ai.input.messages"))
            if found is not None:
                return _system_instructions(attributes.get("gen_ai.system_instructions")) + found
    return messages or None


def _completion_from_events(span: SpanView) -> list[Message] | None:
    for event in span.events:
        attributes = event.attributes
        if event.name == "gen_ai.choice":
            message = _json(attributes.get("message"))
            if isinstance(message, dict):
                return [
                    {
                        "role": _text(message.get("role")) or "assistant",
                        "content": _content_text(message.get("content")),
                    }
                ]
            return [{"role": "assistant", "content": _content_text(attributes.get("content"))}]
        if event.name == "gen_ai.content.completion":
            return _loose_messages(attributes.get("gen_ai.completion"))
        if event.name == "gen_ai.client.inference.operation.details":
            return _structured_messages(attributes.get("gen_ai.output.messages"))
    return None


def _loose_messages(value: AttributeValue) -> list[Message] | None:
    """Free-form input/output (Langfuse, ``input.value``): a string, a message, a list of messages,
    a request body with ``messages``, or a chat-completion response with ``choices``."""
    document = _json(value)
    if document is None or document == "":
        return None
    if isinstance(document, dict):
        if isinstance(document.get("messages"), list):
            document = document["messages"]
        elif isinstance(document.get("choices"), list) and document["choices"]:
            choice = document["choices"][0]
            document = choice.get("message", choice) if isinstance(choice, dict) else choice
    if isinstance(document, dict) and ("content" in document or "role" in document):
        document = [document]
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        return [
            {
                "role": _text(item.get("role")) or "user",
                "content": _content_text(item.get("content", item.get("text"))),
            }
            for item in document
        ]
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [{"role": "user", "content": _dump(document)}]


def _content_text(content: Any) -> str:
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
    return "" if content is None else _dump(content)


def _json(value: AttributeValue) -> Any:
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


def _dump(value: Any) -> str:
    return orjson.dumps(value, default=str).decode("utf-8")


def _text(value: AttributeValue) -> str | None:
    if value is None or isinstance(value, dict | list | bytes):
        return None
    text = str(value).strip()
    return text or None


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None


def _first_text(attributes: dict[str, AttributeValue], *keys: str) -> str | None:
    for key in keys:
        text = _text(attributes.get(key))
        if text:
            return text
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**31 else None
    if isinstance(value, float) and value.is_integer():
        return _as_int(int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return _as_int(int(value))
    return None


def _first_int(attributes: dict[str, AttributeValue], *keys: str) -> int | None:
    for key in keys:
        number = _as_int(attributes.get(key))
        if number is not None:
            return number
    return None


def _first_not_none(first: int | None, second: int | None) -> int | None:
    return first if first is not None else second


def _usage_detail(attributes: dict[str, AttributeValue], *keys: str) -> int | None:
    usage = _json(attributes.get("langfuse.observation.usage_details"))
    if isinstance(usage, dict):
        for key in keys:
            number = _as_int(usage.get(key))
            if number is not None:
                return number
    return None
