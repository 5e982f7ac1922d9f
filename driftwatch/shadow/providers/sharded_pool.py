"""An HTTP transport for the SDK clients that keeps many connections cheaply: several small pools.

httpcore's pool scans every connection it holds on each request and again on each response, checking
each idle one for expiry with a system call. With one pool of hundreds of kept-alive connections (one
per concurrent request, as a provider with a high ``max_concurrency`` needs) that scan cost more CPU
than the rest of the request: about 2.5 ms a request at 512 connections. Pools of a few dozen each, with
every request sent to the least busy one, keep the same connections for a small fraction of that.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import httpx2

SHARD_SIZE = 32
"""Connections per pool: small enough that the scan is cheap, large enough that few pools are needed."""


class ShardedTransport(httpx2.AsyncBaseTransport):
    """``limits.max_connections`` (and as many kept alive) spread over pools of at most ``shard_size``."""

    def __init__(self, limits: httpx2.Limits, shard_size: int = SHARD_SIZE) -> None:
        total = limits.max_connections or shard_size
        count = math.ceil(total / shard_size)
        size = math.ceil(total / count)
        shard_limits = httpx2.Limits(
            max_connections=size, max_keepalive_connections=size, keepalive_expiry=limits.keepalive_expiry
        )
        self._shards = [httpx2.AsyncHTTPTransport(limits=shard_limits) for _ in range(count)]
        self._busy = [0] * count

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self._busy[index] -= 1
            raise
        # The connection stays taken until the body is read and the response closed.
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Releasing(response, lambda: self._release(index)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()

    def _release(self, index: int) -> None:
        self._busy[index] -= 1


class _Releasing(httpx2.AsyncByteStream):
    """A response's body that calls ``release`` once, when it is closed."""

    def __init__(self, response: httpx2.Response, release: Callable[[], None]) -> None:
        self._response = response
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._response.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None
