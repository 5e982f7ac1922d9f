"""What captured calls cost: list prices from genai-prices' bundled data, cached tokens at their rate.

Every test here runs with sockets refused: pricing must never reach the network.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftwatch.config import Policy
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.otlp import iter_spans, parse_request, request_encoding
from driftwatch.ingest.records import CallMapper, CallRow
from driftwatch.prices.list_prices import ListedModel, ListPrices, _providers
from driftwatch.prices.pricing import ModelPrice, PriceTable, TokenDetails, listed_price
from tests.support.otlp import export_request, llm_attributes, make_span

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "instrumentations"
MILLION = 1_000_000

# Hand-computed from genai-prices 0.2.3's rates (USD per million tokens) and the fixtures' usage
# (NOTES.md): gpt-4o-mini $0.15 input, $0.075 cached input, $0.60 output; claude-haiku-4-5 $1 input,
# $0.10 cache read, $1.25 cache write (5 minutes), $5 output.
OPENAI_CACHED = (32 * 0.15 + 10 * 0.075 + 7 * 0.6) / MILLION  # 42 prompt tokens, 10 of them cached
OPENAI_UNCACHED = (42 * 0.15 + 7 * 0.6) / MILLION  # openai-v2 reports no cached tokens
ANTHROPIC = (42 * 1 + 10 * 0.1 + 5 * 1.25 + 7 * 5) / MILLION  # 57 input = 42 + 10 read + 5 written

EXPECTED_COST = {
    "otel_openai_v2__capture_true": OPENAI_UNCACHED,
    "otel_openai_v2__span_only": OPENAI_UNCACHED,
    "otel_openai_v2__event_only": OPENAI_UNCACHED,
    "otel_openai_v2__span_and_event": OPENAI_UNCACHED,
    "otel_openai_v2_util04__span_and_event": OPENAI_UNCACHED,
    "otel_openai_v2_util04__v130_capture_true": OPENAI_UNCACHED,
    "openinference_openai": OPENAI_CACHED,
    "openinference_openai__genai_semconv": OPENAI_CACHED,
    "openinference_openai__using_attributes": OPENAI_CACHED,
    "traceloop_openai": OPENAI_CACHED,
    "traceloop_openai__events": OPENAI_CACHED,
    "traceloop_openai_0_54": OPENAI_CACHED,
    "anthropic_sdk": ANTHROPIC,
    "anthropic_sdk__content": ANTHROPIC,
    "openinference_anthropic": ANTHROPIC,
    "openinference_anthropic__genai_semconv": ANTHROPIC,
    "traceloop_anthropic": ANTHROPIC,
    "traceloop_anthropic__events": ANTHROPIC,
    "traceloop_anthropic_0_53": ANTHROPIC,
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"pricing opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


def _rows(fixture: str, policy: Policy | None = None) -> list[CallRow]:
    policy = policy or Policy()
    mapper = CallMapper(
        Classifier.from_policy(policy), PriceTable(policy.price_table()), capture_content=False
    )
    body = (FIXTURES / f"{fixture}.json").read_bytes()
    request = parse_request(body, request_encoding("application/json"), ExportTraceServiceRequest())
    return mapper.map(iter_spans(request)).rows


def test_every_captured_fixture_has_an_expected_cost() -> None:
    assert set(EXPECTED_COST) == set(json.loads((FIXTURES / "manifest.json").read_text()))


@pytest.mark.parametrize("fixture", sorted(EXPECTED_COST))
def test_a_captured_call_costs_its_list_price_with_cached_tokens_at_their_rate(fixture: str) -> None:
    rows = [row for row in _rows(fixture) if row["model"]]

    assert rows
    for row in rows:  # the Anthropic SDK's own span beside the instrumentation's: both priced alike
        assert row["cost_usd"] == pytest.approx(EXPECTED_COST[fixture], rel=1e-9)


def test_a_span_without_a_model_has_no_cost() -> None:
    # Traceloop Anthropic in events mode: the span keeps tokens but loses the model (NOTES.md G).
    modelless = [row for row in _rows("traceloop_anthropic__events") if not row["model"]]

    assert [row["cost_usd"] for row in modelless] == [None]


def test_a_policy_price_wins_over_the_list_and_prices_cached_tokens_at_its_own_rates() -> None:
    haiku = {"input_per_mtok": 2, "output_per_mtok": 10, "cache_read_per_mtok": 1}
    gpt = {"input_per_mtok": 1, "output_per_mtok": 1}
    policy = Policy.model_validate({"prices": {"claude-haiku-4-5": haiku, "gpt-4o-mini": gpt}})

    (anthropic, *_) = _rows("traceloop_anthropic", policy)
    (openai,) = _rows("traceloop_openai", policy)

    # No cache-write rate in the override: the 5 written tokens cost the input rate.
    assert anthropic["cost_usd"] == pytest.approx((42 * 2 + 10 * 1 + 5 * 2 + 7 * 10) / MILLION)
    assert openai["cost_usd"] == pytest.approx((42 + 7) / MILLION)


def test_an_unknown_model_costs_null_whatever_its_tokens() -> None:
    prices = PriceTable()

    assert prices.cost("house-model-9", 1000, 100, TokenDetails(cache_read=10)) is None
    assert prices.price("house-model-9") is None


def test_counts_that_contradict_each_other_cost_null() -> None:
    prices = PriceTable({"my-finetune": ModelPrice(input_per_mtok=1, output_per_mtok=1)})

    for model in ("gpt-4o-mini", "my-finetune"):
        assert prices.cost(model, 5, 7, TokenDetails(cache_read=10)) is None
        assert prices.cost(model, 50, 7, TokenDetails(reasoning=8)) is None
        assert prices.cost(model, 50, 7, TokenDetails(cache_read=10, reasoning=7)) is not None


def test_reasoning_tokens_are_output_tokens_priced_at_the_output_rate_unless_listed_apart() -> None:
    prices = PriceTable()

    with_reasoning = prices.cost("o3", 1000, 900, TokenDetails(reasoning=800))

    assert with_reasoning == prices.cost("o3", 1000, 900) == pytest.approx((1000 * 2 + 900 * 8) / MILLION)


def test_a_call_is_priced_at_the_list_price_of_its_day() -> None:
    prices = PriceTable()
    # OpenAI cut o3 from $10/$40 to $2/$8 per million tokens on 2025-06-10.
    before, after = datetime(2025, 6, 9, tzinfo=UTC), datetime(2025, 6, 11, tzinfo=UTC)

    assert prices.cost("o3", MILLION, MILLION, at=before) == pytest.approx(50)
    assert prices.cost("o3", MILLION, MILLION, at=after) == pytest.approx(10)
    assert prices.price("o3", at=before) == ModelPrice(
        input_per_mtok=10, output_per_mtok=40, cache_read_per_mtok=0.5
    )


def test_ingest_prices_a_call_on_the_day_its_span_started() -> None:
    policy = Policy()
    mapper = CallMapper(Classifier.from_policy(policy), PriceTable(), capture_content=False)
    started = datetime(2025, 6, 9, 12, tzinfo=UTC)
    attributes = llm_attributes(model="o3", input_tokens=MILLION, output_tokens=MILLION)
    span = make_span(attributes, start_ns=int(started.timestamp()) * 10**9)

    (row,) = mapper.map(iter_spans(export_request([span]))).rows

    assert row["cost_usd"] == pytest.approx(50)


def test_a_prompt_past_a_long_context_threshold_is_priced_at_the_higher_tier() -> None:
    # gemini-2.5-pro: $1.25 per million input tokens up to 200k tokens, $2.50 for the whole prompt past it.
    prices = PriceTable()

    assert prices.cost("gemini-2.5-pro", 100_000, 0) == pytest.approx(0.125)
    assert prices.cost("gemini-2.5-pro", 300_000, 0) == pytest.approx(0.75)


def test_the_bundled_list_loads_and_prices_without_the_network() -> None:
    _providers.cache_clear()
    fresh = ListPrices()

    found = fresh.get("claude-haiku-4-5-20251001")

    assert found is not None
    assert found.model.id == "claude-haiku-4-5"


USAGES = [
    {"input_tokens": 1000, "output_tokens": 500},
    {"input_tokens": 1000, "cache_read_tokens": 300, "cache_write_tokens": 100, "output_tokens": 500},
    {"input_tokens": 1000, "cache_read_tokens": 1000, "output_tokens": 500, "output_reasoning_tokens": 400},
    {
        "input_tokens": 300_000,
        "cache_read_tokens": 100_000,
        "cache_write_tokens": 50_000,
        "output_tokens": 9000,
    },
]


@pytest.mark.parametrize("usage", USAGES, ids=lambda usage: "+".join(usage))
def test_every_listed_models_cost_is_what_the_library_itself_computes(usage: dict[str, int]) -> None:
    # driftwatch prices from the list's rates itself (the library's calc_price takes ~0.4 ms a call,
    # twice what ingesting a span does); this keeps the two in step for every model of the list.
    at = datetime(2026, 11, 1, tzinfo=UTC)
    details = TokenDetails(
        usage.get("cache_read_tokens"), usage.get("cache_write_tokens"), usage.get("output_reasoning_tokens")
    )
    compared = 0
    for provider in _providers():
        for model in provider.models:
            price = listed_price(ListedModel(provider, model), at, usage["input_tokens"])
            if price is None:
                continue
            ours = price.cost(usage["input_tokens"], usage["output_tokens"], details)
            theirs = model.calc_price(Usage(**usage), provider, genai_request_timestamp=at).total_price
            assert ours == pytest.approx(float(theirs), rel=1e-9, abs=1e-12), (provider.id, model.id)
            compared += 1
    assert compared > 500
