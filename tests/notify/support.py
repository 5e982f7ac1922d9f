"""Events queued as the decision jobs queue them, a clock tests move, and the deliver job run once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from driftwatch.config import Policy, Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import WebhookAttempt, WebhookDelivery
from driftwatch.events.outbox import emit
from driftwatch.notify.delivery import DeliveryOptions, DeliverySummary, run_delivery
from driftwatch.notify.endpoints import create_endpoint
from driftwatch.notify.network import Resolver
from driftwatch.notify.schemas import CreatedWebhook, WebhookCreate
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def add_endpoint(engine: Engine, clock: Clock, url: str, **fields: Any) -> CreatedWebhook:
    with session_factory(engine).begin() as session:
        return create_endpoint(session, WebhookCreate(url=url, **fields), clock(), options().guard)


def queue_event(engine: Engine, clock: Clock, event_type: str, task_class: str, number: int) -> None:
    payload = {"tier": "cheap", "decision_id": number, "reason": f"event {number}"}
    with session_factory(engine).begin() as session:
        emit(session, event_type, task_class, payload, clock(), dedupe=f"test:{number}")


def options(
    worker_id: str = "test-worker", resolver: Resolver | None = None, **settings: Any
) -> DeliveryOptions:
    defaults: dict[str, Any] = {
        "webhook_timeout_seconds": 2.0,
        "public_url": "https://driftwatch.example",
        "webhook_allowed_networks": LOOPBACK_RECEIVERS,
    }
    return DeliveryOptions.from_settings(Settings(**(defaults | settings)), worker_id, resolver)


def deliver(
    engine: Engine, clock: Clock, policy: Policy | None = None, worker: DeliveryOptions | None = None
) -> DeliverySummary:
    run = run_delivery(engine, policy or Policy(), worker or options(), clock, {})
    return asyncio.run(run)


def deliveries(engine: Engine) -> list[WebhookDelivery]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def attempts(engine: Engine) -> list[WebhookAttempt]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
