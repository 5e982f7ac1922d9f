"""POST /v1/evaluations over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Call
from tests.api.evaluations import POLICY, item, listed, post, receipt, stored
from tests.conftest import StartServer
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.server import ServerThread

NOW = datetime.now(UTC).replace(microsecond=0)

BAD_ITEMS: list[tuple[str, Any, str]] = [
    ("score-above-one", item(score=1.5), "score"),
    ("score-below-zero", item(score=-0.1), "score"),
    ("score-as-text", item(score="0.5"), "score"),
    ("score-as-bool", item(score=True), "score"),
    ("unknown-tier", item(tier="gold"), "unknown tier 'gold'"),
    ("reserved-source", item(source="shadow"), "reserved"),
    ("reserved-source-any-case", item(source="Shadow"), "reserved"),
    ("source-with-spaces", item(source="human review"), "source"),
    ("no-source", item(source=...), "source"),
    ("no-id", item(id=...), "id"),
    ("empty-id", item(id=""), "id"),
    ("numeric-id", item(id=17), "id"),
    ("id-too-long", item(id="x" * 256), "id"),
    ("no-task-class", item(task_class=...), "task_class"),
    ("no-outcome", item(outcome=...), "outcome"),
    ("other-outcome", item(outcome="meh"), "outcome"),
    ("bool-instead-of-outcome", item(outcome=..., acceptable=True), "acceptable"),
    ("unknown-field", item(comment="hm"), "comment"),
    ("short-trace-id", item(trace_id="abc"), "trace_id"),
    ("non-hex-span-id", item(trace_id="ab" * 16, span_id="xyz" * 5 + "x"), "span_id"),
    ("span-without-trace", item(span_id="cd" * 8), "span_id needs trace_id"),
    ("far-future", item(timestamp=(NOW + timedelta(days=2)).isoformat()), "future"),
    ("not-a-time", item(timestamp="last tuesday"), "ISO 8601"),
    ("unix-seconds", item(timestamp=1763800000), "ISO 8601"),
    ("past-the-calendar", item(timestamp="0001-01-01T00:00:00+14:00"), "timestamp"),
    ("rationale-too-long", item(rationale="x" * 4001), "rationale"),
    ("not-an-object", "just a string", "valid dictionary"),
    ("null", None, "valid dictionary"),
]


@pytest.mark.parametrize(
    ("bad", "reason"), [case[1:] for case in BAD_ITEMS], ids=[case[0] for case in BAD_ITEMS]
)
def test_a_bad_item_is_rejected_with_its_index_and_the_good_ones_are_kept(
    server: ServerThread, engine: Engine, bad: Any, reason: str
) -> None:
    good = [item(), item()]

    body = receipt(server, [good[0], bad, good[1]])

    assert body["accepted"] == 2
    assert body["duplicates"] == 0
    [rejection] = body["rejected"]
    assert rejection["index"] == 1
    named = bad.get("id") if isinstance(bad, dict) else None
    assert rejection["id"] == (named if isinstance(named, str) and len(named) <= 255 else None)
    assert reason in rejection["error"]
    assert stored(engine) == 2


def test_an_item_a_day_ahead_is_still_accepted_for_clock_skew(server: ServerThread) -> None:
    body = receipt(server, [item(timestamp=(datetime.now(UTC) + timedelta(hours=23)).isoformat())])

    assert body["accepted"] == 1


def test_every_configured_tier_is_accepted(server: ServerThread) -> None:
    body = receipt(server, [item(tier=tier) for tier in ("cheap", "mid", "premium")])

    assert body == {"accepted": 3, "duplicates": 0, "rejected": []}


def test_re_sent_items_are_duplicates_not_errors(server: ServerThread, engine: Engine) -> None:
    first = [item(id="a"), item(id="b"), item(id="c")]
    assert receipt(server, first) == {"accepted": 3, "duplicates": 0, "rejected": []}

    again = [*first, item(id="d"), item(id="d"), item(id="a", source="user-feedback")]
    body = receipt(server, again)

    # a, b, c stored before, and the second d within the batch; a from another source is new
    assert body == {"accepted": 2, "duplicates": 4, "rejected": []}
    assert stored(engine) == 5


def test_a_re_sent_item_keeps_its_first_verdict(server: ServerThread) -> None:
    receipt(server, [item(id="t-1", outcome="acceptable")])
    receipt(server, [item(id="t-1", outcome="unacceptable")])

    assert [entry["outcome"] for entry in listed(server)] == ["acceptable"]


def test_the_same_batch_sent_at_once_from_several_clients_is_stored_once(
    server: ServerThread, engine: Engine
) -> None:
    batch = [item() for _ in range(50)]
    receipts: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: receipts.append(receipt(server, batch))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(entry["accepted"] for entry in receipts) == 50
    assert sum(entry["duplicates"] for entry in receipts) == 150
    assert stored(engine) == 50


def test_a_batch_over_the_limit_is_413_and_stores_nothing(server: ServerThread, engine: Engine) -> None:
    response = post(server, [item() for _ in range(1001)])

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "at most 1000" in response.json()["detail"]
    assert stored(engine) == 0
    assert receipt(server, [item() for _ in range(1000)])["accepted"] == 1000


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "JSON"),
        (b"[]", "valid dictionary"),
        (b'{"items": []}', "evaluations"),
        (b'{"evaluations": {"id": "x"}}', "evaluations"),
        (b'{"evaluations": [], "extra": 1}', "extra"),
    ],
    ids=["not-json", "top-level-list", "no-evaluations", "evaluations-not-a-list", "unknown-top-level-field"],
)
def test_a_malformed_body_is_422_with_the_reason(
    server: ServerThread, engine: Engine, content: bytes, reason: str
) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/evaluations", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert reason in response.json()["detail"]
    assert stored(engine) == 0


def test_an_empty_batch_is_fine(server: ServerThread) -> None:
    assert receipt(server, []) == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_with_auth_on_both_endpoints_need_a_key(start_server: StartServer, engine: Engine) -> None:
    secured = start_server(policy=POLICY, require_auth=True)
    with session_factory(engine).begin() as session:
        key = create_key(session, "reviews", scopes={Scope.EVALUATIONS, Scope.READ}).key

    assert post(secured, [item()]).status_code == 401
    assert post(secured, [item()], key="dw_wrong").status_code == 401
    assert httpx.get(f"{secured.base_url}/v1/evaluations").status_code == 401
    assert stored(engine) == 0
    assert post(secured, [item()], key=key).json()["accepted"] == 1
    headers = {"authorization": f"Bearer {key}"}
    assert len(httpx.get(f"{secured.base_url}/v1/evaluations", headers=headers).json()["items"]) == 1


def test_no_call_is_touched_by_posting_evaluations(server: ServerThread, engine: Engine) -> None:
    receipt(server, [item()])

    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Call)) == 0


def test_verdicts_for_a_class_driftwatch_has_never_seen_are_refused_each_with_the_reason(
    server: ServerThread, engine: Engine
) -> None:
    body = receipt(
        server,
        [item(id="a", task_class="invented"), item(id="b"), item(id="c", task_class="also-invented")],
    )

    assert body["accepted"] == 1
    assert [(r["index"], r["id"]) for r in body["rejected"]] == [(0, "a"), (2, "c")]
    assert body["rejected"][0]["error"].startswith("task_class: driftwatch has never seen class 'invented'")
    assert stored(engine) == 1


def test_a_class_with_a_stored_call_takes_verdicts(server: ServerThread, engine: Engine) -> None:
    span = make_span(llm_attributes(task_class="billing-questions"))
    exported = httpx.post(
        f"{server.base_url}/v1/traces",
        content=export_request([span]).SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert exported.status_code == 200

    assert receipt(server, [item(task_class="billing-questions")])["accepted"] == 1
