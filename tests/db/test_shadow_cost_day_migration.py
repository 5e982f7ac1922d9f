"""Migration 0011 books the shadow spend already stored on the day of each evaluated call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from driftwatch.db import migrate
from tests.conftest import BACKENDS
from tests.support.databases import store_at_revision

CALLED = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # late evening: a naive day cut would be wrong
EVALUATED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _stored(moment: datetime, backend: str) -> datetime:
    """As the application stores a moment: naive UTC on SQLite, timestamptz on PostgreSQL."""
    return moment.replace(tzinfo=None) if backend == "sqlite" else moment


def _evaluation(backend: str, cost: float, call_id: int | None, source: str = "shadow") -> dict[str, object]:
    return {
        "source": source,
        "external_id": None if source == "shadow" else f"r-{cost}",
        "call_id": call_id,
        "task_class": "extraction",
        "tier": "cheap",
        "acceptable": True,
        "shadow_cost_usd": cost,
        "judge_cost_usd": 0.01,
        "evaluated_at": _stored(EVALUATED, backend),
        "created_at": _stored(EVALUATED, backend),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_books_stored_shadow_spend_on_the_calls_day(backend: str, tmp_path: Path) -> None:
    with store_at_revision(backend, tmp_path, "0010") as engine:
        metadata = sa.MetaData()
        call = sa.Table("call", metadata, autoload_with=engine)
        evaluation = sa.Table("evaluation", metadata, autoload_with=engine)
        with engine.begin() as connection:
            called = {"trace_id": "a" * 32, "span_id": "b" * 16, "start_time": _stored(CALLED, backend)}
            called |= {"task_class": "extraction", "status": "ok", "source": "otlp"}
            call_id = connection.execute(call.insert().returning(call.c.id), called).scalar_one()
            rows = [
                _evaluation(backend, 0.25, call_id),
                _evaluation(backend, 0.5, call_id),
                _evaluation(backend, 1.0, None),  # its call expired
                _evaluation(backend, 8.0, call_id, "human-review"),  # not shadow spend
            ]
            connection.execute(evaluation.insert(), rows)

        migrate.upgrade(engine)

        with engine.connect() as connection:
            booked: dict[str, float] = dict(
                connection.execute(sa.text("SELECT day, spent_usd FROM shadow_cost_day")).all()
            )
        assert booked == {
            "2026-11-20": pytest.approx(0.25 + 0.01 + 0.5 + 0.01),  # the call's day
            "2026-11-30": pytest.approx(1.0 + 0.01),  # the call expired: the evaluation's day
        }
