"""Each class's coverage as the ``coverage`` job last assessed it: protected or why not, the raised
sample rate coverage-first sampling holds it at, and since when it has been unprotected.

A snapshot, so ``GET /v1/classes``, the dashboard and ``/metrics`` read a row per class instead of
recomputing traffic, cost and reference per request; the sample job reads ``coverage_rate``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class ClassCoverage(Base):
    __tablename__ = "class_coverage"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    protected: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(32))  # stats.coverage.REASONS; null when protected
    target_drop: Mapped[float] = mapped_column(Float)  # the target it was assessed against
    window_days: Mapped[float] = mapped_column(Float)
    min_detectable_drop: Mapped[float | None] = mapped_column(Float)
    protected_in_days: Mapped[float | None] = mapped_column(Float)
    calls_per_day: Mapped[float] = mapped_column(Float)
    samples_per_day: Mapped[float] = mapped_column(Float)
    rate_to_protect: Mapped[float | None] = mapped_column(Float)  # null: no rate up to 1 protects it
    coverage_rate: Mapped[float | None] = mapped_column(Float)  # raised rate in force; null: normal rate
    message: Mapped[str] = mapped_column(Text)
    unprotected_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # class.unprotected raised
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime)
