"""Refuse a URL whose path holds a control character, or whose query spells a NUL (``%00``), before
any route sees it.

Path and query values go into SQL as text; PostgreSQL text cannot hold NUL, so such a value would fail
the query with a 500 instead of the 400 that bad input gets.  A line break in the path (``%0A``) never
reaches a route either: routing matches path parameters line by line, so it would answer a bare 404
as if the route did not exist.  One guard covers every route.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from driftwatch.api.errors import error_response

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class UrlGuard:
    """Pure ASGI (no body buffering): ingest streams its request bodies through it untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (problem := _problem(scope)):
            response = error_response(400, "bad_request", problem)
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _problem(scope: Scope) -> str | None:
    if _CONTROL_CHARACTER.search(scope["path"]):
        return "the URL's path holds a control character (NUL, a line break, …)"
    query = scope["query_string"].decode("latin-1")
    if "%00" in query and any(
        "\x00" in key or "\x00" in value for key, value in parse_qsl(query, keep_blank_values=True)
    ):
        return "the URL's query holds a NUL character"
    return None
