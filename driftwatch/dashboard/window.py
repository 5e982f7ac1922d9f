"""The dashboard's time window and its buckets: minutes for an hour, hours for a day or a week,
days for a month.

Buckets are counted in SQL and keyed by the text of their start (``YYYY-MM-DD HH:MM``,
``YYYY-MM-DD HH`` or ``YYYY-MM-DD``, UTC), an expression SQLite and PostgreSQL both compute cheaply,
so no raw row leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, String, func, literal_column
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import expression


class TimeRange(StrEnum):
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"


_LENGTH = {
    TimeRange.HOUR: timedelta(hours=1),
    TimeRange.DAY: timedelta(hours=24),
    TimeRange.WEEK: timedelta(days=7),
    TimeRange.MONTH: timedelta(days=30),
}
_STEP = {
    TimeRange.HOUR: timedelta(minutes=1),
    TimeRange.DAY: timedelta(hours=1),
    TimeRange.WEEK: timedelta(hours=1),
    TimeRange.MONTH: timedelta(days=1),
}
# Bucket → (Python strftime of its start, characters of SQLite's timestamp text, PostgreSQL to_char).
_FORMATS = {
    timedelta(minutes=1): ("%Y-%m-%d %H:%M", 16, "YYYY-MM-DD HH24:MI"),
    timedelta(hours=1): ("%Y-%m-%d %H", 13, "YYYY-MM-DD HH24"),
    timedelta(days=1): ("%Y-%m-%d", 10, "YYYY-MM-DD"),
}
_NAMES = {timedelta(minutes=1): "minute", timedelta(hours=1): "hour", timedelta(days=1): "day"}


@dataclass(frozen=True, slots=True)
class Window:
    """``[since, until)``: from the start of the bucket ``length`` ago to the end of the current one."""

    range: TimeRange
    since: datetime
    until: datetime
    step: timedelta

    @property
    def bucket(self) -> str:
        """minute, hour or day."""
        return _NAMES[self.step]

    @property
    def finer_than_hours(self) -> bool:
        """Minute buckets: volume is then counted from the calls, the hourly rollup being too coarse."""
        return self.step < timedelta(hours=1)

    def starts(self) -> list[datetime]:
        """Every bucket's start, oldest first."""
        count = int((self.until - self.since) / self.step)
        return [self.since + index * self.step for index in range(count)]

    def key(self, start: datetime) -> str:
        """The text SQL gives the bucket starting at ``start`` (see :func:`bucket_key`)."""
        return start.strftime(_FORMATS[self.step][0])

    def days(self) -> list[str]:
        """The UTC days (``YYYY-MM-DD``) the window touches, oldest first (shadow spend is per day)."""
        first, last = self.since.date(), (self.until - timedelta(microseconds=1)).date()
        return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


def window(time_range: TimeRange, now: datetime) -> Window:
    """The window of ``time_range`` ending with the bucket that holds ``now``."""
    now = now.astimezone(UTC)
    step = _STEP[time_range]
    current = now.replace(second=0, microsecond=0)
    if step >= timedelta(hours=1):
        current = current.replace(minute=0)
    if step >= timedelta(days=1):
        current = current.replace(hour=0)
    until = current + step
    return Window(time_range, until - _LENGTH[time_range], until, step)


def bucket_key(
    session: Session, moment: InstrumentedAttribute[datetime], step: timedelta
) -> ColumnElement[str]:
    """SQL for the bucket of a UTC timestamp column, as :meth:`Window.key` writes it.

    SQLite stores naive UTC text (``YYYY-MM-DD HH:MM:SS…``), so a prefix is the bucket; PostgreSQL
    formats the ``timestamptz`` in UTC."""
    _, sqlite_length, postgresql_format = _FORMATS[step]
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(expression.cast(moment, String), 1, sqlite_length)
    utc = moment.op("AT TIME ZONE")(literal_column("'UTC'"))
    return func.to_char(utc, postgresql_format)
