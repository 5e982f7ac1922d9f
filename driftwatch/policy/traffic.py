"""A class's daily traffic on one tier and its daily shadow spend, as :mod:`savings` takes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.db.models import ClassHour, ShadowSpend
from driftwatch.policy.savings import DayVolume


def daily_volumes(
    session: Session, task_class: str, tier: str, start: datetime, end: datetime
) -> list[DayVolume]:
    """One entry per UTC day from the class's first traffic on ``tier`` at or after ``start`` up to
    ``end`` (both midnights; ``end`` excluded), days without traffic as zeros; [] without traffic."""
    hours = session.execute(
        select(ClassHour.hour, ClassHour.input_tokens, ClassHour.output_tokens).where(
            ClassHour.task_class == task_class,
            ClassHour.tier == tier,
            ClassHour.hour >= start,
            ClassHour.hour < end,
            ClassHour.calls > 0,
        )
    )
    tokens: dict[date, tuple[int, int]] = {}
    for hour, input_tokens, output_tokens in hours:
        day = hour.astimezone(UTC).date()
        before = tokens.get(day, (0, 0))
        tokens[day] = (before[0] + input_tokens, before[1] + output_tokens)
    if not tokens:
        return []
    first = min(tokens)
    spent = session.execute(
        select(ShadowSpend.day, ShadowSpend.spent_usd).where(
            ShadowSpend.task_class == task_class,
            ShadowSpend.day >= first.isoformat(),
            ShadowSpend.day < end.date().isoformat(),
        )
    )
    spend = {day: amount for day, amount in spent}
    days = []
    for offset in range((end.date() - first).days):
        day = first + timedelta(days=offset)
        input_tokens, output_tokens = tokens.get(day, (0, 0))
        days.append(DayVolume(day, input_tokens, output_tokens, spend.get(day.isoformat(), 0.0)))
    return days
