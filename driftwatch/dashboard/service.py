"""``GET /v1/dashboard``: the page's whole document, built from the same services the API uses.

Per class, the figures of ``GET /v1/classes`` (:func:`class_overview`: volume, evaluation tallies
with Wilson intervals, shadow state, detector), the route of ``GET /v1/policy``, the newest rows of
``GET /v1/decisions`` and the open ``GET /v1/recommendations``; on top of those, what only the
dashboard needs, each one aggregate query: acceptance and volume per time bucket, shadow spend per
day, the decisions to mark on the charts, webhook deliveries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from driftwatch.calls.repository import ClassSummary, class_summaries
from driftwatch.config import Policy
from driftwatch.dashboard import repository
from driftwatch.dashboard.schemas import (
    AcceptanceSeries,
    ClassPanel,
    Dashboard,
    DeliveryOut,
    Marker,
    ShadowDay,
    ShadowSpending,
    TieringSavings,
    TierVolume,
    Webhooks,
)
from driftwatch.dashboard.states import MOVES, Move, class_state
from driftwatch.dashboard.tiering import Tiering, tiering_savings
from driftwatch.dashboard.window import TimeRange, Window, fitting_range, window
from driftwatch.overview.classes import CLASSES_PER_PAGE, class_overview
from driftwatch.overview.coverage import coverage_summary
from driftwatch.overview.quality import ClassQuality
from driftwatch.policy import audit, control
from driftwatch.prices.pricing import PriceTable
from driftwatch.routing.routes import routes
from driftwatch.routing.schemas import ClassRouteOut, RecommendationOut
from driftwatch.stats.detector import Status
from driftwatch.stats.proportions import wilson_interval

RECENT_DECISIONS = 20
RECENT_DELIVERIES = 20
MARKERS_PER_CLASS = 200
# Shares per bucket to 0.01 percentage points: a chart cannot show more, and a week of hourly
# buckets for 50 classes is a third of the size at full float precision.
DIGITS = 4
FITTED_FROM = timedelta(days=30)
"""How far back the opening range looks for the oldest evaluation (the longest range)."""


def build(
    session: Session,
    policy: Policy,
    time_range: TimeRange | None,
    task_class: str | None,
    now: datetime,
    *,
    offset: int = 0,
    limit: int = CLASSES_PER_PAGE,
) -> Dashboard:
    """Everything the page shows for ``time_range`` (one class, or all when ``task_class`` is None):
    a panel for each class of a page of them (busiest first, as ``GET /v1/classes``); the totals
    (volume per tier, savings, shadow spend) are over every class. No ``time_range``: the shortest
    that holds the store's last 30 days of evaluations (or calls)."""
    if time_range is None:
        time_range = fitting_range(repository.oldest_activity(session, now - FITTED_FROM), now)
    where = window(time_range, now)
    # Judge-score distributions are not drawn, and reading them is most of class_overview's time.
    overview = class_overview(
        session,
        policy,
        where.since,
        where.until,
        now,
        with_scores=False,
        offset=offset,
        limit=limit,
        task_class=task_class,
    )
    quality = overview.quality
    # Totals count every class (an aggregate row per class and tier, no per-class work).
    volume = class_summaries(session, where.since, where.until, None if task_class is None else {task_class})
    top_tier = policy.tiers[-1]
    top_model = policy.model_for(top_tier)
    tiering = tiering_savings(volume, top_tier, top_model, PriceTable(policy.price_table()).price(top_model))
    classes = _panels(session, policy, where, quality, overview.volume, tiering, task_class)
    recommendations = control.list_recommendations(session, status="open", task_class=task_class).items
    decisions = audit.list_page(session, audit.DecisionFilter(task_class=task_class), RECENT_DECISIONS, None)
    return Dashboard(
        generated_at=now,
        total_classes=overview.total,
        next_offset=overview.next_offset(offset),
        notices=overview.notices(offset),
        range=time_range,
        since=where.since,
        until=where.until,
        bucket=where.bucket,
        buckets=where.starts(),
        tiers=list(policy.tiers),
        classes=classes,
        volume=_tier_volumes(session, policy, where, volume, task_class),
        shadow=_shadow(session, policy, where, [panel.task_class for panel in classes], task_class),
        savings=_savings(top_tier, top_model, tiering, classes, recommendations),
        recommendations=recommendations,
        decisions=decisions.items,
        webhooks=_webhooks(session, task_class),
        coverage=coverage_summary(session, policy),
    )


def _panels(
    session: Session,
    policy: Policy,
    where: Window,
    quality: Sequence[ClassQuality],
    volume: Sequence[ClassSummary],
    tiering: Tiering,
    task_class: str | None,
) -> list[ClassPanel]:
    shown = {entry.task_class for entry in quality}
    routed = {route.task_class: ClassRouteOut.from_route(route) for route in routes(session, policy, shown)}
    counts = repository.acceptance_buckets(session, where, task_class)
    acceptance = _acceptance((count for count in counts if count.task_class in shown), where)
    markers: dict[str, list[Marker]] = defaultdict(list)
    for marker in repository.decision_markers(session, where, task_class):
        markers[marker.task_class].append(Marker.model_validate(marker, from_attributes=True))
    moves = {
        name: Move(kind=row.kind, from_tier=row.from_tier, to_tier=row.to_tier, at=row.at)
        for name, row in repository.latest_moves(session, shown, MOVES).items()
    }
    calls: dict[str, int] = defaultdict(int)
    cost: dict[str, float] = defaultdict(float)
    for row in volume:
        calls[row.task_class] += row.calls
        cost[row.task_class] += row.cost_usd
    panels = []
    for entry in quality:
        name = entry.task_class
        configured = policy.configured_tier(name)  # a class known only from verdicts sent from elsewhere
        route = routed.get(name) or ClassRouteOut(
            tier=configured,
            model=policy.model_for(configured),
            pinned=False,
            cooldown_until=None,
            source="configured",
        )
        panels.append(
            ClassPanel(
                **dict(entry),
                route=route,
                state=class_state(entry.detection, route.tier, moves.get(name), where.since),
                calls=calls[name],
                cost_usd=cost[name],
                savings_usd=None if tiering.achieved_usd is None else tiering.by_class.get(name, 0.0),
                acceptance=_in_tier_order(acceptance.get(name, []), policy.tiers),
                markers=markers[name][-MARKERS_PER_CLASS:],
            )
        )
    return panels


def _acceptance(counts: Iterable[repository.BucketCount], where: Window) -> dict[str, list[AcceptanceSeries]]:
    """Bucket counts → per class, a series per tier aligned with the window's buckets."""
    grouped: dict[tuple[str, str | None], dict[str, repository.BucketCount]] = defaultdict(dict)
    for count in counts:
        grouped[(count.task_class, count.tier)][count.key] = count
    keys = [where.key(start) for start in where.starts()]
    series: dict[str, list[AcceptanceSeries]] = defaultdict(list)
    for (task_class, tier), by_key in grouped.items():
        decided = [by_key[key].decided if key in by_key else 0 for key in keys]
        accepted = [by_key[key].acceptable if key in by_key else 0 for key in keys]
        intervals = [wilson_interval(ok, n) for ok, n in zip(accepted, decided, strict=True)]
        series[task_class].append(
            AcceptanceSeries(
                tier=tier,
                evaluations=decided,
                acceptable=accepted,
                rate=[round(ok / n, DIGITS) if n else None for ok, n in zip(accepted, decided, strict=True)],
                low=[round(interval.low, DIGITS) if interval else None for interval in intervals],
                high=[round(interval.high, DIGITS) if interval else None for interval in intervals],
            )
        )
    return series


def _tier_rank(tiers: Sequence[str]) -> dict[str | None, tuple[int, str]]:
    return {tier: (position, tier) for position, tier in enumerate(tiers)} | {None: (len(tiers) + 1, "")}


def _in_tier_order(series: list[AcceptanceSeries], tiers: Sequence[str]) -> list[AcceptanceSeries]:
    rank = _tier_rank(tiers)
    return sorted(series, key=lambda entry: rank.get(entry.tier, (len(tiers), entry.tier or "")))


def _tier_volumes(
    session: Session, policy: Policy, where: Window, volume: Sequence[ClassSummary], task_class: str | None
) -> list[TierVolume]:
    buckets = repository.volume_buckets(session, where, task_class)
    keys = [where.key(start) for start in where.starts()]
    totals: dict[str | None, list[int | float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0])
    for row in volume:
        total = totals[row.tier]
        for index, value in enumerate(
            (row.calls, row.input_tokens, row.output_tokens, row.cost_usd, row.unpriced_calls)
        ):
            total[index] += value
    rank = _tier_rank(policy.tiers)
    ordered = sorted(totals, key=lambda tier: rank.get(tier, (len(policy.tiers), tier or "")))
    return [
        TierVolume(
            tier=tier,
            calls=int(totals[tier][0]),
            input_tokens=int(totals[tier][1]),
            output_tokens=int(totals[tier][2]),
            cost_usd=float(totals[tier][3]),
            unpriced_calls=int(totals[tier][4]),
            calls_per_bucket=[buckets[tier].get(key, (0, 0.0))[0] for key in keys],
            cost_per_bucket=[buckets[tier].get(key, (0, 0.0))[1] for key in keys],
        )
        for tier in ordered
    ]


def _shadow(
    session: Session, policy: Policy, where: Window, classes: Sequence[str], task_class: str | None
) -> ShadowSpending:
    days = where.days()
    spent = repository.shadow_spent_by_day(session, days, task_class)
    budget = sum(policy.shadow.budget_for(name) for name in classes)
    daily = [ShadowDay(day=day, spent_usd=spent.get(day, 0.0), budget_usd=budget) for day in days]
    return ShadowSpending(spent_usd=sum(spent.values()), budget_usd=budget * len(days), days=daily)


def _savings(
    top_tier: str,
    top_model: str | None,
    tiering: Tiering,
    classes: Sequence[ClassPanel],
    recommendations: Sequence[RecommendationOut],
) -> TieringSavings:
    # A class and the tier it degraded on: the detector says so now, or said so in the window (an
    # alert, or the alert before a promotion) -- the savings earned there came with lower quality.
    degraded_on: set[tuple[str, str]] = set()
    for panel in classes:
        if panel.detection is not None and panel.detection.status == Status.DEGRADED.value:
            degraded_on.add((panel.task_class, panel.detection.tier))
        degraded_on.update(
            (panel.task_class, marker.from_tier)
            for marker in panel.markers
            if marker.kind == Status.DEGRADED.value and marker.from_tier is not None
        )
    degraded = sorted({name for name, _ in degraded_on})
    at_risk = (
        None
        if tiering.achieved_usd is None
        else sum(tiering.by_class_tier.get(pair, 0.0) for pair in degraded_on)
    )
    return TieringSavings(
        top_tier=top_tier,
        top_model=top_model,
        achieved_usd=tiering.achieved_usd,
        would_have_cost_usd=tiering.would_have_cost_usd,
        cost_usd=tiering.cost_usd,
        left_out_calls=tiering.left_out_calls,
        reason=tiering.reason,
        at_risk_usd=at_risk,
        degraded_classes=degraded,
        open_recommendations=len(recommendations),
        recommended_monthly_usd=sum(rec.monthly_savings_usd or 0.0 for rec in recommendations),
    )


def _webhooks(session: Session, task_class: str | None) -> Webhooks:
    counts = repository.delivery_counts(session, task_class)
    recent = repository.recent_deliveries(session, task_class, RECENT_DELIVERIES)
    codes = repository.last_status_codes(session, [row.id for row in recent])
    return Webhooks(
        pending=counts.get("pending", 0),
        delivered=counts.get("delivered", 0),
        failed=counts.get("failed", 0),
        recent=[DeliveryOut(**asdict(row), last_status_code=codes.get(row.id)) for row in recent],
    )
