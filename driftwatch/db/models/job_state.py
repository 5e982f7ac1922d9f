"""One row per scheduled job: its cursor (where a scanning job got to) and its last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class JobState(Base):
    __tablename__ = "job_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_summary: Mapped[str | None] = mapped_column(Text)
