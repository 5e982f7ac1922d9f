"""Run the real providers against the fake servers: one event loop per scenario, clients closed after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from driftwatch.shadow.providers.anthropic_messages import AnthropicProvider
from driftwatch.shadow.providers.base import Completion, CompletionRequest, Message, Provider, ProviderError
from driftwatch.shadow.providers.openai_compatible import OpenAICompatibleProvider
from driftwatch.shadow.providers.retry import RetryPolicy
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer
from tests.fakes._http import FakeLLMServer

_T = TypeVar("_T")

ASK = CompletionRequest(messages=(Message("system", "Classify."), Message("user", "Great phone.")))

MIXED = CompletionRequest(
    messages=(
        Message("system", "Classify."),
        Message("user", "Great phone."),
        Message("user", "Battery lasts two days."),
        Message("developer", "One word."),
        Message("assistant", "positive"),
        Message("tool", "lookup result"),
        Message("user", "And this one?"),
    ),
    max_output_tokens=32,
    temperature=0.0,
)
"""A recorded conversation as real spans give them: instructions mid-way, turns of one role in a row."""

FAST_RETRY = RetryPolicy(max_retries=2, backoff_base_seconds=0.001, backoff_max_seconds=0.005)
"""Real backoff shape, tiny pauses: retry tests stay fast."""


@dataclass(frozen=True)
class Backend:
    """One wire protocol: its fake server and the provider that speaks it."""

    kind: str
    server: Callable[..., FakeLLMServer]
    provider_class: type[OpenAICompatibleProvider] | type[AnthropicProvider]

    def provider(self, server: FakeLLMServer | str, **options: Any) -> Provider:
        """A provider on ``server`` or a base URL (fast retries unless ``retry=`` says otherwise)."""
        options.setdefault("retry", FAST_RETRY)
        base_url = server if isinstance(server, str) else server.base_url
        return self.provider_class(model="test-model", api_key="test-key", base_url=base_url, **options)


BACKENDS = [
    Backend("openai", FakeOpenAIServer, OpenAICompatibleProvider),
    Backend("anthropic", FakeAnthropicServer, AnthropicProvider),
]


def outcomes(make: Callable[[], Provider], *requests: CompletionRequest) -> list[Completion | ProviderError]:
    """Each request's completion or ProviderError, all sent at once on one provider made inside the loop
    (its client and semaphore belong to that loop). Any other exception fails the test."""

    async def scenario() -> list[Completion | ProviderError]:
        provider = make()
        try:
            results = await asyncio.gather(*(provider.complete(r) for r in requests), return_exceptions=True)
        finally:
            await provider.aclose()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ProviderError):
                raise result
        return [result for result in results if isinstance(result, Completion | ProviderError)]

    return asyncio.run(scenario())


def complete(make: Callable[[], Provider], request: CompletionRequest = ASK) -> Completion:
    [result] = outcomes(make, request)
    if isinstance(result, ProviderError):
        raise AssertionError(f"expected a completion, got {result!r}")
    return result


def failure(make: Callable[[], Provider], request: CompletionRequest = ASK) -> ProviderError:
    [result] = outcomes(make, request)
    if not isinstance(result, ProviderError):
        raise AssertionError(f"expected a ProviderError, got {result!r}")
    return result


def timed(action: Callable[[], _T]) -> tuple[_T, float]:
    """The action's result and the seconds it took."""
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started
