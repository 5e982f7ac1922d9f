"""When to try a failed webhook again (pure): exponential backoff with jitter, a receiver's
``Retry-After`` honoured, and a give-up deadline after which the delivery is marked failed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

FIRST_RETRY_SECONDS = 5.0
# A Retry-After asking for more than a day is treated as a day: the delivery is failed before then anyway.
LONGEST_RETRY_AFTER = 86_400.0


def backoff_seconds(failures: int, max_backoff: float, jitter: random.Random | None = None) -> float:
    """5 s after the first failure, doubling each time up to ``max_backoff``; ±10% jitter spreads the
    retries of many deliveries that failed together (a receiver coming back is not hit all at once)."""
    delay = min(max_backoff, FIRST_RETRY_SECONDS * 2.0 ** min(max(failures - 1, 0), 30))
    spread = jitter.uniform(0.9, 1.1) if jitter else random.uniform(0.9, 1.1)
    return min(max_backoff, delay * spread)


def retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """``Retry-After`` as delta-seconds or an HTTP date; None when absent or unreadable."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return min(float(value), LONGEST_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - now).total_seconds()), LONGEST_RETRY_AFTER)


def next_attempt(
    failures: int,
    now: datetime,
    give_up_at: datetime,
    max_backoff: float,
    retry_after: float | None = None,
    jitter: random.Random | None = None,
) -> datetime | None:
    """When to try again after ``failures`` failed attempts, or None: give up, the deadline is past."""
    delay = backoff_seconds(failures, max_backoff, jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    when = now + timedelta(seconds=delay)
    return None if when > give_up_at else when
