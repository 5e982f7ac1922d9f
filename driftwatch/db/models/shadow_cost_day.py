"""Per task class and the UTC day of the *evaluated call*: dollars shadow evaluation spent on it.

``shadow_spend`` keys money by the day it was spent, which is what a daily budget guards; this table
keys the same money by the day of the traffic it watched, which is what a class's savings are net of
(an evaluation run today of last week's calls is last week's cost).  The runner adds to both in the
transaction that settles an evaluation's cost.
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base


class ShadowCostDay(Base):
    __tablename__ = "shadow_cost_day"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC, of the call
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
