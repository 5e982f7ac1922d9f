"""A demotion recommendation: a class on a higher tier whose cheaper-tier shadow results show parity,
with the projected monthly savings (and interval) net of the shadow evaluation's own cost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class Recommendation(Base):
    __tablename__ = "recommendation"
    __table_args__ = (Index("ix_recommendation_task_class_status", "task_class", "status"),)

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    task_class: Mapped[str] = mapped_column(String(255))
    from_tier: Mapped[str] = mapped_column(String(64))
    to_tier: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # open, accepted, rejected, superseded
    monthly_savings_usd: Mapped[float | None] = mapped_column(Float)
    savings_low_usd: Mapped[float | None] = mapped_column(Float)
    savings_high_usd: Mapped[float | None] = mapped_column(Float)
    shadow_cost_monthly_usd: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))
