"""``driftwatch webhooks …``: add, list, remove and test endpoints, read the delivery log, and send
again what failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, cast

import click

from driftwatch.cli.context import command_settings, iso_moment, store_session
from driftwatch.cli.help import HelpGroup
from driftwatch.clock import utc_now
from driftwatch.errors import DriftwatchError
from driftwatch.events.catalogue import EVENT_TYPES

# The store and the HTTP client are imported by the command that uses them, not by `--help`.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.group(name="webhooks", cls=HelpGroup)
def webhooks_group() -> None:
    """Webhook endpoints that receive alerts (Standard Webhooks signed JSON, or Slack messages)."""


@contextmanager
def _transaction() -> Iterator[Session]:
    try:
        with store_session(transaction=True) as session:
            yield session
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


@webhooks_group.command(name="add")
@click.argument("url")
@click.option("--name", default=None, help="A name for it (default: the URL's host).")
@click.option("--format", "webhook_format", type=click.Choice(["standard", "slack"]), default="standard")
@click.option(
    "--events",
    default=None,
    help=f"Comma-separated event types to send (default: all): {', '.join(EVENT_TYPES)}.",
)
@click.option("--secret", default=None, help="Signing secret whsec_… (default: a new one, printed once).")
def webhooks_add(
    url: str, name: str | None, webhook_format: str, events: str | None, secret: str | None
) -> None:
    """Send events from now on to URL (http or https). Prints the signing secret once: receivers
    verify each request with it (see docs/webhooks.md)."""
    import pydantic

    from driftwatch.notify import endpoints
    from driftwatch.notify.network import TargetGuard
    from driftwatch.notify.schemas import WebhookCreate

    chosen = None if events is None else [event.strip() for event in events.split(",") if event.strip()]
    try:
        fields = {"url": url, "name": name, "format": webhook_format, "events": chosen, "secret": secret}
        request = WebhookCreate.model_validate(fields)
    except pydantic.ValidationError as error:
        problems = "; ".join(str(problem["msg"]).removeprefix("Value error, ") for problem in error.errors())
        raise click.ClickException(problems) from error
    guard = TargetGuard.from_settings(command_settings())
    with _transaction() as session:
        created = endpoints.create_endpoint(session, request, utc_now(), guard)
    click.echo(created.secret)
    click.echo(
        f"added webhook {created.id} ({created.name}) → {created.url}; the line above is its signing "
        "secret, shown only now",
        err=True,
    )


@webhooks_group.command(name="list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed endpoints.")
@click.option("--json", "as_json", is_flag=True, help="Print what GET /v1/webhooks serves.")
def webhooks_list(include_removed: bool, as_json: bool) -> None:
    """Endpoints with their format, events and delivery counts (secrets are never shown)."""
    import pydantic

    from driftwatch.notify import endpoints
    from driftwatch.notify.schemas import Webhook

    with _transaction() as session:
        found = endpoints.list_endpoints(session, include_removed=include_removed)
    if as_json:
        click.echo(pydantic.TypeAdapter(list[Webhook]).dump_json(found, indent=2).decode())
        return
    for hook in found:
        counts = hook.deliveries
        click.echo(
            f"{hook.id}\t{hook.name}\t{hook.format}\t{hook.url}\t{','.join(hook.events or ['all'])}\t"
            f"delivered {counts.delivered}, pending {counts.pending}, failed {counts.failed}"
        )


@webhooks_group.command(name="remove")
@click.argument("webhook_id", type=int)
def webhooks_remove(webhook_id: int) -> None:
    """Stop sending to webhook WEBHOOK_ID; its pending deliveries are cancelled, its log is kept."""
    from driftwatch.notify import endpoints

    with _transaction() as session:
        removed = endpoints.remove_endpoint(session, webhook_id, utc_now())
    click.echo(f"removed webhook {removed.id} ({removed.url})")


@webhooks_group.command(name="test")
@click.argument("webhook_id", type=int)
def webhooks_test(webhook_id: int) -> None:
    """Send a signed webhook.test message to WEBHOOK_ID now and show the answer (exit 1 unless 2xx)."""
    import asyncio

    from driftwatch.notify import endpoints
    from driftwatch.notify.delivery import DeliveryOptions, send_test
    from driftwatch.notify.shown_url import shown_url  # httpx, only for the command that shows one

    settings = command_settings()
    with _transaction() as session:
        endpoint = endpoints.get_endpoint(session, webhook_id)
        session.expunge(endpoint)
    options = DeliveryOptions.from_settings(settings, worker_id="cli")
    outcome = asyncio.run(send_test(endpoint, options, utc_now()))
    answer = f"HTTP {outcome.status_code}" if outcome.status_code is not None else outcome.error
    excerpt = f": {outcome.response_excerpt}" if outcome.response_excerpt else ""
    line = f"{shown_url(endpoint.url, endpoint.format)} answered {answer} in {outcome.latency_ms:.0f} ms{excerpt}"
    if not outcome.delivered:
        raise click.ClickException(line)
    click.echo(line)


@webhooks_group.command(name="deliveries")
@click.argument("webhook_id", type=int, required=False)
@click.option("--status", type=click.Choice(["pending", "delivered", "failed", "cancelled"]), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def webhooks_deliveries(webhook_id: int | None, status: str | None, limit: int) -> None:
    """Recent deliveries (of WEBHOOK_ID, or all), newest first: event, status, attempts, last error."""
    from driftwatch.notify import endpoints, history
    from driftwatch.notify.schemas import DeliveryStatus

    with _transaction() as session:
        if webhook_id is not None:
            endpoints.get_endpoint(session, webhook_id)
        page = history.list_deliveries(
            session,
            endpoint_id=webhook_id,
            status=cast(DeliveryStatus | None, status),
            limit=limit,
        )
    for delivery in page.items:
        when = delivery.finished_at or delivery.next_attempt_at
        click.echo(
            f"{delivery.id}\twebhook {delivery.endpoint_id}\t{delivery.event_type}\t"
            f"{delivery.task_class or '-'}\t{delivery.status}\t{delivery.attempts} attempts\t"
            f"{when.isoformat() if when else ''}\t{delivery.last_error or ''}"
        )


@webhooks_group.command(name="redeliver")
@click.argument("delivery_ids", metavar="DELIVERY_ID...", type=int, nargs=-1, required=True)
def webhooks_redeliver(delivery_ids: tuple[int, ...]) -> None:
    """Send failed or delivered deliveries again (same webhook-id), before newer pending ones."""
    from driftwatch.notify import redelivery

    for delivery_id in delivery_ids:
        with _transaction() as session:
            delivery = redelivery.redeliver(session, delivery_id, utc_now())
        click.echo(
            f"delivery {delivery.id} ({delivery.event_type}) queued again for webhook {delivery.endpoint_id}"
        )


@webhooks_group.command(name="recover")
@click.argument("webhook_id", type=int)
@click.option(
    "--since", default=None, callback=iso_moment, help="Only deliveries queued since this ISO 8601 time."
)
def webhooks_recover(webhook_id: int, since: datetime | None) -> None:
    """Queue again every failed delivery of WEBHOOK_ID, e.g. after an outage past the retry window."""
    from driftwatch.notify import redelivery

    with _transaction() as session:
        requeued = redelivery.recover(session, webhook_id, utc_now(), since)
    click.echo(f"{requeued} failed deliveries queued again for webhook {webhook_id}")
