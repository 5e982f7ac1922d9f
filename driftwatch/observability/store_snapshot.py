"""One read of the store's state for ``/metrics``: a handful of aggregate queries, no row scans in Python.

Everything here is store-wide (all replicas and ``driftwatch evaluate`` workers write the same tables),
so every replica reports the same numbers; dashboards take ``max`` across instances, not ``sum``.
Counts over whole tables (samples, evaluations, decisions, deliveries) are exposed as counters: those
rows only ever reach their final state, so the counts only grow (deleting old rows reads as a reset).

Per-class series are bounded: with ``max_classes`` (``DRIFTWATCH_MAX_TASK_CLASSES``) above 0, only the
classes of the policy file and the ``max_classes`` busiest (all-time calls) have series of their own;
the counts and spend of the rest are summed under ``task_class="overflow"``, their routes, budgets and
detectors are left out, and ``classes_folded`` says how many classes that is.  A store that holds
tens of thousands of classes (one written before the ingest cap existed) then serves as many series
as one at the cap, and reads only the shown classes' detectors and routes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import QueryableAttribute, Session

from driftwatch.config import Policy
from driftwatch.db.models import (
    ClassCoverage,
    Decision,
    SampleStatus,
    ShadowSample,
    ShadowSpend,
    WebhookDelivery,
)
from driftwatch.detection.detectors import LISTED, active_detectors, class_statuses
from driftwatch.evaluations.repository import outcome_counts
from driftwatch.ingest.class_cap import OVERFLOW
from driftwatch.routing.routes import busiest_classes, observed_count, routes
from driftwatch.shadow.budget import budget_day
from driftwatch.stats.detector import AlarmThreshold

Number = TypeVar("Number", int, float)
Key = TypeVar("Key", str, tuple[str, str])
ACCEPTANCE_WINDOW = timedelta(hours=24)
# A cap on each statement on PostgreSQL, so a refresh stuck behind a lock ends on its own.
STATEMENT_TIMEOUT_MS = 30_000
NO_TIER = ""  # an evaluation without a tier (a verdict from elsewhere with no linked call)
_SAMPLE_KEYS = (ShadowSample.task_class, ShadowSample.status)


@dataclass(frozen=True, slots=True)
class ClassRouteState:
    task_class: str
    tier: str
    tier_rank: int  # position in the policy's tiers, 0 = cheapest; -1 for a tier no longer listed
    pinned: bool


@dataclass(frozen=True, slots=True)
class DetectorReading:
    task_class: str
    tier: str
    status: str
    samples: int
    reference_rate: float | None
    log_statistic: float | None  # natural log of the mixture statistic R; None before the first sample


@dataclass(frozen=True, slots=True)
class CoverageReading:
    task_class: str
    protected: bool
    min_detectable_drop: float | None


@dataclass(frozen=True, slots=True)
class Acceptance:
    accepted: int
    decided: int

    @property
    def rate(self) -> float:
        return self.accepted / self.decided


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    taken_at: datetime
    samples: dict[tuple[str, str], int]  # (task_class, status) -> shadow samples
    oldest_due_sample: datetime | None
    evaluations: dict[tuple[str, str, str], int]  # (task_class, tier, outcome) -> evaluations
    acceptance: dict[tuple[str, str], Acceptance]  # (task_class, tier), last ACCEPTANCE_WINDOW
    spend_total_usd: dict[str, float]
    spend_today_usd: dict[str, float]
    budget_usd: dict[str, float]
    routes: list[ClassRouteState]
    detectors: list[DetectorReading]
    log_threshold: float
    decisions: dict[str, int]  # kind -> decisions
    deliveries: dict[str, int]  # status -> webhook deliveries
    delivery_attempts: dict[str, int]  # status of the delivery -> attempts made at it
    oldest_pending_delivery: datetime | None
    classes_folded: int = 0  # classes with calls whose series are summed under "overflow" or left out
    coverage: tuple[CoverageReading, ...] = ()  # shown classes the coverage job assessed


class Shown:
    """The classes with series of their own (module doc); ``fold`` names the series a class counts in."""

    def __init__(self, classes: set[str] | None) -> None:
        self.classes = classes  # None: every class

    def fold(self, task_class: str) -> str:
        return task_class if self.classes is None or task_class in self.classes else OVERFLOW

    def summed(self, values: dict[Key, Number]) -> dict[Key, Number]:
        """``values`` keyed by class or by (class, status), the folded classes' values summed."""
        if self.classes is None:
            return values
        result: dict[Key, Number] = {}
        for key, value in values.items():
            folded = self._folded(key)
            result[folded] = result[folded] + value if folded in result else value
        return result

    def _folded(self, key: Key) -> Key:
        if isinstance(key, tuple):
            return (self.fold(key[0]), key[1])
        return self.fold(key)


def _shown(session: Session, policy: Policy, max_classes: int) -> tuple[Shown, int]:
    """The policy file's classes and the ``max_classes`` busiest, and how many others have calls."""
    if max_classes <= 0:
        return Shown(None), 0
    busiest = set(busiest_classes(session, max_classes))
    extra = {*policy.classes, OVERFLOW} - busiest
    return Shown(busiest | extra), observed_count(session) - len(busiest) - observed_count(session, extra)


def read_snapshot(session: Session, policy: Policy, now: datetime, max_classes: int = 0) -> StoreSnapshot:
    """Read everything ``/metrics`` shows from the store, inside the caller's (read-only) transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    shown, folded = _shown(session, policy, max_classes)
    spend_total, spend_today = _spend(session, now)
    detectors, log_threshold = _detectors(session, policy, shown.classes)
    route_states = _routes(session, policy, shown.classes)
    budget_classes = {route.task_class for route in route_states} | set(shown.summed(spend_today))
    deliveries, attempts, oldest_delivery = _deliveries(session)
    return StoreSnapshot(
        taken_at=now,
        samples=shown.summed(_samples(session)),
        oldest_due_sample=session.scalar(
            select(func.min(ShadowSample.not_before)).where(
                ShadowSample.status == SampleStatus.PENDING, ShadowSample.not_before <= now
            )
        ),
        evaluations=_evaluations(session, shown),
        acceptance=_acceptance(session, now - ACCEPTANCE_WINDOW, shown),
        spend_total_usd=shown.summed(spend_total),
        spend_today_usd=shown.summed(spend_today),
        budget_usd={name: policy.shadow.budget_for(name) for name in sorted(budget_classes)},
        routes=route_states,
        detectors=detectors,
        log_threshold=log_threshold,
        decisions=_decisions(session),
        deliveries=deliveries,
        delivery_attempts=attempts,
        oldest_pending_delivery=oldest_delivery,
        classes_folded=folded,
        coverage=_coverage(session, shown.classes),
    )


def _counts(session: Session, *keys: QueryableAttribute[Any]) -> list[tuple[tuple[Any, ...], int]]:
    """``SELECT keys…, count(*) … GROUP BY keys…`` as ``[(key values, count)]``."""
    rows = session.execute(select(*keys, func.count()).group_by(*keys))
    return [(tuple(row[:-1]), int(row[-1])) for row in rows]


def _samples(session: Session) -> dict[tuple[str, str], int]:
    return {(name, status): count for (name, status), count in _counts(session, *_SAMPLE_KEYS)}


def _decisions(session: Session) -> dict[str, int]:
    return {kind: count for (kind,), count in _counts(session, Decision.kind)}


def _evaluations(session: Session, shown: Shown) -> dict[tuple[str, str, str], int]:
    result: dict[tuple[str, str, str], int] = {}
    for counts in outcome_counts(session, None, None):
        key = (shown.fold(counts.task_class), counts.tier or NO_TIER)
        for outcome, count in (
            ("acceptable", counts.acceptable),
            ("unacceptable", counts.decided - counts.acceptable),
            ("undecided", counts.total - counts.decided),
        ):
            if count:
                result[(*key, outcome)] = result.get((*key, outcome), 0) + count
    return result


def _acceptance(session: Session, since: datetime, shown: Shown) -> dict[tuple[str, str], Acceptance]:
    result: dict[tuple[str, str], Acceptance] = {}
    for counts in outcome_counts(session, since, None):
        if counts.decided:
            key = (shown.fold(counts.task_class), counts.tier or NO_TIER)
            before = result.get(key, Acceptance(0, 0))
            result[key] = Acceptance(before.accepted + counts.acceptable, before.decided + counts.decided)
    return result


def _spend(session: Session, now: datetime) -> tuple[dict[str, float], dict[str, float]]:
    today = func.sum(case((ShadowSpend.day == budget_day(now), ShadowSpend.spent_usd), else_=0.0))
    rows = session.execute(
        select(ShadowSpend.task_class, func.sum(ShadowSpend.spent_usd), today).group_by(
            ShadowSpend.task_class
        )
    ).all()
    return {name: float(total) for name, total, _ in rows}, {name: float(day) for name, _, day in rows}


def _routes(session: Session, policy: Policy, shown: set[str] | None) -> list[ClassRouteState]:
    ranks = {tier: rank for rank, tier in enumerate(policy.tiers)}
    return [
        ClassRouteState(route.task_class, route.tier, ranks.get(route.tier, -1), route.pinned)
        for route in routes(session, policy, shown)
        if shown is None or route.task_class in shown
    ]


def _detectors(
    session: Session, policy: Policy, shown: set[str] | None
) -> tuple[list[DetectorReading], float]:
    """Each shown class's detector on its current tier, as ``GET /v1/classes`` shows it, and the alarm
    threshold it is compared with: the union bound over the classes that have a reference (all of
    them), which a lone degraded class must reach (e-BH flags earlier when several drop together)."""
    detections = class_statuses(session, policy, only=shown)
    if shown is None:
        active = sum(1 for detection in detections if detection.e_value is not None)
    else:
        active = active_detectors(session, policy, LISTED)
    decisions = policy.decisions
    log_threshold = AlarmThreshold(decisions.horizon_samples, decisions.alpha, max(1, active)).log_value
    readings = []
    for detection in detections:
        # evidence = R / A, so log R = log(evidence) + log A; R is 0 (no value) before the first sample.
        evidence = detection.evidence
        log_statistic = math.log(evidence) + log_threshold if evidence else None
        readings.append(
            DetectorReading(
                detection.task_class,
                detection.tier,
                detection.status,
                detection.samples,
                detection.reference_rate,
                log_statistic,
            )
        )
    return readings, log_threshold


def _coverage(session: Session, shown: set[str] | None) -> tuple[CoverageReading, ...]:
    query = select(ClassCoverage.task_class, ClassCoverage.protected, ClassCoverage.min_detectable_drop)
    if shown is not None:
        query = query.where(ClassCoverage.task_class.in_(sorted(shown)))
    rows = session.execute(query.order_by(ClassCoverage.task_class))
    return tuple(CoverageReading(name, bool(protected), drop) for name, protected, drop in rows)


def _deliveries(session: Session) -> tuple[dict[str, int], dict[str, int], datetime | None]:
    rows = session.execute(
        select(
            WebhookDelivery.status,
            func.count(),
            func.coalesce(func.sum(WebhookDelivery.attempts), 0),
            func.min(WebhookDelivery.created_at),
        ).group_by(WebhookDelivery.status)
    ).all()
    counts = {status: int(count) for status, count, _, _ in rows}
    attempts = {status: int(made) for status, _, made, _ in rows}
    oldest = next((first for status, _, _, first in rows if status == "pending"), None)
    return counts, attempts, oldest
