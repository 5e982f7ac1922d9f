"""Per task class and UTC day: dollars reserved by running evaluations and dollars spent.

The runner reserves an upper estimate before a sample runs with one conditional UPDATE
(``spent + reserved + estimate <= budget``), so concurrent workers and replicas cannot overspend.
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base


class ShadowSpend(Base):
    __tablename__ = "shadow_spend"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
