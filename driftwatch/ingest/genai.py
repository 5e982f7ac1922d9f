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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftwatch.ingest import messages
from driftwatch.ingest.messages import Message
from driftwatch.ingest.otlp import AttributeValue, SpanView
from driftwatch.ingest.shadow_marker import SHADOW_MARKER_ATTRIBUTE

_LLM_OPERATIONS = frozenset({"chat", "text_completion", "completion", "generate_content", "generation"})
_NOT_LLM_OPERATIONS = frozenset(
    {"embeddings", "embedding", "execute_tool", "invoke_agent", "create_agent", "rerank"}
)
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True, slots=True)
class LlmFields:
    """What the conventions say about one LLM call; any field may be missing."""

    operation: str
    provider: str | None
    model: str | None
    response_id: str | None
    system_fingerprint: str | None
    input_tokens: int | None
    output_tokens: int | None
    prompt: list[Message] | None
    completion: str | None


def is_shadow(*sources: dict[str, AttributeValue]) -> bool:
    """driftwatch's own shadow and judge calls carry a truthy ``driftwatch.shadow`` (on the span, from
    baggage, or on the resource); they are not traffic.  ``"false"`` or ``0`` is no marker."""
    for attributes in sources:
        value = attributes.get(SHADOW_MARKER_ATTRIBUTE)
        if isinstance(value, str):
            if value.strip().lower() in _TRUE_WORDS:
                return True
        elif isinstance(value, bool | int | float) and value:
            return True
    return False


def llm_operation(attributes: dict[str, AttributeValue]) -> str | None:
    """The operation if this span is an LLM chat/completion call by any convention, else ``None``."""
    operation = messages.text(attributes.get("gen_ai.operation.name"))
    if operation:
        return operation if operation in _LLM_OPERATIONS else None
    openinference_kind = messages.text(attributes.get("openinference.span.kind"))
    if openinference_kind:
        return "chat" if openinference_kind.upper() == "LLM" else None
    request_type = messages.text(attributes.get("llm.request.type"))
    if request_type:
        return request_type if request_type in _LLM_OPERATIONS else None
    observation_type = messages.text(attributes.get("langfuse.observation.type"))
    if observation_type:
        return "generation" if observation_type == "generation" else None
    # A model makes a call of a span no convention names; a task class, a tier or baggage never does:
    # BaggageSpanProcessor copies those onto every span of a request (server, client, app spans).
    if any(key in attributes for key in ("gen_ai.request.model", "gen_ai.response.model")):
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
        # Official openai-v2 (current and semconv 1.30), OpenLLMetry >= 0.55, OpenLLMetry <= 0.54.
        system_fingerprint=_first_text(
            attributes,
            "openai.response.system_fingerprint",
            "gen_ai.openai.response.system_fingerprint",
            "gen_ai.openai.system_fingerprint",
        ),
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
    found = messages.structured_messages(attributes.get("gen_ai.input.messages"))
    if found is not None:
        return messages.system_instructions(attributes.get("gen_ai.system_instructions")) + found
    return (
        messages.indexed_messages(attributes, "gen_ai.prompt.", ".role", ".content")
        or messages.openinference_messages(attributes, "llm.input_messages.")
        or messages.prompt_from_events(span.events)
        # present but not the JSON we expect
        or messages.loose_messages(attributes.get("gen_ai.input.messages"))
        or messages.loose_messages(attributes.get("langfuse.observation.input"))
        or messages.loose_messages(attributes.get("input.value"))
    )


def _completion(span: SpanView) -> str | None:
    attributes = span.attributes
    # Lazily, in order: most spans are answered by the first convention, and parsing the others
    # (JSON decoding, scanning indexed keys) costs more than the rest of mapping a span.
    conventions: tuple[Callable[[], list[Message] | None], ...] = (
        lambda: messages.structured_messages(attributes.get("gen_ai.output.messages")),
        lambda: messages.indexed_messages(attributes, "gen_ai.completion.", ".role", ".content"),
        lambda: messages.openinference_messages(attributes, "llm.output_messages."),
        lambda: messages.completion_from_events(span.events),
        lambda: messages.loose_messages(attributes.get("gen_ai.output.messages")),
        lambda: messages.loose_messages(attributes.get("langfuse.observation.output")),
        lambda: messages.loose_messages(attributes.get("output.value")),
    )
    for convention in conventions:
        found = convention()
        if found:
            return found[0]["content"]
    return None


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None


def _first_text(attributes: dict[str, AttributeValue], *keys: str) -> str | None:
    for key in keys:
        found = messages.text(attributes.get(key))
        if found:
            return found
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
    usage = messages.json_value(attributes.get("langfuse.observation.usage_details"))
    if isinstance(usage, dict):
        for key in keys:
            number = _as_int(usage.get(key))
            if number is not None:
                return number
    return None
