"""What ``serve`` says on or off, and why, for the settings and policies a first run meets (pure: no
store, no process; tests/test_first_run.py checks the lines of a real ``serve``)."""

from __future__ import annotations

from pathlib import Path

from driftwatch.cli.startup import StartupFacts, startup_lines
from driftwatch.config import Policy, ProviderConfig, Settings
from driftwatch.db.migrate import Migration

AT_HEAD = Migration("0008", "0008")
PROVIDED = Policy(
    providers={"premium": ProviderConfig(kind="openai", model="gpt-4o", api_key_env="OPENAI_KEY")}
)


def lines(
    policy: Policy = PROVIDED,
    *,
    api_keys: int = 0,
    webhooks: tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
    **settings: object,
) -> dict[str, str]:
    """Each line by its label."""
    facts = StartupFacts(
        Settings(**settings),  # type: ignore[arg-type]
        policy,
        AT_HEAD,
        api_keys,
        list(webhooks),
        {"OPENAI_KEY": "sk-x"} if environ is None else environ,
    )
    return dict(line.split(": ", 1) for line in startup_lines(facts))


def test_the_store_url_hides_its_password() -> None:
    shown = lines(database_url="postgresql+psycopg://dw:s3cret@db.internal/driftwatch")["store"]

    assert shown == "postgresql+psycopg://dw:***@db.internal/driftwatch (already at head 0008)"


def test_shadow_evaluation_names_the_missing_provider_of_a_policy_file() -> None:
    shown = lines(Policy(), policy_file=Path("p.yaml"))["shadow evaluation"]

    assert shown.startswith("off — the policy file names no provider for the reference tier 'premium'")


def test_shadow_evaluation_on_warns_of_what_will_keep_it_from_working() -> None:
    shown = lines(environ={}, capture_content=False)["shadow evaluation"]

    assert shown.startswith("on — 5% of cheap/mid-tier calls per class (by default) replayed on premium")
    assert "DRIFTWATCH_CAPTURE_CONTENT=false stores no prompts" in shown
    assert "OPENAI_KEY is not set" in shown


def test_without_the_scheduler_nothing_runs_here_and_the_lines_say_what_to_run() -> None:
    shown = lines(webhooks=("oncall",), scheduler=False)

    assert shown["shadow evaluation"].startswith("not run here — DRIFTWATCH_SCHEDULER=false")
    assert "`driftwatch jobs run deliver`" in shown["webhooks"]
    assert shown["scheduled jobs"].startswith("off — DRIFTWATCH_SCHEDULER=false")


def test_auth_on_a_public_address_says_why_and_warns_without_keys() -> None:
    assert lines(host="0.0.0.0")["auth"] == (
        "on — 0.0.0.0 is not loopback; warning: no API key exists, so every request gets 401 until you "
        "run `driftwatch keys create NAME`"
    )
    assert lines(require_auth=True, api_keys=2)["auth"] == (
        "on — DRIFTWATCH_REQUIRE_AUTH=true; 2 API key(s) (`driftwatch keys list`)"
    )


def test_webhooks_are_named() -> None:
    assert lines(webhooks=("oncall", "slack"))["webhooks"] == "2 endpoint(s): oncall, slack"


def test_retention_and_langfuse_jobs_appear_when_configured() -> None:
    shown = lines(call_retention_days=30, langfuse_import_interval=300)["scheduled jobs"]

    assert "retention every 3600s" in shown and "import-langfuse every 300s" in shown
    assert "retention off" not in shown
