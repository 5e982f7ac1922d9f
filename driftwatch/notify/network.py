"""Webhook targets checked where it counts: when the URL is registered, and on every send, where the
name is resolved once, every address it resolves to is checked, and the connection goes to an address
that was checked, so a DNS answer cannot change between the check and the connect (DNS rebinding).

The request keeps its URL: the ``Host`` header, TLS SNI and certificate verification all use the
hostname, only the TCP connection is made to the checked address (an httpcore network backend).
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio.to_thread
import httpcore
import httpx

from driftwatch.config import Settings
from driftwatch.notify.targets import (
    IPAddress,
    IPNetwork,
    TargetRefused,
    check_addresses,
    literal_address,
    reserved_name_addresses,
)


class Resolver(Protocol):
    """Name resolution (a plug-in point: tests pass an in-memory one to change answers at will)."""

    def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        """Every address ``host`` resolves to; ``OSError`` when it does not resolve."""
        ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``); blocking, so senders call it off the loop."""

    def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(
            dict.fromkeys(ipaddress.ip_address(str(answer[4][0]).split("%", 1)[0]) for answer in answers)
        )


@dataclass(frozen=True, slots=True)
class TargetGuard:
    """The networks an operator allowed on top of the public internet, and how names are resolved."""

    allowed: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default_factory=SystemResolver)

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver | None = None) -> TargetGuard:
        allowed = tuple(ipaddress.ip_network(network) for network in settings.webhook_allowed_networks)
        return cls(allowed, resolver or SystemResolver())

    def addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        """The checked addresses to connect to for ``host``: raises :class:`TargetRefused` if any of them
        may not be a target, ``OSError`` if the name does not resolve."""
        if (literal := literal_address(host)) is not None:
            found: Sequence[IPAddress] = [literal]
        else:
            found = reserved_name_addresses(host) or self.resolver.resolve(host, port)
        check_addresses(host, found, self.allowed)
        return found

    def check_url(self, url: str) -> None:
        """At registration: refuse a URL whose host is, or resolves to, an address it may not reach. A
        name that does not resolve yet is accepted; each send checks it again."""
        parsed = httpx.URL(url)
        try:
            self.addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
        except OSError:
            return


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: TargetGuard) -> None:
        self._guard = guard
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await anyio.to_thread.run_sync(self._guard.addresses, host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {error}") from error
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None  # addresses is never empty: check_addresses refuses that
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request and error mapping) over a pool that connects through the guard.
    Environment proxies do not apply: a proxy would connect to an address nobody checked."""

    def __init__(self, guard: TargetGuard) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend(guard)
        )


def webhook_client(guard: TargetGuard, timeout_seconds: float) -> httpx.AsyncClient:
    """The client every webhook is sent with: redirects are not followed (the URL is the one checked)."""
    return httpx.AsyncClient(
        transport=_GuardedTransport(guard), follow_redirects=False, timeout=timeout_seconds
    )
