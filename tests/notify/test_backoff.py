"""Retry timing: exponential backoff with jitter, Retry-After honoured, a deadline to give up."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from driftwatch.notify.backoff import backoff_seconds, next_attempt, retry_after_seconds

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_backoff_doubles_from_five_seconds_up_to_the_cap() -> None:
    delays = [
        backoff_seconds(failures, max_backoff=900, jitter=random.Random(1)) for failures in range(1, 12)
    ]

    assert 4.5 <= delays[0] <= 5.5
    assert 9 <= delays[1] <= 11
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:8]))
    assert max(delays) <= 900 and delays[-1] >= 900 * 0.9


def test_jitter_spreads_deliveries_that_failed_together() -> None:
    draws = {round(backoff_seconds(4, max_backoff=900, jitter=random.Random(seed)), 3) for seed in range(20)}

    assert len(draws) > 10
    assert all(36 <= delay <= 44 for delay in draws)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Wed, 25 Nov 2026 12:03:00 GMT", 180.0),
        ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),
        ("999999999", 86_400.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, NOW) == expected


def test_a_retry_after_longer_than_the_backoff_is_honoured() -> None:
    when = next_attempt(1, NOW, NOW + timedelta(hours=24), max_backoff=900, retry_after=600)

    assert when == NOW + timedelta(seconds=600)


def test_past_the_deadline_the_delivery_gives_up() -> None:
    give_up_at = NOW + timedelta(seconds=60)

    assert next_attempt(1, NOW, give_up_at, max_backoff=900) is not None
    assert next_attempt(8, NOW, give_up_at, max_backoff=900) is None
    assert next_attempt(1, NOW, give_up_at, max_backoff=900, retry_after=3600) is None
