"""The audit log: every promotion, demotion, pin, alert and recommendation, with its evidence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class Decision(Base):
    __tablename__ = "decision"
    __table_args__ = (
        Index("ix_decision_created_at_id", "created_at", "id"),
        Index("ix_decision_task_class_created_at", "task_class", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    task_class: Mapped[str] = mapped_column(String(255))
    # degraded, promoted, demoted, pinned, unpinned, recommended, accepted, rejected, withdrawn
    kind: Mapped[str] = mapped_column(String(32))
    from_tier: Mapped[str | None] = mapped_column(String(64))
    to_tier: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))  # "driftwatch" or the person / key that decided
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # JSON: statistic, rates, counts, window, thresholds
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
