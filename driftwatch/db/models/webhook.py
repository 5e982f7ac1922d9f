"""Webhook endpoints, one delivery per (endpoint, outbox event), and every attempt at it.

A delivery is ``pending`` until a 2xx (``delivered``) or until retrying runs out (``failed``, kept and
visible).  An endpoint's deliveries go out in event order, one at a time, by whichever worker holds
the endpoint's lease, so two replicas never send the same event at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))  # standard | slack
    events: Mapped[str | None] = mapped_column(Text)  # JSON list of event types; NULL: all
    # Kept retrievable because signing needs it; never served by the API after creation.
    secret: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))  # api | config
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_delivery_endpoint_id_status_event_id", "endpoint_id", "status", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("webhook_endpoint.id"))
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("outbox_event.id"))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("webhook_delivery.id"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)  # NULL: no HTTP answer
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
