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
    BigInteger,
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import Call, ContentEvent
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
    """Fill stored calls from the waiting events of their span, then delete those events.

    ``trace_ids`` narrows the search to the traces a writer batch just touched: one set-based query
    whatever the batch size, answered from the unique index.  ``None`` searches every waiting event.
    """
    query = (
        select(
            ContentEvent.id,
            ContentEvent.trace_id,
            ContentEvent.span_id,
            ContentEvent.name,
            ContentEvent.payload,
            Call.prompt.is_(None),
            Call.completion.is_(None),
        )
        .join(Call, and_(Call.trace_id == ContentEvent.trace_id, Call.span_id == ContentEvent.span_id))
        .order_by(ContentEvent.trace_id, ContentEvent.span_id, ContentEvent.event_time, ContentEvent.id)
    )
    if trace_ids is not None:
        if not trace_ids:
            return ReconcileResult(0, 0)
        query = query.where(_one_of(connection, ContentEvent.trace_id, sorted(trace_ids)))
    found = connection.execute(query).all()
    if not found:
        return ReconcileResult(0, 0)
    spans: dict[tuple[str, str], tuple[bool, bool, list[EventView]]] = {}
    for _id, trace_id, span_id, name, payload, needs_prompt, needs_completion in found:
        events = spans.setdefault((trace_id, span_id), (needs_prompt, needs_completion, []))[2]
        events.append(EventView(name, 0, orjson.loads(payload)))
    fills = [
        fill
        for (trace_id, span_id), (needs_prompt, needs_completion, events) in spans.items()
        if (fill := _fill(trace_id, span_id, events, needs_prompt, needs_completion))
    ]
    if fills:  # in key order, as every writer does, so two transactions never lock calls crosswise
        connection.execute(
            update(Call)
            .where(Call.trace_id == bindparam("b_trace_id"), Call.span_id == bindparam("b_span_id"))
            .values(
                prompt=func.coalesce(Call.prompt, bindparam("b_prompt")),
                completion=func.coalesce(Call.completion, bindparam("b_completion")),
            )
            .execution_options(synchronize_session=False),
            fills,
        )
    ids = [row[0] for row in found]
    connection.execute(delete(ContentEvent).where(_one_of(connection, ContentEvent.id, ids)))
    return ReconcileResult(calls_filled=len(fills), events_attached=len(ids))


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
    trace_id: str, span_id: str, events: list[EventView], needs_prompt: bool, needs_completion: bool
) -> dict[str, Any] | None:
    prompt = prompt_text(prompt_from_events(events)) if needs_prompt else None
    output = completion_from_events(events) if needs_completion else None
    # The payload's JSON may spell a NUL (``\u0000``) that PostgreSQL text cannot hold.
    completion = storable(output[0]["content"]) if output else None
    if prompt is None and completion is None:
        return None
    return {"b_trace_id": trace_id, "b_span_id": span_id, "b_prompt": prompt, "b_completion": completion}


def _one_of(
    connection: Connection, column: InstrumentedAttribute[Any], values: list[Any]
) -> ColumnElement[bool]:
    """``column IN values`` with a single bound parameter however many values there are (a statement
    with one parameter per value costs more to parse than the lookup, and SQLite caps their number)."""
    if connection.dialect.name == "postgresql":
        # unnest, not ``= ANY(array)``: the planner expands an array constant element by element, and a
        # few thousand of them cost more planning time than the lookup itself.
        element = BigInteger() if isinstance(values[0], int) else String()
        array = bindparam("values", values, type_=postgresql.ARRAY(element), unique=True)
        return column.in_(select(func.unnest(array)))
    listed = func.json_each(orjson.dumps(values).decode("utf-8")).table_valued("value")
    return column.in_(select(listed.c.value))
