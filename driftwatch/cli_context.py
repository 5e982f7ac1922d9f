"""What every ``driftwatch`` command starts from: the settings, the policy file and a migrated store,
with configuration errors turned into a one-line message and exit status 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy import Engine

from driftwatch.config import Policy, Settings, load_policy, load_settings
from driftwatch.db import migrate as migrations
from driftwatch.db.engine import build_engine
from driftwatch.errors import DriftwatchError


def command_settings() -> Settings:
    try:
        return load_settings()
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


def command_policy(settings: Settings) -> Policy:
    try:
        return load_policy(settings.policy_file)
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


@contextmanager
def migrated_engine() -> Iterator[Engine]:
    """An engine on an up-to-date schema, disposed afterwards so no connection outlives the command."""
    engine = build_engine(command_settings().database_url)
    try:
        migrations.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def iso_moment(_context: click.Context, _parameter: click.Parameter, value: str | None) -> datetime | None:
    """Option callback: an ISO 8601 date or time, read as UTC when it has no offset."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time, e.g. 2026-03-01T00:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
