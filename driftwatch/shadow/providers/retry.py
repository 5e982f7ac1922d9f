"""The one transport policy every HTTP provider shares: a concurrency limit, a per-attempt timeout, and
retries with exponential backoff and full jitter that honour the server's ``Retry-After``.

The SDK clients are built with ``max_retries=0`` so that this policy, not each SDK's own, decides: every
provider then retries the same failures the same number of times, and the concurrency limit counts
attempts rather than SDK-level calls that may hide several requests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from driftwatch.clock import utc_now
from driftwatch.shadow.providers.base import Completion, ProviderError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one request."""

    max_retries: int = 4
    """Retries after the first attempt; ``max_retries + 1`` attempts in all."""
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    retry_after_max_seconds: float = 60.0
    """A server asking for a longer pause is waited on only this long: a sampled shadow replay is worth
    less than holding a slot for minutes, and the attempt after it may well fail again anyway."""

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry).

        The server's ``retry_after`` hint wins when given (capped); otherwise "full jitter": uniform in
        ``[0, min(max, base * 2**retry)]``, which spreads a burst of clients that failed together.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max_seconds)
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2.0**retry)
        return rng.uniform(0.0, ceiling)


class TransientError(ProviderError):
    """A failed attempt worth repeating (429, 5xx, timeout, lost connection).

    ``retry_after_seconds`` is the server's own hint, when it sent one."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message, retryable=True, status_code=status_code)
        self.retry_after_seconds = retry_after_seconds


def is_retryable_status(status: int) -> bool:
    """408 and 429 say "not now"; any 5xx (Anthropic's 529 "overloaded" included) may pass."""
    return status in (408, 429) or status >= 500


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The pause a response asks for: ``retry-after-ms`` (sent by OpenAI and Anthropic, finer than the
    standard header), else ``Retry-After`` as seconds or as an HTTP date. None when absent or unreadable."""
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    if (millis := _number(lowered.get("retry-after-ms"))) is not None:
        return millis / 1000.0
    value = lowered.get("retry-after")
    if not value:
        return None
    if (seconds := _number(value)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means the zone was left out
        when = when.replace(tzinfo=UTC)
    return max((when - (now or utc_now())).total_seconds(), 0.0)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else None  # also rejects nan: a comparison with nan is False


def status_failure(provider: str, status: int, headers: Mapping[str, str], detail: str) -> ProviderError:
    """The error for an HTTP error answer: transient (with the server's pause) or final.

    ``x-should-retry`` (sent by OpenAI and Anthropic) overrides the status, as their own SDKs let it."""
    verdict = {name.lower(): value for name, value in headers.items()}.get("x-should-retry", "").lower()
    retryable = verdict == "true" or (verdict != "false" and is_retryable_status(status))
    if retryable:
        return TransientError(
            f"{provider}: HTTP {status}: {detail}",
            status_code=status,
            retry_after_seconds=retry_after_seconds(headers),
        )
    return ProviderError(
        f"{provider}: HTTP {status} (not retried): {detail}", retryable=False, status_code=status
    )


def malformed(provider: str, detail: str) -> ProviderError:
    """The provider answered, but not with anything usable. It is not asked again at once (the same
    request a moment later mostly gets the same answer), but the sample is tried again on a later
    tick, with the runner's backoff: a gateway or proxy that garbles answers for a while recovers."""
    return ProviderError(f"{provider}: malformed response: {detail}", retryable=True)


class CallGate:
    """Runs one provider's attempts: at most ``max_concurrency`` in flight, each cut off after
    ``timeout_seconds``, transient failures retried per ``policy``.

    Create and use it inside one event loop (an :class:`asyncio.Semaphore` binds to the loop it first
    waits in). ``rng`` is injectable so tests can pin the jitter.
    """

    def __init__(
        self,
        name: str,
        *,
        max_concurrency: int,
        timeout_seconds: float,
        policy: RetryPolicy,
        rng: random.Random | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.name = name
        self.policy = policy
        self.timeout_seconds = timeout_seconds
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rng = rng or random.Random()

    async def call(self, attempt: Callable[[], Awaitable[Completion]]) -> Completion:
        """The first successful attempt's completion, or the :class:`ProviderError` that ended it.

        A non-retryable error ends at once; after ``max_retries + 1`` transient failures the last one is
        raised again as a retryable :class:`ProviderError`, so the runner may try the call on a later tick.
        """
        failure: TransientError | None = None
        for retry in range(self.policy.max_retries + 1):
            if failure is not None:
                await asyncio.sleep(self.policy.delay(retry - 1, failure.retry_after_seconds, self._rng))
            try:
                return await self._once(attempt)
            except TransientError as error:
                failure = error
        assert failure is not None  # the loop runs at least once and returns unless an attempt failed
        raise ProviderError(
            f"{failure} (gave up after {self.policy.max_retries + 1} attempts)",
            retryable=True,
            status_code=failure.status_code,
        ) from failure

    async def _once(self, attempt: Callable[[], Awaitable[Completion]]) -> Completion:
        # The slot is held for the attempt only, not the backoff: a waiting retry does not count
        # against the provider's rate limit, so it should not hold back requests that could go now.
        async with self._semaphore:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    completion = await attempt()
            except TimeoutError as error:
                raise TransientError(f"{self.name}: no answer within {self.timeout_seconds:g} s") from error
            # Latency of the attempt that answered: queueing and backoff say nothing about the model.
            return replace(completion, latency_seconds=time.perf_counter() - started)
