"""Sending again what failed or was lost: ``recover`` after an outage past the retry window,
``redeliver`` for one delivery; in the service, over the API and from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from driftwatch.cli.root import main
from driftwatch.db.engine import session_factory
from driftwatch.errors import Conflict, NotFound
from driftwatch.notify import redelivery
from driftwatch.notify.endpoints import remove_endpoint
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.notify.support import Clock, add_endpoint, attempts, deliver, deliveries, options, queue_event
from tests.support.server import ServerThread


def _classes(receiver: WebhookReceiver) -> list[str]:
    return [request.json()["data"]["task_class"] for request in receiver.received]


def _fail_everything_for_two_hours(engine: Engine, clock: Clock) -> None:
    """Deliver runs every 5 minutes while nothing answers, past a one-hour retry window."""
    for _ in range(25):
        deliver(engine, clock, worker=options(webhook_retry_hours=1))
        clock.advance(minutes=5)


def test_recover_after_an_outage_past_the_retry_window_sends_the_failed_in_order_first(
    engine: Engine,
) -> None:
    clock = Clock()
    receiver = WebhookReceiver()
    receiver.start()
    hook = add_endpoint(engine, clock, receiver.url)
    receiver.stop()  # down: connections refused
    queue_event(engine, clock, "class.degraded", "first", 1)
    queue_event(engine, clock, "class.promoted", "second", 2)
    _fail_everything_for_two_hours(engine, clock)
    assert [delivery.status for delivery in deliveries(engine)] == ["failed", "failed"]
    refused = len(attempts(engine))

    receiver.start()
    queue_event(engine, clock, "class.degraded", "newer", 3)  # pending, queued after the failed ones
    with session_factory(engine).begin() as session:
        requeued = redelivery.recover(session, hook.id, clock())
    deliver(engine, clock)
    receiver.stop()

    assert requeued == 2
    assert _classes(receiver) == ["first", "second", "newer"]
    assert [(d.status, d.attempts) for d in deliveries(engine)] == [("delivered", 1)] * 3
    assert len(attempts(engine)) == refused + 3  # the refused attempts stay in the log


def test_recover_since_leaves_older_failures_and_delivered_ones_alone(engine: Engine) -> None:
    clock = Clock()
    receiver = WebhookReceiver()
    receiver.start()
    hook = add_endpoint(engine, clock, receiver.url)
    receiver.stop()
    queue_event(engine, clock, "class.degraded", "old", 1)
    _fail_everything_for_two_hours(engine, clock)
    since = clock()
    queue_event(engine, clock, "class.degraded", "recent", 2)
    _fail_everything_for_two_hours(engine, clock)

    with session_factory(engine).begin() as session:
        assert redelivery.recover(session, hook.id, clock(), since=since) == 1
        assert redelivery.recover(session, hook.id, clock(), since=since) == 0  # now pending, not failed

    assert [d.status for d in deliveries(engine)] == ["failed", "pending"]


def test_redeliver_sends_a_delivered_event_again_with_the_same_webhook_id(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver() as receiver:
        add_endpoint(engine, clock, receiver.url)
        queue_event(engine, clock, "class.degraded", "lost-by-receiver", 1)
        deliver(engine, clock)
        (delivery,) = deliveries(engine)
        with session_factory(engine).begin() as session:
            again = redelivery.redeliver(session, delivery.id, clock())
        deliver(engine, clock)

    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, clock())
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == again.idempotency_key


def test_redeliver_refuses_what_is_pending_unknown_or_to_a_removed_webhook(engine: Engine) -> None:
    clock = Clock()
    hook = add_endpoint(engine, clock, "http://127.0.0.1:1/unreachable")
    queue_event(engine, clock, "class.degraded", "waiting", 1)
    deliver(engine, clock)
    (pending,) = deliveries(engine)

    with session_factory(engine).begin() as session, pytest.raises(Conflict, match="is pending"):
        redelivery.redeliver(session, pending.id, clock())
    with session_factory(engine).begin() as session, pytest.raises(NotFound):
        redelivery.redeliver(session, pending.id + 1000, clock())
    with session_factory(engine).begin() as session:
        remove_endpoint(session, hook.id, clock())
    with session_factory(engine).begin() as session, pytest.raises(Conflict, match="removed webhook"):
        redelivery.redeliver(session, pending.id, clock())
    with session_factory(engine).begin() as session, pytest.raises(NotFound):
        redelivery.recover(session, hook.id, clock())


def test_the_api_redelivers_and_recovers(server: ServerThread, engine: Engine) -> None:
    with WebhookReceiver() as receiver:
        hook = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": receiver.url}).json()
        clock = Clock(datetime.now(UTC))  # events from after the webhook was added
        queue_event(engine, clock, "class.degraded", "faq", 1)
        deliver(engine, clock)
        (delivery,) = deliveries(engine)

        again = httpx.post(f"{server.base_url}/v1/webhooks/deliveries/{delivery.id}/redeliver")
        twice = httpx.post(f"{server.base_url}/v1/webhooks/deliveries/{delivery.id}/redeliver")
        unknown = httpx.post(f"{server.base_url}/v1/webhooks/deliveries/{delivery.id + 1000}/redeliver")
        clock.now = datetime.now(UTC) + timedelta(seconds=1)  # past the real time the API queued it at
        deliver(engine, clock)
        recovered = httpx.post(
            f"{server.base_url}/v1/webhooks/{hook['id']}/recover", params={"since": "2026-01-01"}
        )
        no_hook = httpx.post(f"{server.base_url}/v1/webhooks/{hook['id'] + 1000}/recover")
        bad_since = httpx.post(
            f"{server.base_url}/v1/webhooks/{hook['id']}/recover", params={"since": "soon"}
        )

    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["status"], again.json()["attempts"]) == (
        delivery.id,
        "pending",
        0,
    )
    assert (twice.status_code, twice.json()["error"]) == (409, "conflict")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    assert len(receiver.received) == 2
    assert (recovered.status_code, recovered.json()) == (200, {"requeued": 0})
    assert (no_hook.status_code, bad_since.status_code) == (404, 422)


def test_the_commands_redeliver_and_recover(database_url: str, engine: Engine) -> None:
    clock = Clock(datetime.now(UTC))
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": None}
    with WebhookReceiver() as receiver:
        hook = add_endpoint(engine, clock, receiver.url)
        queue_event(engine, clock, "class.degraded", "faq", 1)
        deliver(engine, clock)
        (delivery,) = deliveries(engine)

        redelivered = CliRunner().invoke(main, ["webhooks", "redeliver", str(delivery.id)], env=env)
        pending = CliRunner().invoke(main, ["webhooks", "redeliver", str(delivery.id)], env=env)
        recovered = CliRunner().invoke(
            main, ["webhooks", "recover", str(hook.id), "--since", "2026-01-01T00:00"], env=env
        )
        bad_since = CliRunner().invoke(
            main, ["webhooks", "recover", str(hook.id), "--since", "soon"], env=env
        )
        # Past the real time the command queued it at, however long the commands took to run.
        clock.now = datetime.now(UTC) + timedelta(seconds=1)
        deliver(engine, clock)

    assert redelivered.exit_code == 0, redelivered.output
    assert f"delivery {delivery.id} (class.degraded) queued again for webhook {hook.id}" in redelivered.output
    assert pending.exit_code == 1 and "only a failed or delivered one is sent again" in pending.output
    assert (
        recovered.exit_code == 0
        and f"0 failed deliveries queued again for webhook {hook.id}" in recovered.output
    )
    assert bad_since.exit_code == 2 and "is not an ISO 8601 date or time" in bad_since.output
    assert len(receiver.received) == 2
