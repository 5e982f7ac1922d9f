"""Signing per Standard Webhooks, checked with the spec's reference verifier; URL, event and secret rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from driftwatch.events.catalogue import check_event_types, check_webhook_url
from driftwatch.notify.signing import check_secret, new_secret, signed_headers


def test_a_signed_request_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    body = b'{"type":"class.degraded","data":{"task_class":"summarize"}}'

    headers = signed_headers(secret, "evt_1", datetime.now(UTC), body)

    assert Webhook(secret).verify(body, headers) == {
        "type": "class.degraded",
        "data": {"task_class": "summarize"},
    }
    assert headers["idempotency-key"] == headers["webhook-id"] == "evt_1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda headers, body: (headers, body.replace(b"summarize", b"classify")),
        lambda headers, body: ({**headers, "webhook-id": "evt_2"}, body),
        lambda headers, body: (
            headers
            | {
                "webhook-signature": signed_headers(new_secret(), "evt_1", datetime.now(UTC), body)[
                    "webhook-signature"
                ]
            },
            body,
        ),
    ],
    ids=["body changed", "id changed", "other secret"],
)
def test_a_tampered_request_fails_verification(tamper: object) -> None:
    secret = new_secret()
    body = b'{"task_class":"summarize"}'
    headers, sent = tamper(signed_headers(secret, "evt_1", datetime.now(UTC), body), body)  # type: ignore[operator]

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent, headers)


def test_an_old_signature_is_refused_by_receivers() -> None:
    secret = new_secret()
    body = b"{}"
    headers = signed_headers(secret, "evt_1", datetime.now(UTC) - timedelta(minutes=10), body)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_new_secrets_are_random_and_in_the_whsec_form() -> None:
    first, second = new_secret(), new_secret()

    assert first != second
    assert first.startswith("whsec_") and len(base64.b64decode(first.removeprefix("whsec_"))) == 24
    assert check_secret(first) == first


@pytest.mark.parametrize("secret", ["whsec_", "whsec_c2hvcnQ=", "whsec_not base64!", "plain"])
def test_unusable_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        check_secret(secret)


@pytest.mark.parametrize("url", ["https://hooks.slack.com/services/T/B/x", "http://127.0.0.1:9000/hook"])
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://example.com/x",
        "gopher://example.com",
        "example.com/hook",
        "http://",
        "https://" + "a" * 3000 + ".com",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        check_webhook_url(url)


def test_event_types_are_checked_and_deduplicated() -> None:
    assert check_event_types(["class.promoted", "class.degraded", "class.promoted"]) == (
        "class.promoted",
        "class.degraded",
    )
    with pytest.raises(ValueError, match=r"class\.exploded"):
        check_event_types(["class.exploded"])
    with pytest.raises(ValueError, match="at least one"):
        check_event_types([])
