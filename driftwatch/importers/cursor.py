"""An import's progress in ``import_cursor``: how far the source has been read, and the window a run is
working through, saved with every page so an interrupted import resumes where it stopped.

Every save is a compare-and-set on the cursor text the run last read or wrote: a second importer of the
same source (another replica's scheduled job, a person running the command meanwhile) makes one of
the two stop with :class:`ImportBusy` and roll its page back, instead of both moving the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.models import ImportCursor
from driftwatch.errors import Conflict

_VERSION = 1


class ImportBusy(Conflict):
    """Another import of the same source moved the cursor first."""


@dataclass(frozen=True, slots=True)
class ImportWindow:
    """Observations that started in ``[start, end)`` (``start`` None: from the beginning), read newest
    first; ``page`` is the source's own cursor for the next page, None before the first."""

    start: datetime | None
    end: datetime
    page: str | None = None


@dataclass(frozen=True, slots=True)
class CursorState:
    read_until: datetime | None = None
    """Every observation that started before this was read by a completed run."""
    window: ImportWindow | None = None
    """The window of a run that has not finished (interrupted, or still going)."""

    def to_text(self) -> str:
        window = self.window
        document: dict[str, Any] = {
            "version": _VERSION,
            "read_until": _iso(self.read_until),
            "window": None
            if window is None
            else {"start": _iso(window.start), "end": _iso(window.end), "page": window.page},
        }
        return orjson.dumps(document).decode()

    @classmethod
    def from_text(cls, text: str) -> CursorState:
        """The saved state; anything unreadable (an empty row, an older format) starts afresh, which
        costs a re-read that the idempotent insert makes harmless."""
        try:
            document = orjson.loads(text)
            window = document["window"]
            return cls(
                read_until=_moment(document["read_until"]),
                window=None
                if window is None
                else ImportWindow(_moment(window["start"]), _required(window["end"]), window["page"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return cls()


def load_cursor(connection: Connection, source: str, now: datetime) -> str:
    """The source's cursor text, the row created (empty) on first use."""
    connection.execute(
        insert_ignoring_conflicts(connection, ImportCursor).values(
            source=source, cursor=CursorState().to_text(), imported=0, skipped=0, updated_at=now
        )
    )
    return connection.scalars(select(ImportCursor.cursor).where(ImportCursor.source == source)).one()


def save_cursor(
    connection: Connection,
    source: str,
    *,
    expected: str,
    state: CursorState,
    imported: int,
    skipped: int,
    now: datetime,
) -> str:
    """Replace the cursor text ``expected`` by ``state`` and add to the counts; the new text."""
    text = state.to_text()
    result = connection.execute(
        update(ImportCursor)
        .where(ImportCursor.source == source, ImportCursor.cursor == expected)
        .values(
            cursor=text,
            imported=ImportCursor.imported + imported,
            skipped=ImportCursor.skipped + skipped,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise ImportBusy(f"another import of {source} moved its cursor meanwhile; this one stops")
    return text


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _required(text: str) -> datetime:
    return datetime.fromisoformat(text)
