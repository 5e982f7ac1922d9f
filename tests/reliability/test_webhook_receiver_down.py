"""A webhook receiver is down for a stretch while events keep happening, then comes back: a real
``driftwatch serve`` delivers every event to each endpoint once, in outbox order, signed, and records
the refused attempts, on SQLite and PostgreSQL.

The events come from the real flow, not from rows written by hand: cheap-tier spans sent over OTLP are
sampled and claimed by the ``evaluate`` job, which queues one ``class.unevaluable`` per class and day
for a call sent without content, and one ``budget.exhausted`` per class and day for a call with
content when the daily budget is zero. Neither reaches the provider, so each new task class is one
event, at no cost. Two endpoints are added with ``POST /v1/webhooks`` on one receiver (a real socket,
closed while down, so connections are refused): one takes every event in the standard format, the
other only ``budget.exhausted`` in the Slack format, so "in order per endpoint" is checked on two
different sequences.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import Engine, select
from standardwebhooks.webhooks import Webhook

from driftwatch.db.models import OutboxEvent
from tests.fakes.webhook_receiver import ALLOW_LOOPBACK_RECEIVERS, WebhookReceiver
from tests.reliability.serve import serving
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.patience import deadline

UNEVALUABLE = "class.unevaluable"
BUDGET_EXHAUSTED = "budget.exhausted"
SETTINGS = {
    **{f"DRIFTWATCH_{job}_INTERVAL_SECONDS": "0.3" for job in ("SAMPLE", "EVALUATE", "DECIDE", "DELIVER")},
    # A retry every second rather than backing off towards 15 minutes: the outage can be short and
    # still see many refused attempts, and the queue drains within a second of the receiver's return.
    "DRIFTWATCH_WEBHOOK_MAX_BACKOFF_SECONDS": "1",
    **ALLOW_LOOPBACK_RECEIVERS,
}
DOWN_SECONDS = 12.0
WAVE_SECONDS = 1.5  # while down, a wave of two new task classes (two events) this often
WAVES_AFTER = 2


@dataclass(frozen=True)
class _Endpoint:
    name: str
    suffix: str  # of the receiver's URL, to tell the endpoints' requests apart
    events: tuple[str, ...] | None  # None: every event type
    webhook_format: str

    @property
    def path(self) -> str:
        return f"/hooks{self.suffix}"

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events


EVERY_EVENT = _Endpoint("every-event", "/every", None, "standard")
BUDGET_ALERTS = _Endpoint("budget-alerts", "/budget", (BUDGET_EXHAUSTED,), "slack")
ENDPOINTS = (EVERY_EVENT, BUDGET_ALERTS)


def test_a_receiver_down_for_a_stretch_gets_every_event_once_in_order_per_endpoint(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    receiver = WebhookReceiver()
    receiver.start()
    settings = {"DRIFTWATCH_POLICY_FILE": str(_policy_file(tmp_path)), **SETTINGS}
    try:
        with serving(tmp_path, database_url, settings) as serve:
            api = serve.base_url
            added = {endpoint: _add_webhook(api, receiver, endpoint) for endpoint in ENDPOINTS}
            waves = _Waves(api)

            waves.send()  # before the outage: the wiring works
            _wait_until("the first events arrive", lambda: len(receiver.received) >= 3)

            receiver.stop()
            down_since = time.monotonic()
            while time.monotonic() - down_since < DOWN_SECONDS:
                waves.send()
                time.sleep(WAVE_SECONDS)
            _wait_until(
                "the events of the outage are queued", lambda: len(_outbox(engine)) == 2 * waves.count
            )
            while_down = {endpoint: _deliveries(api, added[endpoint]["id"]) for endpoint in ENDPOINTS}
            receiver.start()  # on the same port

            for _ in range(WAVES_AFTER):
                waves.send()
            _wait_until("every delivery is finished", lambda: _settled(api, added, waves))
            time.sleep(2)  # more deliver runs: a second send of any event would show by now
            at_the_end = {endpoint: _deliveries(api, added[endpoint]["id"]) for endpoint in ENDPOINTS}
            log = serve.stop()
        events = _outbox(engine)
    finally:
        receiver.stop()

    assert {(event["type"], event["task_class"]) for event in events} == waves.expected_events
    received = receiver.received
    assert {request.path for request in received} <= {endpoint.path for endpoint in ENDPOINTS}
    for endpoint in ENDPOINTS:
        expected = [event["key"] for event in events if endpoint.wants(event["type"])]
        requests = [request for request in received if request.path == endpoint.path]
        # Once each and in outbox id order: the webhook-ids received are exactly the outbox's keys.
        assert [request.headers["webhook-id"] for request in requests] == expected, endpoint.name
        for request in requests:
            Webhook(added[endpoint]["secret"]).verify(request.body, request.headers)  # raises if forged
        # While down, only the oldest undelivered event was tried; the newer ones waited behind it.
        waiting = [delivery for delivery in while_down[endpoint] if delivery["status"] == "pending"]
        assert len(waiting) > 1, waiting
        assert waiting[0]["attempts"] > 0 and all(d["attempts"] == 0 for d in waiting[1:]), waiting
        _assert_refused_then_delivered(at_the_end[endpoint], len(expected))
    assert "Traceback" not in log, log[-3000:]


class _Waves:
    """Spans of new task classes, two a wave: one call sent without content (one ``class.unevaluable``)
    and one with content (one ``budget.exhausted``: the budget is zero)."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self.count = 0
        self.expected_events: set[tuple[str, str]] = set()

    def send(self) -> None:
        self.count += 1
        blind, over_budget = f"blind-{self.count:02d}", f"over-budget-{self.count:02d}"
        without_content = llm_attributes(task_class=blind)
        del without_content["gen_ai.input.messages"], without_content["gen_ai.output.messages"]
        spans = [make_span(without_content), make_span(llm_attributes(task_class=over_budget))]
        answer = httpx.post(
            f"{self._base_url}/v1/traces",
            content=export_request(spans).SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        self.expected_events |= {(UNEVALUABLE, blind), (BUDGET_EXHAUSTED, over_budget)}


def _policy_file(tmp_path: Path) -> Path:
    """Shadow evaluation on (the sample and evaluate jobs run only with a reference provider), with a
    zero budget and a replay provider that knows no answer: no event here needs one."""
    dataset = tmp_path / "no-answers.jsonl"
    dataset.write_text("")
    policy = {
        "providers": {"premium": {"kind": "replay", "model": "gpt-4o", "dataset": str(dataset)}},
        "shadow": {"rate": 1.0, "grace_seconds": 0, "daily_budget_usd": 0, "judges": [{"kind": "exact"}]},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def _add_webhook(base_url: str, receiver: WebhookReceiver, endpoint: _Endpoint) -> dict[str, Any]:
    """The API's answer: the endpoint's id and its signing secret (shown in this answer only)."""
    request: dict[str, Any] = {
        "url": receiver.url + endpoint.suffix,
        "name": endpoint.name,
        "format": endpoint.webhook_format,
    }
    if endpoint.events is not None:
        request["events"] = list(endpoint.events)
    created = httpx.post(f"{base_url}/v1/webhooks", json=request, timeout=10)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def _deliveries(base_url: str, webhook_id: int) -> list[dict[str, Any]]:
    """The endpoint's deliveries with their attempts, oldest first (the API pages newest first)."""
    found: list[dict[str, Any]] = []
    params = {"limit": 500}
    while True:
        page = httpx.get(f"{base_url}/v1/webhooks/{webhook_id}/deliveries", params=params, timeout=10)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        if (cursor := page.json()["next_cursor"]) is None:
            return found[::-1]
        params["before"] = cursor


def _settled(base_url: str, added: dict[_Endpoint, dict[str, Any]], waves: _Waves) -> bool:
    """No delivery pending, and at least as many finished as each endpoint has events (the assertions
    afterwards say which went wrong, if any did)."""
    listed = {item["id"]: item for item in httpx.get(f"{base_url}/v1/webhooks", timeout=10).json()["items"]}
    for endpoint, webhook in added.items():
        wanted = sum(endpoint.wants(event_type) for event_type, _ in waves.expected_events)
        counts = listed[webhook["id"]]["deliveries"]
        if counts["pending"] > 0 or counts["delivered"] + counts["failed"] + counts["cancelled"] < wanted:
            return False
    return True


def _outbox(engine: Engine) -> list[dict[str, Any]]:
    """Every event, in outbox id order: the order each endpoint must receive its events in."""
    columns = (OutboxEvent.idempotency_key, OutboxEvent.event_type, OutboxEvent.task_class)
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(OutboxEvent.id)).all()
    return [{"key": key, "type": kind, "task_class": task_class} for key, kind, task_class in rows]


def _assert_refused_then_delivered(deliveries: list[dict[str, Any]], expected: int) -> None:
    """Every delivery ended delivered. The one at the head of the queue when the receiver went down
    holds the refused attempts (no status, an error), at least one every two seconds of the outage
    (the backoff is capped at one), then the 200 that delivered it; every other took one attempt."""
    assert len(deliveries) == expected
    assert {delivery["status"] for delivery in deliveries} == {"delivered"}, deliveries
    (retried,) = [delivery for delivery in deliveries if delivery["attempts"] > 1]
    *refused, accepted = retried["attempt_log"]
    assert len(refused) >= DOWN_SECONDS / 2, refused
    assert all(attempt["status_code"] is None and attempt["error"] for attempt in refused), refused
    assert accepted["status_code"] == 200, accepted


def _wait_until(condition: str, check: Callable[[], bool], seconds: float = 40) -> None:
    give_up = deadline(seconds)
    while not check():
        assert time.monotonic() < give_up, f"timed out waiting until {condition}"
        time.sleep(0.2)
