"""The retry policy's pure parts: backoff, Retry-After parsing, which failures are transient."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from driftwatch.shadow.providers.base import Completion, ProviderError
from driftwatch.shadow.providers.retry import (
    CallGate,
    RetryPolicy,
    TransientError,
    retry_after_seconds,
    status_failure,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_full_jitter_stays_under_a_doubling_capped_ceiling() -> None:
    policy = RetryPolicy(backoff_base_seconds=0.5, backoff_max_seconds=3.0)
    rng = random.Random(7)
    for retry, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (10, 3.0)]:
        delays = [policy.delay(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range, not a fixed step


def test_server_hint_wins_but_is_capped() -> None:
    policy = RetryPolicy(retry_after_max_seconds=60.0)
    rng = random.Random(0)
    assert policy.delay(0, 7.5, rng) == 7.5
    assert policy.delay(5, 3600.0, rng) == 60.0
    assert policy.delay(0, -1.0, rng) == 0.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"Retry-After": "30", "retry-after-ms": "1500"}, 1.5),  # the finer header wins
        ({"Retry-After": "Sun, 01 Mar 2026 12:00:10 GMT"}, 10.0),
        ({"Retry-After": "Sun, 01 Mar 2026 11:59:00 GMT"}, 0.0),  # a date already past: go now
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-3"}, None),
        ({"retry-after-ms": "nan", "Retry-After": "1"}, 1.0),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == seconds


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 529])
def test_transient_statuses(status: int) -> None:
    error = status_failure("openai/m", status, {"Retry-After": "1"}, "busy")
    assert isinstance(error, TransientError)
    assert (error.retryable, error.status_code, error.retry_after_seconds) == (True, status, 1.0)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_final_statuses(status: int) -> None:
    error = status_failure("openai/m", status, {}, "no")
    assert not isinstance(error, TransientError)
    assert (error.retryable, error.status_code) == (False, status)
    assert str(error) == f"openai/m: HTTP {status} (not retried): no"


def test_server_can_override_the_status() -> None:
    assert status_failure("p", 500, {"X-Should-Retry": "false"}, "").retryable is False
    assert status_failure("p", 409, {"x-should-retry": "true"}, "").retryable is True


def _answer() -> Completion:
    return Completion("ok", "m", 1, 1, "id", latency_seconds=0.0)


def _gate(max_retries: int) -> CallGate:
    policy = RetryPolicy(max_retries=max_retries, backoff_base_seconds=0.001)
    return CallGate("test/m", max_concurrency=2, timeout_seconds=1.0, policy=policy)


def test_gate_stops_at_a_final_error_and_stamps_latency() -> None:
    attempts: list[int] = []

    async def refuse() -> Completion:
        attempts.append(1)
        raise ProviderError("test/m: HTTP 400", retryable=False, status_code=400)

    async def slow_answer() -> Completion:
        await asyncio.sleep(0.02)
        return _answer()

    with pytest.raises(ProviderError) as raised:
        asyncio.run(_gate(5).call(refuse))
    completion = asyncio.run(_gate(0).call(slow_answer))
    assert len(attempts) == 1
    assert raised.value.status_code == 400
    assert completion.latency_seconds >= 0.02


def test_gate_retries_transient_failures_then_answers() -> None:
    failures = [TransientError("test/m: HTTP 503", status_code=503)] * 2

    async def flaky() -> Completion:
        if failures:
            raise failures.pop()
        return _answer()

    assert asyncio.run(_gate(2).call(flaky)).text == "ok"


def test_gate_refuses_a_zero_concurrency() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        CallGate("p", max_concurrency=0, timeout_seconds=1.0, policy=RetryPolicy())
