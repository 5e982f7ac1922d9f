"""/v1/webhooks over real HTTP on SQLite and PostgreSQL: add, list, remove, test, delivery log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from tests.conftest import StartServer
from tests.fakes.webhook_receiver import Answer, WebhookReceiver
from tests.notify.support import Clock, deliver, queue_event
from tests.support.server import ServerThread


def _create(server: ServerThread, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/webhooks", json=body)


def test_a_created_webhook_shows_its_secret_once_and_never_again(server: ServerThread) -> None:
    created = _create(server, url="https://hooks.example.com/driftwatch", events=["class.degraded"])

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert (body["name"], body["format"], body["events"], body["source"]) == (
        "hooks.example.com", "standard", ["class.degraded"], "api"
    )  # fmt: skip
    listed = httpx.get(f"{server.base_url}/v1/webhooks")
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    assert body["secret"] not in listed.text and "secret" not in listed.json()["items"][0]
    removed = httpx.delete(f"{server.base_url}/v1/webhooks/{body['id']}")
    assert body["secret"] not in removed.text


def test_a_given_secret_is_used(server: ServerThread) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    created = _create(server, url="http://127.0.0.1:1/x", secret=secret)

    assert created.json()["secret"] == secret


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"url": "file:///etc/passwd"}, "http"),
        ({"url": "javascript:alert(1)"}, "http"),
        ({"url": "hooks.example.com"}, "http"),
        ({"url": "https://x.example", "events": ["class.exploded"]}, "class.exploded"),
        ({"url": "https://x.example", "events": []}, "at least one"),
        ({"url": "https://x.example", "format": "teams"}, "format"),
        ({"url": "https://x.example", "secret": "hunter2"}, "secret"),
        ({"url": "https://x.example", "surprise": 1}, "surprise"),
        ({"url": "https://x.example/" + "a" * 5000}, "url"),
        ({}, "url"),
    ],
)
def test_bad_webhooks_are_refused_with_the_reason(server: ServerThread, body: Any, problem: str) -> None:
    response = _create(server, **body)

    assert response.status_code == 422
    assert problem in response.text
    assert httpx.get(f"{server.base_url}/v1/webhooks").json()["items"] == []


def test_a_body_that_is_not_json_is_refused(server: ServerThread) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/webhooks", content=b"\xff{", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert "parsing the body" in response.text


def test_a_name_in_use_is_a_conflict_until_the_webhook_is_removed(server: ServerThread) -> None:
    first = _create(server, url="https://a.example/hook", name="ops").json()

    assert _create(server, url="https://b.example/hook", name="ops").status_code == 409
    assert httpx.delete(f"{server.base_url}/v1/webhooks/{first['id']}").status_code == 200
    assert _create(server, url="https://b.example/hook", name="ops").status_code == 201
    assert _create(server, url="https://a.example/other").json()["name"] == "a.example"
    assert _create(server, url="https://a.example/third").json()["name"] == "a.example-2"


@pytest.mark.parametrize("webhook_id", ["999", "0", "-1", "abc", str(2**63)])
def test_removing_an_unknown_webhook_is_not_found_or_invalid(server: ServerThread, webhook_id: str) -> None:
    response = httpx.delete(f"{server.base_url}/v1/webhooks/{webhook_id}")

    assert response.status_code == (404 if webhook_id == "999" else 422)


def test_removing_cancels_pending_deliveries_and_keeps_the_log(server: ServerThread, engine: Engine) -> None:
    created = _create(server, url="http://127.0.0.1:9/unreachable").json()
    clock = Clock(datetime.now(UTC))
    queue_event(engine, clock, "class.degraded", "summarize", 1)
    clock.advance(minutes=1)
    deliver(engine, clock)

    removed = httpx.delete(f"{server.base_url}/v1/webhooks/{created['id']}").json()

    assert removed["removed_at"] is not None and removed["deliveries"]["cancelled"] == 1
    everything = httpx.get(f"{server.base_url}/v1/webhooks", params={"include_removed": "true"}).json()
    assert everything["items"][0]["name"] == f"127.0.0.1 (removed #{created['id']})"
    log = httpx.get(f"{server.base_url}/v1/webhooks/deliveries").json()["items"]
    assert log[0]["status"] == "cancelled" and log[0]["attempt_log"][0]["status_code"] is None


def test_the_delivery_log_shows_every_attempt(server: ServerThread, engine: Engine) -> None:
    clock = Clock(datetime.now(UTC))
    answers = iter([Answer(503, b"maintenance", {"Retry-After": "30"})])
    with WebhookReceiver(lambda _request: next(answers, Answer(204, b""))) as receiver:
        created = _create(server, url=receiver.url).json()
        clock.now = datetime.now(UTC)
        queue_event(engine, clock, "class.promoted", "summarize", 1)
        deliver(engine, clock)
        clock.advance(seconds=31)
        deliver(engine, clock)

    page = httpx.get(f"{server.base_url}/v1/webhooks/{created['id']}/deliveries").json()
    (delivery,) = page["items"]
    assert (delivery["status"], delivery["attempts"], delivery["event_type"]) == (
        "delivered",
        2,
        "class.promoted",
    )
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 204]
    assert delivery["attempt_log"][0]["response_excerpt"] == "maintenance"
    assert delivery["idempotency_key"] == receiver.received[0].headers["webhook-id"]
    assert page["next_cursor"] is None
    filtered = httpx.get(f"{server.base_url}/v1/webhooks/deliveries", params={"status": "failed"})
    assert filtered.json()["items"] == []
    assert (
        httpx.get(f"{server.base_url}/v1/webhooks/deliveries", params={"status": "lost"}).status_code == 422
    )
    assert httpx.get(f"{server.base_url}/v1/webhooks/{created['id'] + 1}/deliveries").status_code == 404


def test_the_test_message_reaches_the_receiver_signed(server: ServerThread) -> None:
    with WebhookReceiver() as receiver:
        created = _create(server, url=receiver.url).json()
        result = httpx.post(f"{server.base_url}/v1/webhooks/{created['id']}/test").json()

    assert result["delivered"] is True and result["status_code"] == 200
    (request,) = receiver.received
    assert Webhook(created["secret"]).verify(request.body, request.headers)["type"] == "webhook.test"


def test_a_failing_test_message_says_why(server: ServerThread) -> None:
    created = _create(server, url="http://127.0.0.1:9/closed").json()

    result = httpx.post(f"{server.base_url}/v1/webhooks/{created['id']}/test").json()

    assert result["delivered"] is False and result["status_code"] is None
    assert "ConnectError" in result["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/webhooks"), ("GET", "/v1/webhooks"), ("DELETE", "/v1/webhooks/1"),
     ("POST", "/v1/webhooks/1/test"), ("GET", "/v1/webhooks/deliveries")],
)  # fmt: skip
def test_webhooks_need_a_key_when_auth_is_on(start_server: StartServer, method: str, path: str) -> None:
    secured = start_server(require_auth=True)

    response = httpx.request(method, f"{secured.base_url}{path}", json={"url": "https://x.example"})

    assert response.status_code == 401
