"""The ``deliver`` job: fan new outbox events out to the endpoints that want them, then send each
endpoint's due deliveries in event order.

Exactly-once to a receiver that dedupes on ``webhook-id``: a delivery is sent by whichever worker
holds its endpoint's lease (a conditional UPDATE, so replicas never send concurrently), and its
attempt and new status are committed right after the answer. A crash between the answer and that
commit is the only way an event is sent twice, with the same ``webhook-id`` both times.

In order per endpoint: while the oldest pending delivery of an endpoint waits for its retry, the
newer ones wait behind it; a delivery that runs out of retries becomes ``failed`` and the queue moves on.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, exists, func, or_, select, update
from sqlalchemy.orm import Session

from driftwatch.config import Policy, Settings
from driftwatch.db.dialect_insert import insert_ignoring_conflicts
from driftwatch.db.engine import session_factory
from driftwatch.db.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from driftwatch.events.catalogue import TEST_EVENT_TYPE
from driftwatch.notify import sender
from driftwatch.notify.backoff import next_attempt, retry_after_seconds
from driftwatch.notify.endpoints import subscribed_events, sync_config_endpoints
from driftwatch.notify.network import Resolver, TargetGuard, webhook_client

# Outbox ids are taken in commit order (see notify/outbox.py), so fan-out need only look past the last
# event it queued; looking this many ids back as well (deduped by the unique (endpoint, event) key)
# still catches an event written some other way, such as by an older replica during an upgrade.
FANOUT_LOOKBACK_IDS = 1000
FANOUT_BATCH = 1000  # per endpoint and run; the next run takes the rest
SENDS_PER_ENDPOINT_PER_RUN = 100
LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    worker_id: str
    timeout_seconds: float
    retry_window: timedelta
    max_backoff_seconds: float
    dashboard_url: str
    guard: TargetGuard

    @classmethod
    def from_settings(
        cls, settings: Settings, worker_id: str, resolver: Resolver | None = None
    ) -> DeliveryOptions:
        return cls(
            worker_id=worker_id,
            timeout_seconds=settings.webhook_timeout_seconds,
            retry_window=timedelta(hours=settings.webhook_retry_hours),
            max_backoff_seconds=settings.webhook_max_backoff_seconds,
            dashboard_url=settings.public_base_url(),
            guard=TargetGuard.from_settings(settings, resolver),
        )

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout_seconds + LEASE_MARGIN_SECONDS)


@dataclass(slots=True)
class DeliverySummary:
    queued: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (
            f"queued {self.queued} deliveries; delivered {self.delivered}, will retry {self.retrying}, "
            f"failed {self.failed}"
        )


async def run_delivery(
    engine: Engine,
    policy: Policy,
    options: DeliveryOptions,
    clock: Callable[[], datetime],
    environ: Mapping[str, str],
) -> DeliverySummary:
    """One run of the ``deliver`` job."""
    async with webhook_client(options.guard, options.timeout_seconds) as client:
        deliverer = Deliverer(engine, options, clock, client)
        queued = deliverer.prepare(policy, environ)
        summary = await deliverer.deliver_due()
    summary.queued = queued
    return summary


async def send_test(
    endpoint: WebhookEndpoint, options: DeliveryOptions, now: datetime
) -> sender.AttemptOutcome:
    """Send a signed ``webhook.test`` message now, outside the queue (nothing is recorded)."""
    payload = {"type": TEST_EVENT_TYPE, "task_class": None, "occurred_at": now.isoformat(), "test": True}
    message_id = f"test_{secrets.token_hex(12)}"
    body, headers = sender.message(
        endpoint.format, message_id, payload, endpoint.secret, now, options.dashboard_url
    )
    async with webhook_client(options.guard, options.timeout_seconds) as client:
        return await sender.post(client, endpoint.url, body, headers, options.timeout_seconds)


def fan_out(session: Session, now: datetime) -> int:
    """One delivery per (active endpoint, event it subscribes to, created since the endpoint was)."""
    queued = 0
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.removed_at.is_(None)))
    for endpoint in endpoints:
        newest = session.scalar(
            select(func.max(WebhookDelivery.event_id)).where(WebhookDelivery.endpoint_id == endpoint.id)
        )
        already = exists().where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == OutboxEvent.id
        )
        events = select(OutboxEvent.id).where(OutboxEvent.created_at >= endpoint.created_at, ~already)
        if newest is not None:
            events = events.where(OutboxEvent.id > newest - FANOUT_LOOKBACK_IDS)
        if (wanted := subscribed_events(endpoint)) is not None:
            events = events.where(OutboxEvent.event_type.in_(wanted))
        rows = [
            {
                "endpoint_id": endpoint.id,
                "event_id": event_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event_id in session.scalars(events.order_by(OutboxEvent.id).limit(FANOUT_BATCH))
        ]
        if rows:
            insert = insert_ignoring_conflicts(session, WebhookDelivery).values(rows)
            queued += len(session.scalars(insert.returning(WebhookDelivery.id)).all())
    return queued


class Deliverer:
    """Sends due deliveries; one instance per job run. ``clock`` is the job's (tests drive time)."""

    def __init__(
        self,
        engine: Engine,
        options: DeliveryOptions,
        clock: Callable[[], datetime],
        client: httpx.AsyncClient,
    ) -> None:
        self._sessions = session_factory(engine)
        self._options = options
        self._clock = clock
        self._client = client

    def prepare(self, policy: Policy, environ: Mapping[str, str]) -> int:
        """Bring policy-file endpoints in step and queue deliveries for new events."""
        with self._sessions.begin() as session:
            now = self._clock()
            sync_config_endpoints(session, policy.webhooks, environ, now)
            return fan_out(session, now)

    async def deliver_due(self) -> DeliverySummary:
        summary = DeliverySummary()
        claimed = self._claim_endpoints()
        await asyncio.gather(*(self._drain(endpoint_id, summary) for endpoint_id in claimed))
        return summary

    def _claim_endpoints(self) -> list[int]:
        """Lease every endpoint whose oldest pending delivery is due and no live worker holds."""
        now = self._clock()
        with self._sessions.begin() as session:
            due = session.scalars(
                select(WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .distinct()
            ).all()
        return [endpoint_id for endpoint_id in due if self._lease(endpoint_id, now)]

    def _lease(self, endpoint_id: int, now: datetime) -> bool:
        mine = self._options.worker_id
        with self._sessions.begin() as session:
            taken = session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == endpoint_id,
                    WebhookEndpoint.removed_at.is_(None),
                    or_(
                        WebhookEndpoint.lease_until.is_(None),
                        WebhookEndpoint.lease_until < now,
                        WebhookEndpoint.lease_owner == mine,
                    ),
                )
                .values(lease_owner=mine, lease_until=now + self._options.lease)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _release(self, endpoint_id: int) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == endpoint_id,
                    WebhookEndpoint.lease_owner == self._options.worker_id,
                )
                .values(lease_owner=None, lease_until=None)
            )

    async def _drain(self, endpoint_id: int, summary: DeliverySummary) -> None:
        try:
            for _ in range(SENDS_PER_ENDPOINT_PER_RUN):
                now = self._clock()
                head = self._head(endpoint_id)
                if head is None or head[0].next_attempt_at > now or not self._lease(endpoint_id, now):
                    return
                if not await self._attempt(*head, summary):
                    return  # the head waits for its retry; newer deliveries wait behind it
        finally:
            self._release(endpoint_id)

    def _head(self, endpoint_id: int) -> tuple[WebhookDelivery, WebhookEndpoint, OutboxEvent] | None:
        with self._sessions() as session:
            row = session.execute(
                select(WebhookDelivery, WebhookEndpoint, OutboxEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
                .order_by(WebhookDelivery.event_id)
                .limit(1)
            ).one_or_none()
            if row is None:
                return None
            session.expunge_all()
            return row[0], row[1], row[2]

    async def _attempt(
        self,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        event: OutboxEvent,
        summary: DeliverySummary,
    ) -> bool:
        payload: dict[str, Any] = orjson.loads(event.payload)
        sent_at = datetime.now(UTC)  # receivers check the signature's timestamp against their clock
        body, headers = sender.message(
            endpoint.format,
            event.idempotency_key,
            payload,
            endpoint.secret,
            sent_at,
            self._options.dashboard_url,
        )
        outcome = await sender.post(self._client, endpoint.url, body, headers, self._options.timeout_seconds)
        self._record(delivery, outcome, summary)
        return outcome.delivered

    def _record(
        self, delivery: WebhookDelivery, outcome: sender.AttemptOutcome, summary: DeliverySummary
    ) -> None:
        now = self._clock()
        values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1, "last_error": outcome.error}
        if outcome.delivered:
            values |= {"status": "delivered", "finished_at": now}
            summary.delivered += 1
        else:
            retry = next_attempt(
                delivery.attempts + 1,
                now,
                give_up_at=delivery.created_at + self._options.retry_window,
                max_backoff=self._options.max_backoff_seconds,
                retry_after=retry_after_seconds(outcome.retry_after, now),
            )
            if retry is None:
                values |= {"status": "failed", "finished_at": now}
                summary.failed += 1
            else:
                values["next_attempt_at"] = retry
                summary.retrying += 1
        with self._sessions.begin() as session:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    latency_ms=outcome.latency_ms,
                    error=outcome.error,
                    response_excerpt=outcome.response_excerpt,
                )
            )
            # Conditional: an endpoint removed meanwhile has cancelled this delivery; that stands.
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending")
                .values(**values)
            )
