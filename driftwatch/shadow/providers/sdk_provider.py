"""The skeleton the two vendor-SDK providers share: their constructor, the client options, the gate.

Each subclass names its kind and default base URL, opens its SDK's async client, and implements one
attempt (request → :class:`Completion`); everything about how attempts are run lives in the gate.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

import httpx2

from driftwatch.ingest.shadow_marker import SHADOW_MARKER_HEADER
from driftwatch.shadow.providers.base import Completion, CompletionRequest
from driftwatch.shadow.providers.retry import CallGate, RetryPolicy
from driftwatch.shadow.providers.sharded_pool import ShardedTransport


class _Client(Protocol):
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Client)


class SdkProvider(Generic[ClientT]):
    """A :class:`~driftwatch.shadow.providers.base.Provider` behind an SDK client of type ``ClientT``.

    ``base_url`` None is the vendor's own API. ``retry`` None is the default :class:`RetryPolicy`.
    """

    kind: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        max_concurrency: int = 16,
        timeout_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model: Final = model
        self.name: Final = f"{self.kind}/{model}"
        self._base_url = base_url
        # Everything explicit, so the SDK never falls back to its environment variables (settings are
        # read once, by the factory); max_retries=0 leaves retrying to the gate; the marker header tells
        # gateways that export their own spans that this call is driftwatch's, not traffic. An explicit
        # timeout also keeps the anthropic SDK from refusing a large non-streaming `max_tokens`.
        # One kept-alive connection per concurrent request: the SDKs' default pool keeps only 100 (or
        # 20) alive, so at higher concurrency every call would open and tear down a TCP connection. The
        # connections live in several small pools (see ``sharded_pool``) so that keeping many is cheap.
        limits = httpx2.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._client = self._open(
            ShardedTransport(limits),
            api_key=api_key,
            base_url=base_url or self.default_base_url,
            max_retries=0,
            timeout=timeout_seconds,
            default_headers={SHADOW_MARKER_HEADER: "1"},
        )
        self._gate = CallGate(
            self.name,
            max_concurrency=max_concurrency,
            timeout_seconds=timeout_seconds,
            policy=retry or RetryPolicy(),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self._gate.call(lambda: self._attempt(request))

    async def aclose(self) -> None:
        await self._client.close()

    def _open(self, transport: httpx2.AsyncBaseTransport, **options: Any) -> ClientT:
        """The SDK's async client sending through ``transport``, built from ``options`` (its
        constructor's keyword arguments)."""
        raise NotImplementedError

    async def _attempt(self, request: CompletionRequest) -> Completion:
        """One request, SDK errors translated (see ``sdk_errors``); ``latency_seconds`` is the gate's."""
        raise NotImplementedError
