"""The sampling planner with prices: samples per day a class needs to catch a drop in time, and their cost.

The count comes from :func:`driftwatch.stats.planner.plan_sampling` at the deployment's alarm threshold
(``decisions.horizon_samples`` and ``alpha``, shared by the classes driftwatch knows, or by
``classes``).  The reference is a declared ``acceptance_floor`` when the class has one, else the lower
bound of a ``decisions.baseline_samples`` baseline (what the detector would use).  A sample costs a
replay on the reference tier's model at the class's average tokens per call over the last 30 days
(``class_hour``; the caller's token counts without a class or traffic), plus the upper estimate of
its LLM judges (free judges cost nothing).  An unknown price leaves the cost ``None`` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import ClassHour
from driftwatch.errors import Unprocessable
from driftwatch.prices.pricing import PriceTable
from driftwatch.routing.routes import known_classes
from driftwatch.shadow.sample_cost import replay_and_judge_cost
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.planner import SamplingPlan, daily_cost, plan_sampling

DEFAULT_TOKENS = (1000, 300)
TRAFFIC_DAYS = 30
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([wdh])\s*$", re.IGNORECASE)
_DAYS_PER_UNIT = {"w": 7.0, "d": 1.0, "h": 1 / 24}


def parse_duration(text: str) -> float:
    """Days in ``7d``, ``36h`` or ``2w``; :class:`Unprocessable` for anything else."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise Unprocessable(f"within must be a positive duration such as 7d, 36h or 2w, got {text!r}")
    return float(match.group(1)) * _DAYS_PER_UNIT[match.group(2).lower()]


@dataclass(frozen=True, slots=True)
class SampleCost:
    """What one shadow sample costs; ``per_sample_usd`` is ``None`` with ``note`` when a price is unknown."""

    reference_tier: str
    reference_model: str | None
    input_tokens: int
    output_tokens: int
    tokens_from: str
    replay_usd: float | None
    judge_usd: float | None
    per_sample_usd: float | None
    per_day_usd: float | None
    daily_budget_usd: float
    note: str | None


@dataclass(frozen=True, slots=True)
class CostedPlan:
    task_class: str | None
    plan: SamplingPlan
    reference_source: str
    alarm: AlarmThreshold
    cost: SampleCost


class PlanQuery(BaseModel):
    """The question ``driftwatch plan`` and ``GET /v1/plan`` ask (ranges are checked by :func:`make_plan`)."""

    baseline: float = Field(description="The class's acceptance rate now, e.g. 0.95.")
    drop: float = Field(description="The smallest drop to catch, e.g. 0.05.")
    within: str = Field(description="Catch it within this long: 7d, 36h, 2w.")
    task_class: str | None = Field(None, description="Price samples at this class's tokens and judges.")
    alpha: float | None = Field(None, description="False alarms allowed per horizon (default: policy).")
    classes: int | None = Field(None, description="Classes sharing alpha (default: the classes known).")
    input_tokens: int | None = Field(None, description="Tokens per call in (default: class or 1000).")
    output_tokens: int | None = Field(None, description="Tokens per call out (default: class or 300).")


def make_plan(session: Session, policy: Policy, now: datetime, query: PlanQuery) -> CostedPlan:
    """The plan for one class (or a class-less what-if); bad input raises :class:`Unprocessable`."""
    decisions, task_class = policy.decisions, query.task_class
    count = query.classes if query.classes is not None else max(1, len(known_classes(session, policy)))
    alpha = decisions.alpha if query.alpha is None else query.alpha
    try:
        alarm = AlarmThreshold(decisions.horizon_samples, alpha, count)
        floor = policy.class_config(task_class).acceptance_floor if task_class else None
        samples = None if floor is not None else decisions.baseline_samples
        days = parse_duration(query.within)
        plan = plan_sampling(query.baseline, query.drop, days, threshold=alarm, baseline_samples=samples)
    except ValueError as error:
        raise Unprocessable(str(error)) from None
    source = "declared floor" if floor is not None else f"lower bound of a {samples}-sample baseline"
    tokens = (query.input_tokens, query.output_tokens)
    cost = _sample_cost(session, policy, plan, task_class, tokens, now)
    return CostedPlan(task_class, plan, source, alarm, cost)


def _sample_cost(
    session: Session,
    policy: Policy,
    plan: SamplingPlan,
    task_class: str | None,
    tokens: tuple[int | None, int | None],
    now: datetime,
) -> SampleCost:
    if any(count is not None and count < 0 for count in tokens):
        raise Unprocessable("token counts cannot be negative")
    observed, tokens_from = None, "defaults"
    if task_class is not None:
        observed = _average_tokens(session, task_class, now)
        tokens_from = (
            f"{task_class}'s average over {TRAFFIC_DAYS} days" if observed else "defaults (no traffic)"
        )
    average = observed or DEFAULT_TOKENS
    input_tokens = tokens[0] if tokens[0] is not None else average[0]
    output_tokens = tokens[1] if tokens[1] is not None else average[1]
    if None not in tokens:
        tokens_from = "given"
    prices = PriceTable(policy.price_table())
    replay, judge, notes = replay_and_judge_cost(policy, prices, task_class, input_tokens, output_tokens)
    per_sample = None if replay is None or judge is None else replay + judge
    return SampleCost(
        reference_tier=policy.reference_tier,
        reference_model=policy.model_for(policy.reference_tier),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tokens_from=tokens_from,
        replay_usd=replay,
        judge_usd=judge,
        per_sample_usd=per_sample,
        per_day_usd=None if per_sample is None else daily_cost(plan, per_sample),
        daily_budget_usd=policy.shadow.budget_for(task_class or ""),
        note="; ".join(notes) or None,
    )


def _average_tokens(session: Session, task_class: str, now: datetime) -> tuple[int, int] | None:
    calls, input_tokens, output_tokens = session.execute(
        select(
            func.sum(ClassHour.calls), func.sum(ClassHour.input_tokens), func.sum(ClassHour.output_tokens)
        ).where(ClassHour.task_class == task_class, ClassHour.hour >= now - timedelta(days=TRAFFIC_DAYS))
    ).one()
    if not calls:
        return None
    return round(input_tokens / calls), round(output_tokens / calls)


def describe(costed: CostedPlan) -> list[str]:
    """The plan as the lines ``driftwatch plan`` prints."""
    plan, cost, alarm = costed.plan, costed.cost, costed.alarm
    lines = [
        f"{costed.task_class or 'a class'}: a drop from {plan.baseline:.3f} to {plan.baseline - plan.drop:.3f}"
        f" within {plan.within_days:g} days"
    ]
    if plan.reference is not None:
        lines.append(
            f"reference {plan.reference:.4f} ({costed.reference_source}); false alarms at most {alarm.alpha:g}"
            f" per {alarm.horizon} samples across {alarm.classes} classes"
        )
    lines.append(plan.message)
    if plan.samples_per_day is None:
        return lines
    if cost.per_sample_usd is None or cost.per_day_usd is None:
        return [*lines, f"cost unknown: {cost.note}"]
    lines.append(
        f"cost ${cost.per_sample_usd:.4f}/sample (replay on {cost.reference_tier} {cost.reference_model} at"
        f" {cost.input_tokens} in / {cost.output_tokens} out tokens, {cost.tokens_from}: ${cost.replay_usd:.4f};"
        f" judges up to ${cost.judge_usd:.4f}): ${cost.per_day_usd:.2f}/day"
    )
    if cost.per_day_usd > cost.daily_budget_usd:
        lines.append(
            f"that is over the daily shadow budget of ${cost.daily_budget_usd:.2f}: raise"
            " shadow.daily_budget_usd for the class, or accept a larger drop or a longer window"
        )
    return lines
