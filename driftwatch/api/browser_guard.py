"""Applies :mod:`driftwatch.api.browser_rules` to every request, before any route runs."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from driftwatch.api.browser_rules import BrowserRules, default_hosts
from driftwatch.api.errors import error_response
from driftwatch.config import Settings


def browser_rules(settings: Settings) -> BrowserRules:
    """``DRIFTWATCH_ALLOWED_HOSTS`` when set; else, on a loopback address, the loopback names, the bound
    host and the public URL's host; else any host (every request there needs an API key, which a
    rebound page does not have)."""
    if settings.allowed_hosts:
        allowed: tuple[str, ...] | None = settings.allowed_hosts
    elif settings.binds_loopback():
        allowed = default_hosts(settings.host, settings.public_url)
    else:
        allowed = None
    return BrowserRules.build(allowed, settings.public_url)


class BrowserGuard:
    """Pure ASGI (no body buffering), like :class:`driftwatch.api.url_guard.UrlGuard`."""

    def __init__(self, app: ASGIApp, rules: BrowserRules) -> None:
        self._app = app
        self._rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            refusal = self._rules.refusal(
                scope["method"], headers.get("host"), headers.get("origin"), headers.get("sec-fetch-site")
            )
            if refusal is not None:
                response = error_response(refusal.status_code, refusal.error, refusal.detail)
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)
