"""``driftwatch import …``: bring LLM calls recorded by other tools into the store."""

from __future__ import annotations

import os
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import click

from driftwatch.cli.context import command_policy, command_settings, iso_moment, store_engine
from driftwatch.cli.help import HelpGroup
from driftwatch.errors import DriftwatchError


@click.group(name="import", cls=HelpGroup)
def import_group() -> None:
    """Import LLM calls recorded by other tools (Langfuse) as calls, incrementally."""


@import_group.command(name="langfuse")
@click.option(
    "--host",
    default=None,
    help="Langfuse URL (default LANGFUSE_HOST or LANGFUSE_BASE_URL, else Langfuse Cloud).",
)
@click.option("--public-key", default=None, help="Project public key (default LANGFUSE_PUBLIC_KEY).")
@click.option("--secret-key", default=None, help="Project secret key (default LANGFUSE_SECRET_KEY).")
@click.option(
    "--since",
    default=None,
    callback=iso_moment,
    help="Read generations that started from this ISO 8601 time (UTC unless it says otherwise) "
    "instead of where the last run stopped.",
)
@click.option("--project", default=None, help="Project id or name the keys must belong to (checked).")
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option(
    "--overlap-minutes",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="Re-read this much before where the last run stopped, for generations Langfuse stored late.",
)
@click.option("--quiet", is_flag=True, help="No progress bar; print only the summary line (for cron).")
def import_langfuse(
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
    since: datetime | None,
    project: str | None,
    page_size: int,
    overlap_minutes: float,
    quiet: bool,
) -> None:
    """Import the generations of a Langfuse project as calls (model, messages, tokens, cost, task class
    and tier from metadata or tags), from where the last run stopped. Re-running imports only what is
    new; an interrupted run resumes at the page it had not committed."""
    # Imported here: the Langfuse SDK takes a second to load, which every other command would pay.
    from rich.console import Console

    from driftwatch.importers.langfuse_client import LangfuseClient, LangfuseCredentials
    from driftwatch.importers.langfuse_import import ImportOptions, call_mapper, import_generations
    from driftwatch.importers.progress import progress_display
    from driftwatch.ingest.redaction import Redactor

    settings = command_settings()
    mapper = call_mapper(
        command_policy(settings),
        capture_content=settings.capture_content,
        redactor=Redactor(settings.redact_patterns),
    )
    options = ImportOptions(
        since, timedelta(minutes=overlap_minutes), page_size, project, settings.max_task_classes
    )
    console = Console(stderr=True)
    try:
        credentials = LangfuseCredentials.resolve(
            os.environ, host=host, public_key=public_key, secret_key=secret_key
        )
        client = LangfuseClient(credentials)
        try:
            display = nullcontext(None) if quiet or not console.is_terminal else progress_display(console)
            with store_engine() as engine, display as on_page:
                done = import_generations(engine, client, mapper, options, lambda: datetime.now(UTC), on_page)
        finally:
            client.close()
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    if not quiet:
        for reason in done.skip_reasons:
            click.echo(f"skipped {reason}", err=True)
    click.echo(done.summary())
