"""Queries over ``call`` and the ``class_hour`` rollup."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from driftwatch.db.models import Call, ClassHour
from driftwatch.db.models.class_hour import NO_TIER
from driftwatch.errors import BadRequest


@dataclass(frozen=True, slots=True)
class CallFilter:
    task_class: str | None = None
    tier: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClassSummary:
    task_class: str
    tier: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_calls: int
    first_seen: datetime
    last_seen: datetime


def encode_cursor(call: Call) -> str:
    raw = orjson.dumps([call.start_time.isoformat(), call.id])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start_time, call_id = orjson.loads(raw)
        moment = datetime.fromisoformat(start_time)
        # bool is an int subclass, and an id past BIGINT would fail in the database instead of here.
        if moment.tzinfo is None or type(call_id) is not int or not 0 <= call_id < 2**63:
            raise ValueError("malformed")
        return moment.astimezone(UTC), call_id
    except (binascii.Error, ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise BadRequest("invalid cursor: pass back next_cursor exactly as it was returned") from None


def list_calls(
    session: Session, where: CallFilter, limit: int, cursor: str | None
) -> tuple[list[Call], str | None]:
    """Newest first; keyset pagination on (start_time, id), stable while new calls arrive."""
    query = select(Call)
    if where.task_class is not None:
        query = query.where(Call.task_class == where.task_class)
    if where.tier is not None:
        query = query.where(Call.tier == where.tier)
    if where.since is not None:
        query = query.where(Call.start_time >= where.since)
    if where.until is not None:
        query = query.where(Call.start_time < where.until)
    if cursor is not None:
        before_time, before_id = decode_cursor(cursor)
        query = query.where(
            or_(Call.start_time < before_time, and_(Call.start_time == before_time, Call.id < before_id))
        )
    calls = list(session.scalars(query.order_by(Call.start_time.desc(), Call.id.desc()).limit(limit + 1)))
    if len(calls) > limit:
        return calls[:limit], encode_cursor(calls[limit - 1])
    return calls, None


def class_summaries(session: Session, since: datetime | None, until: datetime | None) -> list[ClassSummary]:
    """Per task class and tier, from the hourly rollup (hour granularity for since/until)."""
    query = select(
        ClassHour.task_class,
        ClassHour.tier,
        func.sum(ClassHour.calls),
        func.sum(ClassHour.input_tokens),
        func.sum(ClassHour.output_tokens),
        func.sum(ClassHour.cost_usd),
        func.sum(ClassHour.calls - ClassHour.priced_calls),
        func.min(ClassHour.first_seen),
        func.max(ClassHour.last_seen),
    ).group_by(ClassHour.task_class, ClassHour.tier)
    if since is not None:
        query = query.where(ClassHour.hour >= since.replace(minute=0, second=0, microsecond=0))
    if until is not None:
        query = query.where(ClassHour.hour < until)
    rows = session.execute(query.order_by(ClassHour.task_class, ClassHour.tier)).all()
    return [
        ClassSummary(
            task_class=row[0],
            tier=row[1] if row[1] != NO_TIER else None,
            calls=int(row[2]),
            input_tokens=int(row[3]),
            output_tokens=int(row[4]),
            cost_usd=float(row[5]),
            unpriced_calls=int(row[6]),
            first_seen=row[7],
            last_seen=row[8],
        )
        for row in rows
    ]
