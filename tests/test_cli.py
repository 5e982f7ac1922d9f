"""The ``driftwatch`` command on real databases: migrate, keys, and a real ``serve`` process."""

from __future__ import annotations

import gc
import re
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, inspect

from driftwatch.auth.keys import KeyVerifier
from driftwatch.auth.scopes import Scope
from driftwatch.cli.root import main
from driftwatch.db import engine as engine_module
from driftwatch.db.base import Base
from driftwatch.db.engine import build_engine
from tests.support.otlp import export_request, make_span
from tests.support.patience import patient
from tests.support.processes import start_serve, wait_healthy

SCHEMA = {"alembic_version", *Base.metadata.tables}


@pytest.fixture(autouse=True)
def _dispose_cli_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The commands leave their engine's pooled connections open (see
    test_cli_commands_close_their_database_connections); close them here so a psycopg ResourceWarning
    from a garbage-collected connection cannot fail whichever test happens to run when it is collected."""
    engines: list[Engine] = []

    def tracked(url: str) -> Engine:
        engines.append(build_engine(url))
        return engines[-1]

    monkeypatch.setattr(engine_module, "build_engine", tracked)  # commands import it when they run
    yield
    for engine in engines:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = build_engine(sqlite_url)
    yield engine
    engine.dispose()


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"DRIFTWATCH_DATABASE_URL": url, **(env or {})}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def _created_key(result: Result) -> tuple[int, str]:
    """The key is the only line on stdout; its id is in the message on stderr."""
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    key_id = int(result.stderr.split("created key ", 1)[1].split(" ", 1)[0])
    return key_id, key


def test_migrate_creates_the_schema(sqlite_url: str, sqlite_engine: Engine) -> None:
    result = _run(sqlite_url, "migrate")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created the schema at head ")
    assert set(inspect(sqlite_engine).get_table_names()) == SCHEMA


def _groups(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Group]]:
    found = [(path, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_groups(command, (*path, name)))
    return found


def _first_sentence(command: click.Command) -> str:
    paragraph = " ".join((command.help or "").partition("\n\n")[0].split())
    end = re.search(r"\.(?= [^a-z]|$)", paragraph)
    return paragraph[: end.end()] if end else paragraph


@pytest.mark.parametrize(
    ("path", "group"), _groups(main), ids=[" ".join(("driftwatch", *path)) for path, _ in _groups(main)]
)
def test_help_lists_each_command_with_its_whole_first_sentence(
    path: tuple[str, ...], group: click.Group
) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)

    assert result.exit_code == 0, result.output
    listing = result.stdout.split("Commands:", 1)[1]
    assert "..." not in listing
    squeezed = "".join(listing.split())  # wrapped lines, however the words were broken
    for name, command in group.commands.items():
        assert "".join(_first_sentence(command).split()) in squeezed, name


def test_help_says_where_settings_come_from() -> None:
    text = " ".join(CliRunner().invoke(main, ["--help"]).stdout.split())

    assert "DRIFTWATCH_* environment variables" in text
    assert 'README\'s "Settings" section' in text
    assert "DRIFTWATCH_DATABASE_URL" in text and "DRIFTWATCH_POLICY_FILE" in text
    assert "`driftwatch init`" in text


def test_migrate_twice_is_harmless(sqlite_url: str) -> None:
    assert _run(sqlite_url, "migrate").exit_code == 0
    assert _run(sqlite_url, "migrate").exit_code == 0


def test_a_created_key_verifies_and_is_printed_alone_on_stdout(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    result = _run(sqlite_url, "keys", "create", "checkout-app")

    key_id, key = _created_key(result)
    assert key.startswith("dw_")
    assert "\n" not in key
    assert "checkout-app" in result.stderr
    assert "cannot be shown again" in result.stderr
    assert KeyVerifier(sqlite_engine, ttl_seconds=0).is_valid(key)
    assert key_id >= 1


def test_a_key_created_without_a_scope_can_only_ingest(sqlite_url: str, sqlite_engine: Engine) -> None:
    result = _run(sqlite_url, "keys", "create", "checkout-app")

    _, key = _created_key(result)
    holder = KeyVerifier(sqlite_engine, ttl_seconds=0).holder(key)
    assert holder is not None and holder.scopes == {Scope.INGEST}
    assert "scopes: ingest)" in result.stderr


def test_scope_is_repeatable(sqlite_url: str, sqlite_engine: Engine) -> None:
    result = _run(sqlite_url, "keys", "create", "ops", "--scope", "admin", "--scope", "read")

    _, key = _created_key(result)
    holder = KeyVerifier(sqlite_engine, ttl_seconds=0).holder(key)
    assert holder is not None and holder.scopes == {Scope.READ, Scope.ADMIN}
    assert "scopes: read, admin)" in result.stderr
    assert _run(sqlite_url, "keys", "list").stdout.strip().split("\t")[5] == "read,admin"


def test_an_unknown_scope_is_a_usage_error_that_lists_the_scopes(sqlite_url: str) -> None:
    result = _run(sqlite_url, "keys", "create", "app", "--scope", "write")

    assert result.exit_code == 2
    assert "'write' is not one of 'ingest', 'evaluations', 'read', 'admin'" in result.stderr


def test_keys_list_shows_a_key_without_its_secret(sqlite_url: str) -> None:
    key_id, key = _created_key(_run(sqlite_url, "keys", "create", "checkout-app"))

    result = _run(sqlite_url, "keys", "list")

    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    columns = line.split("\t")
    assert columns[0] == str(key_id)
    assert columns[1] == "checkout-app"
    assert columns[2] == f"{key[:12]}…"
    assert columns[4] == "active"
    assert columns[5] == "ingest"
    assert key not in result.output


def test_keys_revoke_stops_the_key_and_list_shows_when(sqlite_url: str, sqlite_engine: Engine) -> None:
    revoked_id, revoked = _created_key(_run(sqlite_url, "keys", "create", "old"))
    _, kept = _created_key(_run(sqlite_url, "keys", "create", "new"))

    result = _run(sqlite_url, "keys", "revoke", str(revoked_id))

    assert result.exit_code == 0, result.output
    assert f"revoked key {revoked_id}" in result.stdout
    verifier = KeyVerifier(sqlite_engine, ttl_seconds=0)
    assert not verifier.is_valid(revoked)
    assert verifier.is_valid(kept)
    statuses = {
        line.split("\t")[1]: line.split("\t")[4]
        for line in _run(sqlite_url, "keys", "list").stdout.splitlines()
    }
    assert statuses["new"] == "active"
    assert statuses["old"] != "active"


@pytest.mark.parametrize("again", [False, True], ids=["unknown-id", "already-revoked"])
def test_revoking_a_key_that_is_not_active_fails_clearly(sqlite_url: str, again: bool) -> None:
    key_id, _ = _created_key(_run(sqlite_url, "keys", "create", "app"))
    if again:
        assert _run(sqlite_url, "keys", "revoke", str(key_id)).exit_code == 0
    else:
        key_id += 1000

    result = _run(sqlite_url, "keys", "revoke", str(key_id))

    assert result.exit_code != 0
    assert f"no active API key with id {key_id}" in result.stderr
    assert "Traceback" not in result.output


def test_a_non_numeric_key_id_is_a_usage_error(sqlite_url: str) -> None:
    result = _run(sqlite_url, "keys", "revoke", "abc")

    assert result.exit_code == 2
    assert "KEY_ID" in result.stderr


def test_an_invalid_setting_is_reported_without_a_traceback(sqlite_url: str) -> None:
    result = _run(sqlite_url, "migrate", env={"DRIFTWATCH_PORT": "not-a-port"})

    assert result.exit_code != 0
    assert "DRIFTWATCH_" in result.stderr
    assert "port" in result.stderr


def test_keys_on_the_postgresql_store(database_url: str, engine: Engine) -> None:
    # Runs on both test stores; the point is PostgreSQL, which the other CLI tests do not reach.
    key_id, key = _created_key(_run(database_url, "keys", "create", "pg-app"))
    assert KeyVerifier(engine, ttl_seconds=0).is_valid(key)
    assert f"{key_id}\tpg-app\t" in _run(database_url, "keys", "list").stdout

    assert _run(database_url, "migrate").exit_code == 0
    assert _run(database_url, "keys", "revoke", str(key_id)).exit_code == 0

    assert not KeyVerifier(engine, ttl_seconds=0).is_valid(key)


def test_cli_commands_close_their_database_connections(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        engine_module, "build_engine", build_engine
    )  # the real one, without the clean-up above
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert _run(database_url, "keys", "list").exit_code == 0
        gc.collect()

    assert [str(warning.message) for warning in caught if warning.category is ResourceWarning] == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("tiers: [cheap, mid\nmodel_tiers: {", "cannot read policy file"),
        ("tiers: [cheap, premium]\ntierz: [cheap]\n", "tierz"),
        ("prices:\n  my-model: {input_per_mtok: -1, output_per_mtok: 1}\n", "input_per_mtok"),
    ],
    ids=["invalid-yaml", "unknown-field", "negative-price"],
)
def test_serve_with_a_broken_policy_file_exits_naming_the_file(
    tmp_path: Path, sqlite_url: str, content: str, expected: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(content, encoding="utf-8")

    result = _run(sqlite_url, "serve", "--port", "1", env={"DRIFTWATCH_POLICY_FILE": str(policy)})

    assert result.exit_code != 0
    assert str(policy) in result.stderr
    assert expected in result.stderr
    assert not (tmp_path / "cli.db").exists()  # refused before touching the store


def test_serve_with_a_missing_policy_file_exits_naming_the_file(tmp_path: Path, sqlite_url: str) -> None:
    missing = tmp_path / "nowhere.yaml"

    result = _run(sqlite_url, "serve", env={"DRIFTWATCH_POLICY_FILE": str(missing)})

    assert result.exit_code != 0
    assert str(missing) in result.stderr


def test_serve_runs_migrates_ingests_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process, base_url = start_serve(tmp_path, {"DRIFTWATCH_HOST": "127.0.0.1"})
    port = int(base_url.rsplit(":", 1)[1])
    try:
        wait_healthy(process, base_url)
        spans = [make_span() for _ in range(3)]

        exported = httpx.post(
            f"{base_url}/v1/traces",
            content=export_request(spans).SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
        )
        calls = httpx.get(f"{base_url}/v1/calls").json()["items"]

        assert exported.status_code == 200
        assert sorted(call["span_id"] for call in calls) == sorted(span.span_id.hex() for span in spans)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=patient(20))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    # uvicorn re-raises a captured SIGTERM once its graceful shutdown (lifespan included) is done, so
    # a supervisor sees the conventional "terminated by SIGTERM" status rather than 0.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert f"listening on http://127.0.0.1:{port}" in stdout
    assert "Traceback" not in stderr
    assert (tmp_path / "served.db").exists()
