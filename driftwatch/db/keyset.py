"""Time-ordered lists: a ``[since, until)`` window, and keyset pagination newest first on
``(timestamp, id)``, so pages stay stable while rows arrive.

The cursor is opaque to clients: URL-safe base64 of ``[timestamp ISO 8601, id]`` of the last row of
the previous page.  Any list endpoint over a table with a timestamp and an integer id shares it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, TypeVar, TypeVarTuple

import orjson
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftwatch.errors import BadRequest

Row = TypeVar("Row")
Columns = TypeVarTuple("Columns")


def encode_cursor(moment: datetime, row_id: int) -> str:
    raw = orjson.dumps([moment.isoformat(), row_id])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, row_id = orjson.loads(raw)
        moment = datetime.fromisoformat(moment_text)
        # bool is an int subclass, and an id past BIGINT would fail in the database instead of here.
        if moment.tzinfo is None or type(row_id) is not int or not 0 <= row_id < 2**63:
            raise ValueError("malformed")
        return moment.astimezone(UTC), row_id
    except (binascii.Error, ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise BadRequest("invalid cursor: pass back next_cursor exactly as it was returned") from None


def within(
    query: Select[*Columns],
    moment: InstrumentedAttribute[datetime],
    since: datetime | None,
    until: datetime | None,
) -> Select[*Columns]:
    """Rows whose ``moment`` lies in ``[since, until)``; either bound may be open (``None``)."""
    if since is not None:
        query = query.where(moment >= since)
    if until is not None:
        query = query.where(moment < until)
    return query


def newest_first_page(
    session: Session,
    query: Select[Row],
    moment: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """One page of ``query``'s entities, ordered by ``(moment, row_id)`` descending, and the next cursor.

    ``moment`` and ``row_id`` are attributes of the selected entity; an index on both keeps every
    page an index range scan, however deep the client pages.
    """
    if cursor is not None:
        before_moment, before_id = decode_cursor(cursor)
        query = query.where(or_(moment < before_moment, and_(moment == before_moment, row_id < before_id)))
    rows = list(session.scalars(query.order_by(moment.desc(), row_id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, moment.key), getattr(last, row_id.key))
