"""``evaluation_hour``: evaluation outcomes per task class, tier, source and UTC hour.

Kept by every writer of ``evaluation`` in the same transaction as the rows it counts (only the rows
actually inserted; a re-sent verdict adds nothing), so windows on hour boundaries, and all time, are
read from at most one row per class, tier, source and hour instead of a scan of every verdict: the
dashboard's 24-hour, 7-day and 30-day views and ``GET /v1/classes``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class EvaluationHour(Base):
    __tablename__ = "evaluation_hour"
    __table_args__ = (Index("ix_evaluation_hour_hour", "hour"),)

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64), primary_key=True)  # NO_TIER ("") when unknown
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    evaluations: Mapped[int] = mapped_column(BigInteger)
    decided: Mapped[int] = mapped_column(BigInteger)  # acceptable is not null
    acceptable: Mapped[int] = mapped_column(BigInteger)
