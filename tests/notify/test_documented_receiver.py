"""The receiver example in docs/webhooks.md verifies what driftwatch really sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from driftwatch.notify.messages import standard_body
from driftwatch.notify.signing import new_secret, signed_headers
from tests.support.manual import doc, fenced_blocks

WEBHOOKS = doc("webhooks.md")


def _receiver(secret: str) -> dict[str, Any]:
    (example,) = [block for block in fenced_blocks(WEBHOOKS, "python") if "Webhook(" in block]
    seen: set[str] = set()

    def already_seen(event_id: str) -> bool:
        found = event_id in seen
        seen.add(event_id)
        return found

    namespace: dict[str, Any] = {"already_seen": already_seen}
    exec(example.replace('"whsec_..."', repr(secret)), namespace)  # the documented code, as written
    return namespace


def test_the_documented_receiver_accepts_a_signed_event_once_and_refuses_a_forgery() -> None:
    secret = new_secret()
    handle = _receiver(secret)["handle"]
    body = standard_body("evt_1", {"type": "class.degraded", "task_class": "summarize"})
    headers = signed_headers(secret, "evt_1", datetime.now(UTC), body)

    assert handle(body, headers) == 200
    assert handle(body, headers) == 200  # a retry: acknowledged, not processed again
    assert handle(body.replace(b"summarize", b"classify"), headers) == 401
    assert handle(body, signed_headers(new_secret(), "evt_1", datetime.now(UTC), body)) == 401
