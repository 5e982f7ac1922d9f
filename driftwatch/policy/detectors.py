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

from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.models import Decision, DetectorRow, Evaluation
from driftwatch.policy.decision_schemas import ClassDetection
from driftwatch.policy.routing import current_route, known_classes, routes
from driftwatch.stats.detector import AlarmThreshold, DetectorState, Status, assess, update_until
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


def new_classes(session: Session, policy: Policy, after_id: int) -> tuple[dict[str, set[str]], int]:
    """Per feed, the classes with decided evaluations past ``after_id`` (some may not be in traffic:
    external verdicts), and the newest evaluation id, so the next run looks only at what is new."""
    newest = session.scalar(select(func.max(Evaluation.id))) or 0
    found: dict[str, set[str]] = {}
    for feed in FEEDS:
        found[feed] = set(
            session.scalars(
                select(Evaluation.task_class)
                .where(Evaluation.id > after_id, Evaluation.id <= newest, Evaluation.acceptable.is_not(None))
                .where(in_feed(policy, feed))
                .distinct()
            )
        )
    return found, max(newest, after_id)


def advance(
    session: Session,
    policy: Policy,
    now: datetime,
    extra: dict[str, set[str]],
    *,
    limit: int = MAX_EVALUATIONS_PER_RUN,
) -> list[Tracked]:
    """Feed each class's detectors on its current tier the evaluations that arrived since their last
    run, each stopping at its first crossing of the lone-class alarm threshold of its feed (module
    docstring).

    Every known class has a ``listed`` detector; a class has an ``other`` one once verdicts of other
    sources arrived.  Locks each class's routing row (``current_route``) so the tier cannot change
    under the decision the caller is about to take.  Flushes only.
    """
    known = set(known_classes(session, policy))
    result = []
    for feed in FEEDS:
        tracked_classes = set(session.scalars(select(DetectorRow.task_class).where(DetectorRow.feed == feed)))
        always = known if feed == LISTED else set()
        in_feed_now = []
        for task_class in sorted(always | tracked_classes | extra.get(feed, set())):
            tier = current_route(session, policy, task_class).tier
            tracked = _load(session, policy, task_class, tier, feed, now)
            _fetch_and_take_baseline(session, policy, tracked, limit)
            in_feed_now.append(tracked)
        # Each feed is its own e-BH family: the threshold counts the feed's classes with a reference
        # once the baselines settled, as the decision job's e-BH will.
        # A class learning its reference from a sequence counts too (it may get one within the batch):
        # a larger K only raises the threshold.
        active = sum(1 for entry in in_feed_now if entry.state is not None or entry.sequence is not None)
        threshold = alarm_threshold(policy, active)
        for tracked in in_feed_now:
            _feed(tracked, threshold.log_value)
        result += in_feed_now
    session.flush()
    return result


def alarm_threshold(policy: Policy, active: int) -> AlarmThreshold:
    """The union-bound threshold ``K * N / alpha`` over ``active`` classes (at least one)."""
    return AlarmThreshold(policy.decisions.horizon_samples, policy.decisions.alpha, max(1, active))


def discard_rest(tracked: Tracked) -> None:
    """Count the outcomes fetched after an alarm's as consumed: the class left the tier they judge."""
    tracked.row.last_evaluation_id = max(tracked.row.last_evaluation_id, tracked.fetched_through)


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
    learning = row.baseline_total < decisions.baseline_samples
    sequences = or_(DetectorRow.reference_source.is_(None), DetectorRow.reference_source == SEQUENCE)
    count = select(func.count()).select_from(DetectorRow).where(DetectorRow.feed == row.feed, sequences)
    detectors = (session.scalar(count) or 1) if learning else 1
    return SequenceSettings(
        delta=decisions.baseline_delta / max(1, detectors),
        min_samples=min(decisions.min_baseline_samples, decisions.baseline_samples),
        max_samples=decisions.baseline_samples,
    )


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


def class_statuses(session: Session, policy: Policy, feed: str = LISTED) -> list[ClassDetection]:
    """Each class's detector of ``feed`` on its current tier, as the API and dashboard show it (reads
    only); for the ``other`` feed, only the classes that have one.

    The alarm threshold counts the classes that have a reference, as the decision job's e-BH does
    (each feed runs its own); a class whose last alarm was left standing (pinned, cooling down, or an
    alert only) reads "degraded" until its fresh detector reaches the horizon.
    """
    rows = {
        (row.task_class, row.tier): row
        for row in session.scalars(select(DetectorRow).where(DetectorRow.feed == feed))
    }
    tiers = {route.task_class: route.tier for route in routes(session, policy)}
    if feed != LISTED:
        watched = {name for name, _ in rows}
        tiers = {name: tier for name, tier in tiers.items() if name in watched}
    for task_class, _ in rows:
        tiers.setdefault(task_class, policy.configured_tier(task_class))
    current = {name: (tier, rows.get((name, tier))) for name, tier in sorted(tiers.items())}
    active = sum(1 for _, row in current.values() if row is not None and row.reference_rate is not None)
    threshold = alarm_threshold(policy, active)
    return [_status(policy, name, tier, row, threshold) for name, (tier, row) in current.items()]


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
