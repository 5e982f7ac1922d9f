"""Event types and the rules a webhook endpoint's settings must follow (pure: no session, no HTTP)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

EVENT_TYPES = (
    "class.degraded",
    "class.promoted",
    "class.demoted",
    "class.demotion_recommended",
    "class.unevaluable",
    "class.unprotected",
    "budget.exhausted",
    "classes.capped",
    "model.changed",
)
# Sent by `driftwatch webhooks test` only; never queued, so no endpoint can subscribe to it.
TEST_EVENT_TYPE = "webhook.test"
WEBHOOK_FORMATS = ("standard", "slack")
MAX_URL_LENGTH = 2048


def check_event_types(events: Iterable[str]) -> tuple[str, ...]:
    """The distinct event types, in the order given; an unknown one is refused by name."""
    chosen = tuple(dict.fromkeys(events))
    if unknown := [event for event in chosen if event not in EVENT_TYPES]:
        raise ValueError(f"unknown event type(s) {unknown}; known: {list(EVENT_TYPES)}")
    if not chosen:
        raise ValueError("give at least one event type, or none at all for every type")
    return chosen


def check_webhook_url(url: str) -> str:
    """Only absolute http(s) URLs: anything else (file:, javascript:, a bare host) is refused."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"webhook URL longer than {MAX_URL_LENGTH} characters")
    import httpx  # here: `driftwatch --help` reads EVENT_TYPES and should not load an HTTP client

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise ValueError(f"not a valid URL: {error}") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"webhook URL must be an absolute http:// or https:// URL, got {url!r}")
    return url


WebhookUrl = Annotated[str, AfterValidator(check_webhook_url)]
"""A field holding a webhook URL, checked wherever one is accepted (API, CLI, policy file)."""
EventTypes = Annotated[tuple[str, ...], AfterValidator(check_event_types)]
"""A field holding the event types an endpoint subscribes to."""
