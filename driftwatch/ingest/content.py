"""GenAI content that arrives apart from its call, as OTLP log records: stored, attached, reconciled.

Content events and their call meet on ``(trace_id, span_id)``, whichever arrives first:

* events first: they wait in ``content_event``; the writer transaction that inserts the call fills the
  call's missing prompt/completion from them and deletes them;
* call first: the writer transaction that inserts the events fills the call and deletes them.

Both in flight at once, in two transactions (several writer threads or replicas on PostgreSQL): neither
sees the other's rows, so the events stay and the call stays empty — nothing is lost, and
:func:`reconcile_content`, run as a job, attaches them.  It also expires events whose call never came.
Filling only ever replaces a null, so running any of this twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.matching import one_of
from driftwatch.db.models import Call, CallSpan, ContentEvent
from driftwatch.ingest.logs import EventRow
from driftwatch.ingest.messages import completion_from_events, prompt_from_events, prompt_text
from driftwatch.ingest.otlp import EventView
from driftwatch.ingest.records import storable

CONTENT_EVENT_MAX_AGE = timedelta(hours=24)
"""How long an event waits for its call by default: exporters deliver a span within seconds of its
log records, or (after retries) within minutes; past a day the call is not coming."""


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    calls_filled: int
    events_attached: int
    events_expired: int = 0


def insert_events(connection: Connection, events: Sequence[EventRow], now: datetime) -> int:
    """Store content events, skipping any already stored (a re-sent batch); returns how many were new."""
    if not events:
        return 0
    rows = [{**event, "event_time": event["event_time"] or now, "received_at": now} for event in events]
    statement = insert_ignoring_conflicts(connection, ContentEvent).returning(ContentEvent.id)
    return len(connection.execute(statement, rows).all())


def attach(connection: Connection, trace_ids: Collection[str] | None) -> ReconcileResult:
    """Fill stored calls from the waiting events of their spans, then delete those events.

    An event finds its call by the call's own span or, for a call several spans reported, by any of
    them (``call_span``).  ``trace_ids`` narrows the search to the traces a writer batch just touched:
    set-based queries whatever the batch size, answered from the unique indexes.  ``None`` searches
    every waiting event.
    """
    if trace_ids is not None and not trace_ids:
        return ReconcileResult(0, 0)
    columns = (
        Call.id,
        ContentEvent.id,
        ContentEvent.name,
        ContentEvent.payload,
        ContentEvent.event_time,
        Call.prompt.is_(None),
        Call.completion.is_(None),
    )
    by_call_span = and_(Call.trace_id == ContentEvent.trace_id, Call.span_id == ContentEvent.span_id)
    by_other_span = and_(CallSpan.trace_id == ContentEvent.trace_id, CallSpan.span_id == ContentEvent.span_id)
    queries = (
        select(*columns).join(Call, by_call_span),
        select(*columns).join(CallSpan, by_other_span).join(Call, Call.id == CallSpan.call_id),
    )
    found: dict[int, Any] = {}  # by event id: the call's own span is in call_span too
    for query in queries:
        if trace_ids is not None:
            query = query.where(one_of(connection, ContentEvent.trace_id, sorted(trace_ids)))
        found.update((row[1], row) for row in connection.execute(query))
    if not found:
        return ReconcileResult(0, 0)
    calls: dict[int, tuple[bool, bool, list[EventView]]] = {}
    for call_id, _event, name, payload, _time, needs_prompt, needs_completion in sorted(
        found.values(), key=lambda row: (row[0], row[4], row[1])
    ):
        events = calls.setdefault(call_id, (needs_prompt, needs_completion, []))[2]
        events.append(EventView(name, 0, orjson.loads(payload)))
    fills = [
        fill
        for call_id, (needs_prompt, needs_completion, events) in sorted(calls.items())
        if (fill := _fill(call_id, events, needs_prompt, needs_completion))
    ]
    if fills:  # in key order, as every writer does, so two transactions never lock calls crosswise
        connection.execute(
            update(Call)
            .where(Call.id == bindparam("b_call_id"))
            .values(
                prompt=func.coalesce(Call.prompt, bindparam("b_prompt")),
                completion=func.coalesce(Call.completion, bindparam("b_completion")),
            )
            .execution_options(synchronize_session=False),
            fills,
        )
    connection.execute(delete(ContentEvent).where(one_of(connection, ContentEvent.id, sorted(found))))
    return ReconcileResult(calls_filled=len(fills), events_attached=len(found))


def reconcile_content(
    session: Session,
    now: datetime,
    max_age: timedelta = CONTENT_EVENT_MAX_AGE,
    *,
    capture_content: bool = True,
) -> ReconcileResult:
    """The job that makes content arrival order-proof: fills every call with a null prompt or completion
    from stored events of its span, deletes those events, and expires events older than ``max_age``
    (by arrival).  Idempotent; flushes only, the caller's session commits.  With ``capture_content``
    off, waiting events are discarded instead of attached."""
    connection = session.connection()
    if not capture_content:
        discarded = connection.execute(delete(ContentEvent))
        return ReconcileResult(0, 0, discarded.rowcount)
    attached = attach(connection, None)
    expired = connection.execute(delete(ContentEvent).where(ContentEvent.received_at < now - max_age))
    return ReconcileResult(attached.calls_filled, attached.events_attached, expired.rowcount)


def _fill(
    call_id: int, events: list[EventView], needs_prompt: bool, needs_completion: bool
) -> dict[str, Any] | None:
    prompt = prompt_text(prompt_from_events(events)) if needs_prompt else None
    output = completion_from_events(events) if needs_completion else None
    # The payload's JSON may spell a NUL (``\u0000``) that PostgreSQL text cannot hold.
    completion = storable(output[0]["content"]) if output else None
    if prompt is None and completion is None:
        return None
    return {"b_call_id": call_id, "b_prompt": prompt, "b_completion": completion}
