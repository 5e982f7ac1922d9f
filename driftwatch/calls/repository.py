"""Queries over ``call`` and the ``class_hour`` rollup."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftwatch.db.keyset import Row, newest_first_page, within
from driftwatch.db.models import Call, ClassHour
from driftwatch.db.models.class_hour import NO_TIER

Columns = TypeVarTuple("Columns")


@dataclass(frozen=True, slots=True)
class CallFilter:
    task_class: str | None = None
    tier: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(
        self,
        query: Select[Row],
        task_class: InstrumentedAttribute[str],
        tier: InstrumentedAttribute[str | None],
        moment: InstrumentedAttribute[datetime],
    ) -> Select[Row]:
        """Narrow ``query`` to the class, tier and ``[since, until)`` window asked for (the columns
        named are the entity's own: calls and evaluations are filtered alike)."""
        if self.task_class is not None:
            query = query.where(task_class == self.task_class)
        if self.tier is not None:
            query = query.where(tier == self.tier)
        return within(query, moment, self.since, self.until)


@dataclass(frozen=True, slots=True)
class ClassSummary:
    task_class: str
    tier: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_calls: int
    first_seen: datetime
    last_seen: datetime


def list_calls(
    session: Session, where: CallFilter, limit: int, cursor: str | None
) -> tuple[list[Call], str | None]:
    """Newest first; keyset pagination on (start_time, id), stable while new calls arrive."""
    query = where.apply(select(Call), Call.task_class, Call.tier, Call.start_time)
    return newest_first_page(session, query, Call.start_time, Call.id, limit, cursor)


def _in_window(query: Select[*Columns], since: datetime | None, until: datetime | None) -> Select[*Columns]:
    if since is not None:
        query = query.where(ClassHour.hour >= since.replace(minute=0, second=0, microsecond=0))
    if until is not None:
        query = query.where(ClassHour.hour < until)
    return query


def class_traffic(session: Session, since: datetime | None, until: datetime | None) -> list[tuple[str, int]]:
    """Every class with calls in the window and how many, busiest first (then by name): the order
    ``GET /v1/classes`` pages in.  Names and counts only, so it stays quick at tens of thousands."""
    calls = func.sum(ClassHour.calls)
    query = _in_window(select(ClassHour.task_class, calls).group_by(ClassHour.task_class), since, until)
    return [
        (name, int(count))
        for name, count in session.execute(query.order_by(calls.desc(), ClassHour.task_class))
    ]


def class_summaries(
    session: Session, since: datetime | None, until: datetime | None, only: Collection[str] | None = None
) -> list[ClassSummary]:
    """Per task class and tier, from the hourly rollup (hour granularity for since/until); ``only``
    narrows it to those classes."""
    query = select(
        ClassHour.task_class,
        ClassHour.tier,
        func.sum(ClassHour.calls),
        func.sum(ClassHour.input_tokens),
        func.sum(ClassHour.output_tokens),
        func.sum(ClassHour.cost_usd),
        func.sum(ClassHour.calls - ClassHour.priced_calls),
        func.min(ClassHour.first_seen),
        func.max(ClassHour.last_seen),
    ).group_by(ClassHour.task_class, ClassHour.tier)
    query = _in_window(query, since, until)
    if only is not None:
        query = query.where(ClassHour.task_class.in_(sorted(only)))
    rows = session.execute(query.order_by(ClassHour.task_class, ClassHour.tier)).all()
    return [
        ClassSummary(
            task_class=row[0],
            tier=row[1] if row[1] != NO_TIER else None,
            calls=int(row[2]),
            input_tokens=int(row[3]),
            output_tokens=int(row[4]),
            cost_usd=float(row[5]),
            unpriced_calls=int(row[6]),
            first_seen=row[7],
            last_seen=row[8],
        )
        for row in rows
    ]
