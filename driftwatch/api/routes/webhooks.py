"""Webhook endpoints: add, list, remove, send a test, and read the delivery log."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from driftwatch.api.deps import SessionDep
from driftwatch.api.routes.calls import as_utc
from driftwatch.api.state import NowDep, StateDep
from driftwatch.notify import endpoints, history, redelivery
from driftwatch.notify.delivery import DeliveryOptions, send_test
from driftwatch.notify.schemas import (
    CreatedWebhook,
    Delivery,
    DeliveryPage,
    DeliveryStatus,
    RecoveredDeliveries,
    Webhook,
    WebhookCreate,
    WebhookList,
    WebhookTestResult,
)

router = APIRouter(tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, lt=2**63)]
DeliveryId = Annotated[int, Path(ge=1, lt=2**63)]
_NO_WEBHOOK: dict[int | str, dict[str, Any]] = {404: {"description": "No active webhook with this id"}}
_NOT_REDELIVERABLE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No delivery with this id"},
    409: {"description": "Still pending, cancelled, or to a removed webhook"},
}


def _delivery_options(state: StateDep) -> DeliveryOptions:
    return state.webhook_options


DeliveryOptionsDep = Annotated[DeliveryOptions, Depends(_delivery_options)]
QueuedSince = Annotated[
    datetime | None, Query(description="Only deliveries queued since then, ISO 8601 (UTC if no offset)")
]


@router.post(
    "/v1/webhooks",
    response_model=CreatedWebhook,
    status_code=201,
    summary="Add a webhook endpoint; the answer shows its signing secret, once",
    responses={
        409: {"description": "A webhook with this name exists"},
        422: {"description": "Not a usable URL, or its host is an internal address (named rule)"},
    },
)
def create_webhook(
    session: SessionDep, options: DeliveryOptionsDep, now: NowDep, body: WebhookCreate
) -> CreatedWebhook:
    return endpoints.create_endpoint(session, body, now, options.guard)


@router.get("/v1/webhooks", response_model=WebhookList, summary="Webhook endpoints with delivery counts")
def list_webhooks(session: SessionDep, include_removed: Annotated[bool, Query()] = False) -> WebhookList:
    return WebhookList(items=endpoints.list_endpoints(session, include_removed=include_removed))


@router.delete(
    "/v1/webhooks/{webhook_id}",
    response_model=Webhook,
    summary="Remove a webhook endpoint: pending deliveries are cancelled, the log is kept",
    responses={**_NO_WEBHOOK, 409: {"description": "Declared in the policy file: remove it there"}},
)
def remove_webhook(session: SessionDep, now: NowDep, webhook_id: WebhookId) -> Webhook:
    return endpoints.remove_endpoint(session, webhook_id, now)


@router.post(
    "/v1/webhooks/{webhook_id}/test",
    response_model=WebhookTestResult,
    summary="Send a signed webhook.test message now and report the receiver's answer",
    responses=_NO_WEBHOOK,
)
def test_webhook(
    session: SessionDep, options: DeliveryOptionsDep, now: NowDep, webhook_id: WebhookId
) -> WebhookTestResult:
    endpoint = endpoints.get_endpoint(session, webhook_id)
    outcome = asyncio.run(send_test(endpoint, options, now))
    return WebhookTestResult(
        delivered=outcome.delivered,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        response_excerpt=outcome.response_excerpt,
    )


@router.get(
    "/v1/webhooks/deliveries",
    response_model=DeliveryPage,
    summary="Deliveries to every endpoint, newest first, with their attempts",
)
def list_all_deliveries(
    session: SessionDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    return history.list_deliveries(session, status=status, before=before, limit=limit)


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    summary="One endpoint's deliveries, newest first, with their attempts",
    responses=_NO_WEBHOOK,
)
def list_deliveries(
    session: SessionDep,
    webhook_id: WebhookId,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    endpoints.get_endpoint(session, webhook_id)
    return history.list_deliveries(session, endpoint_id=webhook_id, status=status, before=before, limit=limit)


@router.post(
    "/v1/webhooks/{webhook_id}/recover",
    response_model=RecoveredDeliveries,
    summary="Queue again every failed delivery of an endpoint, e.g. after an outage past the retry window",
    responses=_NO_WEBHOOK,
)
def recover(
    session: SessionDep, now: NowDep, webhook_id: WebhookId, since: QueuedSince = None
) -> RecoveredDeliveries:
    requeued = redelivery.recover(session, webhook_id, now, as_utc(since))
    return RecoveredDeliveries(requeued=requeued)


@router.post(
    "/v1/webhooks/deliveries/{delivery_id}/redeliver",
    response_model=Delivery,
    summary="Send a failed or delivered event again (same webhook-id), before newer pending ones",
    responses=_NOT_REDELIVERABLE,
)
def redeliver(session: SessionDep, now: NowDep, delivery_id: DeliveryId) -> Delivery:
    return redelivery.redeliver(session, delivery_id, now)
