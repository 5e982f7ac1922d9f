"""LiteLLM's ``otel`` callback → calls (pure): the captured spans of the real SDK and proxy, and the
metadata they carry."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftwatch.config import Policy
from driftwatch.ingest import litellm
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.otlp import AttributeValue, DecodedSpans, SpanView, iter_spans, parse_request
from driftwatch.ingest.records import CallMapper, MappedSpans
from driftwatch.prices.pricing import PriceTable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "instrumentations" / "litellm"
GPT_4O_MINI_COST = (42 * 0.15 + 7 * 0.60) / 1e6


def _mapped(fixture: str, policy: Policy | None = None) -> MappedSpans:
    policy = policy or Policy()
    mapper = CallMapper(
        Classifier.from_policy(policy), PriceTable(policy.price_table()), capture_content=True
    )
    request = parse_request((FIXTURES / fixture).read_bytes(), "json", ExportTraceServiceRequest())
    return mapper.map(iter_spans(request))


def test_sdk_sync_async_and_router_calls_are_each_one_call_with_the_baggage_class() -> None:
    # completion, acompletion, Router.completion, Router.acompletion: call types chat and acompletion.
    mapped = _mapped("sdk_baggage.json")

    assert len(mapped.rows) == 4
    assert mapped.other_spans > 0  # the raw_gen_ai_request spans are not calls at all
    for row in mapped.rows:
        assert row["operation"] == "chat"
        assert (row["provider"], row["model"]) == ("openai", "gpt-4o-mini-2024-07-18")
        assert (row["input_tokens"], row["output_tokens"]) == (42, 7)
        assert row["cost_usd"] == pytest.approx(GPT_4O_MINI_COST)
        assert (row["task_class"], row["tier"]) == ("sentiment", "cheap")
        assert row["completion"] == "positive"
        assert orjson.loads(row["prompt"])[-1]["role"] == "user"


@pytest.mark.parametrize("fixture", ["proxy.json", "proxy__semconv_metadata_keys.json"])
def test_proxy_call_has_the_real_model_and_the_request_metadata_and_its_shadow_replay_is_not_traffic(
    fixture: str,
) -> None:
    mapped = _mapped(fixture)

    # Two requests: one with metadata {"task_class", "tier"}, one with the X-Driftwatch-Shadow header.
    assert len(mapped.rows) == 1
    assert mapped.shadow_spans == 1
    row = mapped.rows[0]
    # The proxy reports its alias "cheap" as the response model; the call ran on gpt-4o-mini.
    assert (row["provider"], row["model"]) == ("openai", "gpt-4o-mini")
    assert row["cost_usd"] == pytest.approx(GPT_4O_MINI_COST)
    assert (row["task_class"], row["tier"]) == ("sentiment", "cheap")
    assert row["completion"] == "positive"
    assert row["service"] == "gateway"


def test_the_model_tier_map_may_name_the_proxy_alias() -> None:
    policy = Policy(model_tiers={"cheap": "mid"}, classification={"tier_keys": ()})

    row = _mapped("proxy.json", policy).rows[0]

    assert (row["model"], row["tier"]) == ("gpt-4o-mini", "mid")


def _span_attributes(**extra: AttributeValue) -> dict[str, AttributeValue]:
    return {"litellm.call_id": "c-1", "gen_ai.request.model": "gpt-4o-mini", **extra}


@pytest.mark.parametrize(
    ("call_type", "operation"),
    [
        ("completion", "chat"),
        ("acompletion", "chat"),
        ("atext_completion", "text_completion"),
        ("aresponses", "chat"),
        ("anthropic_messages", "chat"),
        ("aembedding", "embeddings"),
        ("chat", "chat"),
        ("image_generation", "image_generation"),
    ],
)
def test_call_types_become_genai_operations(call_type: str, operation: str) -> None:
    span = _view(_span_attributes(**{"gen_ai.operation.name": call_type}))

    assert litellm.as_conventions(span).attributes["gen_ai.operation.name"] == operation


def test_litellm_plumbing_spans_are_not_calls_even_with_baggage_tags() -> None:
    span = _view({"llm.openai.model": "gpt-4o-mini", "driftwatch.task_class": "faq"}, scope="litellm")

    assert litellm.as_conventions(span).attributes["gen_ai.operation.name"] == litellm.NOT_A_CALL


def test_another_instrumentations_span_passes_unchanged() -> None:
    span = _view({"gen_ai.operation.name": "acompletion", "litellm.model_group": "cheap"}, scope="other")

    assert litellm.as_conventions(span) is span


def test_requester_metadata_keys_do_not_override_litellms_own_metadata_attributes() -> None:
    span = _view(
        _span_attributes(
            **{
                "metadata.requester_metadata": "{'task_class': 'faq', 'tier': 'cheap'}",
                "litellm.metadata.task_class": "billing",
            }
        )
    )

    attributes = litellm.as_conventions(span).attributes

    assert (attributes["litellm.metadata.task_class"], attributes["litellm.metadata.tier"]) == (
        "billing",
        "cheap",
    )


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "[" * 5000 + "]" * 5000,  # nested past the parser's limits
        "{'task_class': '" + "x" * 20_000 + "'}",  # over the size bound
        "['task_class', 'faq']",
        "{'task_class': ",
        "",
    ],
)
def test_requester_metadata_that_is_not_a_small_dict_literal_is_ignored(text: str) -> None:
    assert litellm.requester_metadata(text) == {}


def test_shadow_header_false_is_no_marker() -> None:
    headers = "{'headers': {'X-Driftwatch-Shadow': 'false'}}"
    span = _view(_span_attributes(**{"metadata.requester_metadata": headers}))

    mapped = _map_views(span)

    assert (len(mapped.rows), mapped.shadow_spans) == (1, 0)


@settings(derandomize=True, max_examples=200)
@given(st.text(max_size=300))
def test_any_requester_metadata_text_maps_without_error(text: str) -> None:
    mapped = _map_views(_view(_span_attributes(**{"metadata.requester_metadata": text})))

    assert len(mapped.rows) + mapped.shadow_spans == 1


def _view(attributes: dict[str, AttributeValue], scope: str = "litellm") -> SpanView:
    return SpanView(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        parent_span_id=b"",
        name="litellm_request",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=attributes,
        resource={},
        scope_name=scope,
    )


def _map_views(*spans: SpanView) -> MappedSpans:
    policy = Policy()
    mapper = CallMapper(
        Classifier.from_policy(policy), PriceTable(policy.price_table()), capture_content=True
    )
    return mapper.map(DecodedSpans(spans=list(spans)))
