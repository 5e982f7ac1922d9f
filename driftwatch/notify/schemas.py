"""Webhook endpoints and deliveries as the API reads and writes them. No schema carries the secret
except :class:`CreatedWebhook`, the one answer that shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from driftwatch.events.catalogue import EventTypes, WebhookUrl
from driftwatch.notify.signing import check_secret

WebhookFormat = Literal["standard", "slack"]
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="http(s) URL events are POSTed to.", max_length=2048)
    name: str | None = Field(None, min_length=1, max_length=200, description="Default: the URL's host.")
    format: WebhookFormat = "standard"
    events: EventTypes | None = Field(None, max_length=32, description="Event types sent (default: all).")
    secret: str | None = Field(
        None,
        max_length=128,
        description="Signing secret (whsec_ + base64); default: generated and shown once.",
    )

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, secret: str | None) -> str | None:
        return None if secret is None else check_secret(secret)


class DeliveryCounts(BaseModel):
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0


class Webhook(BaseModel):
    id: int
    name: str
    url: str = Field(
        description="Where events go, its secrets (password, query values, token paths) shown as ***."
    )
    format: WebhookFormat
    events: list[str] | None = Field(description="Event types sent; null: all.")
    source: Literal["api", "config"] = Field(description="config: declared in the policy file.")
    created_at: datetime
    removed_at: datetime | None
    deliveries: DeliveryCounts
    last_attempt_at: datetime | None


class CreatedWebhook(Webhook):
    secret: str = Field(description="The signing secret. Shown in this answer only: store it now.")


class WebhookList(BaseModel):
    items: list[Webhook]


class Attempt(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="HTTP status; null when the receiver gave no answer.")
    latency_ms: float
    error: str | None
    response_excerpt: str | None


class Delivery(BaseModel):
    id: int
    endpoint_id: int
    event_id: int
    event_type: str
    task_class: str | None
    idempotency_key: str = Field(description="The webhook-id header; the same on every attempt.")
    status: DeliveryStatus
    attempts: int = Field(description="Attempts since it was queued (the attempt log keeps earlier ones).")
    next_attempt_at: datetime | None = Field(description="When it is tried next; null once finished.")
    created_at: datetime = Field(
        description="When it was queued: for the event, or again by a redelivery; its retry window starts here."
    )
    finished_at: datetime | None
    last_error: str | None
    attempt_log: list[Attempt]


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: int | None = Field(description="Pass as `before` for the next (older) page.")


class RecoveredDeliveries(BaseModel):
    requeued: int = Field(description="Failed deliveries queued again, to be sent in event order.")


class WebhookTestResult(BaseModel):
    delivered: bool
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None
