"""The ``sample`` job: turn new calls into ``shadow_sample`` rows by the rule in :mod:`rules`.

It walks ``call`` by id from a cursor kept in ``job_state``.  On PostgreSQL several writer
transactions commit concurrently, so a lower id can become visible after a higher one has been
passed; each run therefore also looks back over the last ``lookback_ids`` ids for qualifying calls
that have no sample yet.  On SQLite ids commit in order and no look-back is needed.  Inserts ignore
conflicts, so overlapping runs on two replicas create each sample once.

The same pass draws the reverse samples (see :func:`rules.reverse_tier_for`): calls on their class's
current tier, above the cheapest, replayed one tier down to look for parity.  A reverse draw whose
cheaper tier has no provider is counted and reported, not queued: it could never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from driftwatch.config import Policy
from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.job_states import job_state
from driftwatch.db.models import Call, ClassPolicy, SampleStatus, ShadowSample
from driftwatch.sampling.rules import (
    SampleDirection,
    SamplingCandidate,
    reference_tier_for,
    reverse_tier_for,
)

SAMPLE_JOB = "sample"


@dataclass(frozen=True, slots=True)
class SamplingResult:
    scanned: int
    sampled: int
    cursor: int
    reverse_sampled: int = 0
    reverse_no_provider: int = 0

    def then(self, later: SamplingResult) -> SamplingResult:
        """This run's counts and ``later``'s added up, at ``later``'s cursor."""
        return SamplingResult(
            scanned=self.scanned + later.scanned,
            sampled=self.sampled + later.sampled,
            cursor=later.cursor,
            reverse_sampled=self.reverse_sampled + later.reverse_sampled,
            reverse_no_provider=self.reverse_no_provider + later.reverse_no_provider,
        )

    def summary(self) -> str:
        text = f"scanned {self.scanned} calls, sampled {self.sampled}, cursor at call {self.cursor}"
        text += f"; reverse: sampled {self.reverse_sampled}"
        if self.reverse_no_provider:
            text += f", {self.reverse_no_provider} skipped (no provider for the cheaper tier)"
        return text


_CANDIDATE_COLUMNS = (Call.id, Call.trace_id, Call.task_class, Call.tier, Call.source, Call.status)


def run_sampling(
    session: Session, policy: Policy, now: datetime, *, batch_size: int = 10_000, lookback_ids: int = 0
) -> SamplingResult:
    """One unit of work: sample up to ``batch_size`` new calls (plus the look-back window)."""
    state = job_state(session, SAMPLE_JOB)
    start = state.cursor
    fresh = session.execute(
        select(*_CANDIDATE_COLUMNS).where(Call.id > start).order_by(Call.id).limit(batch_size)
    ).all()
    late: Sequence[Row[int, str, str, str | None, str, str]] = ()
    if lookback_ids > 0 and start > 0:
        already_sampled = exists().where(ShadowSample.call_id == Call.id)
        late = session.execute(
            select(*_CANDIDATE_COLUMNS).where(
                and_(
                    Call.id > max(0, start - lookback_ids),
                    Call.id <= start,
                    Call.tier.in_(sorted({*policy.sampled_tiers, *policy.tiers[1:]})),
                    ~already_sampled,
                )
            )
        ).all()
    rows = [*late, *fresh]
    current = _current_tiers(session, policy, {row.task_class for row in rows})
    samples = []
    reverse_sampled = no_provider = 0
    not_before = now + timedelta(seconds=policy.shadow.grace_seconds)
    for call_id, trace_id, task_class, tier, source, status in rows:
        candidate = SamplingCandidate(trace_id, task_class, tier, source, status)
        forward = reference_tier_for(candidate, policy)
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
    )


def _current_tiers(session: Session, policy: Policy, classes: set[str]) -> dict[str, str]:
    """Each class's current tier, as :func:`driftwatch.policy.routing.current_route` decides it, read
    without locking the routing rows (sampling must never hold up a tier change)."""
    rows = session.execute(
        select(ClassPolicy.task_class, ClassPolicy.tier).where(ClassPolicy.task_class.in_(classes))
    )
    decided = {task_class: tier for task_class, tier in rows}
    return {
        task_class: decided.get(task_class) or policy.configured_tier(task_class) for task_class in classes
    }
