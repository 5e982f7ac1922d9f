"""What every ``driftwatch`` command starts from: the settings, the policy file and the store (the one
helper that opens it), with configuration errors turned into a one-line message and exit status 1."""

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
    from sqlalchemy.orm import Session

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
def store_engine() -> Iterator[Engine]:
    """An engine on the configured store, disposed afterwards so no connection outlives the command.

    Only ``serve`` and ``migrate`` change the schema of a store in use: every other command finds it
    at head or stops and says what to run.  A new, empty store is created at head, since there is
    nothing in it to migrate (``driftwatch keys create`` before the first ``serve``).
    """
    from driftwatch.db.engine import build_engine

    url = command_settings().database_url
    engine = build_engine(url)
    try:
        _require_head(engine, url)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def store_session(*, transaction: bool = False) -> Iterator[Session]:
    """A session on the configured store (see :func:`store_engine`); with ``transaction``, committed
    when the block ends and rolled back when it raises."""
    from driftwatch.db.engine import session_factory

    with store_engine() as engine:
        sessions = session_factory(engine)
        with sessions.begin() if transaction else sessions() as session:
            yield session


def _require_head(engine: Engine, url: str) -> None:
    from driftwatch.db import migrate as migrations
    from driftwatch.db.engine import display_url

    if migrations.at_head(engine):
        return
    current, head = migrations.current_revisions(engine), migrations.head_revision()
    if current is None or head is None:  # a new store, or migration files alembic must judge
        migrations.upgrade(engine)
        return
    raise click.ClickException(
        f"the store at {display_url(url)} is at revision {', '.join(current) or 'none'}, head is {head}: "
        "run `driftwatch migrate`"
    )


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
