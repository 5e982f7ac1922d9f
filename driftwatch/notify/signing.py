"""Standard Webhooks signing (https://www.standardwebhooks.com), with the spec's reference library.

A receiver verifies ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(secret, id.timestamp.body)) with
the endpoint's secret, and rejects timestamps far from now, which makes a captured request useless later.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """24 random bytes, the size Svix and the spec's examples use, in the spec's ``whsec_`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> str:
    """A usable secret is ``whsec_`` + base64 of at least 16 bytes; anything else is refused."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise ValueError("webhook secret must be whsec_ followed by base64") from error
    if len(key) < 16:
        raise ValueError("webhook secret must hold at least 16 bytes")
    return secret


def signed_headers(secret: str, message_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, plus the same id as ``Idempotency-Key`` for receivers
    that dedupe on that name. The id is the event's, so a retry carries the id of the first try."""
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=sent_at, data=body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "idempotency-key": message_id,
        "content-type": "application/json",
    }
