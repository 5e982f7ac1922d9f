"""Per task class, tier and UTC day: calls, tokens (cached ones apart) and spend, kept with ``class_hour``.

The savings ledger reads a month as 30 rows per class and tier instead of 720 hourly ones; the writer
of ``class_hour`` keeps both in the same transaction (and takes a call out of both when it merges it
into another).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base


class ClassDay(Base):
    __tablename__ = "class_day"
    __table_args__ = (Index("ix_class_day_day", "day"),)

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64), primary_key=True)  # NO_TIER ("") when unknown
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    calls: Mapped[int] = mapped_column(BigInteger)
    priced_calls: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[float] = mapped_column(Float)
