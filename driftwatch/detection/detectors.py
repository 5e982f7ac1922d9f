"""Each task class's drift detector on its current tier: fed from the evaluation table, persisted in
``detector_state`` (one row per class and tier), and read back as a status for the API.

What a detector consumes: every *decided* evaluation (``acceptable`` not null) of its class and tier
from the sources of its feed, in id order.  A class has up to two detectors per tier: the ``listed``
feed reads the sources ``decisions.sources`` names (driftwatch's own shadow evaluations by default),
and only its alarm may promote the class; the ``other`` feed reads every other source (human review,
user feedback, …), on its own reference, and its alarm is an alert only — so verdicts anyone with an
``evaluations`` key can post are tested like the rest but cannot move traffic.  The ``other`` feed's
detector exists once such verdicts arrive for the class.  Evaluations of other tiers (e.g. reverse-direction samples while the class sits higher) wait on their own tier's
row.  Its reference rate is the class's declared ``acceptance_floor`` when there is one; otherwise,
with ``decisions.baseline: confidence_sequence`` (the default), a lower confidence sequence of the
class's outcomes (``stats/sequence.py``): the detector starts after ``min_baseline_samples`` and tests
each outcome against the reference of the outcomes before it, the reference rising (never falling) until
``baseline_samples`` outcomes; with ``window``, the first ``baseline_samples`` outcomes form a baseline
whose one-sided lower 95% bound is the reference (``stats/reference.py``), and the detector starts on
the outcomes *after* the baseline.  Both keep ``baseline_accepted``/``baseline_total`` in the row.

A run consumes at most ``limit`` outcomes per class, and never carries a detector past ``horizon``
samples: the decision job checks the statistic at the horizon and only then restarts it, so a
backlog drains over a few ticks without ever skipping a check the e-BH guarantee relies on.

Within a run, each detector stops at the first outcome whose statistic reaches the alarm threshold
of a lone class (``K * N / alpha``, K the classes of its feed with a reference, as the decision job's e-BH
counts them): that outcome is the alarm's, named in its evidence, and the outcomes after it are
left for the next window.  Checking the same stopping rule after every sample rather than once per
batch changes nothing in the guarantee and raises the alarm up to a batch earlier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import ClassPolicy, Decision, DetectorRow, Evaluation, ModelWatch
from driftwatch.routing.decision_schemas import ClassDetection
from driftwatch.routing.routes import current_route, routes
from driftwatch.stats.detector import (
    AlarmThreshold,
    DetectorState,
    Status,
    assess,
    log_statistic,
    update_until,
)
from driftwatch.stats.reference import baseline_reference
from driftwatch.stats.sequence import SequenceBaseline, SequenceSettings, observe_until

MAX_EVALUATIONS_PER_RUN = 50_000
FLOOR, BASELINE, SEQUENCE = "floor", "baseline", "confidence_sequence"
LISTED, OTHER = "listed", "other"
FEEDS = (LISTED, OTHER)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One decided evaluation as a detector takes it."""

    evaluation_id: int
    acceptable: bool
    evaluated_at: datetime


@dataclass(slots=True)
class Tracked:
    """A class's detector row with its statistic unpacked; ``state`` is None until a reference exists."""

    row: DetectorRow
    state: DetectorState | None
    accepted: int  # accepted outcomes among ``state.n``, for the acceptance rate of the window
    consumed: int = 0
    pending: list[Outcome] = field(default_factory=list)  # fetched, past the baseline, not yet fed
    last: Outcome | None = None  # the last outcome fed this run: where the statistic was checked
    crossed: bool = False  # ``last`` is the first outcome at which the statistic reached the threshold
    fetched_through: int = 0  # id of the last evaluation fetched this run
    sequence: SequenceSettings | None = None  # set when the reference comes from a confidence sequence


def in_feed(policy: Policy, feed: str) -> ColumnElement[bool]:
    """The evaluations a detector of ``feed`` reads, by source."""
    listed = Evaluation.source.in_(policy.decisions.sources)
    return listed if feed == LISTED else ~listed


def pending(session: Session, policy: Policy, after_id: int) -> tuple[list[tuple[str, str]], int]:
    """The (class, feed) detectors a run has work for, in name order, and the newest evaluation id
    (the next run's ``after_id``).  Reads only, so it runs before the job takes any write lock.

    A detector has work when decided evaluations of its feed arrived past ``after_id`` (some classes
    may not be in traffic: external verdicts), when it left outcomes unconsumed on its current tier
    (a backlog held back at the horizon), or when the policy file declares, changes or removed its
    floor, and the policy file's classes.  Every other detector is left alone: a store of 20,000 classes with 3 new outcomes reads
    and writes 3 detectors, not 20,000.
    """
    newest = session.scalar(select(func.max(Evaluation.id))) or 0
    found: set[tuple[str, str]] = set()
    for feed in FEEDS:
        arrived = (
            select(Evaluation.task_class)
            .where(Evaluation.id > after_id, Evaluation.id <= newest, Evaluation.acceptable.is_not(None))
            .where(in_feed(policy, feed))
            .distinct()
        )
        found.update((task_class, feed) for task_class in session.scalars(arrived))
    # The policy file's classes always (a few): their detectors exist from the first run, so a
    # confidence sequence's error is split over them from the start, as it is over classes in traffic.
    found.update((task_class, LISTED) for task_class in policy.classes)
    floors = select(DetectorRow.task_class, DetectorRow.feed).where(DetectorRow.reference_source == FLOOR)
    found.update((task_class, feed) for task_class, feed in session.execute(floors))
    tiers = current_tiers(session, policy)
    for task_class, tier, feed in session.execute(_backlog(policy)):
        if tiers(task_class) == tier:
            found.add((task_class, feed))
    return sorted(found), max(newest, after_id)


def _backlog(policy: Policy) -> Select[str, str, str]:
    """Detectors with decided evaluations of their feed and tier past the last one they consumed:
    one probe of ``ix_evaluation_task_class_tier_id`` per detector."""
    feed_matches = or_(
        and_(DetectorRow.feed == LISTED, in_feed(policy, LISTED)),
        and_(DetectorRow.feed != LISTED, in_feed(policy, OTHER)),
    )
    waiting = (
        select(Evaluation.id)
        .where(
            Evaluation.task_class == DetectorRow.task_class,
            Evaluation.tier == DetectorRow.tier,
            Evaluation.id > DetectorRow.last_evaluation_id,
            Evaluation.acceptable.is_not(None),
            feed_matches,
        )
        .exists()
    )
    return select(DetectorRow.task_class, DetectorRow.tier, DetectorRow.feed).where(waiting)


def current_tiers(session: Session, policy: Policy) -> Callable[[str], str]:
    """Each class's current tier without locking: its routing row, else the policy file's."""
    decided = {name: tier for name, tier in session.execute(select(ClassPolicy.task_class, ClassPolicy.tier))}
    return lambda task_class: decided.get(task_class) or policy.configured_tier(task_class)


def advance(
    session: Session,
    policy: Policy,
    now: datetime,
    work: Iterable[tuple[str, str]],
    log_thresholds: Mapping[str, float],
    *,
    limit: int = MAX_EVALUATIONS_PER_RUN,
) -> list[Tracked]:
    """Feed the detectors of ``work`` (class, feed) on the class's current tier the evaluations that
    arrived since their last run, each stopping at its first crossing of its feed's lone-class alarm
    threshold (``log_thresholds`` by feed; module docstring).  Locks each class's routing row
    (``current_route``) so the tier cannot change under the transaction.  Flushes only."""
    result = []
    for task_class, feed in work:
        tier = current_route(session, policy, task_class).tier
        tracked = _load(session, policy, task_class, tier, feed, now)
        _fetch_and_take_baseline(session, policy, tracked, limit)
        _feed(tracked, log_thresholds[feed])
        result.append(tracked)
    session.flush()
    return result


def alarm_threshold(policy: Policy, active: int) -> AlarmThreshold:
    """The union-bound threshold ``K * N / alpha`` over ``active`` classes (at least one)."""
    return AlarmThreshold(policy.decisions.horizon_samples, policy.decisions.alpha, max(1, active))


def feed_thresholds(session: Session, policy: Policy, work: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Each feed's lone-class log threshold for a run, counted before it advances anything: the
    classes with a reference on their current tier, and every class the run has work for (it may get
    one within the run).  At least the count e-BH uses after the run, so a detector that stops at its
    first crossing is always flagged; a larger count only raises the threshold."""
    tiers = current_tiers(session, policy)
    thresholds = {}
    for feed in FEEDS:
        rows = session.execute(
            select(DetectorRow.task_class, DetectorRow.tier).where(
                DetectorRow.feed == feed, DetectorRow.reference_rate.is_not(None)
            )
        )
        counted = {task_class for task_class, tier in rows if tiers(task_class) == tier}
        counted.update(task_class for task_class, in_work in work if in_work == feed)
        thresholds[feed] = alarm_threshold(policy, len(counted)).log_value
    return thresholds


def set_aside_rest(session: Session, policy: Policy, tracked: Tracked) -> None:
    """After a promotion, count the outcomes of the tier the class left as consumed: they judge a
    tier it is no longer on, and must not count when it comes back."""
    row = tracked.row
    newest = session.scalar(
        select(func.max(Evaluation.id)).where(
            Evaluation.task_class == row.task_class,
            Evaluation.tier == row.tier,
            Evaluation.acceptable.is_not(None),
            in_feed(policy, row.feed),
        )
    )
    row.last_evaluation_id = max(row.last_evaluation_id, newest or 0)


@dataclass(frozen=True, slots=True)
class Reading:
    """A detector with a reference on its class's current tier, as e-BH weighs it."""

    task_class: str
    tier: str
    samples: int
    started_at: datetime
    log_statistic: float


def readings(session: Session, policy: Policy, feed: str) -> list[Reading]:
    """Every detector of ``feed`` with a reference, on its class's current tier: the family e-BH
    tests.  Only states with samples are unpacked (before the first sample the statistic is 0)."""
    tiers = current_tiers(session, policy)
    rows = session.execute(
        select(
            DetectorRow.task_class,
            DetectorRow.tier,
            DetectorRow.samples,
            DetectorRow.started_at,
            DetectorRow.state,
        )
        .where(DetectorRow.feed == feed, DetectorRow.reference_rate.is_not(None))
        .order_by(DetectorRow.task_class)
    )
    found = []
    for task_class, tier, samples, started_at, state in rows:
        if tiers(task_class) != tier:
            continue
        statistic = (
            log_statistic(DetectorState.from_dict(orjson.loads(state))) if samples and state else -math.inf
        )
        found.append(Reading(task_class, tier, samples, started_at, statistic))
    return found


def tracked(session: Session, reading: Reading, feed: str) -> Tracked | None:
    """The detector behind ``reading``, loaded to act on or restart; None if it changed since."""
    row = session.get(DetectorRow, (reading.task_class, reading.tier, feed))
    if row is None or (row.samples, row.started_at) != (reading.samples, reading.started_at):
        return None
    return _unpack(row)


def restart(tracked: Tracked, now: datetime, *, alarmed: bool) -> None:
    """Start a fresh detector on the same reference: after an alarm (the statistic has done its job)
    or at the horizon (the false-alarm bound covers ``horizon`` samples per detector run)."""
    row = tracked.row
    tracked.state = DetectorState(row.reference_rate) if row.reference_rate is not None else None
    tracked.accepted = 0
    row.started_at = now
    row.alarmed_at = now if alarmed else None
    _store(tracked)


def _load(session: Session, policy: Policy, task_class: str, tier: str, feed: str, now: datetime) -> Tracked:
    row = session.get(DetectorRow, (task_class, tier, feed))
    if row is None:
        row = DetectorRow(task_class=task_class, tier=tier, feed=feed, baseline_accepted=0, baseline_total=0)
        row.samples, row.last_evaluation_id, row.started_at = 0, 0, now
        session.add(row)
    tracked = _unpack(row)
    floor = policy.class_config(task_class).acceptance_floor
    if floor is not None and (row.reference_source != FLOOR or row.reference_rate != floor):
        row.reference_rate, row.reference_source = floor, FLOOR  # a floor declared or changed
        restart(tracked, now, alarmed=False)
    elif floor is None and (
        row.reference_source == FLOOR
        or (row.reference_source == SEQUENCE and policy.decisions.baseline == "window")
    ):
        # The floor was removed from the policy (or a sequence gave way to a window): learn a baseline
        # from here on instead.  A finished window stays the reference when a sequence is asked for.
        row.reference_rate, row.reference_source = None, None
        row.baseline_accepted = row.baseline_total = 0
        restart(tracked, now, alarmed=False)
    elif row.started_at < (arrived := _arrived(session, task_class, tier, row.started_at)):
        # The class came back to this tier (a demotion after parity): a fresh statistic, so an
        # old alarm's window cannot carry over.  Outcomes not yet consumed (the reverse-direction
        # samples that showed parity) still count.  Never start before the move, should clocks differ.
        restart(tracked, max(now, arrived), alarmed=False)
    return tracked


def _arrived(session: Session, task_class: str, tier: str, default: datetime) -> datetime:
    moved = session.scalar(
        select(func.max(Decision.created_at)).where(
            Decision.task_class == task_class, Decision.to_tier == tier, Decision.from_tier != tier
        )
    )
    return moved or default


def _fetch_and_take_baseline(session: Session, policy: Policy, tracked: Tracked, limit: int) -> None:
    """Fetch the class's new outcomes, feed the baseline what it still needs, keep the rest pending."""
    row, decisions = tracked.row, policy.decisions
    sequence = _sequence_settings(session, policy, row)
    if sequence is not None:
        baseline_left = 0 if tracked.state else max(0, sequence.min_samples - row.baseline_total)
    else:
        baseline_left = (
            0 if row.reference_rate is not None else decisions.baseline_samples - row.baseline_total
        )
    room = decisions.horizon_samples - (tracked.state.n if tracked.state else 0)
    wanted = min(limit, baseline_left + room)
    if wanted <= 0:
        return
    fetched = [
        Outcome(evaluation_id, bool(acceptable), evaluated_at)
        for evaluation_id, acceptable, evaluated_at in session.execute(
            select(Evaluation.id, Evaluation.acceptable, Evaluation.evaluated_at)
            .where(
                Evaluation.task_class == row.task_class,
                Evaluation.tier == row.tier,
                Evaluation.acceptable.is_not(None),
                Evaluation.id > row.last_evaluation_id,
                in_feed(policy, row.feed),
            )
            .order_by(Evaluation.id)
            .limit(wanted)
        )
    ]
    if not fetched:
        return
    tracked.fetched_through = fetched[-1].evaluation_id
    if sequence is not None:
        # The sequence learns its reference from the outcomes the detector tests, one by one: both
        # happen in _feed, which stops at the first crossing.
        tracked.sequence, tracked.pending = sequence, fetched
        return
    position = 0
    while position < len(fetched) and row.reference_rate is None:
        take = min(decisions.baseline_samples - row.baseline_total, len(fetched) - position)
        row.baseline_total += take
        row.baseline_accepted += sum(outcome.acceptable for outcome in fetched[position : position + take])
        position += take
        if row.baseline_total >= decisions.baseline_samples:
            _settle_baseline(tracked, decisions.baseline_samples)
    tracked.consumed += position
    if position:
        row.last_evaluation_id = fetched[position - 1].evaluation_id
    tracked.pending = fetched[position:]  # empty while a baseline is still being collected
    _store(tracked)


def _feed(tracked: Tracked, log_threshold: float) -> None:
    """Feed the pending outcomes, up to and including the first at which the statistic crosses."""
    if tracked.sequence is not None and tracked.pending:
        _feed_sequence(tracked, log_threshold)
        return
    if tracked.state is None or not tracked.pending:
        return
    pending, tracked.pending = tracked.pending, []
    tracked.state, crossed = update_until(tracked.state, [o.acceptable for o in pending], log_threshold)
    fed = pending if crossed is None else pending[: crossed + 1]
    tracked.accepted += sum(outcome.acceptable for outcome in fed)
    tracked.consumed += len(fed)
    tracked.last, tracked.crossed = fed[-1], crossed is not None
    tracked.row.last_evaluation_id = fed[-1].evaluation_id
    _store(tracked)


def _sequence_settings(session: Session, policy: Policy, row: DetectorRow) -> SequenceSettings | None:
    """The confidence sequence a class without floor learns its reference from, or ``None`` (a floor,
    a finished window, or ``baseline: window``).  Its error is split evenly over the feed's detectors
    that learn one, counted while this one still does (a frozen reference no longer reads it)."""
    decisions = policy.decisions
    if decisions.baseline != SEQUENCE or row.reference_source not in (None, SEQUENCE):
        return None
    if row.reference_rate is not None and _change_watched(session, row):
        # The served model changed and the change is under watch: the reference stays the one learnt
        # before it (the outcomes are tested against it, not taken into it).
        frozen = max(1, row.baseline_total)
        return SequenceSettings(decisions.baseline_delta, min_samples=frozen, max_samples=frozen)
    learning = row.baseline_total < decisions.baseline_samples
    sequences = or_(DetectorRow.reference_source.is_(None), DetectorRow.reference_source == SEQUENCE)
    count = select(func.count()).select_from(DetectorRow).where(DetectorRow.feed == row.feed, sequences)
    detectors = (session.scalar(count) or 1) if learning else 1
    return SequenceSettings(
        delta=decisions.baseline_delta / max(1, detectors),
        min_samples=min(decisions.min_baseline_samples, decisions.baseline_samples),
        max_samples=decisions.baseline_samples,
    )


def _change_watched(session: Session, row: DetectorRow) -> bool:
    watch = session.get(ModelWatch, (row.task_class, row.tier))
    return watch is not None and watch.watch_started_at is not None and watch.watch_ended_at is None


def _feed_sequence(tracked: Tracked, log_threshold: float) -> None:
    """Each pending outcome tested against the reference of the outcomes before it, then taken into
    the sequence, up to and including the first at which the statistic crosses."""
    row, settings = tracked.row, tracked.sequence
    assert settings is not None
    pending, tracked.pending = tracked.pending, []
    baseline = SequenceBaseline(row.baseline_accepted, row.baseline_total, row.reference_rate)
    outcomes = [outcome.acceptable for outcome in pending]
    baseline, tracked.state, tested, crossed = observe_until(
        baseline, tracked.state, outcomes, settings, log_threshold
    )
    fed = pending if crossed is None else pending[: crossed + 1]
    row.baseline_accepted, row.baseline_total = baseline.accepted, baseline.total
    if baseline.reference is not None:
        row.reference_rate, row.reference_source = baseline.reference, SEQUENCE
    tracked.accepted += sum(outcome.acceptable for outcome in fed[len(fed) - tested :])  # the tested ones
    tracked.consumed += len(fed)
    if tested:
        tracked.last, tracked.crossed = fed[-1], crossed is not None
    row.last_evaluation_id = fed[-1].evaluation_id
    _store(tracked)


def _settle_baseline(tracked: Tracked, needed: int) -> None:
    row = tracked.row
    reference = baseline_reference(row.baseline_accepted, row.baseline_total, min_samples=needed)
    if reference.rate is None:
        # Nothing accepted in a whole baseline: there is no rate to fall from.  Collect a new one.
        row.baseline_accepted = row.baseline_total = 0
        return
    row.reference_rate, row.reference_source = reference.rate, BASELINE
    tracked.state, tracked.accepted = DetectorState(reference.rate), 0


def _unpack(row: DetectorRow) -> Tracked:
    if row.reference_rate is None:
        return Tracked(row, None, 0)
    if row.state is None:
        return Tracked(row, DetectorState(row.reference_rate), 0)
    data = orjson.loads(row.state)
    return Tracked(row, DetectorState.from_dict(data), int(data.get("accepted", 0)))


def _store(tracked: Tracked) -> None:
    # The accepted count rides along with the detector's own fields: from_dict ignores extra keys.
    state, row = tracked.state, tracked.row
    row.state = orjson.dumps({**state.to_dict(), "accepted": tracked.accepted}).decode() if state else None
    row.samples = state.n if state else 0


def class_statuses(
    session: Session, policy: Policy, feed: str = LISTED, only: Collection[str] | None = None
) -> list[ClassDetection]:
    """Each class's detector of ``feed`` on its current tier, as the API and dashboard show it (reads
    only); for the ``other`` feed, only the classes that have one; ``only`` narrows it to those classes
    (a page of ``GET /v1/classes``), reading just their rows.

    The alarm threshold counts the classes that have a reference, as the decision job's e-BH does
    (each feed runs its own); a class whose last alarm was left standing (pinned, cooling down, or an
    alert only) reads "degraded" until its fresh detector reaches the horizon.
    """
    query = select(DetectorRow).where(DetectorRow.feed == feed)
    if only is not None:
        query = query.where(DetectorRow.task_class.in_(sorted(only)))
    rows = {(row.task_class, row.tier): row for row in session.scalars(query)}
    tiers = {route.task_class: route.tier for route in routes(session, policy, only)}
    if only is not None:
        tiers = {name: tier for name, tier in tiers.items() if name in only}
    if feed != LISTED:
        watched = {name for name, _ in rows}
        tiers = {name: tier for name, tier in tiers.items() if name in watched}
    for task_class, _ in rows:
        tiers.setdefault(task_class, policy.configured_tier(task_class))
    current = {name: (tier, rows.get((name, tier))) for name, tier in sorted(tiers.items())}
    if only is None:
        active = sum(1 for _, row in current.values() if row is not None and row.reference_rate is not None)
    else:
        active = active_detectors(session, policy, feed)
    decisions = policy.decisions
    threshold = AlarmThreshold(decisions.horizon_samples, decisions.alpha, max(1, active))
    return [_status(policy, name, tier, row, threshold) for name, (tier, row) in current.items()]


def active_detectors(session: Session, policy: Policy, feed: str) -> int:
    """How many classes have a detector of ``feed`` with a reference on their current tier."""
    tiers = current_tiers(session, policy)
    rows = session.execute(
        select(DetectorRow.task_class, DetectorRow.tier).where(
            DetectorRow.feed == feed, DetectorRow.reference_rate.is_not(None)
        )
    )
    return sum(1 for task_class, tier in rows if tiers(task_class) == tier)


def _status(
    policy: Policy, task_class: str, tier: str, row: DetectorRow | None, threshold: AlarmThreshold
) -> ClassDetection:
    floor, decisions = policy.class_config(task_class).acceptance_floor, policy.decisions
    needed = None if floor is not None else decisions.baseline_samples
    if floor is None and decisions.baseline == SEQUENCE:
        needed = min(decisions.min_baseline_samples, decisions.baseline_samples)
    tracked = _unpack(row) if row is not None else None
    if tracked is None or tracked.state is None:
        collected = row.baseline_total if row else 0
        waiting = f"baseline {collected} of {needed}" if needed else "no evaluations yet"
        return ClassDetection(
            task_class=task_class,
            tier=tier,
            status=Status.NOT_ENOUGH_SAMPLES.value,
            message=waiting,
            samples=0,
            e_value=None,
            evidence=None,
            reference_rate=floor,
            reference_source=FLOOR if floor is not None else None,
            baseline_samples=collected,
            baseline_needed=needed,
            window_start=row.started_at if row else None,
            alarmed_at=row.alarmed_at if row else None,
        )
    assert row is not None
    assessment = assess(tracked.state, threshold, flagged=True if row.alarmed_at else None)
    message = assessment.message
    if row.alarmed_at is not None:
        message = f"alarm at {row.alarmed_at.isoformat()}; {assessment.samples} samples since"
    return ClassDetection(
        task_class=task_class,
        tier=tier,
        status=assessment.status.value,
        message=message,
        samples=assessment.samples,
        e_value=assessment.e_value,
        evidence=assessment.evidence,
        reference_rate=row.reference_rate,
        reference_source=row.reference_source,
        baseline_samples=row.baseline_total,
        baseline_needed=needed,
        window_start=row.started_at,
        alarmed_at=row.alarmed_at,
    )
