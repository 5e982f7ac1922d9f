"""What a browser may not make the server do (pure: headers in, a refusal or None out).

On loopback without auth, any web page the user opens can send requests to the server. Two rules
stop that:

* **Host** (DNS rebinding): a page on ``attacker.example`` whose name the attacker re-points at
  127.0.0.1 reads the API as same-origin, but its requests still say ``Host: attacker.example``.
  Only the names the server is known by are answered (400 otherwise).
* **Origin** (CSRF): a page cannot read a cross-origin answer, but its POST still runs. A request that
  changes state and says it comes from another origin (``Origin``, or ``Sec-Fetch-Site: cross-site``)
  is refused (403). OTLP exporters and CLI clients send neither header and are not affected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class Refusal:
    status_code: int
    error: str
    detail: str


@dataclass(frozen=True, slots=True)
class BrowserRules:
    """``hosts`` are the names answered (None: any); ``domains`` the ``*.example.com`` suffixes
    (``.example.com``); ``origins`` the origins besides the request's own host that may change state."""

    hosts: frozenset[str] | None
    domains: tuple[str, ...] = ()
    origins: frozenset[str] = frozenset()

    @classmethod
    def build(cls, allowed: Iterable[str] | None, public_url: str | None) -> BrowserRules:
        """``allowed`` as ``DRIFTWATCH_ALLOWED_HOSTS`` lists them (``*``: any); None: any host."""
        origins = frozenset({_origin(public_url)} if public_url else ())
        names = None if allowed is None else {_normal(name) for name in allowed}
        if names is None or "*" in names:
            return cls(None, (), origins)
        domains = tuple(sorted(name[1:] for name in names if name.startswith("*.")))
        return cls(frozenset(name for name in names if not name.startswith("*.")), domains, origins)

    def refusal(
        self, method: str, host: str | None, origin: str | None, fetch_site: str | None
    ) -> Refusal | None:
        """Why a request with these headers is refused, or None. A request without ``Host`` (HTTP/1.0
        clients) passes: browsers always send it."""
        if host is not None and not self._answers(host_name(host)):
            return Refusal(
                400,
                "bad_request",
                f"this server does not answer to Host {host!r}; add the name to DRIFTWATCH_ALLOWED_HOSTS "
                "if it is yours",
            )
        if method.upper() not in STATE_CHANGING:
            return None
        if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
            return Refusal(403, "forbidden", "a cross-site request may not change anything here")
        if origin is not None and not self._own_origin(origin, host):
            return Refusal(403, "forbidden", f"a request from origin {origin!r} may not change anything here")
        return None

    def _answers(self, name: str) -> bool:
        if self.hosts is None or name in self.hosts:
            return True
        return any(name.endswith(domain) for domain in self.domains)

    def _own_origin(self, origin: str, host: str | None) -> bool:
        normal = _origin(origin)
        if normal in self.origins:
            return True
        return host is not None and urlsplit(normal).netloc == host.strip().lower()


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:4318`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def default_hosts(bound_host: str, public_url: str | None) -> tuple[str, ...]:
    """The names a loopback server answers to unless told otherwise."""
    extra = [bound_host] + ([urlsplit(public_url).hostname or ""] if public_url else [])
    return tuple(dict.fromkeys([*LOOPBACK_NAMES, *(name for name in extra if name)]))


def _normal(name: str) -> str:
    return name.strip().lower().strip("[]").rstrip(".")


def _origin(url: str) -> str:
    """``scheme://host[:port]``, lower-cased; ``null`` and other opaque origins stay what they are."""
    parts = urlsplit(url.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url.strip().lower()
