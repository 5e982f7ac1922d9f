"""Refuse a URL whose path or query spells a NUL character (``%00``) before any route sees it.

Path and query values go into SQL as text; PostgreSQL text cannot hold NUL, so such a value would fail
the query with a 500 instead of the 400 that bad input gets.  One guard covers every route.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from driftwatch.api.errors import error_response


class NulInUrlGuard:
    """Pure ASGI (no body buffering): ingest streams its request bodies through it untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            response = error_response(400, "bad_request", "the URL's path or query holds a NUL character")
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    if "\x00" in scope["path"]:
        return True
    query = scope["query_string"].decode("latin-1")
    return "%00" in query and any(
        "\x00" in key or "\x00" in value for key, value in parse_qsl(query, keep_blank_values=True)
    )
