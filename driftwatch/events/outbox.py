"""Writing events to the outbox, in the caller's transaction, so an event exists iff its cause does.

Delivery sends each endpoint its events in outbox id order, and fans out only ids past the last one
it saw.  On PostgreSQL an id is taken at insert, not at commit: an event inserted early in a long
transaction could commit after a newer one was already sent (out of order) or after fan-out moved
past it (never sent).  So :func:`emit` only queues the event on the session; it is inserted just
before the commit, under a transaction-scoped advisory lock that the next emitting transaction waits
for: outbox ids are taken in commit order.  The lock is held only for those inserts and the commit,
and nothing else is locked after it, so it cannot take part in a deadlock.  SQLite runs one writer
at a time and needs no lock.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import OutboxEvent
from driftwatch.events.catalogue import EVENT_TYPES

OUTBOX_LOCK_KEY = 0x6477_6F75_7462  # "dwoutb": serialises the transactions that write outbox events
_PENDING = "driftwatch.outbox.pending"


def emit(
    session: Session,
    event_type: str,
    task_class: str | None,
    payload: dict[str, Any],
    now: datetime,
    *,
    dedupe: str,
) -> None:
    """Queue an event, written when ``session`` commits (and dropped if it rolls back).  ``dedupe``
    names what makes it unique (e.g. the decision id), so a job that runs twice, or on two replicas,
    queues it once."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    key = idempotency_key(event_type, task_class, dedupe)
    body = {"type": event_type, "task_class": task_class, "occurred_at": now.isoformat(), **payload}
    row = {
        "event_type": event_type,
        "task_class": task_class,
        "idempotency_key": key,
        "payload": orjson.dumps(body).decode(),
        "created_at": now,
    }
    session.info.setdefault(_PENDING, []).append(row)


def idempotency_key(event_type: str, task_class: str | None, dedupe: str) -> str:
    """The outbox row's unique key for an event: what makes :func:`emit` queue it once."""
    return hashlib.sha256(f"{event_type}\x00{task_class}\x00{dedupe}".encode()).hexdigest()[:48]


@event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    rows: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_LOCK_KEY})
    for row in rows:  # one by one, so ids follow the order the events were emitted in
        session.execute(insert_ignoring_conflicts(session, OutboxEvent).values(**row))


@event.listens_for(Session, "after_rollback")
def _drop_pending_events(session: Session) -> None:
    session.info.pop(_PENDING, None)
