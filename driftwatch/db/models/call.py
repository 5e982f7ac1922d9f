"""A ``call``: one LLM call as seen in a span (or imported from elsewhere)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class Call(Base):
    """One LLM call. ``(trace_id, span_id)`` and the provider's ``response_id`` are unique, so re-sent
    spans and second reports of the same response are ignored, not doubled.

    ``prompt`` is the JSON text of the input messages (``[{"role", "content"}]``); ``completion`` the
    text of the first output message.  Both are null when the instrumentation captured no content.
    """

    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("trace_id", "span_id"),
        # One provider response is one call, even when two instrumentations (say, an SDK's own spans
        # and OpenInference or Traceloop) each report it in a span of its own, possibly in two traces.
        UniqueConstraint("response_id"),
        Index("ix_call_task_class_tier_start_time", "task_class", "tier", "start_time"),
        Index("ix_call_start_time_id", "start_time", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    service: Mapped[str | None] = mapped_column(String(255))
    task_class: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(255))
    response_id: Mapped[str | None] = mapped_column(String(255))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    prompt: Mapped[str | None] = mapped_column(Text)
    completion: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    status_message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
