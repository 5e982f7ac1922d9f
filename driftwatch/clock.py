"""Where time comes from: a :class:`Clock` is passed in wherever logic or a route reads the time.

The service runs on :func:`utc_now`, the system's clock; tests pass :class:`FixedClock` (or any
callable returning an aware ``datetime``) to drive time, so nothing waits for a real hour to pass.
Durations measured with ``time.monotonic()`` are not time of day and do not go through a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The current time, timezone-aware (UTC)."""

    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The system clock."""
    return datetime.now(UTC)


class FixedClock:
    """A clock that says ``moment`` until told otherwise: for tests, and for replaying a known day."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock tells aware times: give the moment a timezone")
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, by: timedelta) -> None:
        self.moment += by
