"""Per task class: the sample rate ``shadow.rate: auto`` allocated it, and the figures behind it.

The sample job rewrites the table when its allocation is older than ``shadow.auto.every_hours`` (see
``driftwatch.policy.allocation``) and samples auto classes at these rates; ``GET /v1/classes`` and
``driftwatch plan --allocation`` show them.  Only auto classes with traffic have a row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class ShadowAllocation(Base):
    __tablename__ = "shadow_allocation"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64))  # the class's tier when allocated
    rate: Mapped[float] = mapped_column(Float)
    traffic_per_day: Mapped[float] = mapped_column(Float)  # calls a day on sampled tiers
    cost_per_sample_usd: Mapped[float] = mapped_column(Float)
    money_at_risk_usd: Mapped[float | None] = mapped_column(Float)  # a day; None: a price unknown
    samples_to_detect: Mapped[float | None] = mapped_column(Float)  # None: the drop cannot be detected
    reference_samples_needed: Mapped[int] = mapped_column(BigInteger, default=0)
    expected_delay_days: Mapped[float | None] = mapped_column(Float)
    days_to_reference: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
