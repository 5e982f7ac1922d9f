"""One signed POST to a receiver, bounded in time and in how much of the answer is read."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from driftwatch import __version__
from driftwatch.notify.messages import slack_body, standard_body
from driftwatch.notify.signing import signed_headers
from driftwatch.notify.targets import TargetRefused

EXCERPT_CHARS = 500
# Enough of a receiver's answer to show why it refused; the rest is not read, so a huge body costs nothing.
READ_LIMIT_BYTES = 4096
USER_AGENT = f"driftwatch-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None
    retry_after: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def message(
    webhook_format: str,
    message_id: str,
    payload: dict[str, Any],
    secret: str,
    sent_at: datetime,
    dashboard_url: str,
) -> tuple[bytes, dict[str, str]]:
    """The body in the endpoint's format and its signed headers (Slack ignores the signature)."""
    if webhook_format == "slack":
        body = slack_body(message_id, payload, dashboard_url)
    else:
        body = standard_body(message_id, payload)
    headers = signed_headers(secret, message_id, sent_at, body)
    # identity: the excerpt is read raw, so a compressed (or decompression-bomb) answer is never inflated.
    return body, headers | {"user-agent": USER_AGENT, "accept-encoding": "identity"}


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], limit_seconds: float
) -> AttemptOutcome:
    """POST and classify: any 2xx delivers; any other answer, a timeout (the whole exchange, not just
    each read, so a receiver dribbling bytes cannot hold a worker), a network error or a target the
    client's guard refuses (see notify/network.py) is a failure."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_seconds):
            async with client.stream("POST", url, content=body, headers=headers) as response:
                excerpt = await _read_excerpt(response)
                status, retry_after = response.status_code, response.headers.get("retry-after")
    except TimeoutError:
        return AttemptOutcome(None, _since(started), f"no answer within {limit_seconds:g} s", None)
    except TargetRefused as refused:
        return AttemptOutcome(None, _since(started), str(refused), None)
    except httpx.HTTPError as failure:
        return AttemptOutcome(None, _since(started), f"{type(failure).__name__}: {failure}"[:500], None)
    refusal = None
    if not 200 <= status < 300:
        refusal = f"HTTP {status}"
        if 300 <= status < 400:
            refusal += " (redirects are not followed: set the final URL)"
    return AttemptOutcome(status, _since(started), refusal, excerpt, retry_after)


async def _read_excerpt(response: httpx.Response) -> str | None:
    received = bytearray()
    async for chunk in response.aiter_raw():
        received += chunk
        if len(received) >= READ_LIMIT_BYTES:
            break
    text = bytes(received[:READ_LIMIT_BYTES]).decode("utf-8", errors="replace").strip()
    return text[:EXCERPT_CHARS] or None


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
