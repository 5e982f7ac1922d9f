"""Webhook endpoints: added by the API or CLI, or declared in the policy file and kept in step with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx
import orjson
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from driftwatch.config import WebhookConfig
from driftwatch.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from driftwatch.errors import ConfigError, Conflict, NotFound, Unprocessable
from driftwatch.notify.network import TargetGuard
from driftwatch.notify.schemas import CreatedWebhook, DeliveryCounts, Webhook, WebhookCreate
from driftwatch.notify.shown_url import shown_url
from driftwatch.notify.signing import check_secret, new_secret
from driftwatch.notify.targets import TargetRefused


def create_endpoint(
    session: Session, request: WebhookCreate, now: datetime, guard: TargetGuard
) -> CreatedWebhook:
    """Add an endpoint; it receives the events that happen from now on. The answer is the only place
    the secret is ever shown. A URL the guard refuses (an internal address) is :class:`Unprocessable`."""
    try:
        guard.check_url(request.url)
    except TargetRefused as refused:
        raise Unprocessable(str(refused)) from refused
    name = request.name or _free_name(session, httpx.URL(request.url).host)
    if _by_name(session, name) is not None:
        raise Conflict(f"a webhook named {name!r} exists; remove it first or pick another name")
    endpoint = WebhookEndpoint(
        name=name,
        url=request.url,
        format=request.format,
        events=None if request.events is None else orjson.dumps(request.events).decode(),
        secret=request.secret or new_secret(),
        source="api",
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    return CreatedWebhook(**describe(session, endpoint).model_dump(), secret=endpoint.secret)


def list_endpoints(session: Session, *, include_removed: bool = False) -> list[Webhook]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if not include_removed:
        query = query.where(WebhookEndpoint.removed_at.is_(None))
    return [describe(session, endpoint) for endpoint in session.scalars(query)]


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.removed_at is not None:
        raise NotFound(f"no webhook with id {endpoint_id}")
    return endpoint


def remove_endpoint(session: Session, endpoint_id: int, now: datetime) -> Webhook:
    """Stop sending to an endpoint. Its deliveries and attempts stay readable; the ones still pending
    are cancelled. Endpoints from the policy file are removed by editing the file."""
    endpoint = get_endpoint(session, endpoint_id)
    if endpoint.source == "config":
        raise Conflict(f"webhook {endpoint.name!r} is declared in the policy file; remove it there")
    _retire(session, endpoint, now)
    return describe(session, endpoint)


def sync_config_endpoints(
    session: Session, declared: Sequence[WebhookConfig], environ: Mapping[str, str], now: datetime
) -> None:
    """Make the endpoints from the policy file match it: add new ones, update changed ones (a new
    secret takes effect at the next attempt), retire the ones no longer declared."""
    current = {
        endpoint.name: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.source == "config", WebhookEndpoint.removed_at.is_(None)
            )
        )
    }
    for config in declared:
        endpoint = current.pop(config.name, None)
        if endpoint is None:
            if (taken := _by_name(session, config.name)) is not None:
                raise ConfigError(
                    f"webhook {config.name!r} in the policy file clashes with API webhook {taken.id}"
                )
            endpoint = WebhookEndpoint(name=config.name, source="config", created_at=now, secret="")
            session.add(endpoint)
        endpoint.url = config.url
        endpoint.format = config.format
        endpoint.events = None if config.events is None else orjson.dumps(list(config.events)).decode()
        endpoint.secret = _config_secret(config, environ) or endpoint.secret or new_secret()
    for endpoint in current.values():
        _retire(session, endpoint, now)
    session.flush()


def check_config_urls(declared: Sequence[WebhookConfig], guard: TargetGuard) -> None:
    """At start-up: a policy-file webhook whose URL the guard refuses stops ``serve`` with the reason
    (each send checks again, as for any endpoint)."""
    for config in declared:
        try:
            guard.check_url(config.url)
        except TargetRefused as refused:
            raise ConfigError(f"webhook {config.name!r} in the policy file: {refused}") from refused


def describe(session: Session, endpoint: WebhookEndpoint) -> Webhook:
    counts = dict(
        session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .group_by(WebhookDelivery.status)
        ).all()
    )
    last_attempt = session.scalar(
        select(func.max(WebhookAttempt.attempted_at))
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
    )
    return Webhook(
        id=endpoint.id,
        name=endpoint.name,
        url=shown_url(endpoint.url, endpoint.format),
        format=endpoint.format,
        events=subscribed_events(endpoint),
        source=endpoint.source,
        created_at=endpoint.created_at,
        removed_at=endpoint.removed_at,
        deliveries=DeliveryCounts(**counts),
        last_attempt_at=last_attempt,
    )


def subscribed_events(endpoint: WebhookEndpoint) -> list[str] | None:
    return None if endpoint.events is None else list(orjson.loads(endpoint.events))


def _config_secret(config: WebhookConfig, environ: Mapping[str, str]) -> str | None:
    if config.secret_env is None:
        return None
    secret = environ.get(config.secret_env)
    if not secret:
        raise ConfigError(f"webhook {config.name!r}: environment variable {config.secret_env} is not set")
    try:
        return check_secret(secret)
    except ValueError as error:
        raise ConfigError(f"webhook {config.name!r}: {config.secret_env}: {error}") from error


def _retire(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    endpoint.removed_at = now
    # The name is freed for a new endpoint; the old one keeps it, marked, in its history.
    endpoint.name = f"{endpoint.name[:200]} (removed #{endpoint.id})"
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="cancelled", finished_at=now, last_error="endpoint removed")
    )


def _by_name(session: Session, name: str) -> WebhookEndpoint | None:
    return session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.name == name))


def _free_name(session: Session, host: str) -> str:
    taken = set(
        session.scalars(select(WebhookEndpoint.name).where(WebhookEndpoint.name.startswith(host[:200])))
    )
    suffix = 1
    name = host[:200]
    while name in taken:
        suffix += 1
        name = f"{host[:200]}-{suffix}"
    return name
