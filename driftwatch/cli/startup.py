"""What ``driftwatch serve`` says first: which store and policy file it uses, and what is on or off and
why (shadow evaluation, auth, webhooks, scheduled jobs), each with the setting or command that changes
it. :func:`gather_facts` reads the store; the rest is pure: the facts come in, the lines go out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from driftwatch.auth import keys
from driftwatch.config import Policy, Settings
from driftwatch.db.engine import display_url, session_factory
from driftwatch.db.migrate import Migration
from driftwatch.notify.endpoints import list_endpoints
from driftwatch.scheduler.jobs import SHADOW_JOBS, job_intervals

NO_POLICY_FILE = "none: DRIFTWATCH_POLICY_FILE is not set — run `driftwatch init` to write a starter policy"


@dataclass(frozen=True, slots=True)
class StartupFacts:
    settings: Settings
    policy: Policy
    migration: Migration
    api_keys: int
    webhooks: list[str]  # endpoint names, from the store and the policy file
    environ: Mapping[str, str]


def gather_facts(engine: Engine, settings: Settings, policy: Policy, migration: Migration) -> StartupFacts:
    with session_factory(engine)() as session:
        api_keys = len(keys.list_keys(session))
        stored = {endpoint.name for endpoint in list_endpoints(session)}
    webhooks = sorted(stored | {webhook.name for webhook in policy.webhooks})
    return StartupFacts(settings, policy, migration, api_keys, webhooks, dict(os.environ))


def shadow_provider_missing(policy: Policy) -> bool:
    return policy.reference_tier not in policy.providers


def serve_intervals(settings: Settings, policy: Policy) -> dict[str, float]:
    """The jobs ``serve`` schedules, by name: none with the scheduler off; no shadow jobs without a
    provider for the reference tier (they could only fail)."""
    if not settings.scheduler:
        return {}
    intervals = job_intervals(settings)
    if shadow_provider_missing(policy):
        for name in SHADOW_JOBS:
            del intervals[name]
    return intervals


def startup_lines(facts: StartupFacts) -> list[str]:
    settings = facts.settings
    return [
        f"store: {display_url(settings.database_url)} ({facts.migration.change()})",
        f"policy file: {settings.policy_file or NO_POLICY_FILE}",
        f"shadow evaluation: {_shadow(facts)}",
        f"auth: {_auth(facts)}",
        f"webhooks: {_webhooks(facts)}",
        f"scheduled jobs: {_jobs(settings, facts.policy)}",
    ]


def _shadow(facts: StartupFacts) -> str:
    settings, policy = facts.settings, facts.policy
    reference = policy.reference_tier
    if shadow_provider_missing(policy):
        where = "the policy file names" if settings.policy_file else "there is no policy file, so"
        return (
            f"off — {where} no provider for the reference tier {reference!r}; `driftwatch init` writes a "
            "policy file with one (README: Shadow evaluation)"
        )
    if not settings.scheduler:
        return "not run here — DRIFTWATCH_SCHEDULER=false; run `driftwatch evaluate` workers"
    provider = policy.providers[reference]
    text = (
        f"on — {policy.shadow.rate:.0%} of {'/'.join(policy.sampled_tiers)}-tier calls per class (by "
        f"default) replayed on {reference} ({provider.model} via {provider.kind}), at most "
        f"${policy.shadow.daily_budget_usd:,.2f} per class and day"
    )
    if not settings.capture_content:
        text += "; but DRIFTWATCH_CAPTURE_CONTENT=false stores no prompts, so no call can be replayed"
    if provider.api_key_env and not facts.environ.get(provider.api_key_env):
        text += f"; warning: {provider.api_key_env} is not set, so replays will fail"
    return text


def _auth(facts: StartupFacts) -> str:
    settings = facts.settings
    if not settings.auth_required():
        return f"off — {settings.host} is a loopback address (DRIFTWATCH_REQUIRE_AUTH=true requires keys)"
    why = "DRIFTWATCH_REQUIRE_AUTH=true" if settings.require_auth else f"{settings.host} is not loopback"
    if facts.api_keys == 0:
        return (
            f"on — {why}; warning: no API key exists, so every request gets 401 until you run "
            "`driftwatch keys create NAME`"
        )
    return f"on — {why}; {facts.api_keys} API key(s) (`driftwatch keys list`)"


def _webhooks(facts: StartupFacts) -> str:
    if not facts.webhooks:
        return "none — add one with `driftwatch webhooks add URL` or `webhooks:` in the policy file"
    text = f"{len(facts.webhooks)} endpoint(s): {', '.join(facts.webhooks)}"
    if not facts.settings.scheduler:
        text += "; not sent from here — DRIFTWATCH_SCHEDULER=false (`driftwatch jobs run deliver`)"
    return text


def _jobs(settings: Settings, policy: Policy) -> str:
    if not settings.scheduler:
        return "off — DRIFTWATCH_SCHEDULER=false; run them with `driftwatch jobs run NAME`"
    running = serve_intervals(settings, policy)
    parts = [", ".join(f"{name} every {seconds:g}s" for name, seconds in running.items())]
    if shadow_provider_missing(policy):
        parts.append("sample and evaluate off (no shadow provider)")
    if "retention" not in running:
        parts.append("retention off (DRIFTWATCH_CALL_RETENTION_DAYS=0)")
    parts.append("each logs a line only when it did something")
    return "; ".join(parts)
