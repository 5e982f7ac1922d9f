"""A new user's first run: ``driftwatch init`` writes a policy file the service starts with, ``serve``'s
first lines say what it uses and what is on or off and why, its jobs log only when they did something,
and ``migrate`` says what it applied to which database."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from driftwatch.cli.root import main
from driftwatch.config import load_policy
from driftwatch.db import migrate as migrations
from driftwatch.db.engine import build_engine
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.processes import free_port, start_serve, stop, wait_healthy


def _run(folder: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"DRIFTWATCH_DATABASE_URL": f"sqlite:///{folder / 'first.db'}", **(env or {})}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def _heads(engine: Engine) -> tuple[str, str]:
    """The head revision and the one before it."""
    script = ScriptDirectory.from_config(migrations.alembic_config(engine))
    head = script.get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    return head.revision, head.down_revision


@pytest.fixture
def closed_port_url() -> str:
    """An OpenAI-compatible base URL nothing listens on: the starter's provider, reached by nobody."""
    return f"http://127.0.0.1:{free_port()}/v1"


# --- driftwatch init ---------------------------------------------------------------------------------


def test_init_writes_a_starter_policy_that_turns_shadow_evaluation_on(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"

    result = _run(tmp_path, "init", str(path))

    assert result.exit_code == 0, result.output
    policy = load_policy(path)  # the schema the service loads it with
    assert policy.reference_tier in policy.providers  # what `serve` needs for shadow evaluation
    assert policy.providers["premium"].model == "gpt-4o"
    assert policy.tier_models == {"cheap": "gpt-4o-mini", "premium": "gpt-4o"}
    assert policy.providers["cheap"].api_key_env == "OPENAI_API_KEY"
    # Every class, listed or not, gets the defaults: a degraded one is promoted, not only alerted.
    assert policy.class_config("a-class-nobody-listed").auto_promote is True
    assert f"DRIFTWATCH_POLICY_FILE={path} driftwatch serve" in result.stdout
    assert f"DRIFTWATCH_POLICY_FILE={path} driftwatch serve" in path.read_text(encoding="utf-8")
    assert "export OPENAI_API_KEY=" in result.stdout


def test_init_takes_provider_models_and_base_url_from_its_options(tmp_path: Path) -> None:
    path = tmp_path / "with space.yaml"
    options = ["--provider", "anthropic", "--mid-model", "claude-sonnet-4-6", "--rate", "0.2"]
    options += ["--daily-budget", "12.5", "--base-url", "https://gw.example/v1?x=a b", "--api-key-env", "GW"]

    result = _run(tmp_path, "init", str(path), *options)

    assert result.exit_code == 0, result.output
    policy = load_policy(path)
    assert policy.tiers == ("cheap", "mid", "premium")
    assert {tier: p.model for tier, p in policy.providers.items()} == {
        "cheap": "claude-haiku-4-5",
        "mid": "claude-sonnet-4-6",
        "premium": "claude-opus-4-7",
    }
    assert {p.kind for p in policy.providers.values()} == {"anthropic"}
    assert {p.base_url for p in policy.providers.values()} == {"https://gw.example/v1?x=a b"}
    assert {p.api_key_env for p in policy.providers.values()} == {"GW"}
    assert (policy.shadow.rate, policy.shadow.daily_budget_usd) == (0.2, 12.5)
    assert policy.model_for("mid") == "claude-sonnet-4-6"
    assert f"DRIFTWATCH_POLICY_FILE='{path}' driftwatch serve" in result.stdout  # quoted for the shell


def test_init_quotes_model_names_yaml_would_read_as_something_else(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"

    result = _run(tmp_path, "init", str(path), "--cheap-model", "true", "--premium-model", "4.1")

    assert result.exit_code == 0, result.output
    assert load_policy(path).tier_models == {"cheap": "true", "premium": "4.1"}


def test_init_refuses_to_overwrite_a_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("tiers: [a, b]\n", encoding="utf-8")

    refused = _run(tmp_path, "init", str(path))

    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert path.read_text(encoding="utf-8") == "tiers: [a, b]\n"
    forced = _run(tmp_path, "init", str(path), "--force", "--cheap-model", "gpt-4.1-nano")
    assert forced.exit_code == 0, forced.output
    assert load_policy(path).model_for("cheap") == "gpt-4.1-nano"


def test_init_refuses_one_model_for_two_tiers(tmp_path: Path) -> None:
    result = _run(tmp_path, "init", str(tmp_path / "p.yaml"), "--cheap-model", "gpt-4o")

    assert result.exit_code == 1
    assert "each tier needs a model of its own" in result.stderr
    assert not (tmp_path / "p.yaml").exists()


# --- driftwatch migrate ------------------------------------------------------------------------------


def test_migrate_says_what_it_applied_to_which_database(tmp_path: Path) -> None:
    database = tmp_path / "first.db"
    engine = build_engine(f"sqlite:///{database}")
    try:
        head, previous = _heads(engine)

        created = _run(tmp_path, "migrate").stdout.strip()
        migrations.downgrade(engine, previous)
        upgraded = _run(tmp_path, "migrate").stdout.strip()
        again = _run(tmp_path, "migrate").stdout.strip()
    finally:
        engine.dispose()

    assert created == f"created the schema at head {head} in sqlite:///{database}"
    assert upgraded == f"applied {previous} → {head} to sqlite:///{database}"
    assert again == f"sqlite:///{database}: already at head {head}"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_migrate_masks_the_database_password(database_url: str) -> None:
    # The test server trusts loopback connections, so the password is accepted and ignored.
    with_password = make_url(database_url).set(password="hunter2").render_as_string(hide_password=False)

    result = CliRunner().invoke(main, ["migrate"], env={"DRIFTWATCH_DATABASE_URL": with_password})

    assert result.exit_code == 0, result.output
    assert "already at head" in result.stdout
    assert "hunter2" not in result.output
    assert ":***@" in result.stdout


# --- driftwatch serve --------------------------------------------------------------------------------


def _first_lines(log: Path, count: int = 7) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()[:count]


def test_serve_without_a_policy_file_says_what_is_off_and_how_to_turn_it_on(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as output:
        process, base_url = start_serve(tmp_path, {}, output)
        try:
            wait_healthy(process, base_url)
        finally:
            stop(process)

    lines = _first_lines(log)
    assert lines[0] == f"store: sqlite:///{tmp_path / 'served.db'} (created the schema at head {_head()})"
    assert lines[1] == (
        "policy file: none: DRIFTWATCH_POLICY_FILE is not set — run `driftwatch init` to write a starter policy"
    )
    assert lines[2].startswith("shadow evaluation: off — there is no policy file")
    assert "driftwatch init" in lines[2]
    assert lines[3].startswith("auth: off — 127.0.0.1 is a loopback address")
    assert lines[4].startswith("webhooks: none — add one with `driftwatch webhooks add URL`")
    assert lines[5].startswith("scheduled jobs: reconcile-content every 10s")
    assert "sample and evaluate off (no shadow provider)" in lines[5]
    assert lines[6].startswith("driftwatch listening on http://127.0.0.1:")


def _head() -> str:
    engine = build_engine("sqlite://")
    try:
        return _heads(engine)[0]
    finally:
        engine.dispose()


def _wait_for_runs(store: Path, jobs: tuple[str, ...], runs: int) -> None:
    """Until each of ``jobs`` has run ``runs`` times (recorded in ``job_state``), 30 s at most."""
    deadline = time.monotonic() + 30
    while True:
        with closing(sqlite3.connect(store)) as connection:
            counts = dict(connection.execute("SELECT name, runs FROM job_state").fetchall())
        if all(counts.get(job, 0) >= runs for job in jobs):
            return
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)


def test_serve_with_the_starter_policy_evaluates_and_its_jobs_log_only_what_they_did(
    tmp_path: Path, closed_port_url: str
) -> None:
    policy = tmp_path / "policy.yaml"
    assert _run(tmp_path, "init", str(policy), "--base-url", closed_port_url).exit_code == 0
    fast = {f"DRIFTWATCH_{job}_INTERVAL_SECONDS": "0.2" for job in ("SAMPLE", "DELIVER", "DECIDE")}
    settings = {"DRIFTWATCH_POLICY_FILE": str(policy), "OPENAI_API_KEY": "sk-test", **fast}
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as output:
        process, base_url = start_serve(tmp_path, settings, output)
        try:
            wait_healthy(process, base_url)
            _wait_for_runs(tmp_path / "served.db", ("deliver", "decide", "sample"), runs=3)
            quiet = log.read_text(encoding="utf-8")  # after several idle runs of each fast job
            spans = [make_span(llm_attributes(task_class="extraction", tier="cheap")) for _ in range(3)]
            exported = httpx.post(
                f"{base_url}/v1/traces",
                content=export_request(spans).SerializeToString(),
                headers={"content-type": "application/x-protobuf"},
            )
            deadline = time.monotonic() + 20
            while "job sample: scanned 3 calls" not in log.read_text(encoding="utf-8"):
                assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
                time.sleep(0.1)
        finally:
            stop(process)

    assert exported.status_code == 200
    lines = _first_lines(log)
    assert lines[1] == f"policy file: {policy}"
    assert lines[2].startswith(
        "shadow evaluation: on — 5% of cheap-tier calls per class (by default) replayed"
    )
    assert "gpt-4o via openai" in lines[2] and "$5.00 per class and day" in lines[2]
    assert "sample every 0.2s" in lines[5] and "evaluate every 10s" in lines[5]
    assert "job " not in quiet  # idle runs said nothing
    assert "queued 0 deliveries" not in log.read_text(encoding="utf-8")
