"""Per task class and tier: the judge-score comparison of its detector's current window, as the
``score-drift`` job last computed it (``detection/score_drift.py``).

One row per class and tier, rewritten when scores arrive for it or its detector starts a new window;
``GET /v1/classes`` reads it instead of reading scores and running the tests per request.  A row with
both counts 0 says the job looked and found no scores.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class ScoreDriftRow(Base):
    __tablename__ = "score_drift"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)  # the detector's, when computed
    newest_evaluation_id: Mapped[int] = mapped_column(BigInteger, default=0)  # read up to here
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    current_count: Mapped[int] = mapped_column(Integer, default=0)
    baseline_count: Mapped[int] = mapped_column(Integer, default=0)
    current_median: Mapped[float | None] = mapped_column(Float)
    baseline_median: Mapped[float | None] = mapped_column(Float)
    median_difference: Mapped[float | None] = mapped_column(Float)
    probability_lower: Mapped[float | None] = mapped_column(Float)
    mann_whitney_p: Mapped[float | None] = mapped_column(Float)
    ks_statistic: Mapped[float | None] = mapped_column(Float)
    ks_p: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
