"""Checking the hourly evaluation rollup against the verdicts it counts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine, select

from driftwatch.db.engine import session_factory
from driftwatch.db.models import Evaluation, EvaluationHour

Key = tuple[str, str, str, datetime]


def counted_from_verdicts(engine: Engine) -> Counter[tuple[Key, str]]:
    """What ``evaluation_hour`` must hold, counted in Python from the ``evaluation`` rows."""
    expected: Counter[tuple[Key, str]] = Counter()
    with engine.connect() as connection:
        for task_class, tier, source, moment, acceptable in connection.execute(
            select(
                Evaluation.task_class,
                Evaluation.tier,
                Evaluation.source,
                Evaluation.evaluated_at,
                Evaluation.acceptable,
            )
        ):
            key = (task_class, tier or "", source, moment.replace(minute=0, second=0, microsecond=0))
            expected[(key, "evaluations")] += 1
            expected[(key, "decided")] += acceptable is not None
            expected[(key, "acceptable")] += acceptable is True
    return +expected


def counted_in_rollup(engine: Engine) -> Counter[tuple[Key, str]]:
    found: Counter[tuple[Key, str]] = Counter()
    with session_factory(engine)() as session:
        for row in session.scalars(select(EvaluationHour)):
            key = (row.task_class, row.tier, row.source, row.hour)
            found.update({(key, "evaluations"): row.evaluations, (key, "decided"): row.decided,
                          (key, "acceptable"): row.acceptable})  # fmt: skip
    return +found
