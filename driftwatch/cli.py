"""The ``driftwatch`` command. Each command's docstring is its ``--help``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import uvicorn
from sqlalchemy import Engine

from driftwatch.auth import keys
from driftwatch.config import Settings, load_policy, load_settings
from driftwatch.db import migrate as migrations
from driftwatch.db.engine import build_engine, session_factory
from driftwatch.errors import DriftwatchError


@click.group()
@click.version_option(package_name="llm-driftwatch")
def main() -> None:
    """driftwatch: keeps tiered LLM routing honest.

    Settings come from DRIFTWATCH_* environment variables (see the README).
    """


def _settings() -> Settings:
    try:
        return load_settings()
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


@contextmanager
def _migrated_engine() -> Iterator[Engine]:
    """An engine on an up-to-date schema, disposed afterwards so no connection outlives the command."""
    engine = build_engine(_settings().database_url)
    try:
        migrations.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@main.command()
@click.option("--host", default=None, help="Address to bind (default DRIFTWATCH_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default DRIFTWATCH_PORT or 4318, OTLP/HTTP).")
def serve(host: str | None, port: int | None) -> None:
    """Apply migrations, then serve OTLP ingest, the REST API and /metrics.

    Binding to a non-loopback address turns API-key auth on (create keys with `driftwatch keys create`).
    """
    from driftwatch.api.app import create_app

    settings = _settings()
    overrides = {name: value for name, value in (("host", host), ("port", port)) if value is not None}
    settings = settings.model_copy(update=overrides)
    try:
        policy = load_policy(settings.policy_file)
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    engine = build_engine(settings.database_url)
    migrations.upgrade(engine)
    if settings.auth_required():
        with session_factory(engine)() as session:
            if not keys.list_keys(session):
                click.echo(
                    "warning: auth is on but no API key exists; every request will get 401 until you run "
                    "`driftwatch keys create NAME`",
                    err=True,
                )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, policy, engine=engine)
    click.echo(
        f"driftwatch listening on http://{settings.host}:{settings.port} (OTLP: /v1/traces, API: /docs)"
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


@main.command()
def migrate() -> None:
    """Apply every pending schema migration to DRIFTWATCH_DATABASE_URL."""
    with _migrated_engine():
        click.echo("schema is up to date")


@main.group(name="keys")
def keys_group() -> None:
    """Manage API keys (stored hashed; a key is shown once, when created)."""


@keys_group.command(name="create")
@click.argument("name")
def keys_create(name: str) -> None:
    """Create a key called NAME and print it (the only time it is shown)."""
    with _migrated_engine() as engine, session_factory(engine).begin() as session:
        created = keys.create_key(session, name)
    click.echo(created.key)
    click.echo(f"created key {created.id} ({name}); store it now, it cannot be shown again", err=True)


@keys_group.command(name="list")
def keys_list() -> None:
    """List keys: id, name, shown prefix, created, revoked."""
    with _migrated_engine() as engine, session_factory(engine)() as session:
        for key in keys.list_keys(session):
            revoked = key.revoked_at.isoformat() if key.revoked_at else "active"
            click.echo(f"{key.id}\t{key.name}\t{key.prefix}…\t{key.created_at.isoformat()}\t{revoked}")


@keys_group.command(name="revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke the key with id KEY_ID (takes effect within 10 seconds on every replica)."""
    try:
        with _migrated_engine() as engine, session_factory(engine).begin() as session:
            keys.revoke_key(session, key_id)
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    click.echo(f"revoked key {key_id}")


if __name__ == "__main__":
    sys.exit(main())
