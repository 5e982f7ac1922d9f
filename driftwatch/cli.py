"""The ``driftwatch`` command. Each command's docstring is its ``--help``."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
import uvicorn
from sqlalchemy import Engine

from driftwatch.auth import keys
from driftwatch.config import Settings, load_policy, load_settings
from driftwatch.db import migrate as migrations
from driftwatch.db.engine import build_engine, session_factory
from driftwatch.db.job_states import list_job_states
from driftwatch.errors import DriftwatchError
from driftwatch.scheduler.jobs import JOBS, SHADOW_JOBS, JobContext, job_intervals, run_job
from driftwatch.scheduler.service import JobScheduler


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
    scheduler = _start_scheduler(JobContext(engine, settings, policy)) if settings.scheduler else None
    click.echo(
        f"driftwatch listening on http://{settings.host}:{settings.port} (OTLP: /v1/traces, API: /docs)"
    )
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    finally:
        if scheduler is not None:
            scheduler.shutdown()


def _start_scheduler(context: JobContext) -> JobScheduler:
    policy = context.policy
    intervals = job_intervals(context.settings)
    if policy.reference_tier not in policy.providers:
        click.echo(
            f"shadow evaluation is off: no provider for the reference tier {policy.reference_tier!r} "
            "in the policy file (see README, Shadow evaluation)",
            err=True,
        )
        for name in SHADOW_JOBS:
            del intervals[name]
    scheduler = JobScheduler(context, intervals)
    scheduler.start()
    return scheduler


@main.command()
def migrate() -> None:
    """Apply every pending schema migration to DRIFTWATCH_DATABASE_URL."""
    with _migrated_engine():
        click.echo("schema is up to date")


def _job_context(task_class: str | None = None) -> tuple[JobContext, Engine]:
    settings = _settings()
    try:
        policy = load_policy(settings.policy_file)
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    engine = build_engine(settings.database_url)
    migrations.upgrade(engine)
    return JobContext(engine, settings, policy, task_class=task_class), engine


def _run_jobs(context: JobContext, names: tuple[str, ...]) -> None:
    for name in names:
        try:
            summary = run_job(name, context)
        except DriftwatchError as error:
            raise click.ClickException(f"{name}: {error.detail}") from error
        click.echo(f"{name}: {summary}")


@main.command()
@click.option("--once", is_flag=True, help="Sample and evaluate one batch, then exit.")
@click.option("--task-class", default=None, help="Only evaluate samples of this task class.")
def evaluate(once: bool, task_class: str | None) -> None:
    """Shadow-evaluate sampled calls: sample new calls, then replay due samples on the reference tier
    and judge them. Without --once it keeps going every DRIFTWATCH_EVALUATE_INTERVAL_SECONDS (a
    dedicated evaluation worker; any number may run beside the service)."""
    context, engine = _job_context(task_class)
    try:
        while True:
            _run_jobs(context, ("reconcile-content", *SHADOW_JOBS))
            if once:
                return
            time.sleep(context.settings.evaluate_interval_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


@main.group(name="jobs")
def jobs_group() -> None:
    """Run scheduled jobs by hand, or see their last runs."""


@jobs_group.command(name="run")
@click.argument("names", nargs=-1, required=True, type=click.Choice(sorted(JOBS)))
@click.option("--task-class", default=None, help="For evaluate: only samples of this task class.")
def jobs_run(names: tuple[str, ...], task_class: str | None) -> None:
    """Run the named jobs once each, in order, against the configured store."""
    context, engine = _job_context(task_class)
    try:
        _run_jobs(context, names)
    finally:
        engine.dispose()


@jobs_group.command(name="list")
def jobs_list() -> None:
    """Each job: its interval in `driftwatch serve`, runs so far, and its last run."""
    intervals = job_intervals(_settings())
    with _migrated_engine() as engine, session_factory(engine)() as session:
        states = {state.name: state for state in list_job_states(session)}
    for name in sorted(JOBS):
        state = states.get(name)
        last = "never run"
        if state is not None and state.last_started_at is not None:
            last = (
                f"last {state.last_status} at {state.last_started_at.isoformat()}: {state.last_summary or ''}"
            )
        runs = state.runs if state else 0
        click.echo(f"{name}\tevery {intervals.get(name, 0):g}s\t{runs} runs\t{last}")


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
