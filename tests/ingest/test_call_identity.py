"""One stored call per provider response, whatever the wiring and however an exporter batched it.

Traces here are shaped like what real apps send (see tests/fixtures/instrumentations/NOTES.md): a tagged
request span (baggage copied onto every span) with LLM calls under it, an instrumentation's span around
the SDK's own span, two instrumentations reporting one response side by side, the Anthropic SDK's root
span beside Traceloop's in a trace of its own, and a server that recycles response ids.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import Engine, select

from driftwatch.config import Policy
from driftwatch.db.models import Call, ClassDay, ClassHour
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.otlp import iter_spans
from driftwatch.ingest.records import CallMapper, CallRow
from driftwatch.ingest.store import commit_batch
from driftwatch.prices.pricing import PriceTable
from tests.support.databases import empty_all_tables
from tests.support.otlp import START_NS, export_request, key_values, llm_attributes

NOW = datetime(2026, 12, 3, tzinfo=UTC)
TAGS = {"driftwatch.task_class": "faq", "driftwatch.tier": "cheap"}


@dataclass(frozen=True)
class Reported:
    """A span and the scope (instrumentation) that reported it."""

    span: Span
    scope: str


def _span(
    trace_id: bytes,
    attributes: dict[str, Any],
    *,
    parent: bytes = b"",
    start_ms: int = 0,
    name: str = "span",
) -> Span:
    start = START_NS + start_ms * 1_000_000
    return Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        parent_span_id=parent,
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 400_000_000,
        attributes=key_values(attributes),
    )


def _llm(response_id: str | None, *, tags: bool = True, **overrides: Any) -> dict[str, Any]:
    attributes = llm_attributes(task_class=None, tier=None, **overrides)
    if response_id is not None:
        attributes["gen_ai.response.id"] = response_id
    return {**attributes, **(TAGS if tags else {})}


def _openinference(response_id: str | None = None) -> dict[str, Any]:
    """OpenInference's LLM span: its own keys, the model, no GenAI operation."""
    attributes: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "claude-haiku-4-5-20251001",
        "llm.token_count.prompt": 57,
        "llm.token_count.completion": 7,
        "output.value": "positive",
        **TAGS,
    }
    if response_id is not None:
        attributes["gen_ai.response.id"] = response_id
    return attributes


def request_with_siblings(calls: int) -> tuple[list[Reported], int]:
    """A tagged FastAPI request: server span, app span, httpx client spans, ``calls`` LLM calls."""
    trace = os.urandom(16)
    server = _span(trace, {**TAGS, "http.route": "/answer"}, name="POST /answer")
    app = _span(trace, TAGS, parent=server.span_id, start_ms=1, name="answer")
    spans = [Reported(server, "fastapi"), Reported(app, "app")]
    for index in range(calls):
        llm = _span(trace, _llm(f"chatcmpl-{index}"), parent=app.span_id, start_ms=10 + index * 500)
        client = _span(trace, {**TAGS, "http.method": "POST"}, parent=llm.span_id, start_ms=11 + index * 500)
        spans += [Reported(llm, "openai-v2"), Reported(client, "httpx")]
    return spans, calls


def nested_instrumentations() -> tuple[list[Reported], int]:
    """OpenInference's span around the Anthropic SDK's own span of the same call, under an app span."""
    trace = os.urandom(16)
    app = _span(trace, TAGS, name="classify")
    outer = _span(trace, _openinference(), parent=app.span_id, start_ms=1)
    inner = _span(trace, _llm("msg_01", tags=False), parent=outer.span_id, start_ms=2)
    return [
        Reported(app, "app"),
        Reported(outer, "openinference"),
        Reported(inner, "com.anthropic.sdk.python"),
    ], 1


def three_deep() -> tuple[list[Reported], int]:
    """A gateway's request span, an instrumentation's span and the SDK's span: one response."""
    trace = os.urandom(16)
    gateway = _span(trace, _llm(None, model="router-alias"))
    middle = _span(trace, _openinference(), parent=gateway.span_id, start_ms=1)
    inner = _span(trace, _llm("msg_02", tags=False), parent=middle.span_id, start_ms=2)
    return [Reported(gateway, "gateway"), Reported(middle, "openinference"), Reported(inner, "sdk")], 1


def side_by_side_reports() -> tuple[list[Reported], int]:
    """Two instrumentations' sibling spans of one response (same id, same trace)."""
    trace = os.urandom(16)
    app = _span(trace, TAGS, name="app")
    first = _span(trace, _llm("chatcmpl-same"), parent=app.span_id, start_ms=1)
    second = _span(trace, _openinference("chatcmpl-same"), parent=app.span_id, start_ms=1)
    return [Reported(app, "app"), Reported(first, "openai-v2"), Reported(second, "openinference")], 1


def roots_in_two_traces() -> tuple[list[Reported], int]:
    """The Anthropic SDK's root span and Traceloop's root span, each in a trace of its own."""
    sdk = _span(os.urandom(16), _llm("msg_lonely", tags=False))
    traceloop = _span(os.urandom(16), _llm("msg_lonely"), start_ms=1)
    return [
        Reported(sdk, "com.anthropic.sdk.python"),
        Reported(traceloop, "opentelemetry.instrumentation.anthropic"),
    ], 1


def recycled_ids(calls: int) -> tuple[list[Reported], int]:
    """An Ollama-like server: ``chatcmpl-<0..2>`` ids repeat across traces (and root spans)."""
    spans = [
        Reported(_span(os.urandom(16), _llm(f"chatcmpl-{index % 3}"), start_ms=index), "openai-v2")
        for index in range(calls)
    ]
    return spans, calls


def all_shapes() -> tuple[list[Reported], int]:
    shapes = [
        request_with_siblings(3),
        nested_instrumentations(),
        three_deep(),
        side_by_side_reports(),
        roots_in_two_traces(),
        recycled_ids(5),
    ]
    return [span for spans, _ in shapes for span in spans], sum(calls for _, calls in shapes)


MAPPER = CallMapper(
    Classifier.from_policy(Policy()), PriceTable(Policy().price_table()), capture_content=True
)


def rows(spans: list[Reported]) -> list[CallRow]:
    found: list[CallRow] = []
    for reported in spans:
        request = export_request([reported.span])
        request.resource_spans[0].scope_spans[0].scope.name = reported.scope
        found += MAPPER.map(iter_spans(request)).rows
    return found


def store(
    engine: Engine, batches: list[list[CallRow]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    for batch in batches:
        commit_batch(engine, [dict(row) for row in batch], [], NOW)
    columns = [column for column in Call.__table__.columns if column.name != "id"]
    with engine.connect() as connection:
        calls = sorted((tuple(row) for row in connection.execute(select(*columns))), key=repr)
        hours = connection.execute(
            select(
                ClassHour.task_class,
                ClassHour.tier,
                ClassHour.hour,
                ClassHour.calls,
                ClassHour.input_tokens,
                ClassHour.output_tokens,
                ClassHour.priced_calls,
                ClassHour.first_seen,
                ClassHour.last_seen,
            ).order_by(ClassHour.task_class, ClassHour.tier, ClassHour.hour)
        ).all()
        # The daily rollup too, kept by the same writer through every merge (cost left out, as above:
        # float sums depend on the order they were added in).
        day_columns = [column for column in ClassDay.__table__.columns if column.name != "cost_usd"]
        days = connection.execute(select(*day_columns).order_by(*ClassDay.__table__.primary_key)).all()
    return calls, [tuple(row) for row in (*hours, *days)]


def test_tags_on_every_span_make_no_call_of_server_client_or_app_spans(engine: Engine) -> None:
    spans, made = request_with_siblings(4)

    calls, rollup = store(engine, [rows(spans)])

    assert len(calls) == made
    assert rollup[0][3] == made


@pytest.mark.parametrize(
    "shape",
    [nested_instrumentations, three_deep, side_by_side_reports, roots_in_two_traces],
    ids=lambda shape: shape.__name__,
)
def test_one_response_reported_by_several_spans_is_one_call_in_any_batching(
    engine: Engine, shape: Any
) -> None:
    spans, made = shape()
    every = rows(spans)

    together, rollup_together = store(engine, [every])
    empty_all_tables(engine)
    apart, rollup_apart = store(engine, [[row] for row in reversed(every)])

    assert len(together) == made
    assert apart == together
    assert rollup_apart == rollup_together


def test_the_merged_call_keeps_the_outermost_llm_span_ids_and_fields_of_the_inner_ones(
    engine: Engine,
) -> None:
    spans, _ = nested_instrumentations()
    every = rows(spans)
    outer, inner = every

    store(engine, [[inner], [outer]])

    with engine.connect() as connection:
        call = connection.execute(select(Call)).mappings().one()
    assert (call["trace_id"], call["span_id"]) == (outer["trace_id"], outer["span_id"])
    assert call["parent_span_id"] == outer["parent_span_id"] != call["span_id"]
    assert call["response_id"] == "msg_01"  # only the SDK's span has it
    assert call["model"] == "claude-haiku-4-5-20251001"
    assert (call["task_class"], call["tier"]) == ("faq", "cheap")


def test_recycled_response_ids_in_other_traces_are_other_calls_and_never_share_content(
    engine: Engine,
) -> None:
    spans, made = recycled_ids(9)
    every = rows(spans)
    for index, row in enumerate(every):
        row["prompt"] = f'[{{"role": "user", "content": "question {index}"}}]'

    calls, _ = store(engine, [every[:4], every[4:]])
    # The same spans again, a second report of each: content stays with its own span.
    store(engine, [every])

    assert len(calls) == made
    with engine.connect() as connection:
        stored = {(row.trace_id, row.span_id): row.prompt for row in connection.execute(select(Call))}
    assert stored == {(row["trace_id"], row["span_id"]): row["prompt"] for row in every}


@settings(
    derandomize=True,
    database=None,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), cuts=st.lists(st.integers(0, 40), max_size=8))
def test_the_same_spans_in_any_grouping_and_order_give_the_same_store(
    engine: Engine, seed: int, cuts: list[int]
) -> None:
    spans, made = all_shapes()
    every = rows(spans)
    empty_all_tables(engine)
    expected = store(engine, [every])
    assert len(expected[0]) == made

    shuffled = list(every)
    random.Random(seed).shuffle(shuffled)
    bounds = sorted({0, len(shuffled), *(cut % (len(shuffled) + 1) for cut in cuts)})
    batches = [shuffled[start:end] for start, end in itertools.pairwise(bounds)]
    empty_all_tables(engine)
    # Twice: an exporter that retries re-sends what was already stored.
    assert store(engine, batches + batches[:1]) == expected
