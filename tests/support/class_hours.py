"""Seeding a store that has seen many classes directly, without sending their calls: the hourly
rollup, and (as a store written before ``DRIFTWATCH_MAX_TASK_CLASSES`` holds) a detector per class
and evaluations for some of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from driftwatch.db.engine import session_factory
from driftwatch.db.models import ClassHour, DetectorRow
from driftwatch.evaluations.writer import insert_new

CHUNK = 2_000  # rows per INSERT: well under SQLite's limit on bound parameters


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
    _insert(engine, ClassHour, rows)


def seed_pre_cap_store(engine: Engine, classes: Sequence[str], evaluated: Sequence[str]) -> None:
    """``classes`` seen in traffic, each with the (empty) detector the ``decide`` job of before gave
    every known class, and one shadow verdict for each of ``evaluated`` not yet consumed."""
    seed_class_hours(engine, {name: 1 + index % 7 for index, name in enumerate(classes)})
    now = datetime.now(UTC)
    detectors = [
        {
            "task_class": name,
            "tier": "cheap",
            "feed": "listed",
            "baseline_accepted": 0,
            "baseline_total": 0,
            "samples": 0,
            "last_evaluation_id": 0,
            "started_at": now,
        }
        for name in classes
    ]
    _insert(engine, DetectorRow, detectors)
    verdicts = [_verdict(index, name, now) for index, name in enumerate(evaluated)]
    for start in range(0, len(verdicts), CHUNK):
        with session_factory(engine).begin() as session:
            insert_new(session, verdicts[start : start + CHUNK])


def _verdict(index: int, task_class: str, now: datetime) -> dict[str, Any]:
    return {
        "source": "shadow",
        "external_id": f"seeded-{index}",
        "call_id": None,
        "trace_id": None,
        "span_id": None,
        "task_class": task_class,
        "tier": "cheap",
        "model": "claude-haiku-4-5",
        "acceptable": True,
        "score": 1.0,
        "rationale": None,
        "shadow_cost_usd": 0.0,
        "judge_cost_usd": 0.0,
        "evaluated_at": now,
        "created_at": now,
    }


def _insert(engine: Engine, table: type[ClassHour] | type[DetectorRow], rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(table), rows[start : start + CHUNK])
