"""``class_day``: the hourly rollup's buckets folded into UTC days, by the same writer, in the same
transaction (see :mod:`driftwatch.db.models.class_day`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, update

from driftwatch.db.dialect_insert import dialect_insert
from driftwatch.db.models import ClassDay
from driftwatch.db.models.class_hour import NO_TIER

SUMMED = (
    "calls",
    "priced_calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
)


def add_hours(connection: Connection, hours: Iterable[Mapping[str, Any]]) -> None:
    """Add hourly buckets (``class_hour`` rows: class, tier, hour and the :data:`SUMMED` counts) to their days."""
    days: dict[tuple[str, str, str], dict[str, Any]] = {}
    for bucket in hours:
        key = (bucket["task_class"], bucket["tier"], bucket["hour"].date().isoformat())
        row = days.get(key)
        if row is None:
            row = days[key] = {
                "task_class": key[0],
                "tier": key[1],
                "day": key[2],
                **dict.fromkeys(SUMMED, 0),
            }
        for name in SUMMED:
            row[name] += bucket[name]
    if not days:
        return
    # Sorted, so concurrent writers lock rows in the same order and cannot deadlock.
    statement = dialect_insert(connection, ClassDay).values([days[key] for key in sorted(days)])
    statement = statement.on_conflict_do_update(
        index_elements=["task_class", "tier", "day"],
        set_={name: getattr(ClassDay, name) + statement.excluded[name] for name in SUMMED},
    )
    connection.execute(statement)


def subtract_call(connection: Connection, call: Mapping[str, Any]) -> None:
    """Take a stored call out of its day (it is counted again as part of the call it is merged into)."""
    key = (
        ClassDay.task_class == call["task_class"],
        ClassDay.tier == (call["tier"] or NO_TIER),
        ClassDay.day == call["start_time"].date().isoformat(),
    )
    cost = call["cost_usd"]
    connection.execute(
        update(ClassDay)
        .where(*key)
        .values(
            calls=ClassDay.calls - 1,
            priced_calls=ClassDay.priced_calls - (0 if cost is None else 1),
            input_tokens=ClassDay.input_tokens - (call["input_tokens"] or 0),
            output_tokens=ClassDay.output_tokens - (call["output_tokens"] or 0),
            cache_read_tokens=ClassDay.cache_read_tokens - (call["cache_read_tokens"] or 0),
            cache_write_tokens=ClassDay.cache_write_tokens - (call["cache_write_tokens"] or 0),
            cost_usd=ClassDay.cost_usd - (cost or 0.0),
        )
    )
    connection.execute(delete(ClassDay).where(*key, ClassDay.calls <= 0))
