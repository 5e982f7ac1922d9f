"""The store's batch insert (driver-level on SQLite and PostgreSQL) keeps every value as SQLAlchemy would.

The writer bypasses SQLAlchemy's per-row binding for speed, so the stored text of a timestamp, a
``NULL``, a float and a count must still be what the rest of the code reads and compares against:
every row reads back unchanged through the ORM, a time range selected through SQLAlchemy finds exactly
the calls inside it, and the hourly rollup holds the sums of the rows the store reports as inserted.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from driftwatch.db.models import Call, ClassHour
from driftwatch.ingest.records import CallRow
from driftwatch.ingest.store import commit_batch
from tests.support.databases import empty_all_tables

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
DAYS = [
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2026, 12, 3, tzinfo=UTC),
    datetime(2029, 12, 31, tzinfo=UTC),
]


def _row(start_time: datetime, task_class: str, tokens: int | None, cost: float | None) -> CallRow:
    return {
        "trace_id": os.urandom(16).hex(),
        "span_id": os.urandom(8).hex(),
        "parent_span_id": None,
        "start_time": start_time,
        "end_time": start_time + timedelta(milliseconds=420) if tokens else None,
        "service": "app",
        "scope": "opentelemetry.instrumentation.openai_v2",
        "task_class": task_class,
        "tier": "cheap" if tokens else None,
        "operation": "chat",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "response_id": None,
        "input_tokens": tokens,
        "output_tokens": tokens,
        "cost_usd": cost,
        "cache_read_tokens": tokens // 2 if tokens else None,
        "cache_write_tokens": None,
        "system_fingerprint": "fp_44709d6fcb" if tokens else None,
        "prompt": "a prompt with 'quotes', a ? and a é",
        "completion": None,
        "status": "ok",
        "status_message": None,
        "source": "otlp",
    }


rows_strategy = st.lists(
    st.builds(
        _row,
        # Days apart and microseconds apart: a range compares stored text within one day as well.
        start_time=st.builds(
            lambda day, micros: DAYS[day] + timedelta(microseconds=micros),
            st.integers(min_value=0, max_value=len(DAYS) - 1),
            st.integers(min_value=0, max_value=86_400 * 10**6 - 1),
        ),
        task_class=st.sampled_from(["triage", "summary"]),
        tokens=st.none() | st.integers(min_value=0, max_value=2**31 - 1),
        cost=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy, pick=st.integers(min_value=0), shift=st.integers(min_value=-5, max_value=5))
def test_a_written_batch_reads_back_unchanged_and_ranges_select_what_they_should(
    engine: Engine, rows: list[CallRow], pick: int, shift: int
) -> None:
    empty_all_tables(engine)
    cut = rows[pick % len(rows)]["start_time"] + timedelta(microseconds=shift)

    outcome = commit_batch(engine, [dict(row) for row in rows], [], NOW)

    columns = [column for column in Call.__table__.columns if column.name != "id"]
    with engine.connect() as connection:
        stored = {row.span_id: row._asdict() for row in connection.execute(select(*columns))}
        after_cut = set(connection.execute(select(Call.span_id).where(Call.start_time >= cut)).scalars())
        rollup = connection.execute(
            select(
                ClassHour.task_class, func.sum(ClassHour.calls), func.sum(ClassHour.input_tokens)
            ).group_by(ClassHour.task_class)
        ).all()
    assert outcome.calls_inserted == len(rows)
    assert {span_id: _comparable(row) for span_id, row in stored.items()} == {
        row["span_id"]: _comparable(row) for row in rows
    }
    assert after_cut == {row["span_id"] for row in rows if row["start_time"] >= cut}
    calls_by_class = Counter(row["task_class"] for row in rows)
    tokens_by_class = Counter[str]()
    for row in rows:
        tokens_by_class[row["task_class"]] += row["input_tokens"] or 0
    assert {task_class: (calls, tokens) for task_class, calls, tokens in rollup} == {
        task_class: (calls, tokens_by_class[task_class]) for task_class, calls in calls_by_class.items()
    }


def test_the_rows_here_fill_every_column_of_a_call() -> None:
    # A column the rows leave out would not be checked above: a new column must be added to _row.
    assert set(_row(NOW, "triage", 1, 1.0)) == {column.name for column in Call.__table__.columns} - {"id"}


def test_a_span_sent_twice_in_one_batch_or_again_later_is_stored_and_counted_once(engine: Engine) -> None:
    first = _row(NOW - timedelta(hours=1), "triage", 10, 0.5)
    commit_batch(engine, [dict(first), dict(first)], [], NOW)
    again = commit_batch(engine, [dict(first), _row(NOW, "triage", 5, None)], [], NOW)

    with engine.connect() as connection:
        calls = connection.execute(select(func.count()).select_from(Call)).scalar_one()
        counted = connection.execute(select(func.sum(ClassHour.calls))).scalar_one()
    assert (calls, counted, again.calls_inserted) == (2, 2, 1)


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "id"}
