"""The ledger's queries: the daily rollup ``class_day``, the hourly one ``class_hour`` where a promotion
splits a day, shadow spend by the day of the evaluated call (``shadow_cost_day``) and promotions from
the audit log.  No query reads ``call``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from driftwatch.db.models import ClassDay, ClassHour, Decision, ShadowCostDay
from driftwatch.ledger.terms import Volume
from driftwatch.routing.routes import MOVES

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
PROMOTED = "promoted"


@dataclass(frozen=True, slots=True)
class Promotion:
    """A class on ``to_tier`` from ``start`` (its promotion) until ``end`` (its next move, if any)."""

    task_class: str
    from_tier: str
    to_tier: str
    start: datetime
    end: datetime | None

    def hours(self, since: datetime, until: datetime) -> tuple[datetime, datetime]:
        """The rollup hours it counts in ``[since, until)``: from the hour of the promotion to the end
        of the hour of the next move."""
        start = max(since, self.start.replace(minute=0, second=0, microsecond=0))
        if self.end is None:
            return start, until
        end = self.end.replace(minute=0, second=0, microsecond=0)
        return start, min(until, end if end == self.end else end + HOUR)


def _volume_columns() -> tuple[ColumnElement[Any], ...]:
    return (
        func.sum(ClassHour.calls),
        func.sum(ClassHour.calls - ClassHour.priced_calls),
        func.sum(ClassHour.input_tokens),
        func.sum(ClassHour.output_tokens),
        func.sum(ClassHour.cost_usd),
        func.sum(ClassHour.cache_read_tokens),
        func.sum(ClassHour.cache_write_tokens),
    )


def _volume(tier: str, row: Sequence[Any]) -> Volume:
    calls, unpriced, input_tokens, output_tokens, spend, cache_read, cache_write = row
    return Volume(
        tier,
        calls=int(calls),
        unpriced=int(unpriced),
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
        spend_usd=float(spend),
        cache_read_tokens=int(cache_read),
        cache_write_tokens=int(cache_write),
    )


def class_tier_days(
    session: Session, since: datetime, until: datetime, classes: Collection[str] | None
) -> dict[tuple[str, str], list[Volume]]:
    """(class, day) → the day's volume per tier, for ``classes`` (None: all), from the daily rollup."""
    query = select(
        ClassDay.task_class,
        ClassDay.tier,
        ClassDay.day,
        ClassDay.calls,
        ClassDay.calls - ClassDay.priced_calls,
        ClassDay.input_tokens,
        ClassDay.output_tokens,
        ClassDay.cost_usd,
        ClassDay.cache_read_tokens,
        ClassDay.cache_write_tokens,
    ).where(ClassDay.day >= since.date().isoformat(), ClassDay.day < until.date().isoformat())
    if classes is not None:
        query = query.where(ClassDay.task_class.in_(sorted(classes)))
    result: dict[tuple[str, str], list[Volume]] = {}
    for task_class, tier, day, *counts in session.execute(query):
        result.setdefault((task_class, day), []).append(_volume(tier, counts))
    return result


def shadow_days(
    session: Session, since: datetime, until: datetime, classes: Collection[str] | None
) -> dict[tuple[str, str], float]:
    """(class, day of the evaluated calls) → dollars shadow evaluation spent on them."""
    query = select(ShadowCostDay.task_class, ShadowCostDay.day, ShadowCostDay.spent_usd).where(
        ShadowCostDay.day >= since.date().isoformat(), ShadowCostDay.day < until.date().isoformat()
    )
    if classes is not None:
        query = query.where(ShadowCostDay.task_class.in_(sorted(classes)))
    return {(task_class, day): float(usd) for task_class, day, usd in session.execute(query)}


def promotions(
    session: Session, since: datetime, until: datetime, classes: Collection[str] | None
) -> list[Promotion]:
    """Every promotion whose time on the higher tier overlaps ``[since, until)``."""
    promoted = select(Decision.task_class).where(Decision.kind == PROMOTED, Decision.created_at < until)
    if classes is not None:
        promoted = promoted.where(Decision.task_class.in_(sorted(classes)))
    moves = session.execute(
        select(Decision.task_class, Decision.kind, Decision.from_tier, Decision.to_tier, Decision.created_at)
        .where(Decision.kind.in_(MOVES), Decision.task_class.in_(promoted.distinct().scalar_subquery()))
        .order_by(Decision.task_class, Decision.created_at, Decision.id)
    ).all()
    found: list[Promotion] = []
    for index, (task_class, kind, from_tier, to_tier, created_at) in enumerate(moves):
        if kind != PROMOTED or from_tier is None or to_tier is None or from_tier == to_tier:
            continue
        following = moves[index + 1] if index + 1 < len(moves) else None
        end = following[4] if following is not None and following[0] == task_class else None
        if created_at < until and (end is None or end > since):
            found.append(Promotion(task_class, from_tier, to_tier, created_at, end))
    return found


RANGES_PER_QUERY = 200  # a CASE branch and an OR term each: statements stay a reasonable size


@dataclass(frozen=True, slots=True)
class HourRange:
    """Hours ``[start, end)`` of a class on a tier (within one UTC day: the part of a day a promotion
    was in force, where it was not in force all day)."""

    task_class: str
    tier: str
    start: datetime
    end: datetime


def hour_ranges(session: Session, ranges: Sequence[HourRange]) -> list[Volume | None]:
    """The volume of each range from the hourly rollup (``None``: no calls in it), one query per
    :data:`RANGES_PER_QUERY` ranges."""
    result: list[Volume | None] = [None] * len(ranges)
    for first in range(0, len(ranges), RANGES_PER_QUERY):
        where = {
            first + offset: and_(
                ClassHour.task_class == each.task_class,
                ClassHour.tier == each.tier,
                ClassHour.hour >= each.start,
                ClassHour.hour < each.end,
            )
            for offset, each in enumerate(ranges[first : first + RANGES_PER_QUERY])
        }
        which = case(*((condition, index) for index, condition in where.items()))
        query = select(which, *_volume_columns()).where(or_(*where.values())).group_by(which)
        for index, *sums in session.execute(query):
            result[index] = _volume(ranges[index].tier, sums)
    return result
