"""One run of the ``decide`` job: advance the detectors that have new outcomes, flag degraded classes
with e-BH, and act on them — audit row, event, and (when the rules allow) a promotion.

The run works in short transactions, so ingest keeps committing on SQLite's one write lock however
many classes the store holds: first a read of which detectors have work (``detectors.pending``),
then those detectors advanced ``CHUNK_CLASSES`` classes per transaction, then per feed one
transaction that reads every detector's statistic (not its row), flags with e-BH, and acts on the
flagged ones.  Advancing is idempotent (each detector remembers the last evaluation it consumed), so
a run stopped between chunks (``serve`` shutting down) loses nothing.

Each feed (``detectors.FEEDS``) is its own e-BH family: the detectors of the sources
``decisions.sources`` lists, which may promote, and those of every other source, which only alert.
So verdicts from elsewhere neither move a class nor change the threshold the listed detectors meet.

Two replicas may run ``decide`` at the same moment.  Every transaction of a run first locks the
job's ``job_state`` row (``FOR UPDATE`` on PostgreSQL; SQLite has one writer anyway) and keeps it
until it commits, so the other run's flagging transaction waits and then sees the first one's
restarted detectors: one alarm gives one decision.  The outbox key (class, tier, detector start, the
alarm's evaluation) makes the events idempotent as well.

Each detector stops at the first outcome whose statistic reaches its feed's lone-class threshold,
counted before the run advances anything (``detectors.feed_thresholds``); that outcome is the
alarm's, named in its evidence, and the outcomes after it wait for the next window (or are set aside
when the class is promoted off the tier).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import job_state, job_state_cursor
from driftwatch.db.models import Evaluation
from driftwatch.detection import detectors
from driftwatch.detection.detectors import Tracked
from driftwatch.events.outbox import emit
from driftwatch.policy import rules
from driftwatch.policy.summary_names import named
from driftwatch.routing.routes import SYSTEM_ACTOR, current_route, move_class, record_decision
from driftwatch.stats.detector import AlarmThreshold, DetectorState, assess
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
        return text + named("degraded", self.degraded) + named("promoted", self.promoted)


# Detectors advanced per transaction: at most this many, for at most about this long.  50 classes
# hold SQLite's write lock about 0.2 s on a quiet machine, and 2-8 s on one whose two cores run ten
# times more work than they have: the time bound keeps ingest committing there too.
CHUNK_CLASSES, CHUNK_SECONDS = 50, 0.2


def run_decide(
    engine: Engine,
    policy: Policy,
    now: datetime,
    *,
    stopping: Callable[[], bool] = lambda: False,
    chunk: int = CHUNK_CLASSES,
    chunk_seconds: float = CHUNK_SECONDS,
    limit: int = detectors.MAX_EVALUATIONS_PER_RUN,
) -> DecideResult:
    """The job in short transactions (module doc): find the detectors with work (reads only), advance
    them ``chunk`` classes per transaction (fewer once one has run ``chunk_seconds``), then one
    transaction per feed to flag and act.

    ``stopping`` is asked between transactions; a run stopped early keeps what it committed and
    leaves its cursor, so the next run picks up the rest."""
    sessions = session_factory(engine)
    with sessions() as session:
        work, newest = detectors.pending(session, policy, job_state_cursor(session, JOB_NAME))
        thresholds = detectors.feed_thresholds(session, policy, work)
    result = DecideResult()
    position = 0
    while position < len(work):
        if stopping():
            return result
        tracked: list[Tracked] = []
        with sessions.begin() as session:
            job_state(session, JOB_NAME)  # first statement: on SQLite it takes the write lock at once
            deadline = time.monotonic() + chunk_seconds
            while (
                position < len(work) and len(tracked) < chunk and (not tracked or time.monotonic() < deadline)
            ):
                tracked += detectors.advance(session, policy, now, [work[position]], thresholds, limit=limit)
                position += 1
        result.classes += len(tracked)
        result.consumed += sum(entry.consumed for entry in tracked)
    for feed in detectors.FEEDS:
        with sessions() as session:  # every detector's statistic, read without the write lock
            readings = detectors.readings(session, policy, feed)
        with sessions.begin() as session:
            lock = job_state(session, JOB_NAME)
            _decide_feed(session, policy, feed, readings, thresholds[feed], now, result)
            lock.cursor = max(lock.cursor, newest)
    return result


def _decide_feed(
    session: Session,
    policy: Policy,
    feed: str,
    readings: list[detectors.Reading],
    lone_log_threshold: float,
    now: datetime,
    result: DecideResult,
) -> None:
    """e-BH over every detector of ``feed`` with a reference (``readings``: their statistics only),
    then load just the flagged ones to act on and those at the horizon to restart.  A detector that
    changed since it was read (another replica's run restarted it) is left to that run."""
    config = policy.decisions
    flagged = flag_degraded(
        {reading.task_class: reading.log_statistic for reading in readings},
        config.horizon_samples,
        config.alpha,
    )
    threshold = AlarmThreshold(config.horizon_samples, config.alpha, max(1, len(readings)))
    for reading in readings:
        alarmed = reading.task_class in flagged
        if not alarmed and reading.samples < config.horizon_samples:
            continue
        entry = detectors.tracked(session, reading, feed)
        if entry is None:
            continue
        if alarmed:
            assert entry.state is not None
            # The detector stopped at the crossing when it advanced: its last outcome is the alarm's.
            entry.last = _last_outcome(session, entry.row.last_evaluation_id)
            entry.crossed = reading.log_statistic >= lone_log_threshold
            if _act(session, policy, entry, entry.state, threshold, now, result):
                detectors.set_aside_rest(session, policy, entry)
        detectors.restart(entry, now, alarmed=alarmed)
    session.flush()


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
    if route.tier != row.tier:  # moved (pinned) since the statistics were read: the alarm is moot
        return False
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


def _last_outcome(session: Session, evaluation_id: int) -> detectors.Outcome | None:
    found = session.execute(
        select(Evaluation.acceptable, Evaluation.evaluated_at).where(Evaluation.id == evaluation_id)
    ).first()
    if found is None or found[0] is None:
        return None
    return detectors.Outcome(evaluation_id, bool(found[0]), found[1])


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
