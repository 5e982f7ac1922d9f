"""GET /v1/evaluations over real HTTP, on SQLite and PostgreSQL: fields, filters, pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.evaluations import at, item, listed, receipt, seed_shadow_evaluation
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.server import ServerThread


def test_a_verdict_on_a_stored_call_is_linked_and_listed_with_every_field(server: ServerThread) -> None:
    span = make_span(llm_attributes(task_class="extraction", tier="cheap", model="gpt-4o-mini"))
    body = export_request([span]).SerializeToString()
    headers = {"content-type": "application/x-protobuf"}
    assert httpx.post(f"{server.base_url}/v1/traces", content=body, headers=headers).status_code == 200
    [call] = httpx.get(f"{server.base_url}/v1/calls").json()["items"]
    verdict = item(
        id="ticket-4711",
        outcome="unacceptable",
        score=0.25,
        trace_id=span.trace_id.hex().upper(),  # any case; stored lower-case like the call's
        span_id=span.span_id.hex(),
        timestamp="2025-11-22T10:26:40+02:00",
        rationale="dropped the invoice number",
    )

    assert receipt(server, [verdict]) == {"accepted": 1, "duplicates": 0, "rejected": []}
    [listed_item] = listed(server)

    assert listed_item == {
        "id": listed_item["id"],
        "source": "human-review",
        "external_id": "ticket-4711",
        "sample_id": None,
        "call_id": listed_item["call_id"],
        "trace_id": call["trace_id"],
        "span_id": call["span_id"],
        "task_class": "extraction",
        "tier": "cheap",  # from the call: the verdict named none
        "model": "gpt-4o-mini",
        "reference_tier": None,
        "reference_model": None,
        "outcome": "unacceptable",
        "score": 0.25,
        "judge": None,
        "rationale": "dropped the invoice number",
        "shadow_cost_usd": 0.0,
        "judge_cost_usd": 0.0,
        "cost_usd": 0.0,
        "evaluated_at": listed_item["evaluated_at"],
    }
    assert listed_item["call_id"] is not None
    assert datetime.fromisoformat(listed_item["evaluated_at"]) == datetime(
        2025, 11, 22, 8, 26, 40, tzinfo=UTC
    )


def test_defaults_time_now_utc_for_naive_times_and_no_call_link_for_unknown_spans(
    server: ServerThread,
) -> None:
    receipt(
        server,
        [
            item(id="now", tier="premium", model="gpt-4o"),
            item(id="naive", timestamp="2025-11-22T08:26:40"),
            item(id="unknown-span", trace_id="ab" * 16, span_id="cd" * 8),
        ],
    )

    by_id = {entry["external_id"]: entry for entry in listed(server)}

    assert abs(datetime.fromisoformat(by_id["now"]["evaluated_at"]) - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    assert (by_id["now"]["tier"], by_id["now"]["model"]) == ("premium", "gpt-4o")
    assert datetime.fromisoformat(by_id["naive"]["evaluated_at"]) == datetime(
        2025, 11, 22, 8, 26, 40, tzinfo=UTC
    )
    assert by_id["unknown-span"]["call_id"] is None
    assert by_id["unknown-span"]["trace_id"] == "ab" * 16


def test_filters_by_class_tier_source_outcome_and_time(server: ServerThread, engine: Engine) -> None:
    receipt(
        server,
        [
            item(id="1", task_class="faq", tier="cheap", timestamp=at(0)),
            item(id="2", task_class="faq", tier="premium", outcome="unacceptable", timestamp=at(60)),
            item(id="3", task_class="codegen", tier="cheap", source="user-feedback", timestamp=at(120)),
        ],
    )
    seed_shadow_evaluation(engine, "faq", None, datetime.fromisoformat(at(180)))

    def ids(**params: Any) -> list[str | None]:
        return [entry["external_id"] for entry in listed(server, **params)]

    assert ids() == [None, "3", "2", "1"]
    assert ids(task_class="faq") == [None, "2", "1"]
    assert ids(tier="cheap") == [None, "3", "1"]
    assert ids(source="user-feedback") == ["3"]
    assert ids(source="shadow") == [None]
    assert ids(outcome="acceptable") == ["3", "1"]
    assert ids(outcome="unacceptable") == ["2"]
    assert ids(outcome="undecided") == [None]
    assert ids(since=at(60), until=at(180)) == ["3", "2"]
    assert ids(task_class="faq", tier="cheap", outcome="acceptable") == ["1"]
    assert httpx.get(f"{server.base_url}/v1/evaluations", params={"outcome": "maybe"}).status_code == 422


def _walk(server: ServerThread, limit: int, after_first_page: Callable[[], None]) -> list[str]:
    """Follow next_cursor to the end; returns the external ids in the order the pages gave them."""
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": limit}
    while True:
        page = httpx.get(f"{server.base_url}/v1/evaluations", params=params).json()
        seen += [entry["external_id"] for entry in page["items"]]
        if page["next_cursor"] is None:
            return seen
        if "cursor" not in params:
            after_first_page()
        params["cursor"] = page["next_cursor"]


def test_pagination_walks_every_evaluation_once_newest_first_while_new_ones_arrive(
    server: ServerThread,
) -> None:
    # Several share a timestamp, some across page boundaries: the id breaks the tie.
    receipt(server, [item(id=f"e{index:02}", timestamp=at(index // 3)) for index in range(23)])
    single_page = [entry["external_id"] for entry in listed(server)]

    def arrivals() -> None:  # newer ones (would shift an offset) and a late one that belongs further down
        receipt(server, [item(id="newer", timestamp=at(500)), item(id="late", timestamp=at(2))])

    walked = _walk(server, limit=4, after_first_page=arrivals)

    assert walked == [*single_page[:14], "late", *single_page[14:]]  # 14 are newer than "late"
    assert len(set(walked)) == 24


def test_an_invalid_cursor_is_400(server: ServerThread) -> None:
    response = httpx.get(f"{server.base_url}/v1/evaluations", params={"cursor": "not a cursor!"})

    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


def test_shadow_rows_show_their_costs(server: ServerThread, engine: Engine) -> None:
    seed_shadow_evaluation(engine, "faq", True, datetime.fromisoformat(at(0)))

    [entry] = listed(server)

    assert (entry["outcome"], entry["judge"], entry["reference_tier"]) == ("acceptable", "exact", "premium")
    assert entry["cost_usd"] == pytest.approx(0.003)
