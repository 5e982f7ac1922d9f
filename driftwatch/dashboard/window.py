"""The dashboard's time window and its buckets: 10 seconds for a quarter of an hour, minutes for an
hour, hours for a day or a week, days for a month.

Buckets are counted in SQL and keyed by a prefix of the text of their start (``YYYY-MM-DD HH:MM:S``,
``YYYY-MM-DD HH:MM``, ``YYYY-MM-DD HH`` or ``YYYY-MM-DD``, UTC), an expression SQLite and PostgreSQL
both compute cheaply, so no raw row leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, String, func, literal_column
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import expression

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeRange(StrEnum):
    QUARTER = "15m"
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"


_LENGTH = {
    TimeRange.QUARTER: timedelta(minutes=15),
    TimeRange.HOUR: timedelta(hours=1),
    TimeRange.DAY: timedelta(hours=24),
    TimeRange.WEEK: timedelta(days=7),
    TimeRange.MONTH: timedelta(days=30),
}
_STEP = {
    TimeRange.QUARTER: timedelta(seconds=10),
    TimeRange.HOUR: timedelta(minutes=1),
    TimeRange.DAY: timedelta(hours=1),
    TimeRange.WEEK: timedelta(hours=1),
    TimeRange.MONTH: timedelta(days=1),
}
# Bucket → how many characters of its start's text ``YYYY-MM-DD HH:MM:SS`` key it (18: ten seconds).
_KEY_LENGTH = {
    timedelta(seconds=10): 18,
    timedelta(minutes=1): 16,
    timedelta(hours=1): 13,
    timedelta(days=1): 10,
}
_NAMES = {
    timedelta(seconds=10): "10 seconds",
    timedelta(minutes=1): "minute",
    timedelta(hours=1): "hour",
    timedelta(days=1): "day",
}


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
        return start.strftime("%Y-%m-%d %H:%M:%S")[: _KEY_LENGTH[self.step]]

    def days(self) -> list[str]:
        """The UTC days (``YYYY-MM-DD``) the window touches, oldest first (shadow spend is per day)."""
        first, last = self.since.date(), (self.until - timedelta(microseconds=1)).date()
        return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


def window(time_range: TimeRange, now: datetime) -> Window:
    """The window of ``time_range`` ending with the bucket that holds ``now``."""
    step = _STEP[time_range]
    # Every step divides a day, so buckets counted from the epoch start on the UTC clock's marks.
    into = (now.astimezone(UTC) - EPOCH) % step
    until = now.astimezone(UTC) - into + step
    return Window(time_range, until - _LENGTH[time_range], until, step)


def bucket_key(
    session: Session, moment: InstrumentedAttribute[datetime], step: timedelta
) -> ColumnElement[str]:
    """SQL for the bucket of a UTC timestamp column, as :meth:`Window.key` writes it.

    SQLite stores naive UTC text (``YYYY-MM-DD HH:MM:SS…``), so a prefix is the bucket; PostgreSQL
    formats the ``timestamptz`` in UTC the same way first."""
    length = _KEY_LENGTH[step]
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(expression.cast(moment, String), 1, length)
    utc = moment.op("AT TIME ZONE")(literal_column("'UTC'"))
    return func.substr(func.to_char(utc, "YYYY-MM-DD HH24:MI:SS"), 1, length)


def fitting_range(first: datetime | None, now: datetime) -> TimeRange:
    """The shortest range that holds everything since ``first`` (the oldest evaluation, or call,
    of the last 30 days): a store a few minutes old opens on minutes, not on a week of one dot.
    Nothing at all: a day."""
    if first is None:
        return TimeRange.DAY
    age = now - (first if first.tzinfo else first.replace(tzinfo=UTC))
    for time_range in TimeRange:
        # A bucket's margin: the window starts at a bucket's start, up to a step before ``now - length``.
        if age <= _LENGTH[time_range] - _STEP[time_range]:
            return time_range
    return TimeRange.MONTH
