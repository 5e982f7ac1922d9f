"""The ``sample`` job: turn new calls into ``shadow_sample`` rows by the rule in :mod:`rules`.

It walks ``call`` by id from a cursor kept in ``job_state``, a batch per transaction; one run of the
job (:func:`sample_backlog`) takes batches until it has caught up or its time budget is spent, so a
backlog is worked off in one run, not one batch per tick.  On PostgreSQL several writer transactions
commit concurrently, so a lower id can become visible after a higher one has been passed; the first
batch of a run therefore also looks back for qualifying calls behind the cursor that have no sample
yet.  It looks back over the ids passed in the last :data:`SETTLE_SECONDS` at most (a watermark in
``job_state`` marks the ids passed before that, which are settled), and never over more than
``lookback_ids``: a store whose traffic is steady looks back over a few seconds of ids, not a fixed
window per run.  On SQLite ids commit in order and no look-back is needed.  Inserts ignore
conflicts, so overlapping runs on two replicas create each sample once.

A class without a reference is sampled at the rate the ``coverage`` job raised it to (coverage first,
``class_coverage.coverage_rate``) until it has one.

The same pass draws the reverse samples (see :func:`rules.reverse_tier_for`): calls on their class's
current tier, above the cheapest, replayed one tier down to look for parity.  A reverse draw whose
cheaper tier has no provider is counted and reported, not queued: it could never run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.engine import session_factory
from driftwatch.db.job_states import job_state
from driftwatch.db.models import Call, ClassCoverage, SampleStatus, ShadowSample
from driftwatch.sampling.allocation_view import allocated_rates
from driftwatch.sampling.boost import boosts
from driftwatch.sampling.rules import (
    SampleDirection,
    SamplingCandidate,
    effective_rate,
    reference_tier_for,
    reverse_tier_for,
)
from driftwatch.sampling.tiers import current_tiers

SAMPLE_JOB = "sample"
# Two more cursors in ``job_state``: ids at or below SETTLED's are never looked back at again;
# CHECKPOINT holds the cursor of a past run and when it ran, to become SETTLED's SETTLE_SECONDS later.
SETTLED = "sample.settled"
CHECKPOINT = "sample.checkpoint"
SETTLE_SECONDS = 60.0
"""A writer transaction commits within seconds of taking its ids; a call id the cursor passed this
long ago that is still not visible is not looked back for again (it was rolled back, or its batch
took its duplicate ids)."""


@dataclass(frozen=True, slots=True)
class SamplingResult:
    scanned: int
    sampled: int
    cursor: int
    reverse_sampled: int = 0
    reverse_no_provider: int = 0
    looked_back_from: int | None = None  # the look-back covered ids above this one (None: none)
    batches: int = 1
    caught_up: bool = True

    def summary(self) -> str:
        text = f"scanned {self.scanned} calls, sampled {self.sampled}, cursor at call {self.cursor}"
        text += f"; reverse: sampled {self.reverse_sampled}"
        if self.reverse_no_provider:
            text += f", {self.reverse_no_provider} skipped (no provider for the cheaper tier)"
        if self.batches > 1 or not self.caught_up:
            text += f"; {self.batches} batches" + (
                "" if self.caught_up else ", backlog left for the next run"
            )
        return text

    def then(self, later: SamplingResult) -> SamplingResult:
        """This batch's result followed by a later batch's, as one run's."""
        return SamplingResult(
            scanned=self.scanned + later.scanned,
            sampled=self.sampled + later.sampled,
            cursor=later.cursor,
            reverse_sampled=self.reverse_sampled + later.reverse_sampled,
            reverse_no_provider=self.reverse_no_provider + later.reverse_no_provider,
            looked_back_from=self.looked_back_from,
            batches=self.batches + later.batches,
            caught_up=later.caught_up,
        )


_CANDIDATE_COLUMNS = (Call.id, Call.trace_id, Call.task_class, Call.tier, Call.source, Call.status)


def run_sampling(
    session: Session, policy: Policy, now: datetime, *, batch_size: int = 10_000, lookback_ids: int = 0
) -> SamplingResult:
    """One unit of work: sample up to ``batch_size`` new calls (plus the unsettled ids behind the
    cursor, at most ``lookback_ids`` of them, when ``lookback_ids`` is not 0)."""
    state = job_state(session, SAMPLE_JOB)
    start = state.cursor
    fresh = session.execute(
        select(*_CANDIDATE_COLUMNS).where(Call.id > start).order_by(Call.id).limit(batch_size)
    ).all()
    late: Sequence[Row[int, str, str, str | None, str, str]] = ()
    looked_back_from = None
    if lookback_ids > 0 and start > 0:
        looked_back_from = _settle(session, start, now, lookback_ids)
        already_sampled = exists().where(ShadowSample.call_id == Call.id)
        late = session.execute(
            select(*_CANDIDATE_COLUMNS).where(
                and_(
                    Call.id > looked_back_from,
                    Call.id <= start,
                    Call.tier.in_(sorted({*policy.sampled_tiers, *policy.tiers[1:]})),
                    ~already_sampled,
                )
            )
        ).all()
    rows = [*late, *fresh]
    classes = {row.task_class for row in rows}
    current = current_tiers(session, policy, classes)
    allocated = allocated_rates(session) if policy.shadow.any_auto and rows else {}
    base_rates = {task_class: effective_rate(policy, task_class, allocated) for task_class in classes}
    boosted = boosts(session, classes, base_rates)
    raised = raised_rates(session, classes) if rows else {}
    samples = []
    reverse_sampled = no_provider = 0
    not_before = now + timedelta(seconds=policy.shadow.grace_seconds)
    for call_id, trace_id, task_class, tier, source, status in rows:
        candidate = SamplingCandidate(trace_id, task_class, tier, source, status)
        boost = boosted.get((task_class, tier)) if tier is not None else None
        rate = base_rates[task_class] if boost is None else boost.rate_for(call_id, base_rates[task_class])
        # Coverage first: a class without a reference is sampled at least at its raised rate.
        forward = reference_tier_for(candidate, policy, max(rate, raised.get(task_class, 0.0)))
        if boost is not None and forward is not None:
            boost.left -= 1
        reverse = reverse_tier_for(candidate, current[task_class], policy)
        if reverse is not None and reverse not in policy.providers:
            no_provider += 1
            reverse = None
        reverse_sampled += reverse is not None
        for direction, reference_tier in (
            (SampleDirection.FORWARD, forward),
            (SampleDirection.REVERSE, reverse),
        ):
            if reference_tier is None or tier is None:
                continue
            samples.append(
                {
                    "call_id": call_id,
                    "task_class": task_class,
                    "tier": tier,
                    "reference_tier": reference_tier,
                    "direction": direction,
                    "status": SampleStatus.PENDING,
                    "attempts": 0,
                    "not_before": not_before,
                    "reserved_usd": 0.0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if samples:
        session.execute(insert_ignoring_conflicts(session, ShadowSample), samples)
    if fresh:
        state.cursor = fresh[-1].id
    return SamplingResult(
        scanned=len(rows),
        sampled=len(samples) - reverse_sampled,
        cursor=state.cursor,
        reverse_sampled=reverse_sampled,
        reverse_no_provider=no_provider,
        looked_back_from=looked_back_from,
        caught_up=len(fresh) < batch_size,
    )


def _settle(session: Session, start: int, now: datetime, lookback_ids: int) -> int:
    """The id above which to look back from ``start``; moves the watermark on (see SETTLE_SECONDS)."""
    settled, checkpoint = job_state(session, SETTLED), job_state(session, CHECKPOINT)
    low = max(0, start - lookback_ids, settled.cursor)
    passed_at = checkpoint.last_started_at
    if passed_at is None or (now - passed_at).total_seconds() >= SETTLE_SECONDS:
        # Ids up to the checkpoint were passed SETTLE_SECONDS ago and every run since looked back
        # at them (this one included): settled from the next run on.
        settled.cursor = max(settled.cursor, checkpoint.cursor)
        checkpoint.cursor, checkpoint.last_started_at = start, now
    return low


def sample_backlog(
    engine: Engine,
    policy: Policy,
    clock: Callable[[], datetime],
    *,
    batch_size: int,
    lookback_ids: int,
    time_budget_seconds: float,
) -> SamplingResult:
    """The ``sample`` job: batches of ``batch_size``, each in its own transaction, until the cursor
    has caught up with the calls or ``time_budget_seconds`` are spent (then the next run goes on).
    With ``rate: auto`` the job renews the allocation first when it is due (``policy/allocation.py``).
    Only the first batch looks back: later ones start where this run's own batches left off."""
    began = time.monotonic()
    sessions = session_factory(engine)
    with sessions.begin() as session:
        result = run_sampling(session, policy, clock(), batch_size=batch_size, lookback_ids=lookback_ids)
    while not result.caught_up and time.monotonic() - began < time_budget_seconds:
        with sessions.begin() as session:
            result = result.then(run_sampling(session, policy, clock(), batch_size=batch_size))
    return result


RAISED_BY_NAME = 500
"""Up to this many classes in a batch, their raised rates are read by name; beyond, all of them
(an IN list of every name could pass SQLite's limit on parameters)."""


def raised_rates(session: Session, classes: set[str]) -> dict[str, float]:
    """The coverage-first rates in force for ``classes`` (those without a reference that the
    ``coverage`` job raised); the others are absent."""
    query = select(ClassCoverage.task_class, ClassCoverage.coverage_rate).where(
        ClassCoverage.coverage_rate.is_not(None)
    )
    if len(classes) <= RAISED_BY_NAME:
        query = query.where(ClassCoverage.task_class.in_(sorted(classes)))
    return {task_class: float(rate) for task_class, rate in session.execute(query) if rate is not None}
