"""The hourly rollup of evaluation outcomes (``evaluation_hour``): kept by the writers, read for
windows on hour boundaries.

The one writer of evaluations (:mod:`driftwatch.evaluations.writer`) calls :func:`add_to_rollup` with
the rows it actually inserted, in the same transaction, so the rollup counts each stored evaluation
once, whatever is re-sent or re-run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from driftwatch.db.dialect_insert import dialect_insert
from driftwatch.db.models import EvaluationHour
from driftwatch.db.models.class_hour import NO_TIER

HOUR = timedelta(hours=1)
# (task class, tier, source, evaluated_at, acceptable) of one inserted evaluation
Counted = tuple[str, str | None, str, datetime, bool | None]


def hour_of(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC hour (an offset such as +05:30 does not start hours on the hour)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def on_the_hour(moment: datetime | None) -> bool:
    """A window bound the rollup answers exactly: none (all time), or the start of a UTC hour."""
    return moment is None or moment == hour_of(moment)


def add_to_rollup(bind: Session | Connection, inserted: Iterable[Counted]) -> None:
    buckets: dict[tuple[str, str, str, datetime], list[int]] = {}
    for task_class, tier, source, evaluated_at, acceptable in inserted:
        counts = buckets.setdefault((task_class, tier or NO_TIER, source, hour_of(evaluated_at)), [0, 0, 0])
        counts[0] += 1
        counts[1] += acceptable is not None
        counts[2] += acceptable is True
    if not buckets:
        return
    # Sorted, so concurrent writers lock rollup rows in the same order and cannot deadlock.
    values = [
        {
            "task_class": task_class,
            "tier": tier,
            "source": source,
            "hour": hour,
            "evaluations": evaluations,
            "decided": decided,
            "acceptable": acceptable,
        }
        for (task_class, tier, source, hour), (evaluations, decided, acceptable) in sorted(buckets.items())
    ]
    statement = dialect_insert(bind, EvaluationHour).values(values)
    excluded = statement.excluded
    bind.execute(
        statement.on_conflict_do_update(
            index_elements=["task_class", "tier", "source", "hour"],
            set_={
                "evaluations": EvaluationHour.evaluations + excluded.evaluations,
                "decided": EvaluationHour.decided + excluded.decided,
                "acceptable": EvaluationHour.acceptable + excluded.acceptable,
            },
        )
    )
