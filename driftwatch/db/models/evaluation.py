"""An ``evaluation``: one piece of quality evidence about a task class on a tier.

Shadow evaluations (``source = "shadow"``) come from the runner, one per sample; outcomes from
elsewhere (human review, downstream success, user feedback, Langfuse scores) come through
``POST /v1/evaluations`` with the client's own id, unique per source, so re-sending is harmless.
``acceptable`` is null when no judge in the chain could decide; such rows are kept and shown, but
carry no weight in the tests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime
from driftwatch.db.sources import SHADOW_SOURCE

__all__ = ["SHADOW_SOURCE", "Evaluation"]


class Evaluation(Base):
    __tablename__ = "evaluation"
    __table_args__ = (
        UniqueConstraint("sample_id"),
        UniqueConstraint("source", "external_id"),
        Index("ix_evaluation_task_class_tier_evaluated_at", "task_class", "tier", "evaluated_at"),
        Index("ix_evaluation_evaluated_at_id", "evaluated_at", "id"),
        # The decide job reads each (class, tier) in id order from its cursor.
        Index("ix_evaluation_task_class_tier_id", "task_class", "tier", "id"),
        # Deleting expired calls sets call_id to null here: without it, a scan of evaluation per call.
        Index("ix_evaluation_call_id", "call_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    sample_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("shadow_sample.id", ondelete="SET NULL")
    )
    call_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("call.id", ondelete="SET NULL"))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    span_id: Mapped[str | None] = mapped_column(String(16))
    task_class: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(255))
    reference_tier: Mapped[str | None] = mapped_column(String(64))
    reference_model: Mapped[str | None] = mapped_column(String(255))
    acceptable: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float)
    judge: Mapped[str | None] = mapped_column(String(64))
    rationale: Mapped[str | None] = mapped_column(Text)
    shadow_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    judge_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
