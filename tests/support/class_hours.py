"""Seeding the hourly rollup directly: a store that has seen many classes, without sending their calls."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from driftwatch.db.models import ClassHour

CHUNK = 5_000  # rows per INSERT: well under SQLite's limit on bound parameters


def seed_class_hours(engine: Engine, calls: Mapping[str, int], tier: str = "cheap") -> None:
    """One rollup hour (the current one) per class with ``calls[class]`` calls, as ingest writes it."""
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    rows = [
        {
            "task_class": name,
            "tier": tier,
            "hour": hour,
            "calls": count,
            "input_tokens": 20 * count,
            "output_tokens": 5 * count,
            "cost_usd": 0.0001 * count,
            "priced_calls": count,
            "first_seen": now,
            "last_seen": now,
        }
        for name, count in calls.items()
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(ClassHour), rows[start : start + CHUNK])
