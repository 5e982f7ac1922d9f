"""A ``shadow_sample``: one sampled call waiting for, running or done with its shadow evaluation.

The table is the work queue of the evaluation runner.  A worker claims rows by setting ``status`` to
``running`` with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never claim the same
row); a worker that dies leaves a lease that expires, and the row is claimed again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class SampleStatus(StrEnum):
    PENDING = "pending"  # waiting for its turn (or for a retry after a provider failure)
    RUNNING = "running"  # claimed by a worker until lease_until
    DONE = "done"  # an evaluation row exists
    UNEVALUABLE = "unevaluable"  # no prompt or completion captured: nothing to replay
    SKIPPED_BUDGET = "skipped_budget"  # the class's daily budget could not cover it
    FAILED = "failed"  # gave up after the configured attempts; last_error says why


class ShadowSample(Base):
    __tablename__ = "shadow_sample"
    __table_args__ = (
        UniqueConstraint("call_id", "reference_tier"),
        Index("ix_shadow_sample_status_not_before", "status", "not_before"),
        Index("ix_shadow_sample_task_class_status", "task_class", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("call.id", ondelete="CASCADE"))
    task_class: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str] = mapped_column(String(64))
    # forward: the call's answer is the candidate, replayed on the higher reference_tier (drift).
    # reverse: the call's answer is the reference, replayed on the cheaper reference_tier (demotion).
    reference_tier: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8), default="forward", server_default="forward")
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reserved_day: Mapped[str | None] = mapped_column(String(10))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
