"""Cached input tokens, as an app's OTel SDK exports them, priced at the reference model's cache rate in
the counterfactual: the call goes in over OTLP/HTTP, the ledger comes out of ``GET /v1/savings``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from sqlalchemy import Engine

from driftwatch.config import Policy
from driftwatch.prices.pricing import ModelPrice
from tests.conftest import StartServer
from tests.ledger import scenario

# The reference model reads its cache at a tenth of its input rate; the cheap model has no cache rate.
PRICES = {
    **scenario.POLICY.prices,
    "m-top": ModelPrice(input_per_mtok=10.0, output_per_mtok=50.0, cache_read_per_mtok=1.0),
}
POLICY = Policy(tier_models=scenario.MODELS, prices=PRICES)


def _export(base_url: str, start: datetime, cached: int | None) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base_url}/v1/traces")))
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m-cheap",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
        "driftwatch.task_class": "faq",
        "driftwatch.tier": "cheap",
    }
    if cached is not None:
        attributes["gen_ai.usage.cache_read.input_tokens"] = cached
    nanos = int(start.timestamp() * 1e9)
    span = provider.get_tracer("app").start_span("chat m-cheap", start_time=nanos, attributes=attributes)
    span.end(end_time=nanos + 10**9)
    provider.shutdown()  # exports and waits: the server answers only once the span is committed


def test_cached_input_tokens_are_priced_at_the_reference_cache_rate(
    engine: Engine, start_server: StartServer
) -> None:
    server = start_server(policy=POLICY)
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    _export(server.base_url, noon, cached=800)
    _export(server.base_url, noon + timedelta(minutes=1), cached=None)

    body = httpx.get(f"{server.base_url}/v1/savings", params={"task_class": "faq"}, timeout=30).json()

    day = next(row for row in body["days"] if row["day"] == noon.date().isoformat())
    spend = 2 * (1000 * 1.0 + 200 * 5.0) / 1e6  # m-cheap has no cache rate: cached input at its input rate
    with_cache = (200 * 10.0 + 800 * 1.0 + 200 * 50.0) / 1e6
    without = (1000 * 10.0 + 200 * 50.0) / 1e6
    assert day["calls"] == 2 and day["unpriced_calls"] == 0
    assert day["spend_usd"] == pytest.approx(spend)
    assert day["counterfactual_usd"] == pytest.approx(with_cache + without)
    assert day["net_usd"] == pytest.approx(with_cache + without - spend)
