"""Issue 13, property: the same spans exported in any grouping and order give the same store.

The spans are what real routed apps sent (``tests/fixtures/call_identity``, recorded by its
``record_traces.py``): tagged FastAPI server, ASGI and httpx spans around openai-v2 calls, sibling calls
under tagged request spans, the anthropic SDK's span inside OpenInference's, and one response id
answered in four traces. Posted all in one request they must give one call per provider response;
re-batched into any groups, in any order, each group its own ``POST /v1/traces``, they must give the
same calls (every column but the surrogate id), the same ``GET /v1/calls`` count and the same
``class_hour`` rollup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from driftwatch.db.models import Call, ClassHour
from tests.e2e.apps import sent_spans
from tests.e2e.counted_once import responses
from tests.support.databases import empty_all_tables
from tests.support.server import ServerThread

pytestmark = pytest.mark.call_identity

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "call_identity").glob("*.json"))
Exported = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
"""One span with the resource and scope it was exported under (OTLP/JSON)."""


def exported_spans() -> list[Exported]:
    return [
        (resource_spans["resource"], scope_spans["scope"], span)
        for path in FIXTURES
        for resource_spans in orjson.loads(path.read_bytes())["resourceSpans"]
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]


SPANS = exported_spans()
RESPONSES = sum(len(set(map(id, responses(sent_spans(path)).values()))) for path in FIXTURES)
MAX_REQUESTS = 12


def post(server: ServerThread, spans: list[Exported]) -> None:
    document = {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": scope, "spans": [span]}]}
            for resource, scope, span in spans
        ]
    }
    response = httpx.post(
        f"{server.base_url}/v1/traces",
        content=orjson.dumps(document),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert not response.json().get("partialSuccess"), response.text


def stored(server: ServerThread, engine: Engine) -> dict[str, Any]:
    """The store as far as the export grouping may not change it."""
    columns = [column for column in Call.__table__.columns if column.name != "id"]
    with engine.connect() as connection:
        calls = sorted(
            (dict(row) for row in connection.execute(select(*columns)).mappings()),
            key=lambda call: (call["trace_id"], call["span_id"]),
        )
        rollup = [
            {**row, "cost_usd": round(row["cost_usd"], 12)}  # summed in another order
            for row in connection.execute(
                select(ClassHour).order_by(*ClassHour.__table__.primary_key)
            ).mappings()
        ]
    listed = httpx.get(f"{server.base_url}/v1/calls", params={"limit": 1000}).json()["items"]
    return {"calls": calls, "listed": len(listed), "rollup": rollup}


@st.composite
def groupings(draw: st.DrawFn) -> list[list[int]]:
    """The span indexes in some order, cut into up to MAX_REQUESTS non-empty requests."""
    order = draw(st.permutations(range(len(SPANS))))
    requests = draw(st.integers(1, MAX_REQUESTS))
    request_of = draw(st.lists(st.integers(0, requests - 1), min_size=len(order), max_size=len(order)))
    groups = [
        [index for index, chosen in zip(order, request_of, strict=True) if chosen == request]
        for request in range(requests)
    ]
    return [group for group in groups if group]


def test_spans_regrouped_and_reordered_give_the_same_calls_counts_and_rollup(
    server: ServerThread, engine: Engine
) -> None:
    post(server, SPANS)
    expected = stored(server, engine)
    empty_all_tables(engine)
    assert expected["listed"] == RESPONSES, f"{RESPONSES} LLM calls sent, {expected['listed']} stored"

    @settings(max_examples=12, derandomize=True, database=None, deadline=None)
    @given(groupings())
    @example([[index] for index in range(len(SPANS))])  # as SimpleSpanProcessor sends: as spans end
    @example([[index] for index in reversed(range(len(SPANS)))])  # one by one, parents first
    def regrouped(groups: list[list[int]]) -> None:
        try:
            for group in groups:
                post(server, [SPANS[index] for index in group])
            got = stored(server, engine)
            assert got == expected, (
                f"{len(groups)} requests stored {got['listed']} calls, one {expected['listed']}"
            )
        finally:
            empty_all_tables(engine)

    regrouped()
