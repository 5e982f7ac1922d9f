"""The receiver example in the README verifies what driftwatch really sends."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftwatch.notify.messages import standard_body
from driftwatch.notify.signing import new_secret, signed_headers

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _receiver(secret: str) -> dict[str, Any]:
    (example,) = [
        block for block in re.findall(r"```python\n(.*?)```", README, re.DOTALL) if "Webhook(" in block
    ]
    seen: set[str] = set()

    def already_seen(event_id: str) -> bool:
        found = event_id in seen
        seen.add(event_id)
        return found

    namespace: dict[str, Any] = {"already_seen": already_seen}
    exec(example.replace('"whsec_..."', repr(secret)), namespace)  # the README's code, as written
    return namespace


def test_the_readme_receiver_accepts_a_signed_event_once_and_refuses_a_forgery() -> None:
    secret = new_secret()
    handle = _receiver(secret)["handle"]
    body = standard_body("evt_1", {"type": "class.degraded", "task_class": "summarize"})
    headers = signed_headers(secret, "evt_1", datetime.now(UTC), body)

    assert handle(body, headers) == 200
    assert handle(body, headers) == 200  # a retry: acknowledged, not processed again
    assert handle(body.replace(b"summarize", b"classify"), headers) == 401
    assert handle(body, signed_headers(new_secret(), "evt_1", datetime.now(UTC), body)) == 401
