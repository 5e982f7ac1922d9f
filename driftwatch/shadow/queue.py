"""The ``shadow_sample`` table as a work queue: claim with a lease, then move each row to its end.

Claiming is a conditional UPDATE … RETURNING, so of two workers racing for one row exactly one gets
it, on SQLite and PostgreSQL alike; on PostgreSQL the candidate SELECT also uses
``FOR UPDATE SKIP LOCKED`` so replicas skip each other's rows instead of queueing behind them.
Every transition is conditional on ``claimed_by``: a worker whose lease expired and was taken over
cannot overwrite the new owner's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from driftwatch.db.models import Call, SampleStatus, ShadowSample
from driftwatch.sampling.rules import SampleDirection
from driftwatch.shadow import budget
from driftwatch.shadow.judges.base import JudgeCase
from driftwatch.shadow.providers.base import Message


@dataclass(frozen=True, slots=True)
class ClaimedSample:
    sample_id: int
    call_id: int
    task_class: str
    tier: str
    reference_tier: str
    attempts: int
    trace_id: str
    span_id: str
    model: str | None
    prompt: str | None
    completion: str | None
    input_tokens: int | None
    output_tokens: int | None
    call_cost_usd: float | None
    direction: str = SampleDirection.FORWARD
    call_day: str | None = None  # UTC day of the call: where its evaluation's cost is booked for savings

    @property
    def reverse(self) -> bool:
        return self.direction == SampleDirection.REVERSE

    def judge_case(self, messages: tuple[Message, ...], replayed: str) -> JudgeCase:
        """Forward: the call's answer (candidate) against the replay on a higher tier (reference).
        Reverse: the replay on the cheaper tier (candidate) against the call's own answer (reference)."""
        answered = self.completion or ""
        if self.reverse:
            return JudgeCase(self.task_class, messages, replayed, answered)
        return JudgeCase(self.task_class, messages, answered, replayed)

    def evaluated_as(self, replay_model: str) -> dict[str, str | None]:
        """The evaluation row's tier and model (the candidate's) and its reference tier and model.

        A reverse evaluation is about the cheaper tier, so its ``tier`` is that tier: the detectors,
        which read evaluations of a class's current tier, never mistake it for evidence on the call's.
        """
        call, replay = (self.tier, self.model), (self.reference_tier, replay_model)
        (tier, model), (reference_tier, reference_model) = (replay, call) if self.reverse else (call, replay)
        return {
            "tier": tier,
            "model": model,
            "reference_tier": reference_tier,
            "reference_model": reference_model,
        }


def _claimable(now: datetime) -> object:
    pending = and_(ShadowSample.status == SampleStatus.PENDING, ShadowSample.not_before <= now)
    abandoned = and_(ShadowSample.status == SampleStatus.RUNNING, ShadowSample.lease_until < now)
    return or_(pending, abandoned)


def claim(
    session: Session,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    task_class: str | None = None,
) -> list[ClaimedSample]:
    """Claim up to ``limit`` due samples, oldest first. A sample whose worker died is claimed again
    and that worker's budget reservation released."""
    candidates = (
        select(ShadowSample.id)
        .where(_claimable(now))  # type: ignore[arg-type]
        .order_by(ShadowSample.not_before, ShadowSample.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if task_class is not None:
        candidates = candidates.where(ShadowSample.task_class == task_class)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    abandoned = session.execute(
        select(
            ShadowSample.id, ShadowSample.task_class, ShadowSample.reserved_day, ShadowSample.reserved_usd
        ).where(ShadowSample.id.in_(ids), ShadowSample.status == SampleStatus.RUNNING)
    ).all()
    claimed_ids = list(
        session.scalars(
            update(ShadowSample)
            .where(ShadowSample.id.in_(ids), _claimable(now))  # type: ignore[arg-type]
            .values(
                status=SampleStatus.RUNNING,
                claimed_by=worker,
                lease_until=now + lease,
                attempts=ShadowSample.attempts + 1,
                reserved_usd=0.0,
                reserved_day=None,
                updated_at=now,
            )
            .returning(ShadowSample.id)
        )
    )
    for sample_id, task, day, amount in abandoned:
        if sample_id in claimed_ids:  # another worker may have won the row between the two statements
            budget.release(session, task, day, amount)
    rows = session.execute(
        select(ShadowSample, Call)
        .join(Call, Call.id == ShadowSample.call_id)
        .where(ShadowSample.id.in_(claimed_ids))
        .order_by(ShadowSample.not_before, ShadowSample.id)
    ).all()
    return [
        ClaimedSample(
            sample_id=sample.id,
            call_id=call.id,
            task_class=sample.task_class,
            tier=sample.tier,
            reference_tier=sample.reference_tier,
            attempts=sample.attempts,
            trace_id=call.trace_id,
            span_id=call.span_id,
            model=call.model,
            prompt=call.prompt,
            completion=call.completion,
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            call_cost_usd=call.cost_usd,
            direction=sample.direction,
            call_day=budget.budget_day(call.start_time),
        )
        for sample, call in rows
    ]


def _owned(sample_id: int, worker: str) -> object:
    return and_(
        ShadowSample.id == sample_id,
        ShadowSample.status == SampleStatus.RUNNING,
        ShadowSample.claimed_by == worker,
    )


# The transitions every evaluation makes, built once with bound parameters (see ``budget``).
_OWNED_BY_WORKER = and_(
    ShadowSample.id == bindparam("sample_id"),
    ShadowSample.status == SampleStatus.RUNNING,
    ShadowSample.claimed_by == bindparam("worker"),
)
_START = (
    update(ShadowSample)
    .where(_OWNED_BY_WORKER)
    .values(
        status=SampleStatus.RUNNING,
        updated_at=bindparam("now"),
        last_error=None,
        reserved_day=bindparam("day"),
        reserved_usd=bindparam("amount", type_=Float),
    )
)


def start(
    session: Session, reservations: Sequence[tuple[int, str, float]], worker: str, now: datetime
) -> set[int]:
    """Record each ``(sample id, day, amount)`` budget reservation on its sample if this worker still
    owns it; returns the ids it was recorded on.  All in one batch (a pipeline on PostgreSQL); only
    when a lease was lost meanwhile, which the batch's row count shows, one by one to find it."""
    if not reservations:
        return set()
    rows: dict[int, dict[str, object]] = {
        sample_id: {"sample_id": sample_id, "worker": worker, "now": now, "day": day, "amount": amount}
        for sample_id, day, amount in sorted(reservations)
    }
    connection = session.connection()
    if connection.execute(_START, list(rows.values())).rowcount == len(rows):
        return set(rows)
    # Recording a reservation again writes the same values: the owned rows stay as they are.
    return {sample_id for sample_id, row in rows.items() if connection.execute(_START, row).rowcount}


_DONE_MANY = (
    update(ShadowSample)
    .where(
        ShadowSample.id.in_(bindparam("sample_ids", expanding=True)),
        ShadowSample.status == SampleStatus.RUNNING,
        ShadowSample.claimed_by == bindparam("worker"),
    )
    .values(status=SampleStatus.DONE, updated_at=bindparam("now"), last_error=None, lease_until=None)
    .returning(ShadowSample.id)
)


def done(session: Session, sample_ids: Sequence[int], worker: str, now: datetime) -> set[int]:
    """Mark the samples this worker still owns evaluated, in one statement; returns their ids (the
    others' leases were taken over)."""
    if not sample_ids:
        return set()
    owner = {"sample_ids": sorted(sample_ids), "worker": worker, "now": now}
    return set(session.connection().execute(_DONE_MANY, owner).scalars())


def transition(
    session: Session,
    sample_id: int,
    worker: str,
    now: datetime,
    status: SampleStatus,
    *,
    error: str | None = None,
    not_before: datetime | None = None,
    reserved: tuple[str, float] | None = None,
    refund_attempt: bool = False,
) -> bool:
    """Move an owned sample on; False when this worker no longer owns it (its lease was taken).
    ``refund_attempt`` gives back the attempt its claim counted (it was put back, not tried)."""
    values: dict[str, object] = {"status": status, "updated_at": now, "last_error": error}
    if refund_attempt:
        values["attempts"] = ShadowSample.attempts - 1
    if status is not SampleStatus.RUNNING:
        values |= {"lease_until": None}
    if not_before is not None:
        values["not_before"] = not_before
    if reserved is not None:
        values |= {"reserved_day": reserved[0], "reserved_usd": reserved[1]}
    moved = session.execute(
        update(ShadowSample).where(_owned(sample_id, worker)).values(values)  # type: ignore[arg-type]
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def reservation_of(session: Session, sample_id: int) -> tuple[str | None, float]:
    day, amount = session.execute(
        select(ShadowSample.reserved_day, ShadowSample.reserved_usd).where(ShadowSample.id == sample_id)
    ).one()
    return day, amount
