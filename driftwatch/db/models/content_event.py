"""A ``content_event``: a GenAI content event (prompt or completion messages) that arrived as an OTLP log
record and waits for its call.

Instrumentations in event mode send a call's messages as log records naming the call's span (trace id +
span id), and those may reach driftwatch before or after the span.  A row lives here only until its
call is stored: the call's missing prompt/completion is then filled from its events, in event order
(``event_time``, then arrival ``id``), and the rows are deleted.  Rows whose call never comes are
expired after a configurable age by ``reconcile_content``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class ContentEvent(Base):
    """``digest`` is a SHA-256 of the event's name, timestamp and content: a re-sent log batch hits the
    unique key and inserts nothing.  ``payload`` is the JSON of the event's content-bearing fields
    (log-record body merged over its attributes), read with the same rules as span events."""

    __tablename__ = "content_event"
    __table_args__ = (
        # Also the index of the attach lookup, which searches by trace id (its first column).
        UniqueConstraint("trace_id", "span_id", "digest"),
        Index("ix_content_event_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
