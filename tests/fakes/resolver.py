"""A name resolver answering from a table the test changes at will (the system resolver is never asked)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from driftwatch.notify.targets import IPAddress


class TableResolver:
    """Speaks :class:`driftwatch.notify.network.Resolver`: ``answers[name]`` are the addresses a name
    resolves to now; a name not in the table does not resolve. ``asked`` lists every name looked up."""

    def __init__(self, answers: dict[str, Sequence[str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(address) for address in self.answers[host]]
