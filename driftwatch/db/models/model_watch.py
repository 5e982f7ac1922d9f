"""What the model-change sentinel knows of one task class on one tier: the served values it has
learnt (model, provider, system fingerprint), its recent window of them, and the watch a change
started (the shadow-rate boost and the frozen baseline), see :mod:`driftwatch.policy.model_change`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, UTCDateTime


class ModelWatch(Base):
    __tablename__ = "model_watch"

    task_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON of driftwatch.policy.sentinel.Served: per dimension the known values and the recent window.
    state: Mapped[str] = mapped_column(Text)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)  # calls the sentinel has looked at
    # The watch of the last change: while ``watch_ended_at`` is null, the class's shadow rate is
    # multiplied by ``boost_factor`` (calls from ``boost_from_call_id`` on) until ``boost_samples``
    # forward samples were drawn since ``watch_started_at``; a confidence-sequence baseline takes
    # no outcomes meanwhile.
    watch_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    watch_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    boost_factor: Mapped[float | None] = mapped_column(Float)
    boost_samples: Mapped[int | None] = mapped_column(Integer)
    boost_from_call_id: Mapped[int | None] = mapped_column(BigInteger)  # first call of the new value
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
