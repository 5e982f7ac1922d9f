"""A class's daily traffic on one tier, the shadow spend on each day's calls, and what its judging
costs per evaluation, as :mod:`savings` takes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftwatch.db.models import ClassHour, Evaluation, ShadowCostDay
from driftwatch.db.models.evaluation import SHADOW_SOURCE
from driftwatch.policy.savings import DayVolume


def daily_volumes(
    session: Session, task_class: str, tier: str, start: datetime, end: datetime
) -> list[DayVolume]:
    """One entry per UTC day from the class's first traffic on ``tier`` at or after ``start`` up to
    ``end`` (both midnights; ``end`` excluded), days without traffic as zeros; [] without traffic.
    Each day's shadow spend is what evaluating that day's calls cost, whenever it ran."""
    hours = session.execute(
        select(ClassHour.hour, ClassHour.input_tokens, ClassHour.output_tokens, ClassHour.calls).where(
            ClassHour.task_class == task_class,
            ClassHour.tier == tier,
            ClassHour.hour >= start,
            ClassHour.hour < end,
            ClassHour.calls > 0,
        )
    )
    tokens: dict[date, tuple[int, int, int]] = {}
    for hour, input_tokens, output_tokens, calls in hours:
        day = hour.astimezone(UTC).date()
        before = tokens.get(day, (0, 0, 0))
        tokens[day] = (before[0] + input_tokens, before[1] + output_tokens, before[2] + calls)
    if not tokens:
        return []
    first = min(tokens)
    spent = session.execute(
        select(ShadowCostDay.day, ShadowCostDay.spent_usd).where(
            ShadowCostDay.task_class == task_class,
            ShadowCostDay.day >= first.isoformat(),
            ShadowCostDay.day < end.date().isoformat(),
        )
    )
    spend = {day: amount for day, amount in spent}
    days = []
    for offset in range((end.date() - first).days):
        day = first + timedelta(days=offset)
        input_tokens, output_tokens, calls = tokens.get(day, (0, 0, 0))
        days.append(DayVolume(day, input_tokens, output_tokens, spend.get(day.isoformat(), 0.0), calls))
    return days


def judge_cost_per_evaluation(session: Session, task_class: str, since: datetime) -> float | None:
    """The mean judge cost of the class's shadow evaluations since ``since`` (of every class when it
    has none); None when there are none at all."""
    mean = select(func.avg(Evaluation.judge_cost_usd)).where(
        Evaluation.source == SHADOW_SOURCE, Evaluation.evaluated_at >= since
    )
    own = session.scalar(mean.where(Evaluation.task_class == task_class))
    found = own if own is not None else session.scalar(mean)
    return None if found is None else float(found)
