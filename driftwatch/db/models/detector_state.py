"""The sequential detector of one task class on one tier and feed: its reference rate, its statistic (as
JSON, see :class:`driftwatch.stats.detector.DetectorState`), and the last evaluation it has consumed.

The feed says which verdicts it reads: ``listed`` the sources ``decisions.sources`` names (its alarm
may promote the class), ``other`` every other source (its alarm is an alert only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class DetectorRow(Base):
    __tablename__ = "detector_state"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed: Mapped[str] = mapped_column(String(16), primary_key=True, default="listed")
    reference_rate: Mapped[float | None] = mapped_column(Float)
    reference_source: Mapped[str | None] = mapped_column(
        String(32)
    )  # "floor", "confidence_sequence", "baseline"
    baseline_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    baseline_total: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str | None] = mapped_column(Text)
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    last_evaluation_id: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alarmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
