"""The deliver job against a real receiver: signed, once per event, in order, retried, given up on."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from driftwatch.config import Policy
from driftwatch.notify.delivery import run_delivery
from tests.fakes.webhook_receiver import Answer, Received, WebhookReceiver
from tests.notify.support import Clock, add_endpoint, attempts, deliver, deliveries, options, queue_event


def test_each_event_arrives_once_signed_with_the_endpoint_secret(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver() as receiver:
        hook = add_endpoint(engine, clock, receiver.url)
        queue_event(engine, clock, "class.degraded", "summarize", 1)
        queue_event(engine, clock, "class.promoted", "summarize", 2)

        first = deliver(engine, clock)
        second = deliver(engine, clock)

    assert (first.queued, first.delivered, second.queued, second.delivered) == (2, 2, 0, 0)
    bodies = [Webhook(hook.secret).verify(request.body, request.headers) for request in receiver.received]
    assert [body["type"] for body in bodies] == ["class.degraded", "class.promoted"]
    assert bodies[0]["data"]["task_class"] == "summarize"
    assert bodies[0]["data"]["reason"] == "event 1"
    assert [r.headers["idempotency-key"] for r in receiver.received] == [b["id"] for b in bodies]
    assert [d.status for d in deliveries(engine)] == ["delivered", "delivered"]
    assert [a.status_code for a in attempts(engine)] == [200, 200]


def test_a_receiver_down_for_ten_minutes_gets_every_event_once_in_order(engine: Engine) -> None:
    clock = Clock()
    receiver = WebhookReceiver()
    receiver.start()
    add_endpoint(engine, clock, receiver.url)
    receiver.stop()  # down: connections refused
    for number in range(1, 6):
        queue_event(engine, clock, "class.degraded", f"class-{number}", number)

    for _ in range(20):  # ten minutes of deliver runs every 30 s, all refused
        deliver(engine, clock)
        clock.advance(seconds=30)
    refused = attempts(engine)
    receiver.start()
    for _ in range(60):  # back: runs until the backoff of the head delivery has passed
        deliver(engine, clock)
        clock.advance(seconds=30)
    receiver.stop()

    received = [request.json()["data"]["task_class"] for request in receiver.received]
    assert received == [f"class-{number}" for number in range(1, 6)]
    assert {d.status for d in deliveries(engine)} == {"delivered"}
    # Only the head was tried while down: the others waited behind it, in order.
    assert refused and all(a.status_code is None and a.error for a in refused)
    assert {a.delivery_id for a in refused} == {deliveries(engine)[0].id}


def test_retry_after_is_honoured(engine: Engine) -> None:
    clock = Clock()
    answers = iter([Answer(429, b"slow down", {"Retry-After": "120"})])
    with WebhookReceiver(lambda _request: next(answers, Answer())) as receiver:
        add_endpoint(engine, clock, receiver.url)
        queue_event(engine, clock, "class.degraded", "summarize", 1)

        deliver(engine, clock)
        clock.advance(seconds=119)
        early = deliver(engine, clock)
        clock.advance(seconds=2)
        late = deliver(engine, clock)

    assert (early.delivered, late.delivered, len(receiver.received)) == (0, 1, 2)
    first_attempt = attempts(engine)[0]
    assert first_attempt.status_code == 429 and first_attempt.response_excerpt == "slow down"


def test_a_delivery_that_keeps_failing_ends_failed_and_the_queue_moves_on(engine: Engine) -> None:
    clock = Clock()

    def answer(request: Received) -> Answer:
        failing = request.json()["data"]["task_class"] == "poison"
        return Answer(500, b"boom") if failing else Answer()

    with WebhookReceiver(answer) as receiver:
        add_endpoint(engine, clock, receiver.url)
        queue_event(engine, clock, "class.degraded", "poison", 1)
        queue_event(engine, clock, "class.degraded", "fine", 2)
        for _ in range(40):
            deliver(engine, clock, worker=options(webhook_retry_hours=1))
            clock.advance(minutes=5)

    poison, fine = deliveries(engine)
    assert (poison.status, fine.status) == ("failed", "delivered")
    assert poison.attempts >= 5 and poison.last_error == "HTTP 500"
    # It gives up once the next try would fall past the hour's window, not before the last backoff.
    assert poison.finished_at is not None
    lived = poison.finished_at - poison.created_at
    assert timedelta(hours=1) - timedelta(seconds=990) <= lived <= timedelta(hours=1)
    assert [r.json()["data"]["task_class"] for r in receiver.received][-1] == "fine"


def test_a_slow_receiver_times_out_without_holding_the_worker(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver(lambda _request: Answer(delay=3.0)) as receiver:
        add_endpoint(engine, clock, receiver.url)
        queue_event(engine, clock, "class.degraded", "summarize", 1)
        started = time.monotonic()
        summary = deliver(engine, clock, worker=options(webhook_timeout_seconds=0.5))
        elapsed = time.monotonic() - started

    assert summary.retrying == 1 and elapsed < 2.5
    assert attempts(engine)[0].error == "no answer within 0.5 s"


def test_an_endpoint_gets_only_the_events_it_subscribed_to_and_none_from_before_it(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver() as receiver:
        queue_event(engine, clock, "class.promoted", "before", 1)
        clock.advance(seconds=1)
        add_endpoint(engine, clock, receiver.url, events=["class.promoted"])
        queue_event(engine, clock, "class.degraded", "after", 2)
        queue_event(engine, clock, "class.promoted", "after", 3)

        deliver(engine, clock)

    assert [(r.json()["type"], r.json()["data"]["task_class"]) for r in receiver.received] == [
        ("class.promoted", "after")
    ]


def test_two_workers_at_once_send_each_event_once(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver(lambda _request: Answer(delay=0.05)) as receiver:
        add_endpoint(engine, clock, receiver.url)
        add_endpoint(engine, clock, receiver.url + "?second", name="second")
        for number in range(1, 11):
            queue_event(engine, clock, "class.degraded", f"class-{number}", number)

        async def both() -> None:
            await asyncio.gather(
                run_delivery(engine, Policy(), options("worker-a"), clock, {}),
                run_delivery(engine, Policy(), options("worker-b"), clock, {}),
            )

        for _ in range(3):
            asyncio.run(both())

    by_endpoint: dict[str, list[str]] = {}
    for request in receiver.received:
        by_endpoint.setdefault(request.path, []).append(request.json()["data"]["task_class"])
    expected = [f"class-{number}" for number in range(1, 11)]
    assert by_endpoint == {"/hooks": expected, "/hooks?second": expected}
    assert len(attempts(engine)) == 20
