"""The ``driftwatch`` command. Each command's docstring is its ``--help``."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from driftwatch.auth.scopes import DEFAULT_SCOPES, WHAT_EACH_ALLOWS, Scope
from driftwatch.cli.context import command_policy, command_settings, store_engine, store_session
from driftwatch.cli.demo import demo
from driftwatch.cli.help import CONTEXT_SETTINGS, HelpGroup
from driftwatch.cli.importers import import_group
from driftwatch.cli.init import init
from driftwatch.cli.webhooks import webhooks_group
from driftwatch.errors import DriftwatchError
from driftwatch.scheduler import JOB_NAMES, SHADOW_JOBS

# Each command imports what it needs when it runs: `--help`, and every command that needs neither
# the web stack, scipy nor a provider SDK, starts without loading them (bench/startup.py).
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from driftwatch.config import Policy
    from driftwatch.scheduler.jobs import JobContext
    from driftwatch.scheduler.service import JobScheduler


@click.group(cls=HelpGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="llm-driftwatch")
def main() -> None:
    """driftwatch: keeps tiered LLM routing honest.

    Settings come from DRIFTWATCH_* environment variables, read when a command starts; the README's
    "Settings" section lists every one with its default. The main ones:

    \b
      DRIFTWATCH_DATABASE_URL  the store (default sqlite:///driftwatch.db)
      DRIFTWATCH_POLICY_FILE   tiers, models, providers, shadow evaluation
      DRIFTWATCH_HOST, _PORT   where serve listens (default 127.0.0.1:4318)

    Start a policy file with `driftwatch init` (it says how to serve with it). `driftwatch serve`
    prints the store, policy file and what is on or off, and why, when it starts.
    """


@main.command()
@click.option("--host", default=None, help="Address to bind (default DRIFTWATCH_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default DRIFTWATCH_PORT or 4318, OTLP/HTTP).")
def serve(host: str | None, port: int | None) -> None:
    """Apply migrations, then serve OTLP ingest, the REST API and /metrics.

    It first prints the store, the policy file, and what is on or off and why (shadow evaluation,
    auth, webhooks, scheduled jobs). Binding to a non-loopback address turns API-key auth on (create
    keys with `driftwatch keys create`).
    """
    import logging

    import uvicorn

    from driftwatch.api.app import create_app
    from driftwatch.cli.startup import gather_facts, startup_lines
    from driftwatch.db import migrate as migrations
    from driftwatch.db.engine import build_engine
    from driftwatch.notify.endpoints import check_config_urls
    from driftwatch.notify.network import TargetGuard
    from driftwatch.scheduler.jobs import JobContext

    settings = command_settings()
    overrides = {name: value for name, value in (("host", host), ("port", port)) if value is not None}
    settings = settings.model_copy(update=overrides)
    policy = command_policy(settings)
    try:
        check_config_urls(policy.webhooks, TargetGuard.from_settings(settings))
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    engine = build_engine(settings.database_url)
    migration = migrations.upgrade(engine)
    for line in startup_lines(gather_facts(engine, settings, policy, migration)):
        click.echo(line)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2"):  # one INFO line per provider or webhook request drowns the rest
        logging.getLogger(chatty).setLevel(logging.WARNING)
    app = create_app(settings, policy, engine=engine)
    context = JobContext(engine, settings, policy, shadow_observer=app.state.metrics)
    scheduler = _start_scheduler(context) if settings.scheduler else None
    click.echo(
        f"driftwatch listening on http://{settings.host}:{settings.port} "
        "(OTLP: /v1/traces, dashboard: /, API docs: /docs)"
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        ws="none",  # no WebSocket routes: spares loading a WebSocket library before the first answer
    )

    class Server(uvicorn.Server):
        """uvicorn's server, which also tells the jobs to stop the moment a signal arrives, so they
        return between transactions while open requests finish and the ingest writer commits."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if scheduler is not None:
                scheduler.stop_jobs()
            super().handle_exit(sig, frame)

    try:
        Server(config).run()
    finally:
        if scheduler is not None:
            _stop_scheduler(scheduler)


# How long SIGTERM waits for open requests, then for running jobs: serve exits within seconds whatever
# it was doing (an orchestrator kills it hard after its own grace period, 30 s by default in Kubernetes).
SHUTDOWN_GRACE_SECONDS = 3


def _stop_scheduler(scheduler: JobScheduler) -> None:
    import logging

    left = scheduler.shutdown(SHUTDOWN_GRACE_SECONDS)
    if left:
        # Its thread would keep the interpreter alive until it returns; its open transaction rolls back.
        logging.getLogger(__name__).warning(
            "exiting without waiting for job(s) still running: %s", ", ".join(left)
        )
        logging.shutdown()
        os._exit(0)


def _start_scheduler(context: JobContext) -> JobScheduler:
    from driftwatch.cli.startup import serve_intervals
    from driftwatch.scheduler.service import JobScheduler

    scheduler = JobScheduler(context, serve_intervals(context.settings, context.policy))
    scheduler.start()
    return scheduler


@main.command()
def migrate() -> None:
    """Apply every pending schema migration to DRIFTWATCH_DATABASE_URL, and say which."""
    from driftwatch.db import migrate as migrations
    from driftwatch.db.engine import build_engine, display_url

    url = command_settings().database_url
    engine = build_engine(url)
    try:
        migration = migrations.upgrade(engine)
    finally:
        engine.dispose()
    click.echo(migration.describe(display_url(url)))


@contextmanager
def _job_context(task_class: str | None = None) -> Iterator[JobContext]:
    from driftwatch.scheduler.jobs import JobContext

    settings = command_settings()
    policy = command_policy(settings)
    with store_engine() as engine:
        yield JobContext(engine, settings, policy, task_class=task_class)


def _run_jobs(context: JobContext, names: tuple[str, ...], *, quiet_when_idle: bool = False) -> None:
    from driftwatch.scheduler.jobs import run_job

    for name in names:
        try:
            summary = run_job(name, context)
        except DriftwatchError as error:
            raise click.ClickException(f"{name}: {error.detail}") from error
        if not (quiet_when_idle and summary.idle):
            click.echo(f"{name}: {summary}")


@main.command()
@click.option("--once", is_flag=True, help="Sample and evaluate one batch, then exit.")
@click.option("--task-class", default=None, help="Only evaluate samples of this task class.")
def evaluate(once: bool, task_class: str | None) -> None:
    """Shadow-evaluate sampled calls: sample new calls, then replay due samples on the reference tier
    and judge them. Without --once it keeps going every DRIFTWATCH_EVALUATE_INTERVAL_SECONDS (a
    dedicated evaluation worker; any number may run beside the service)."""
    with _job_context(task_class) as context:
        try:
            while True:
                _run_jobs(context, ("reconcile-content", *SHADOW_JOBS), quiet_when_idle=not once)
                if once:
                    return
                time.sleep(context.settings.evaluate_interval_seconds)
        except KeyboardInterrupt:
            pass


@main.command()
@click.option("--baseline", type=float, default=None, help="The class's acceptance rate now, e.g. 0.95.")
@click.option("--drop", type=float, default=None, help="The smallest drop to catch, e.g. 0.05.")
@click.option("--within", default=None, help="Catch it within this long: 7d, 36h, 2w.")
@click.option("--task-class", default=None, help="Price samples at this class's tokens per call and judges.")
@click.option("--alpha", type=float, default=None, help="False alarms allowed per horizon (default: policy).")
@click.option("--classes", type=int, default=None, help="Classes sharing alpha (default: the classes known).")
@click.option("--input-tokens", type=int, default=None, help="Tokens per call in (default: class or 1000).")
@click.option("--output-tokens", type=int, default=None, help="Tokens per call out (default: class or 300).")
@click.option(
    "--allocation",
    is_flag=True,
    help="Instead: how rate: auto splits the daily shadow budget now (class, traffic, money at risk, rate, "
    "expected delay).",
)
@click.option(
    "--all",
    "every_class",
    is_flag=True,
    help="Every class instead: its coverage (the drop caught within coverage.window_days at its traffic, "
    "rate and reference) and the rate or budget that would protect it.",
)
def plan(allocation: bool, every_class: bool, **options: Any) -> None:
    """How many shadow samples per day a class needs to detect a drop from --baseline by --drop within
    --within (9 times in 10, at the configured false-alarm rate), and what they cost at current prices;
    with --all, every class's coverage and what would protect it; with --allocation, the split of the
    shadow budget that rate: auto computes from recent traffic."""
    from driftwatch.db.engine import session_factory
    from driftwatch.overview.plan import PlanQuery, describe, make_plan

    if allocation:
        _plan_allocation()
        return
    missing = [f"--{name}" for name in ("baseline", "drop", "within") if options[name] is None]
    if missing and not every_class:
        raise click.UsageError(
            f"give {', '.join(missing)} (or --all for every class's coverage, --allocation for rate: auto)"
        )
    try:
        with _job_context() as context, session_factory(context.engine)() as session:
            if every_class:
                from driftwatch.policy.coverage import assess_classes
                from driftwatch.policy.coverage_report import describe_all

                lines = describe_all(context.policy, assess_classes(session, context.policy, context.clock()))
            else:
                lines = describe(make_plan(session, context.policy, context.clock(), PlanQuery(**options)))
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    for line in lines:
        click.echo(line)


def _plan_allocation() -> None:
    from driftwatch.db.engine import session_factory
    from driftwatch.policy.allocation import compute_allocation
    from driftwatch.policy.allocation_table import describe_allocation

    with _job_context() as context, session_factory(context.engine)() as session:
        computed = compute_allocation(
            session, context.policy, context.clock(), every_class=not context.policy.shadow.any_auto
        )
    if not context.policy.shadow.any_auto:
        click.echo("no class has shadow.rate: auto; what auto would give the classes now:")
    for line in describe_allocation(computed):
        click.echo(line)


@main.group(name="jobs")
def jobs_group() -> None:
    """Run scheduled jobs by hand, or see their last runs."""


@jobs_group.command(name="run")
@click.argument("names", nargs=-1, required=True, type=click.Choice(sorted(JOB_NAMES)))
@click.option("--task-class", default=None, help="For evaluate: only samples of this task class.")
def jobs_run(names: tuple[str, ...], task_class: str | None) -> None:
    """Run the named jobs once each, in order, against the configured store."""
    with _job_context(task_class) as context:
        _run_jobs(context, names)


@jobs_group.command(name="list")
def jobs_list() -> None:
    """Each job: its interval in `driftwatch serve`, runs so far, and its last run."""
    from driftwatch.db.job_states import list_job_states
    from driftwatch.scheduler.jobs import job_intervals

    intervals = job_intervals(command_settings())
    with store_session() as session:
        states = {state.name: state for state in list_job_states(session)}
    for name in sorted(JOB_NAMES):
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


_SCOPE_HELP = "; ".join(f"{scope}: {allowed}" for scope, allowed in WHAT_EACH_ALLOWS.items())


@keys_group.command(name="create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice([scope.value for scope in Scope]),
    help=f"What the key may do; repeat for several (default: ingest only). {_SCOPE_HELP}.",
)
def keys_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key called NAME with the given scopes and print it (the only time it is shown).

    The default, ingest, is the key an app exports spans with: it can read nothing back.
    """
    granted = frozenset(Scope(scope) for scope in scopes) or DEFAULT_SCOPES
    from driftwatch.auth import keys

    with store_session(transaction=True) as session:
        created = keys.create_key(session, name, scopes=granted)
    click.echo(created.key)
    shown = ", ".join(scope for scope in Scope if scope in granted)
    click.echo(
        f"created key {created.id} ({name}, scopes: {shown}); store it now, it cannot be shown again",
        err=True,
    )


@keys_group.command(name="list")
def keys_list() -> None:
    """List keys: id, name, shown prefix, created, revoked, scopes (comma-separated)."""
    from driftwatch.auth import keys

    with store_session() as session:
        for key in keys.list_keys(session):
            revoked = key.revoked_at.isoformat() if key.revoked_at else "active"
            created, scopes = key.created_at.isoformat(), key.scopes.replace(" ", ",")
            click.echo(f"{key.id}\t{key.name}\t{key.prefix}…\t{created}\t{revoked}\t{scopes}")


@keys_group.command(name="revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke the key with id KEY_ID (takes effect within 10 seconds on every replica)."""
    from driftwatch.auth import keys

    try:
        with store_session(transaction=True) as session:
            keys.revoke_key(session, key_id)
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error
    click.echo(f"revoked key {key_id}")


@main.group(name="policy")
def policy_group() -> None:
    """The routing policy routers read, and manual control: pin, unpin, accept, reject."""


@contextmanager
def _policy_session() -> Iterator[tuple[Session, Policy]]:
    """One transaction on the configured store, and the policy file; refusals exit 1 with the reason."""
    from driftwatch.config import load_policy

    try:
        policy = load_policy(command_settings().policy_file)
        with store_session(transaction=True) as session:
            yield session, policy
    except DriftwatchError as error:
        raise click.ClickException(error.detail) from error


_actor_option = click.option(
    "--actor",
    default=lambda: os.environ.get("USER") or "cli",
    show_default="$USER, else cli",
    help="Who decides, for the audit log.",
)


@policy_group.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Print the document GET /v1/policy serves.")
def policy_show(as_json: bool) -> None:
    """Each known task class's tier and model, pin and cool-down; the default for other classes."""
    from driftwatch.policy import snapshot, tables

    with _policy_session() as (session, policy):
        document = snapshot.build_policy(session, policy, datetime.now(UTC))
    click.echo(document.model_dump_json(indent=2) if as_json else tables.policy_table(document))


@policy_group.command(name="pin")
@click.argument("task_class")
@click.argument("tier")
@_actor_option
def policy_pin(task_class: str, tier: str, actor: str) -> None:
    """Put TASK_CLASS on TIER and pin it there: automatic promotion and demotion leave it alone."""
    from driftwatch.policy import control

    with _policy_session() as (session, policy):
        change = control.pin(session, policy, task_class, tier, actor, datetime.now(UTC))
    click.echo(f"{task_class} pinned to {change.route.tier} (decision {change.decision_id})")


@policy_group.command(name="unpin")
@click.argument("task_class")
@_actor_option
def policy_unpin(task_class: str, actor: str) -> None:
    """Unpin TASK_CLASS: it stays on its tier, and automatic decisions apply to it again."""
    from driftwatch.policy import control

    with _policy_session() as (session, policy):
        change = control.unpin(session, policy, task_class, actor, datetime.now(UTC))
    done = "was not pinned" if change.decision_id is None else f"unpinned (decision {change.decision_id})"
    click.echo(f"{task_class} {done}; on {change.route.tier}")


@policy_group.command(name="accept")
@click.argument("recommendation_id", type=int)
@_actor_option
def policy_accept(recommendation_id: int, actor: str) -> None:
    """Accept the open demotion recommendation RECOMMENDATION_ID: its class moves to the cheaper tier."""
    from driftwatch.policy import control

    with _policy_session() as (session, policy):
        answer = control.accept(session, policy, recommendation_id, actor, datetime.now(UTC))
    rec = answer.recommendation
    click.echo(f"accepted {rec.id}: {rec.task_class} moved from {rec.from_tier} to {answer.route.tier}")


@policy_group.command(name="reject")
@click.argument("recommendation_id", type=int)
@click.option("--reason", default=None, help="Why, for the audit log.")
@_actor_option
def policy_reject(recommendation_id: int, reason: str | None, actor: str) -> None:
    """Reject the open demotion recommendation RECOMMENDATION_ID; its class stays where it is."""
    from driftwatch.policy import control

    with _policy_session() as (session, policy):
        answer = control.reject(session, policy, recommendation_id, actor, datetime.now(UTC), reason)
    click.echo(f"rejected {answer.recommendation.id}: {answer.recommendation.task_class} stays")


@policy_group.command(name="recommendations")
@click.option(
    "--status", type=click.Choice(["open", "accepted", "rejected", "superseded", "all"]), default="open"
)
@click.option("--task-class", default=None, help="Only this task class.")
@click.option("--json", "as_json", is_flag=True, help="Print the items GET /v1/recommendations serves.")
def policy_recommendations(status: str, task_class: str | None, as_json: bool) -> None:
    """Demotion recommendations, newest first (open ones by default), with projected net savings."""
    from driftwatch.policy import control, tables

    chosen = None if status == "all" else status
    with _policy_session() as (session, _):
        page = control.list_recommendations(session, status=chosen, task_class=task_class, limit=1000)
    click.echo(page.model_dump_json(indent=2) if as_json else tables.recommendation_table(page.items))


main.add_command(webhooks_group)
main.add_command(demo)
main.add_command(import_group)
main.add_command(init)

if __name__ == "__main__":
    sys.exit(main())
