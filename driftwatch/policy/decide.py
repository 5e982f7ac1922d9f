"""One run of the ``decide`` job: advance every class's detectors, flag degraded classes with e-BH,
and act on them — audit row, event, and (when the rules allow) a promotion — in one transaction.

Each feed (``detectors.FEEDS``) is its own e-BH family: the detectors of the sources
``decisions.sources`` lists, which may promote, and those of every other source, which only alert.
So verdicts from elsewhere neither move a class nor change the threshold the listed detectors meet.

Two replicas may run ``decide`` at the same moment.  The run first locks the job's ``job_state`` row
(``FOR UPDATE`` on PostgreSQL; SQLite has one writer anyway) and keeps it until its transaction
commits, so the second run waits and then sees the first one's restarted detectors: one alarm gives
one decision.  The outbox key (class, tier, detector start, the alarm's evaluation) makes the events
idempotent as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.job_states import job_state
from driftwatch.db.models import Evaluation
from driftwatch.notify.outbox import emit
from driftwatch.policy import detectors, rules
from driftwatch.policy.detectors import Tracked
from driftwatch.policy.routing import SYSTEM_ACTOR, current_route, move_class, record_decision
from driftwatch.stats.detector import AlarmThreshold, DetectorState, assess, log_statistic
from driftwatch.stats.discovery import flag_degraded

JOB_NAME = "decide"


@dataclass(slots=True)
class DecideResult:
    classes: int = 0
    consumed: int = 0
    degraded: list[str] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.consumed} outcomes into {self.classes} detectors"
        if self.degraded:
            text += f"; degraded: {', '.join(self.degraded)}"
        if self.promoted:
            text += f"; promoted: {', '.join(self.promoted)}"
        return text


def run_decide(
    session: Session, policy: Policy, now: datetime, *, limit: int = detectors.MAX_EVALUATIONS_PER_RUN
) -> DecideResult:
    """The job's unit of work inside the caller's transaction (flushes only; the caller commits)."""
    lock = job_state(session, JOB_NAME)  # first statement: on SQLite it takes the write lock at once
    extra, lock.cursor = detectors.new_classes(session, policy, lock.cursor)
    tracked = detectors.advance(session, policy, now, extra, limit=limit)
    result = DecideResult(classes=len(tracked), consumed=sum(entry.consumed for entry in tracked))
    for feed in detectors.FEEDS:
        _decide_feed(session, policy, [entry for entry in tracked if entry.row.feed == feed], now, result)
    session.flush()
    return result


def _decide_feed(
    session: Session, policy: Policy, tracked: list[Tracked], now: datetime, result: DecideResult
) -> None:
    active = [(entry, entry.state) for entry in tracked if entry.state is not None]
    config = policy.decisions
    flagged = flag_degraded(
        {entry.row.task_class: log_statistic(state) for entry, state in active},
        config.horizon_samples,
        config.alpha,
    )
    threshold = detectors.alarm_threshold(policy, len(active))
    for entry, state in active:
        if entry.row.task_class in flagged:
            if _act(session, policy, entry, state, threshold, now, result):
                detectors.discard_rest(entry)
            detectors.restart(entry, now, alarmed=True)
        elif state.n >= config.horizon_samples:
            detectors.restart(entry, now, alarmed=False)


def _act(
    session: Session,
    policy: Policy,
    entry: Tracked,
    state: DetectorState,
    threshold: AlarmThreshold,
    now: datetime,
    result: DecideResult,
) -> bool:
    """Record the alarm and promote the class when the rules allow; True when it was promoted."""
    row, task_class = entry.row, entry.row.task_class
    assert row.reference_rate is not None and row.reference_source is not None
    signal = rules.Signal(
        task_class=task_class,
        tier=row.tier,
        assessment=assess(state, threshold, flagged=True),
        reference_rate=row.reference_rate,
        reference_source=row.reference_source,
        accepted=entry.accepted,
        window_start=row.started_at,
        alpha=threshold.alpha,
        horizon=threshold.horizon,
        classes=threshold.classes,
        alarm_evaluation=_alarm_evaluation(entry),
        sources=_sources(session, policy, entry),
    )
    route = current_route(session, policy, task_class)
    outcome = rules.decide(
        signal,
        policy.class_config(task_class),
        rules.Route(route.tier, route.pinned, route.cooldown_until),
        policy.tier_above(route.tier),
        now,
    )
    # One detector window raises at most one alarm: its start, feed and the evaluation it ended on name
    # the events of that alarm (two windows can start at one moment: an alarm restarts at the run's clock).
    feed = "" if row.feed == detectors.LISTED else f"/{row.feed}"
    dedupe = f"{row.tier}{feed}@{row.started_at.isoformat()}#{row.last_evaluation_id}"
    degraded = record_decision(
        session,
        task_class=task_class,
        kind="degraded",
        actor=SYSTEM_ACTOR,
        reason=outcome.reason,
        evidence=outcome.evidence,
        now=now,
        from_tier=row.tier,
    )
    payload = {"tier": row.tier, "decision_id": degraded.id, "reason": outcome.reason}
    emit(session, "class.degraded", task_class, {**payload, "evidence": outcome.evidence}, now, dedupe=dedupe)
    result.degraded.append(task_class)
    if outcome.promote_to is None or outcome.promotion_reason is None:
        return False
    promoted = move_class(
        session,
        policy,
        task_class=task_class,
        to_tier=outcome.promote_to,
        kind="promoted",
        actor=SYSTEM_ACTOR,
        reason=outcome.promotion_reason,
        evidence={**outcome.evidence, "degraded_decision_id": degraded.id},
        now=now,
    )
    event = {"from_tier": row.tier, "to_tier": outcome.promote_to, "decision_id": promoted.id}
    emit(session, "class.promoted", task_class, {**event, "reason": promoted.reason}, now, dedupe=dedupe)
    result.promoted.append(task_class)
    return True


def _alarm_evaluation(entry: Tracked) -> dict[str, object] | None:
    """The outcome at which the alarm was raised: the first crossing, or (e-BH flagging several
    classes together below the lone-class threshold) the last outcome taken before the check."""
    if entry.last is None:
        return None  # flagged on outcomes of an earlier run (a threshold that fell as classes left)
    return {
        "id": entry.last.evaluation_id,
        "evaluated_at": entry.last.evaluated_at.isoformat(),
        "first_crossing": entry.crossed,
    }


MAX_SOURCES_NAMED = 20


def _sources(session: Session, policy: Policy, entry: Tracked) -> rules.Sources:
    """The sources behind an alarm: the listed ones for the listed feed; for the other feed, the
    unlisted sources with verdicts on the class and tier (the first ``MAX_SOURCES_NAMED`` by name)."""
    listed = policy.decisions.sources
    if entry.row.feed == detectors.LISTED:
        return rules.Sources(listed=True, names=listed)
    names = session.scalars(
        select(Evaluation.source)
        .where(
            Evaluation.task_class == entry.row.task_class,
            Evaluation.tier == entry.row.tier,
            detectors.in_feed(policy, detectors.OTHER),
        )
        .distinct()
        .order_by(Evaluation.source)
        .limit(MAX_SOURCES_NAMED)
    )
    return rules.Sources(listed=False, names=tuple(names))
