"""One writer transaction: a batch of calls and content events in, committed, with the rollup.

Calls are inserted with ``ON CONFLICT DO NOTHING`` on ``(trace_id, span_id)`` (and ``response_id``),
the newly inserted ones are folded into the hourly ``class_hour`` rollup, and content that arrived as
log records is matched to its call (:mod:`driftwatch.ingest.content`), all before the one commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, func, or_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from driftwatch.db.base import UTCDateTime
from driftwatch.db.dialect_insert import dialect_insert
from driftwatch.db.models import Call, ClassHour
from driftwatch.db.models.class_hour import NO_TIER
from driftwatch.ingest import content
from driftwatch.ingest.logs import EventRow
from driftwatch.ingest.records import CallRow


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    calls_inserted: int
    events_inserted: int
    calls_filled: int


_RETURNED = (
    "task_class",
    "tier",
    "start_time",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "trace_id",
    "span_id",
)


def commit_batch(
    engine: Engine, calls: Sequence[CallRow], events: Sequence[EventRow], now: datetime
) -> BatchOutcome:
    """Insert new calls and content events, fold the calls into the rollup, fill calls from waiting
    content, and commit: one transaction.

    A call row that conflicts on ``(trace_id, span_id)`` is a re-sent span, and one that conflicts on
    ``response_id`` a second report of a stored call: neither adds to the counts, but its prompt or
    completion fills the stored call's where that one captured none.
    """
    with engine.begin() as connection:
        return write_batch(connection, calls, events, now)


def write_batch(
    connection: Connection, calls: Sequence[CallRow], events: Sequence[EventRow], now: datetime
) -> BatchOutcome:
    """What :func:`commit_batch` does, inside the caller's transaction (an importer commits its own
    progress with the rows it wrote)."""
    events_inserted = content.insert_events(connection, events, now)
    inserted: Sequence[Any] = ()
    if calls:
        if connection.dialect.name == "postgresql":
            inserted = _insert_postgresql(connection, calls)
        else:
            inserted = _insert_portable(connection, calls)
    if inserted:
        _add_to_rollup(connection, inserted)
    if len(inserted) < len(calls):
        _complete_content(connection, calls, inserted)
    # Only calls still missing content look for waiting events: traffic whose spans carry their
    # content costs no lookup (events that duplicate it are left for the reconcile job to drop).
    lacking = {call["trace_id"] for call in calls if call["prompt"] is None or call["completion"] is None}
    attached = content.attach(connection, lacking | {event["trace_id"] for event in events})
    return BatchOutcome(len(inserted), events_inserted, attached.calls_filled)


def _complete_content(connection: Connection, rows: Sequence[CallRow], inserted: Sequence[Any]) -> None:
    """A row that was not inserted is a stored call reported again: its prompt or completion fills the
    stored call's where that one has none.  The same span sent again (matched on trace and span id)
    may carry what its first report lacked, e.g. a Langfuse generation whose output was added after it
    was imported, read again by the next import's overlap.  A second instrumentation's
    report of the same call is matched on ``response_id``.  Counts and rollups are not touched."""
    stored = {(row.trace_id, row.span_id) for row in inserted}
    again = [
        row
        for row in rows
        if (row["trace_id"], row["span_id"]) not in stored
        and (row["prompt"] is not None or row["completion"] is not None)
    ]
    same_span = [
        {"b_trace_id": row["trace_id"], "b_span_id": row["span_id"], "b_prompt": row["prompt"],
         "b_completion": row["completion"]}
        for row in again
    ]  # fmt: skip
    same_response = [
        {"b_response_id": row["response_id"], "b_prompt": row["prompt"], "b_completion": row["completion"]}
        for row in again
        if row["response_id"] is not None
    ]
    _fill_content(
        connection,
        and_(Call.trace_id == bindparam("b_trace_id"), Call.span_id == bindparam("b_span_id")),
        same_span,
    )
    _fill_content(connection, Call.response_id == bindparam("b_response_id"), same_response)


def _fill_content(
    connection: Connection, matches: ColumnElement[bool], reports: list[dict[str, Any]]
) -> None:
    """Each report's prompt and completion into the stored call it ``matches``, where that one has none."""
    if not reports:
        return
    connection.execute(
        update(Call)
        .where(matches, or_(Call.prompt.is_(None), Call.completion.is_(None)))
        .values(
            prompt=func.coalesce(Call.prompt, bindparam("b_prompt")),
            completion=func.coalesce(Call.completion, bindparam("b_completion")),
        )
        .execution_options(synchronize_session=False),
        reports,
    )


def _insert_portable(connection: Connection, rows: Sequence[CallRow]) -> Sequence[Any]:
    statement = (
        dialect_insert(connection, Call)
        .on_conflict_do_nothing()  # any unique key: (trace_id, span_id) or response_id
        .returning(*(Call.__table__.c[name] for name in _RETURNED))
    )
    return connection.execute(statement, rows).all()


def _insert_postgresql(connection: Connection, rows: Sequence[CallRow]) -> Sequence[Any]:
    """One ``INSERT … SELECT FROM unnest(arrays)``: a short statement with one array per column.

    A multi-row VALUES list makes the driver parse a statement with ~20 parameters per row, which
    profiling showed to cost more than the database's own work; arrays travel in binary instead.
    """
    columns = list(rows[0])
    types = ", ".join(f"%b::{_POSTGRES_ARRAY_TYPES[column]}" for column in columns)  # %b: binary
    names = ", ".join(columns)
    statement = (
        f"INSERT INTO call ({names}) SELECT * FROM unnest({types}) "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(_RETURNED)}"
    )
    arrays = tuple([row[column] for row in rows] for column in columns)
    return connection.exec_driver_sql(statement, arrays).all()


_POSTGRES_DIALECT: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
_POSTGRES_ARRAY_TYPES = {
    column.name: "timestamptz[]"
    if isinstance(column.type, UTCDateTime)
    else f"{column.type.compile(_POSTGRES_DIALECT)}[]"
    for column in Call.__table__.columns
}


def _add_to_rollup(connection: Connection, inserted: Sequence[Any]) -> None:
    buckets: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    for task_class, tier, start_time, input_tokens, output_tokens, cost_usd, _trace, _span in inserted:
        key = (task_class, tier or NO_TIER, start_time.replace(minute=0, second=0, microsecond=0))
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = {
                "task_class": key[0],
                "tier": key[1],
                "hour": key[2],
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost_usd": 0.0,
                "priced_calls": 0,
                "first_seen": start_time,
                "last_seen": start_time,
            }
        bucket["calls"] += 1
        bucket["input_tokens"] += input_tokens or 0
        bucket["output_tokens"] += output_tokens or 0
        if cost_usd is not None:
            bucket["cost_usd"] += cost_usd
            bucket["priced_calls"] += 1
        bucket["first_seen"] = min(bucket["first_seen"], start_time)
        bucket["last_seen"] = max(bucket["last_seen"], start_time)
    # Sorted, so concurrent writers lock rollup rows in the same order and cannot deadlock.
    values = [buckets[key] for key in sorted(buckets)]
    statement = dialect_insert(connection, ClassHour).values(values)
    excluded = statement.excluded
    smaller, larger = _least_greatest(connection)
    statement = statement.on_conflict_do_update(
        index_elements=["task_class", "tier", "hour"],
        set_={
            "calls": ClassHour.calls + excluded.calls,
            "input_tokens": ClassHour.input_tokens + excluded.input_tokens,
            "output_tokens": ClassHour.output_tokens + excluded.output_tokens,
            "cost_usd": ClassHour.cost_usd + excluded.cost_usd,
            "priced_calls": ClassHour.priced_calls + excluded.priced_calls,
            "first_seen": smaller(ClassHour.first_seen, excluded.first_seen),
            "last_seen": larger(ClassHour.last_seen, excluded.last_seen),
        },
    )
    connection.execute(statement)


def _least_greatest(connection: Connection) -> tuple[Callable[..., Any], Callable[..., Any]]:
    # SQLite spells LEAST/GREATEST as the two-argument forms of min()/max().
    if connection.dialect.name == "sqlite":
        return func.min, func.max
    return func.least, func.greatest
