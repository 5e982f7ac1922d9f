"""Manual control over real HTTP, on SQLite and PostgreSQL: pins, and the answers to demotion
recommendations, each with its audit rows; concurrent accepts; the acting API key."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import Scope
from driftwatch.db.engine import session_factory
from tests.conftest import StartServer
from tests.policy.control_support import POLICY, recommend, recommendation, routing_row, seen
from tests.policy.support import decisions, events
from tests.support.server import ServerThread


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    return start_server(policy=POLICY)


def _post(server: ServerThread, path: str, body: Any = None, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.base_url}{path}", json=body, headers=headers)


def _route(server: ServerThread, task_class: str) -> dict[str, Any]:
    route: dict[str, Any] = httpx.get(f"{server.base_url}/v1/policy").json()["classes"][task_class]
    return route


def test_a_pin_moves_the_class_and_is_audited(engine: Engine, server: ServerThread) -> None:
    response = _post(server, "/v1/policy/classes/summaries/pin", {"tier": "mid"})

    assert response.status_code == 200, response.text
    [pinned] = decisions(engine)
    assert response.json() == {
        "task_class": "summaries",
        "route": {"tier": "mid", "model": "claude-sonnet-4-6", "pinned": True,
                  "cooldown_until": response.json()["route"]["cooldown_until"], "source": "decided"},
        "decision_id": pinned.id,
    }  # fmt: skip
    assert (pinned.kind, pinned.actor, pinned.from_tier, pinned.to_tier) == (
        "pinned",
        "api",
        "premium",
        "mid",
    )
    assert _route(server, "summaries")["pinned"] is True


def test_unpin_keeps_the_tier_and_a_second_unpin_changes_nothing(
    engine: Engine, server: ServerThread
) -> None:
    assert _post(server, "/v1/policy/classes/summaries/pin", {"tier": "cheap"}).status_code == 200

    first = httpx.delete(f"{server.base_url}/v1/policy/classes/summaries/pin")
    second = httpx.delete(f"{server.base_url}/v1/policy/classes/summaries/pin")

    assert first.status_code == second.status_code == 200
    assert first.json()["route"]["tier"] == "cheap" and first.json()["route"]["pinned"] is False
    assert second.json()["decision_id"] is None
    assert [(d.kind, d.from_tier, d.to_tier) for d in decisions(engine)] == [
        ("pinned", "premium", "cheap"),
        ("unpinned", "cheap", "cheap"),
    ]
    row = routing_row(engine, "summaries")
    assert row is not None and (row.tier, row.pinned, row.updated_by) == ("cheap", False, "api")


def test_an_unknown_tier_is_422_and_changes_nothing(engine: Engine, server: ServerThread) -> None:
    unknown = _post(server, "/v1/policy/classes/summaries/pin", {"tier": "gold"})
    typo = _post(server, "/v1/policy/classes/summaries/pin", {"tier": "mid", "pinned": True})

    assert unknown.status_code == typo.status_code == 422
    assert "unknown tier 'gold'; tiers are cheap, mid, premium" in unknown.json()["detail"]
    assert decisions(engine) == [] and routing_row(engine, "summaries") is None


def test_a_class_name_with_a_slash_can_be_pinned(engine: Engine, server: ServerThread) -> None:
    seen(engine, "support/reply")

    response = _post(server, "/v1/policy/classes/support/reply/pin", {"tier": "premium"})

    assert response.status_code == 200, response.text
    assert _route(server, "support/reply")["tier"] == "premium"


def test_a_class_driftwatch_has_never_seen_cannot_be_pinned(engine: Engine, server: ServerThread) -> None:
    response = _post(server, "/v1/policy/classes/invented/pin", {"tier": "premium"})

    assert response.status_code == 404
    assert "no task class 'invented': driftwatch has stored no call of it" in response.json()["detail"]
    assert decisions(engine) == []
    seen(engine, "invented")  # its first call arrives: now it can be pinned
    assert _post(server, "/v1/policy/classes/invented/pin", {"tier": "premium"}).status_code == 200


def test_accepting_a_recommendation_demotes_the_class(engine: Engine, server: ServerThread) -> None:
    rec_id = recommend(engine)

    response = _post(server, f"/v1/recommendations/{rec_id}/accept")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["recommendation"]["status"] == "accepted" and body["recommendation"]["decided_by"] == "api"
    assert body["route"]["tier"] == "mid" and _route(server, "summaries")["tier"] == "mid"
    accepted, demoted = decisions(engine)
    assert body["decision_ids"] == [accepted.id, demoted.id]
    assert (accepted.kind, demoted.kind) == ("accepted", "demoted")
    assert (demoted.from_tier, demoted.to_tier, demoted.actor) == ("premium", "mid", "api")
    assert f"recommendation {rec_id} accepted by api" in demoted.reason
    evidence = orjson.loads(demoted.evidence)
    assert evidence["recommendation_id"] == rec_id and evidence["monthly_savings_usd"] == 1200.0
    assert evidence["recommendation_evidence"] == {"accepted": 396, "total": 400}
    [event] = events(engine)
    payload = orjson.loads(event.payload)
    assert (event.event_type, event.task_class) == ("class.demoted", "summaries")
    assert (payload["to_tier"], payload["model"], payload["decision_id"]) == (
        "mid",
        "claude-sonnet-4-6",
        demoted.id,
    )
    stored = recommendation(engine, rec_id)
    assert stored.decided_at is not None and stored.decided_by == "api"


@pytest.mark.parametrize("status", ["accepted", "rejected", "superseded"])
def test_a_recommendation_that_is_not_open_is_409_with_its_status(
    engine: Engine, server: ServerThread, status: str
) -> None:
    rec_id = recommend(engine, status=status)

    for action in ("accept", "reject"):
        response = _post(server, f"/v1/recommendations/{rec_id}/{action}")
        assert response.status_code == 409
        assert response.json()["detail"] == f"recommendation {rec_id} is {status}, not open"
    assert decisions(engine) == []


def test_an_unknown_recommendation_is_404(server: ServerThread) -> None:
    for action in ("accept", "reject"):
        response = _post(server, f"/v1/recommendations/999999/{action}")
        assert response.status_code == 404
        assert response.json()["detail"] == "no recommendation with id 999999"


def test_a_pinned_class_must_be_unpinned_before_accepting(engine: Engine, server: ServerThread) -> None:
    rec_id = recommend(engine)
    assert _post(server, "/v1/policy/classes/summaries/pin", {"tier": "premium"}).status_code == 200

    response = _post(server, f"/v1/recommendations/{rec_id}/accept")

    assert response.status_code == 409
    assert "summaries is pinned to premium; unpin it first" in response.json()["detail"]
    assert recommendation(engine, rec_id).status == "open"
    assert [d.kind for d in decisions(engine)] == ["pinned"] and events(engine) == []


def test_a_recommendation_for_a_class_that_moved_since_is_409(engine: Engine, server: ServerThread) -> None:
    rec_id = recommend(engine, "extraction", from_tier="premium")  # extraction is configured on mid

    response = _post(server, f"/v1/recommendations/{rec_id}/accept")

    assert response.status_code == 409
    assert "the class is on mid now" in response.json()["detail"]
    assert recommendation(engine, rec_id).status == "open"


def test_rejecting_keeps_the_class_and_records_the_reason(engine: Engine, server: ServerThread) -> None:
    with_reason, without = (
        recommend(engine),
        recommend(engine, "extraction", from_tier="mid", to_tier="cheap"),
    )

    first = _post(server, f"/v1/recommendations/{with_reason}/reject", {"reason": "quarter-end reports"})
    second = _post(server, f"/v1/recommendations/{without}/reject")

    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["recommendation"]["status"] == "rejected"
    assert first.json()["route"]["tier"] == "premium"
    rejected = decisions(engine)
    assert [d.kind for d in rejected] == ["rejected", "rejected"]
    assert rejected[0].reason == f"recommendation {with_reason} rejected by api: quarter-end reports"
    assert orjson.loads(rejected[0].evidence)["reason"] == "quarter-end reports"
    assert events(engine) == []


def test_recommendations_are_listed_newest_first_with_filters(engine: Engine, server: ServerThread) -> None:
    old = recommend(engine, minutes=0, status="superseded")
    other = recommend(engine, "extraction", from_tier="mid", to_tier="cheap", minutes=1)
    new = recommend(engine, minutes=2)

    def ids(**params: Any) -> list[int]:
        response = httpx.get(f"{server.base_url}/v1/recommendations", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [new, other, old]
    assert ids(status="open") == [new, other]
    assert ids(task_class="summaries") == [new, old]
    page = httpx.get(f"{server.base_url}/v1/recommendations", params={"limit": 2}).json()
    assert [item["id"] for item in page["items"]] == [new, other]
    assert ids(cursor=page["next_cursor"]) == [old]
    item = httpx.get(f"{server.base_url}/v1/recommendations").json()["items"][0]
    assert item["savings_low_usd"] == 900.0 and item["evidence"] == {"accepted": 396, "total": 400}
    assert httpx.get(f"{server.base_url}/v1/recommendations", params={"status": "done"}).status_code == 422


def test_of_concurrent_accepts_exactly_one_succeeds(engine: Engine, server: ServerThread) -> None:
    rec_id = recommend(engine)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def accept() -> None:
        barrier.wait()
        statuses.append(_post(server, f"/v1/recommendations/{rec_id}/accept").status_code)

    threads = [threading.Thread(target=accept) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [409] * 7
    assert [d.kind for d in decisions(engine)] == ["accepted", "demoted"]
    assert len(events(engine)) == 1


def test_with_auth_on_the_key_is_required_and_is_the_actor(engine: Engine, start_server: StartServer) -> None:
    server = start_server(policy=POLICY, require_auth=True)
    with session_factory(engine).begin() as session:
        key = create_key(session, "alice-laptop", scopes={Scope.READ, Scope.ADMIN}).key
    rec_id = recommend(engine)
    seen(engine, "chat")

    assert _post(server, "/v1/policy/classes/chat/pin", {"tier": "mid"}).status_code == 401
    assert _post(server, f"/v1/recommendations/{rec_id}/accept").status_code == 401
    assert httpx.get(f"{server.base_url}/v1/recommendations").status_code == 401
    assert decisions(engine) == []
    assert _post(server, "/v1/policy/classes/chat/pin", {"tier": "mid"}, key=key).status_code == 200
    assert _post(server, f"/v1/recommendations/{rec_id}/accept", key=key).status_code == 200

    assert {d.actor for d in decisions(engine)} == {"alice-laptop"}
    assert recommendation(engine, rec_id).decided_by == "alice-laptop"
