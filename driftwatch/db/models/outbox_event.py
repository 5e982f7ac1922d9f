"""The durable outbox: an event is written in the same transaction as the decision that caused it;
the notifications stage delivers it.  ``idempotency_key`` travels with every delivery attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox_event"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(64))  # class.degraded, class.promoted, …
    task_class: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
