"""Outbox ids follow commit order, so delivery order is the order events became true.

The transaction that emits first but commits last is the case: on PostgreSQL an id taken at insert
would sort its event before one that was committed and sent while it was still open (delivered out
of order), and fan-out, which looks only past the last id it queued, could pass it by for good.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from driftwatch.db.engine import session_factory
from driftwatch.db.models import OutboxEvent
from driftwatch.events.outbox import emit
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.notify.support import Clock, add_endpoint, deliver, queue_event


def _outbox(engine: Engine) -> list[str | None]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(OutboxEvent.task_class).order_by(OutboxEvent.id)))


def test_an_event_committed_last_is_delivered_last_though_emitted_first(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver() as receiver:
        add_endpoint(engine, clock, receiver.url)
        with session_factory(engine).begin() as long_transaction:
            emit(long_transaction, "class.degraded", "emitted-first", {}, clock(), dedupe="held")
            queue_event(engine, clock, "class.degraded", "committed-meanwhile", 1)
            assert deliver(engine, clock).delivered == 1
        clock.advance(seconds=1)
        assert deliver(engine, clock).delivered == 1

    received = [request.json()["data"]["task_class"] for request in receiver.received]
    assert received == ["committed-meanwhile", "emitted-first"]
    assert _outbox(engine) == received


def test_an_event_whose_transaction_rolls_back_is_never_written(engine: Engine) -> None:
    clock = Clock()
    session = session_factory(engine)()
    with session.begin():
        emit(session, "class.degraded", "rolled-back", {}, clock(), dedupe="1")
        session.rollback()
    with session.begin():  # the same session's next transaction does not carry the event over
        emit(session, "class.promoted", "committed", {}, clock(), dedupe="2")
    session.close()

    assert _outbox(engine) == ["committed"]


def test_an_event_emitted_twice_is_written_once(engine: Engine) -> None:
    clock = Clock()
    for _ in range(2):  # a job run twice, or on two replicas
        with session_factory(engine).begin() as session:
            emit(session, "class.degraded", "twice", {}, clock(), dedupe="decision:7")

    assert _outbox(engine) == ["twice"]
