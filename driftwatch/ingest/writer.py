"""Bounded, batched, idempotent writer of ``call`` rows: the only path from ingest into the store.

Requests hand their rows to :meth:`CallWriter.write` and wait; writer threads take whatever is
pending (group commit: many requests, one transaction), insert with ``ON CONFLICT DO NOTHING`` on
``(trace_id, span_id)``, fold the newly inserted rows into the hourly ``class_hour`` rollup in the same
transaction, commit, and only then wake the requests, so an HTTP 200 means the rows are durable.
When more than ``queue_limit`` rows are waiting, :meth:`write` refuses at once with :class:`Overloaded`
(503 + Retry-After) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, bindparam, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from driftwatch.db.base import UTCDateTime
from driftwatch.db.models import Call, ClassHour
from driftwatch.db.models.class_hour import NO_TIER
from driftwatch.errors import Overloaded
from driftwatch.ingest.records import CallRow
from driftwatch.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Submission:
    rows: Sequence[CallRow]
    done: Future[int]


class CallWriter:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        *,
        queue_limit: int,
        batch_limit: int,
        threads: int,
        retry_after_seconds: int,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._queue_limit = queue_limit
        self._batch_limit = batch_limit
        self._thread_count = threads
        self._retry_after_seconds = retry_after_seconds
        self._pending: deque[_Submission] = deque()
        self._rows_held = 0  # waiting or being written: what bounds memory
        self._condition = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    @property
    def full(self) -> bool:
        return self._rows_held >= self._queue_limit

    def start(self) -> None:
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"driftwatch-writer-{index}", daemon=True)
            for index in range(self._thread_count)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish everything already accepted, then stop the threads."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    async def write(self, rows: Sequence[CallRow]) -> int:
        """Commit ``rows``; returns how many were new. Raises :class:`Overloaded` when full."""
        if not rows:
            return 0
        return await asyncio.wrap_future(self.submit(rows))

    def submit(self, rows: Sequence[CallRow]) -> Future[int]:
        done: Future[int] = Future()
        with self._condition:
            if self._stopping:
                raise Overloaded("shutting down", retry_after_seconds=self._retry_after_seconds)
            # An oversized request is still taken when nothing else waits, or it could never get in.
            if self._rows_held and self._rows_held + len(rows) > self._queue_limit:
                raise Overloaded(
                    f"write queue full ({self._rows_held} spans waiting); retry later",
                    retry_after_seconds=self._retry_after_seconds,
                )
            self._pending.append(_Submission(rows, done))
            self._rows_held += len(rows)
            self._metrics.write_queue_spans.set(self._rows_held)
            self._condition.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if not self._pending:
                    return
                batch = [self._pending.popleft()]
                size = len(batch[0].rows)
                while self._pending and size + len(self._pending[0].rows) <= self._batch_limit:
                    size += len(self._pending[0].rows)
                    batch.append(self._pending.popleft())
            self._write_batch(batch, size)

    def _write_batch(self, batch: list[_Submission], size: int) -> None:
        rows = [row for submission in batch for row in submission.rows]
        started = time.perf_counter()
        try:
            inserted = insert_calls(self._engine, rows)
        except Exception as error:  # the database failed: every request in the batch gets a 503
            log.exception("writing %d calls failed", size)
            failure = Overloaded(
                f"the store could not commit: {type(error).__name__}",
                retry_after_seconds=self._retry_after_seconds,
            )
            for submission in batch:
                submission.done.set_exception(failure)
        else:
            self._metrics.write_seconds.observe(time.perf_counter() - started)
            self._metrics.calls_stored.inc(inserted)
            self._metrics.calls_duplicate.inc(size - inserted)
            for submission in batch:
                submission.done.set_result(inserted)
        finally:
            with self._condition:
                self._rows_held -= size
                self._metrics.write_queue_spans.set(self._rows_held)


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


def insert_calls(engine: Engine, rows: list[CallRow]) -> int:
    """Insert new calls and fold them into the rollup in one transaction; returns how many were new.

    A row that conflicts on ``(trace_id, span_id)`` is a re-sent span and is dropped.  A row that
    conflicts on ``response_id`` is a second report of a stored call: it adds nothing to the counts,
    but its prompt or completion fills the stored call's where that one captured none.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            inserted = _insert_postgresql(connection, rows)
        else:
            inserted = _insert_portable(connection, rows)
        if inserted:
            _add_to_rollup(connection, inserted)
        if len(inserted) < len(rows):
            _complete_content(connection, rows, inserted)
    return len(inserted)


def _complete_content(connection: Connection, rows: list[CallRow], inserted: Sequence[Any]) -> None:
    stored = {(row.trace_id, row.span_id) for row in inserted}
    updates = [
        {"b_response_id": row["response_id"], "b_prompt": row["prompt"], "b_completion": row["completion"]}
        for row in rows
        if (row["trace_id"], row["span_id"]) not in stored
        and row["response_id"] is not None
        and (row["prompt"] is not None or row["completion"] is not None)
    ]
    if updates:
        connection.execute(
            update(Call)
            .where(
                Call.response_id == bindparam("b_response_id"),
                or_(Call.prompt.is_(None), Call.completion.is_(None)),
            )
            .values(
                prompt=func.coalesce(Call.prompt, bindparam("b_prompt")),
                completion=func.coalesce(Call.completion, bindparam("b_completion")),
            )
            .execution_options(synchronize_session=False),
            updates,
        )


def _insert_portable(connection: Connection, rows: list[CallRow]) -> Sequence[Any]:
    statement = (
        _dialect_insert(connection, Call)
        .on_conflict_do_nothing()  # any unique key: (trace_id, span_id) or response_id
        .returning(*(Call.__table__.c[name] for name in _RETURNED))
    )
    return connection.execute(statement, rows).all()


def _insert_postgresql(connection: Connection, rows: list[CallRow]) -> Sequence[Any]:
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
    statement = _dialect_insert(connection, ClassHour).values(values)
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


def _dialect_insert(connection: Connection, model: type[Call] | type[ClassHour]) -> Any:
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    insert: Insert = dialect.insert(model)
    return insert


def _least_greatest(connection: Connection) -> tuple[Callable[..., Any], Callable[..., Any]]:
    # SQLite spells LEAST/GREATEST as the two-argument forms of min()/max().
    if connection.dialect.name == "sqlite":
        return func.min, func.max
    return func.least, func.greatest
