"""One writer transaction: a batch of calls and content events in, committed, with the rollup.

The batch's LLM-call spans are first met with the spans already stored (:mod:`driftwatch.ingest.merging`):
a span that is a call of its own is inserted with ``ON CONFLICT DO NOTHING`` on ``(trace_id, span_id)``,
spans that report one response become one call, and a span stored before is a re-sent one.  New calls
are folded into the hourly ``class_hour`` rollup and its days (``class_day``), and content that arrived
as log records is matched to its call (:mod:`driftwatch.ingest.content`), all before the one commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from driftwatch.db.base import UTCDateTime
from driftwatch.db.dialect_insert import dialect_insert
from driftwatch.db.models import Call, CallSpan, ClassHour
from driftwatch.db.models.class_hour import NO_TIER
from driftwatch.ingest import content, daily_rollup, merging
from driftwatch.ingest.class_cap import TaskClassCap
from driftwatch.ingest.identity import span_key
from driftwatch.ingest.logs import EventRow
from driftwatch.ingest.records import CallRow


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    calls_inserted: int
    events_inserted: int
    calls_filled: int
    calls_overflowed: int = 0


_RETURNED = (*merging.ROLLUP_FIELDS, "trace_id", "span_id")


def commit_batch(
    engine: Engine,
    calls: Sequence[CallRow],
    events: Sequence[EventRow],
    now: datetime,
    class_cap: TaskClassCap | None = None,
) -> BatchOutcome:
    """Insert new calls and content events, fold the calls into the rollup, fill calls from waiting
    content, and commit: one transaction.

    A span whose ``(trace_id, span_id)`` is stored is a re-sent span: it adds nothing to the counts,
    but its prompt or completion fills its call's where that one captured none.
    """
    with engine.begin() as connection:
        return write_batch(connection, calls, events, now, class_cap)


def write_batch(
    connection: Connection,
    calls: Sequence[CallRow],
    events: Sequence[EventRow],
    now: datetime,
    class_cap: TaskClassCap | None = None,
) -> BatchOutcome:
    """What :func:`commit_batch` does, inside the caller's transaction (an importer commits its own
    progress with the rows it wrote).  With ``class_cap``, calls of classes beyond it become
    ``overflow`` calls."""
    overflowed = class_cap.apply(connection, calls) if class_cap is not None else 0
    events_inserted = content.insert_events(connection, events, now)
    batch = merging.plan(connection, calls)
    inserted: Sequence[Any] = ()
    if batch.singles:
        insert = _INSERTS.get(connection.dialect.name, _insert_portable)
        inserted = insert(connection, batch.singles)
    if inserted:
        _add_to_rollup(connection, inserted)
    created = merging.write_groups(connection, batch.groups, _add_to_rollup)
    stored = {(row.trace_id, row.span_id) for row in inserted}
    # A span stored before (or by another writer meanwhile) is a re-sent span.
    _complete_content(
        connection, [*batch.resent, *(row for row in batch.singles if span_key(row) not in stored)]
    )
    # Only calls still missing content look for waiting events: traffic whose spans carry their
    # content costs no lookup (events that duplicate it are left for the reconcile job to drop).
    lacking = {call["trace_id"] for call in calls if call["prompt"] is None or call["completion"] is None}
    attached = content.attach(connection, lacking | {event["trace_id"] for event in events})
    return BatchOutcome(len(inserted) + created, events_inserted, attached.calls_filled, overflowed)


def _complete_content(connection: Connection, again: Sequence[CallRow]) -> None:
    """A re-sent span may carry the prompt or completion its stored call lacks (a Langfuse generation
    whose output was added after it was imported, read again by the next import's overlap): it fills
    the call it belongs to, where that one has none.  Counts and rollups are not touched.  Content
    only ever fills the call of the same span: never another trace's call with the same response id.
    """
    reports = [
        {"b_trace_id": row["trace_id"], "b_span_id": row["span_id"], "b_prompt": row["prompt"],
         "b_completion": row["completion"]}
        for row in again
        if row["prompt"] is not None or row["completion"] is not None
    ]  # fmt: skip
    if not reports:
        return
    of_span = (
        select(CallSpan.call_id)
        .where(CallSpan.trace_id == bindparam("b_trace_id"), CallSpan.span_id == bindparam("b_span_id"))
        .scalar_subquery()
    )
    matches = or_(
        and_(Call.trace_id == bindparam("b_trace_id"), Call.span_id == bindparam("b_span_id")),
        Call.id == of_span,
    )
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
        .on_conflict_do_nothing()  # (trace_id, span_id): a span re-sent, or stored meanwhile
        .returning(*(Call.__table__.c[name] for name in _RETURNED))
    )
    return connection.execute(statement, rows).all()


def _insert_sqlite(connection: Connection, rows: Sequence[CallRow]) -> Sequence[Any]:
    """Multi-row ``INSERT … VALUES`` through the driver, with values converted here once.

    SQLAlchemy's insert-many path spends more CPU per row (bind processors, parameter dictionaries,
    returned-row processing) than SQLite spends storing it; the rollup is built from the input rows
    of the spans SQLite reports as inserted, so only their ids come back.
    """
    columns = list(rows[0])
    datetimes = [index for index, column in enumerate(columns) if column in _SQLITE_DATETIME_COLUMNS]
    inserted_keys: set[tuple[str, str]] = set()
    for start in range(0, len(rows), _SQLITE_ROWS_PER_STATEMENT):
        chunk = rows[start : start + _SQLITE_ROWS_PER_STATEMENT]
        parameters: list[Any] = []
        for row in chunk:
            values = [row[column] for column in columns]
            for index in datetimes:
                values[index] = _sqlite_datetime(values[index])
            parameters.extend(values)
        placeholders = "(" + ", ".join("?" * len(columns)) + ")"
        statement = (
            f"INSERT INTO call ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(chunk))} "
            "ON CONFLICT DO NOTHING RETURNING trace_id, span_id"
        )
        inserted_keys.update(
            (key[0], key[1]) for key in connection.exec_driver_sql(statement, tuple(parameters)).all()
        )
    return [_returned(row) for row in rows if (row["trace_id"], row["span_id"]) in inserted_keys]


# Well under SQLite's 32,766 bound variables per statement (3.32+) at the call table's ~25 columns.
_SQLITE_ROWS_PER_STATEMENT = 500
_SQLITE_DATETIME_COLUMNS = frozenset(
    column.name for column in Call.__table__.columns if isinstance(column.type, UTCDateTime)
)


def _sqlite_datetime(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite ``DATETIME`` stores for a UTC datetime (naive UTC, microseconds)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # mapped spans are UTC already: the conversion is the rare path
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@dataclass(frozen=True, slots=True)
class _Inserted:
    """An inserted call as the rollup and the re-sent check read it (the order of ``_RETURNED``)."""

    task_class: str
    tier: str | None
    start_time: datetime
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    trace_id: str
    span_id: str

    def __iter__(self) -> Iterator[Any]:
        return iter([getattr(self, name) for name in _RETURNED])


def _returned(row: CallRow) -> _Inserted:
    # A row may leave out a column it has no value for (the cached tokens of a test's or importer's row).
    values: dict[str, Any] = {name: row.get(name) for name in _RETURNED}
    return _Inserted(**values)


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


_INSERTS: dict[str, Callable[[Connection, Sequence[CallRow]], Sequence[Any]]] = {
    "sqlite": _insert_sqlite,
    "postgresql": _insert_postgresql,
}

_POSTGRES_DIALECT: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
_POSTGRES_ARRAY_TYPES = {
    column.name: "timestamptz[]"
    if isinstance(column.type, UTCDateTime)
    else f"{column.type.compile(_POSTGRES_DIALECT)}[]"
    for column in Call.__table__.columns
}


def _add_to_rollup(connection: Connection, inserted: Sequence[Sequence[Any]]) -> None:
    buckets: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    for task_class, tier, start_time, input_tokens, output_tokens, cost_usd, *cached in inserted:
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
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "priced_calls": 0,
                "first_seen": start_time,
                "last_seen": start_time,
            }
        bucket["calls"] += 1
        bucket["input_tokens"] += input_tokens or 0
        bucket["output_tokens"] += output_tokens or 0
        bucket["cache_read_tokens"] += cached[0] or 0
        bucket["cache_write_tokens"] += cached[1] or 0
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
            "cache_read_tokens": ClassHour.cache_read_tokens + excluded.cache_read_tokens,
            "cache_write_tokens": ClassHour.cache_write_tokens + excluded.cache_write_tokens,
            "priced_calls": ClassHour.priced_calls + excluded.priced_calls,
            "first_seen": smaller(ClassHour.first_seen, excluded.first_seen),
            "last_seen": larger(ClassHour.last_seen, excluded.last_seen),
        },
    )
    connection.execute(statement)
    daily_rollup.add_hours(connection, values)


def _least_greatest(connection: Connection) -> tuple[Callable[..., Any], Callable[..., Any]]:
    # SQLite spells LEAST/GREATEST as the two-argument forms of min()/max().
    if connection.dialect.name == "sqlite":
        return func.min, func.max
    return func.least, func.greatest
