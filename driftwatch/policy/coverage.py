"""The ``coverage`` job: each class's coverage (``stats/coverage.py``) from its traffic, rate, budget
and reference, kept in ``class_coverage`` for the API, dashboard and ``/metrics``; coverage-first
sampling; and the ``class.unprotected`` event.

Per class it reads (one aggregate query each, for every class at once): calls a day on the sampled
tiers over the last ``TRAFFIC_DAYS`` (since its first call when that is later), what a shadow sample
cost over the same days (spend by call day over shadow evaluations), its listed-feed detector on its
current tier (reference, baseline outcomes), and its samples (all unevaluable: no content).  With no
provider for the reference tier nothing is replayed (``no_provider``).

Coverage first: a class without a reference is sampled at :func:`stats.coverage.coverage_rate` (the
rate that protects it within the window, capped by ``shadow.coverage_rate_cap`` and its budget) until
it has one; raising, changing and restoring the rate are audit rows (``coverage_raised``,
``coverage_restored``) and the class's shadow notice says so.  A class unprotected for longer than
``coverage.alert_after_days`` raises ``class.unprotected`` once per unprotected stretch (the outbox key
is the stretch's start), with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import job_state
from driftwatch.db.models import ClassCoverage, ClassHour, DetectorRow, EvaluationHour, ShadowCostDay
from driftwatch.db.models.evaluation import SHADOW_SOURCE
from driftwatch.detection.detectors import BASELINE, FLOOR, LISTED, SEQUENCE, current_tiers
from driftwatch.evaluations.repository import sample_counts
from driftwatch.events.outbox import emit
from driftwatch.policy.summary_names import named
from driftwatch.routing.routes import SYSTEM_ACTOR, record_decision
from driftwatch.stats.coverage import (
    ClassLoad,
    Coverage,
    CoverageTarget,
    ReferencePlan,
    assess,
    coverage_rate,
    rate_to_protect,
)
from driftwatch.stats.detector import AlarmThreshold

JOB_NAME = "coverage"
RUN_LOCK = "coverage.run"  # the job_state row a run holds, so replicas take turns
TRAFFIC_DAYS = 7
CHUNK_CLASSES = 100  # classes stored per transaction
RATE_CHANGE = 0.25
"""A raised rate that moves by more than this share is a new audit row; smaller moves are not."""


@dataclass(frozen=True, slots=True)
class Assessed:
    """One class's coverage and what went into it."""

    task_class: str
    plan: ReferencePlan
    load: ClassLoad
    coverage: Coverage
    coverage_rate: float | None
    rate_to_protect: float | None


@dataclass(slots=True)
class CoverageResult:
    assessed: int = 0
    protected: int = 0
    raised: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    alerted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.protected} of {self.assessed} classes protected"
        return text + "".join(
            named(label, names)
            for label, names in (
                ("raised", self.raised),
                ("restored", self.restored),
                ("alerted", self.alerted),
            )
        )


def coverage_target(policy: Policy) -> CoverageTarget:
    return CoverageTarget(policy.coverage.drop, policy.coverage.window_days)


def assess_classes(session: Session, policy: Policy, now: datetime) -> list[Assessed]:
    """Every class with traffic in the last ``TRAFFIC_DAYS``, a detector or a policy entry, assessed
    (reads only; ``driftwatch plan --all`` prints these, the job stores them and forgets the rest)."""
    traffic = _calls_per_day(session, policy, now)
    costs = _cost_per_sample(session, now)
    tiers = current_tiers(session, policy)
    rows = {
        row.task_class: row
        for row in session.scalars(select(DetectorRow).where(DetectorRow.feed == LISTED))
        if tiers(row.task_class) == row.tier
    }
    classes = sorted({*traffic, *rows, *policy.classes})
    empty = {name for name, counts in sample_counts(session).items() if _no_content(counts)}
    decisions = policy.decisions
    learning = sum(1 for name in classes if _learns(policy, rows.get(name)))
    delta = decisions.baseline_delta / max(1, learning)
    threshold = AlarmThreshold(decisions.horizon_samples, decisions.alpha, max(1, len(classes)))
    target, cap = coverage_target(policy), policy.shadow.coverage_rate_cap
    no_provider = policy.reference_tier not in policy.providers and SHADOW_SOURCE in decisions.sources
    assessed = []
    for name in classes:
        plan = _reference_plan(policy, name, rows.get(name), delta)
        blocked = "no_provider" if no_provider else "no_content" if name in empty else None
        load = ClassLoad(
            calls_per_day=traffic.get(name, 0.0),
            rate=policy.shadow.rate_for(name),
            daily_budget_usd=policy.shadow.budget_for(name),
            cost_per_sample_usd=costs.get(name),
            blocked=blocked,
        )
        raised = coverage_rate(plan, load, target, threshold, cap)
        coverage = assess(plan, load if raised is None else replace(load, rate=raised), target, threshold)
        needed = rate_to_protect(plan, load.calls_per_day, target, threshold)
        assessed.append(Assessed(name, plan, load, coverage, raised, needed))
    return assessed


def run_coverage(
    engine: Engine,
    policy: Policy,
    now: datetime,
    *,
    stopping: Callable[[], bool] = lambda: False,
    chunk: int = CHUNK_CLASSES,
) -> CoverageResult:
    """One run of the job: every class assessed first (reads only, no lock), then stored, its rate
    raised or restored and its alert raised ``chunk`` classes per transaction, each holding the job's
    ``job_state`` row; then the rows of classes no longer assessed go.  Short transactions keep ingest
    committing on SQLite however many classes a store holds (20,000 classes took one 7-9 s write
    transaction).  ``stopping`` is asked between transactions; a stopped run leaves the rest to the
    next one."""
    sessions = session_factory(engine)
    with sessions() as session:
        assessed = assess_classes(session, policy, now)
    result = CoverageResult()
    for start in range(0, len(assessed), chunk):
        if stopping():
            return result
        entries = assessed[start : start + chunk]
        with sessions.begin() as session:
            # Two replicas running the job at once take turns on each chunk (the row is locked on
            # PostgreSQL): the second sees the first's rows instead of inserting the same classes again.
            job_state(session, RUN_LOCK)
            names = [entry.task_class for entry in entries]
            stored = {
                row.task_class: row
                for row in session.scalars(select(ClassCoverage).where(ClassCoverage.task_class.in_(names)))
            }
            for entry in entries:
                row = stored.get(entry.task_class)
                if row is None:
                    row = ClassCoverage(task_class=entry.task_class, coverage_rate=None, alerted_at=None)
                    session.add(row)
                before = row.coverage_rate
                _store(row, entry, now)
                _audit_rate(session, before, entry, now, result)
                _alert(session, policy, row, entry, now, result)
                result.assessed += 1
                result.protected += entry.coverage.protected
    _forget_unassessed(sessions, {entry.task_class for entry in assessed}, chunk)
    return result


def _forget_unassessed(sessions: sessionmaker[Session], assessed: set[str], chunk: int) -> None:
    """Delete the rows of classes with no traffic for ``TRAFFIC_DAYS``, no detector and no policy
    entry, ``chunk`` at a time."""
    with sessions() as session:
        gone = [name for name in session.scalars(select(ClassCoverage.task_class)) if name not in assessed]
    for start in range(0, len(gone), chunk):
        with sessions.begin() as session:
            job_state(session, RUN_LOCK)
            session.execute(
                delete(ClassCoverage).where(ClassCoverage.task_class.in_(gone[start : start + chunk]))
            )


def _store(row: ClassCoverage, entry: Assessed, now: datetime) -> None:
    coverage = entry.coverage
    row.protected, row.reason = coverage.protected, coverage.reason
    row.target_drop, row.window_days = coverage.target.drop, coverage.target.window_days
    row.min_detectable_drop = coverage.min_detectable_drop
    row.protected_in_days = coverage.protected_in_days
    row.calls_per_day, row.samples_per_day = entry.load.calls_per_day, coverage.samples_per_day
    row.rate_to_protect, row.coverage_rate = entry.rate_to_protect, entry.coverage_rate
    row.message, row.assessed_at = coverage.message, now
    if coverage.protected:
        row.unprotected_since = row.alerted_at = None
    elif row.unprotected_since is None:
        row.unprotected_since = now


def _audit_rate(
    session: Session, before: float | None, entry: Assessed, now: datetime, result: CoverageResult
) -> None:
    after, normal = entry.coverage_rate, entry.load.rate
    evidence: dict[str, Any] = {
        "normal_rate": normal,
        "coverage_rate": after,
        "rate_to_protect": entry.rate_to_protect,
        "calls_per_day": entry.load.calls_per_day,
        "baseline_outcomes": entry.plan.total,
        "coverage": entry.coverage.message,
    }
    if after is not None and (before is None or abs(after - before) > RATE_CHANGE * before):
        reason = (
            f"sample rate raised from {normal:g} to {after:.4f} until the class has a reference "
            f"(coverage first): {entry.coverage.message}"
        )
        kind = "coverage_raised"
        result.raised.append(entry.task_class)
    elif after is None and before is not None:
        why = "the class has a reference" if entry.plan.rate is not None else entry.coverage.message
        reason, kind = f"sample rate back to {normal:g}: {why}", "coverage_restored"
        result.restored.append(entry.task_class)
    else:
        return
    record_decision(
        session,
        task_class=entry.task_class,
        kind=kind,
        actor=SYSTEM_ACTOR,
        reason=reason,
        evidence=evidence,
        now=now,
    )


def _alert(
    session: Session,
    policy: Policy,
    row: ClassCoverage,
    entry: Assessed,
    now: datetime,
    result: CoverageResult,
) -> None:
    since = row.unprotected_since
    if since is None or row.alerted_at is not None:
        return
    if now - since < timedelta(days=policy.coverage.alert_after_days):
        return
    coverage = entry.coverage
    payload = {
        "reason": coverage.cause,
        "detail": coverage.reason,
        "message": coverage.message,
        "unprotected_since": since.isoformat(),
        "drop": coverage.target.drop,
        "window_days": coverage.target.window_days,
        "min_detectable_drop": coverage.min_detectable_drop,
        "protected_in_days": coverage.protected_in_days,
        "samples_per_day": coverage.samples_per_day,
        "rate": entry.coverage_rate or entry.load.rate,
        "rate_to_protect": entry.rate_to_protect,
    }
    emit(session, "class.unprotected", entry.task_class, payload, now, dedupe=since.isoformat())
    row.alerted_at = now
    result.alerted.append(entry.task_class)


def _reference_plan(policy: Policy, task_class: str, row: DetectorRow | None, delta: float) -> ReferencePlan:
    floor, decisions = policy.class_config(task_class).acceptance_floor, policy.decisions
    if floor is not None:
        return ReferencePlan(FLOOR, floor)
    source = SEQUENCE if decisions.baseline == SEQUENCE else BASELINE
    if row is not None and row.reference_source in (SEQUENCE, BASELINE):
        source = row.reference_source  # the reference it has, whatever the policy says now
    accepted, total = (row.baseline_accepted, row.baseline_total) if row is not None else (0, 0)
    rate = row.reference_rate if row is not None and row.reference_source != FLOOR else None
    return ReferencePlan(
        source=source,
        rate=rate,
        accepted=accepted,
        total=total,
        min_samples=min(decisions.min_baseline_samples, decisions.baseline_samples),
        max_samples=decisions.baseline_samples,
        delta=delta,
    )


def _learns(policy: Policy, row: DetectorRow | None) -> bool:
    """Whether the class's detector learns a confidence-sequence reference now (``delta`` is split
    over those, as the decide job splits it)."""
    if policy.decisions.baseline != SEQUENCE:
        return False
    if row is None:
        return True
    return row.reference_source in (None, SEQUENCE) and row.baseline_total < policy.decisions.baseline_samples


def _no_content(counts: dict[str, int]) -> bool:
    unevaluable = counts.get("unevaluable", 0)
    return unevaluable > 0 and unevaluable == sum(counts.values())


def _calls_per_day(session: Session, policy: Policy, now: datetime) -> dict[str, float]:
    """Calls a day on the sampled tiers over the last ``TRAFFIC_DAYS`` (or since the class's first
    call in them, at least an hour)."""
    start = now - timedelta(days=TRAFFIC_DAYS)
    rows = session.execute(
        select(ClassHour.task_class, func.sum(ClassHour.calls), func.min(ClassHour.first_seen))
        .where(ClassHour.hour >= start, ClassHour.tier.in_(policy.sampled_tiers))
        .group_by(ClassHour.task_class)
    )
    rates = {}
    for task_class, calls, first in rows:
        days = max((now - max(first, start)).total_seconds() / 86_400, 1 / 24)
        rates[task_class] = float(calls) / min(days, TRAFFIC_DAYS)
    return rates


def _cost_per_sample(session: Session, now: datetime) -> dict[str, float]:
    """Dollars per shadow evaluation over the last ``TRAFFIC_DAYS`` (classes with evaluations only)."""
    start = now - timedelta(days=TRAFFIC_DAYS)
    spent: dict[str, float] = {
        name: float(usd)
        for name, usd in session.execute(
            select(ShadowCostDay.task_class, func.sum(ShadowCostDay.spent_usd))
            .where(ShadowCostDay.day >= start.strftime("%Y-%m-%d"))
            .group_by(ShadowCostDay.task_class)
        )
    }
    counted = session.execute(
        select(EvaluationHour.task_class, func.sum(EvaluationHour.evaluations))
        .where(EvaluationHour.hour >= start.replace(minute=0, second=0, microsecond=0))
        .where(EvaluationHour.source == SHADOW_SOURCE)
        .group_by(EvaluationHour.task_class)
    )
    return {name: spent[name] / float(count) for name, count in counted if count and name in spent}
