"""The ``sample`` job: turn new calls into ``shadow_sample`` rows by the rule in :mod:`rules`.

It walks ``call`` by id from a cursor kept in ``job_state``.  On PostgreSQL several writer
transactions commit concurrently, so a lower id can become visible after a higher one has been
passed; each run therefore also looks back over the last ``lookback_ids`` ids for qualifying calls
that have no sample yet.  On SQLite ids commit in order and no look-back is needed.  Inserts ignore
conflicts, so overlapping runs on two replicas create each sample once.
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
from driftwatch.db.models import Call, SampleStatus, ShadowSample
from driftwatch.sampling.rules import SamplingCandidate, reference_tier_for

SAMPLE_JOB = "sample"


@dataclass(frozen=True, slots=True)
class SamplingResult:
    scanned: int
    sampled: int
    cursor: int

    def summary(self) -> str:
        return f"scanned {self.scanned} calls, sampled {self.sampled}, cursor at call {self.cursor}"


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
                    Call.tier.in_(policy.sampled_tiers),
                    ~already_sampled,
                )
            )
        ).all()
    samples = []
    not_before = now + timedelta(seconds=policy.shadow.grace_seconds)
    for call_id, trace_id, task_class, tier, source, status in [*late, *fresh]:
        reference_tier = reference_tier_for(
            SamplingCandidate(trace_id, task_class, tier, source, status), policy
        )
        if reference_tier is None or tier is None:
            continue
        samples.append(
            {
                "call_id": call_id,
                "task_class": task_class,
                "tier": tier,
                "reference_tier": reference_tier,
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
    return SamplingResult(scanned=len(fresh) + len(late), sampled=len(samples), cursor=state.cursor)
