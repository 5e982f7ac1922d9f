"""Which addresses a webhook may be sent to (pure: no socket is opened, no name is looked up).

A webhook URL is chosen by whoever can add an endpoint, and ``POST /v1/webhooks/{id}/test`` shows the
first characters of the answer: without these rules, adding a webhook would read any HTTP endpoint the
server can reach (cloud metadata, admin ports on loopback, the private network). So a target may not be
loopback, private, link-local, shared, unspecified, multicast or otherwise reserved, in any spelling
(``127.1``, ``2130706433``, ``[::ffff:127.0.0.1]``, ``[2002:7f00:1::]``…), unless an operator allows its
network explicitly (``DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS"

# Checked in order; the first network holding the address names the rule it breaks.
_RULES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network', 0.0.0.0/8)"),
    ("::/128", "unspecified (::)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("::1/128", "loopback (::1)"),
    ("169.254.0.0/16", "link-local (169.254.0.0/16, where cloud metadata services answer)"),
    ("fe80::/10", "link-local (fe80::/10)"),
    ("fd00:ec2::254/128", "link-local (the AWS metadata service, fd00:ec2::254)"),
    ("10.0.0.0/8", "private (RFC 1918, 10.0.0.0/8)"),
    ("172.16.0.0/12", "private (RFC 1918, 172.16.0.0/12)"),
    ("192.168.0.0/16", "private (RFC 1918, 192.168.0.0/16)"),
    ("fc00::/7", "private (IPv6 unique local, fc00::/7)"),
    ("100.64.0.0/10", "shared (carrier-grade NAT, 100.64.0.0/10)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("ff00::/8", "multicast (ff00::/8)"),
    ("255.255.255.255/32", "broadcast (255.255.255.255)"),
)
_NETWORKS = tuple((ipaddress.ip_network(network), rule) for network, rule in _RULES)

# Names that mean an internal address whatever DNS says: the metadata services' own names, which resolve
# inside the cloud only, and names under .localhost (RFC 6761), which resolvers need not know.
_RESERVED_NAMES: dict[str, tuple[str, ...]] = {
    ".localhost": ("127.0.0.1", "::1"),
    "metadata.google.internal": ("169.254.169.254",),
    "metadata.goog": ("169.254.169.254",),
    "metadata": ("169.254.169.254",),
    "instance-data": ("169.254.169.254",),
    "instance-data.ec2.internal": ("169.254.169.254",),
}
# What inet_aton reads as an IPv4 address: 1 to 4 parts, each decimal, octal (0…) or hex (0x…).
_NUMERIC_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class TargetRefused(Exception):
    """A webhook target breaks a rule; the message names the address and the rule."""


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host spells, in any spelling a resolver would accept (``127.1``,
    ``2130706433``, ``0x7f.1``, ``[::1]``), or None when the host is a name."""
    bare = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not the address
    except ValueError:
        pass
    if _NUMERIC_IPV4.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def reserved_name_addresses(host: str) -> tuple[IPAddress, ...]:
    """The internal addresses a special name always means (``*.localhost``, the cloud metadata
    services' names); empty for any other name (``localhost`` itself is left to the resolver)."""
    name = host.rstrip(".").lower()
    if name.endswith(".localhost"):
        name = ".localhost"
    return tuple(ipaddress.ip_address(address) for address in _RESERVED_NAMES.get(name, ()))


def refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why ``address`` may not be a webhook target, or None when it may. An IPv6 address that carries an
    IPv4 one (mapped, compatible, 6to4, NAT64, Teredo) is judged by the IPv4 address it reaches."""
    reached = embedded_ipv4(address) or address
    if any(reached in network or address in network for network in allowed):
        return None
    for candidate in dict.fromkeys((reached, address)):
        for network, rule in _NETWORKS:
            if candidate.version == network.version and candidate in network:
                return _refused(address, reached, rule)
        if not candidate.is_global:
            return _refused(address, reached, "reserved (not a public internet address)")
    return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_addresses(host: str, addresses: Sequence[IPAddress], allowed: Sequence[IPNetwork]) -> None:
    """Raise :class:`TargetRefused` unless every address ``host`` stands for may be a target (one bad
    answer is enough: a resolver may pick any of them)."""
    if not addresses:
        raise TargetRefused(f"webhook host {host!r} resolved to no address")
    for address in addresses:
        if (rule := refusal(address, allowed)) is not None:
            shown = host if literal_address(host) == address else f"{host!r} resolves to {address}, which"
            raise TargetRefused(
                f"webhook target refused: {shown} is {rule}; an on-premises receiver is allowed by "
                f"adding its network to {ALLOW_SETTING}"
            )


def _refused(address: IPAddress, reached: IPAddress, rule: str) -> str:
    return rule if reached == address else f"{rule} (as {reached})"
