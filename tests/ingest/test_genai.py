"""Attribute conventions of real instrumentations → call fields (pure, no store)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from driftwatch.config import Policy
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.otlp import iter_spans
from driftwatch.ingest.records import CallMapper, CallRow, MappedSpans
from driftwatch.ingest.shadow_marker import SHADOW_MARKER_ATTRIBUTE
from driftwatch.prices.pricing import PriceTable
from tests.support.otlp import export_request, llm_attributes, make_span


def _map(
    attributes: dict[str, Any],
    *,
    events: list[tuple[str, dict[str, Any]]] | None = None,
    resource: dict[str, Any] | None = None,
    policy: Policy | None = None,
    capture_content: bool = True,
) -> MappedSpans:
    policy = policy or Policy()
    mapper = CallMapper(
        Classifier.from_policy(policy), PriceTable(policy.price_table()), capture_content=capture_content
    )
    request = export_request([make_span(attributes, events=events)], resource=resource)
    return mapper.map(iter_spans(request))


def _one(attributes: dict[str, Any], **options: Any) -> CallRow:
    mapped = _map(attributes, **options)
    assert len(mapped.rows) == 1, mapped
    return mapped.rows[0]


def _prompt(row: CallRow) -> list[dict[str, str]]:
    assert row["prompt"] is not None
    prompt: list[dict[str, str]] = orjson.loads(row["prompt"])
    return prompt


def test_current_genai_semconv() -> None:
    attributes = llm_attributes(model="claude-haiku-4-5", input_tokens=1000, output_tokens=200)
    attributes["gen_ai.system_instructions"] = '[{"type": "text", "content": "Be brief."}]'

    row = _one(attributes)

    assert row["operation"] == "chat"
    assert row["provider"] == "anthropic"
    assert row["model"] == "claude-haiku-4-5"
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 200)
    assert row["cost_usd"] == pytest.approx(0.002)
    assert _prompt(row) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the refund policy?"},
    ]
    assert row["completion"] == "30 days."
    assert (row["task_class"], row["tier"]) == ("faq", "cheap")
    assert row["service"] == "router-app"


def test_older_genai_semconv_with_indexed_prompts() -> None:
    row = _one(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.prompt_tokens": 12,
            "gen_ai.usage.completion_tokens": 3,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Label the sentiment.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "I love it",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "positive",
            "llm.request.type": "chat",
        }
    )

    assert row["provider"] == "openai"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["input_tokens"], row["output_tokens"]) == (12, 3)
    assert row["cost_usd"] == pytest.approx((12 * 0.15 + 3 * 0.6) / 1e6)
    assert [message["role"] for message in _prompt(row)] == ["system", "user"]
    assert row["completion"] == "positive"
    assert row["tier"] == "cheap"  # from the default model → tier map
    assert row["task_class"] == "unclassified"


def test_content_from_span_events() -> None:
    row = _one(
        {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
        events=[
            ("gen_ai.system.message", {"content": "You are terse."}),
            ("gen_ai.user.message", {"content": "Capital of France?"}),
            (
                "gen_ai.choice",
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris"}},
            ),
        ],
    )

    assert _prompt(row) == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert row["completion"] == "Paris"


def test_content_from_inference_details_event() -> None:
    row = _one(
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"},
        events=[
            (
                "gen_ai.client.inference.operation.details",
                {
                    "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
                    "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]',
                },
            )
        ],
    )

    assert _prompt(row) == [{"role": "user", "content": "hi"}]
    assert row["completion"] == "hello"


def test_openinference() -> None:
    row = _one(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.provider": "openai",
            "llm.token_count.prompt": 20,
            "llm.token_count.completion": 4,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "Extract the total",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": '{"total": 42}',
            "input.value": '{"messages": [{"role": "user", "content": "Extract the total"}]}',
        }
    )

    assert row["provider"] == "openai"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["input_tokens"], row["output_tokens"]) == (20, 4)
    assert _prompt(row) == [{"role": "user", "content": "Extract the total"}]
    assert row["completion"] == '{"total": 42}'


def test_openinference_falls_back_to_input_and_output_values() -> None:
    row = _one(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "input.value": '{"model": "gpt-4o", "messages": [{"role": "user", "content": "2+2?"}]}',
            "input.mime_type": "application/json",
            "output.value": '{"choices": [{"message": {"role": "assistant", "content": "4"}}]}',
        }
    )

    assert _prompt(row) == [{"role": "user", "content": "2+2?"}]
    assert row["completion"] == "4"


def test_langfuse_otel_attributes_and_metadata_class() -> None:
    row = _one(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "claude-sonnet-4-6",
            "langfuse.observation.input": '[{"role": "user", "content": "Summarise this"}]',
            "langfuse.observation.output": '{"role": "assistant", "content": "A summary"}',
            "langfuse.observation.usage_details": '{"input": 300, "output": 50}',
            "langfuse.observation.metadata.task_class": "summarization",
        }
    )

    assert row["model"] == "claude-sonnet-4-6"
    assert (row["input_tokens"], row["output_tokens"]) == (300, 50)
    assert _prompt(row) == [{"role": "user", "content": "Summarise this"}]
    assert row["completion"] == "A summary"
    assert (row["task_class"], row["tier"]) == ("summarization", "mid")


def test_traceloop_association_properties_give_class_and_tier() -> None:
    attributes = llm_attributes(task_class=None, tier=None, model="gpt-4o")
    attributes["traceloop.association.properties.task_class"] = "extraction"
    attributes["traceloop.association.properties.tier"] = "Premium"

    row = _one(attributes)

    assert (row["task_class"], row["tier"]) == ("extraction", "premium")


def test_class_and_tier_from_resource_attributes() -> None:
    row = _one(
        llm_attributes(task_class=None, tier=None, model="unknown-model"),
        resource={"service.name": "svc", "driftwatch.task_class": "codegen", "driftwatch.tier": "mid"},
    )

    assert (row["task_class"], row["tier"]) == ("codegen", "mid")


def test_span_attribute_beats_resource_and_fallbacks() -> None:
    attributes = llm_attributes(task_class="faq", tier="cheap")
    attributes["traceloop.association.properties.task_class"] = "other"

    row = _one(attributes, resource={"driftwatch.task_class": "resource-class"})

    assert row["task_class"] == "faq"


def test_configured_fallback_keys_and_model_tiers() -> None:
    policy = Policy.model_validate(
        {
            "classification": {"task_class_keys": ["app.route_name"], "tier_keys": []},
            "model_tiers": {"my-small-model": "cheap"},
        }
    )
    attributes = llm_attributes(task_class=None, tier=None, model="my-small-model-2025-01-01")
    attributes["app.route_name"] = "triage"

    row = _one(attributes, policy=policy)

    assert (row["task_class"], row["tier"]) == ("triage", "cheap")
    assert row["cost_usd"] is None  # no price for it: never a guess


def test_no_class_is_unclassified_and_unknown_model_has_no_tier() -> None:
    row = _one(llm_attributes(task_class=None, tier=None, model="mystery-llm"))

    assert row["task_class"] == "unclassified"
    assert row["tier"] is None
    assert row["cost_usd"] is None


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small"},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        {"openinference.span.kind": "CHAIN"},
        {"llm.request.type": "embedding", "gen_ai.request.model": "text-embedding-3-small"},
        {"langfuse.observation.type": "span"},
        {"http.method": "GET"},
    ],
)
def test_spans_that_are_not_llm_calls_are_counted_not_mapped(attributes: dict[str, Any]) -> None:
    mapped = _map(attributes)

    assert mapped.rows == []
    assert mapped.other_spans == 1


@pytest.mark.parametrize(
    ("marker", "on_resource", "shadow"),
    [
        (True, False, True),
        ("true", False, True),  # W3C baggage copied onto the span is always a string
        ("TRUE", False, True),
        (1, False, True),
        (True, True, True),  # OTEL_RESOURCE_ATTRIBUTES=driftwatch.shadow=true
        ("false", False, False),
        (False, False, False),
        (0, True, False),
        ("", False, False),
    ],
)
def test_driftwatch_shadow_calls_are_not_traffic(marker: object, on_resource: bool, shadow: bool) -> None:
    attributes = llm_attributes()
    resource: dict[str, Any] = {"service.name": "driftwatch"}
    (resource if on_resource else attributes)[SHADOW_MARKER_ATTRIBUTE] = marker

    mapped = _map(attributes, resource=resource)

    assert (len(mapped.rows), mapped.shadow_spans) == ((0, 1) if shadow else (1, 0))


def test_content_capture_off_keeps_metadata_only() -> None:
    row = _one(llm_attributes(), capture_content=False)

    assert row["prompt"] is None
    assert row["completion"] is None
    assert row["input_tokens"] == 1000


@pytest.mark.parametrize(
    "value",
    [-5, 2**40, "many", 3.5, True, [1, 2]],
    ids=["negative", "huge", "text", "fraction", "bool", "list"],
)
def test_unusable_token_counts_become_null_not_garbage(value: object) -> None:
    attributes = llm_attributes()
    attributes["gen_ai.usage.input_tokens"] = value

    row = _one(attributes)

    assert row["input_tokens"] is None
    assert row["cost_usd"] is None


def test_malformed_message_json_is_kept_as_text() -> None:
    attributes = llm_attributes()
    attributes["gen_ai.input.messages"] = '[{"role": "user", "parts": [unterminated'

    row = _one(attributes)

    assert _prompt(row) == [{"role": "user", "content": '[{"role": "user", "parts": [unterminated'}]


def test_tool_call_parts_are_kept_as_json() -> None:
    attributes = llm_attributes()
    attributes["gen_ai.output.messages"] = orjson.dumps(
        [{"role": "assistant", "parts": [{"type": "tool_call", "name": "lookup", "arguments": {"id": 7}}]}]
    ).decode()

    row = _one(attributes)

    assert orjson.loads(row["completion"]) == [
        {"type": "tool_call", "name": "lookup", "arguments": {"id": 7}}
    ]


LOOKUP = {"type": "tool_call", "name": "lookup_order", "arguments": {"order_id": 7, "fields": ["status"]}}
ARGUMENTS_TEXT = '{"order_id": 7, "fields": ["status"]}'


def _without_content(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if key != "gen_ai.output.messages"}


@pytest.mark.parametrize(
    ("convention", "attributes", "events"),
    [
        (
            "genai-semconv parts (with a call id)",
            {
                "gen_ai.output.messages": orjson.dumps(
                    [{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_9", "name": "lookup_order",
                      "arguments": {"order_id": 7, "fields": ["status"]}}]}]
                ).decode()
            },
            None,
        ),
        (
            "openinference",
            {
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_9",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup_order",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": ARGUMENTS_TEXT,
            },
            None,
        ),
        (
            "traceloop indexed attributes",
            {
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.finish_reason": "tool_calls",
                "gen_ai.completion.0.tool_calls.0.id": "call_9",
                "gen_ai.completion.0.tool_calls.0.name": "lookup_order",
                "gen_ai.completion.0.tool_calls.0.arguments": ARGUMENTS_TEXT,
            },
            None,
        ),
        (
            "legacy gen_ai.choice event",
            {},
            [("gen_ai.choice", {"index": 0, "message": orjson.dumps({"role": "assistant", "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "lookup_order", "arguments": ARGUMENTS_TEXT}}]}).decode()})],
        ),
        (
            "traceloop event mode (tool calls beside the message)",
            {},
            [("gen_ai.choice", {"index": 0, "finish_reason": "tool_calls",
                                "message": orjson.dumps({"role": "assistant", "content": None}).decode(),
                                "tool_calls": orjson.dumps([{"id": "call_9", "type": "function", "function": {
                                    "name": "lookup_order", "arguments": ARGUMENTS_TEXT}}]).decode()})],
        ),
        (
            "free-form output.value (a chat completion response)",
            {"output.value": orjson.dumps({"choices": [{"message": {"role": "assistant", "content": None,
                "tool_calls": [{"id": "call_9", "type": "function", "function": {
                    "name": "lookup_order", "arguments": ARGUMENTS_TEXT}}]}}]}).decode()},
            None,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_a_tool_call_answer_is_the_same_completion_in_every_convention(
    convention: str, attributes: dict[str, Any], events: list[tuple[str, dict[str, Any]]] | None
) -> None:
    row = _one({**_without_content(llm_attributes()), **attributes}, events=events)

    assert row["completion"] is not None, convention
    assert orjson.loads(row["completion"]) == [LOOKUP]
    # The same text, so judges that compare text see two equal answers as equal.
    assert row["completion"] == orjson.dumps([LOOKUP], option=orjson.OPT_SORT_KEYS).decode()
