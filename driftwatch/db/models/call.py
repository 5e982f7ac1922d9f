"""A ``call``: one LLM call as seen in a span (or imported from elsewhere)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey, UTCDateTime


class Call(Base):
    """One LLM call: one provider response. ``(trace_id, span_id)`` is unique, so a re-sent span is
    ignored, not doubled. Spans that report the same response (see :mod:`driftwatch.ingest.identity`)
    make one call, which keeps the ids of the outermost of them; its spans are then in ``call_span``.

    ``prompt`` is the JSON text of the input messages (``[{"role", "content"}]``); ``completion`` the
    text of the first output message.  Both are null when the instrumentation captured no content.
    """

    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("trace_id", "span_id"),
        Index("ix_call_task_class_tier_start_time", "task_class", "tier", "start_time"),
        Index("ix_call_start_time_id", "start_time", "id"),
        # A second instrumentation's report of a stored call, in a trace of its own, is found by it.
        Index("ix_call_response_id", "response_id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    service: Mapped[str | None] = mapped_column(String(255))
    # The instrumentation scope that reported the call (e.g. ``com.anthropic.sdk.python``).
    scope: Mapped[str | None] = mapped_column(String(255))
    task_class: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(255))
    response_id: Mapped[str | None] = mapped_column(String(255))
    # The backend configuration that answered, where the instrumentation reports it (OpenAI's
    # ``system_fingerprint``): the model-change sentinel watches it next to model and provider.
    system_fingerprint: Mapped[str | None] = mapped_column(String(128))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    prompt: Mapped[str | None] = mapped_column(Text)
    completion: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    status_message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
