"""The :class:`Provider` protocol and the values that cross it.

A provider turns a conversation into one completion on one model.  Implementations own their transport
(timeouts, retries with backoff, a concurrency limit); callers see either a :class:`Completion` or a
:class:`ProviderError` after retries are exhausted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Sent with every request driftwatch makes itself (see driftwatch.ingest.shadow_marker).


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What to ask: the call's messages, replayed as they were sent."""

    messages: tuple[Message, ...]
    max_output_tokens: int = 1024
    # None leaves the model its default: reasoning models (GPT-5, o-series) refuse any other value.
    temperature: float | None = None
    json_mode: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    response_id: str | None
    latency_seconds: float


class ProviderError(Exception):
    """The provider could not answer. ``retryable`` says whether a later attempt may succeed
    (rate limit, 5xx, timeout, a malformed answer) or not (bad request, auth)."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


class Provider(Protocol):
    """One model behind one API."""

    @property
    def name(self) -> str:
        """Provider kind and model, e.g. ``anthropic/claude-opus-4-7``; shown in evaluations."""
        ...

    @property
    def model(self) -> str: ...

    async def complete(self, request: CompletionRequest) -> Completion: ...

    async def aclose(self) -> None: ...
