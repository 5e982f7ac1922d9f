"""A ``call_span``: one span of a call that more than one span reported."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from driftwatch.db.base import Base, BigIntegerPrimaryKey


class CallSpan(Base):
    """Every span of a call that several spans reported (an SDK's span and an instrumentation's span
    around it, or two reports of one response in a trace), each with what it said on its own.

    A call reported by one span has no rows here. With them, a span that arrives later and belongs to
    the call is merged from all its reports again (see :mod:`driftwatch.ingest.identity`), content
    and evaluations addressed to any of its spans find the call, and a re-sent span is known.
    ``report`` is the span's own call fields as JSON (the columns of ``call`` but its ids).
    """

    __tablename__ = "call_span"
    __table_args__ = (UniqueConstraint("trace_id", "span_id"), Index("ix_call_span_call_id", "call_id"))

    id: Mapped[int] = mapped_column(BigIntegerPrimaryKey, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("call.id", ondelete="CASCADE"))
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    response_id: Mapped[str | None] = mapped_column(String(255))
    report: Mapped[str] = mapped_column(Text)
