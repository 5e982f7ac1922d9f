"""What every ``driftwatch`` command starts from: the settings, the policy file and a migrated store,
with configuration errors turned into a one-line message and exit status 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from driftwatch.errors import DriftwatchError

# Imported where used, so that commands start without the store's or the settings' libraries
# until they need them (and `--help` never does).
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from driftwatch.config import Policy, Settings


def command_settings() -> Settings:
    from driftwatch.config import load_settings

    try:
        return load_settings()
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


def command_policy(settings: Settings) -> Policy:
    from driftwatch.config import load_policy

    try:
        return load_policy(settings.policy_file)
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


@contextmanager
def migrated_engine() -> Iterator[Engine]:
    """An engine on an up-to-date schema, disposed afterwards so no connection outlives the command."""
    from driftwatch.db import migrate as migrations
    from driftwatch.db.engine import build_engine

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
