"""Only ``serve`` and ``migrate`` change the schema of a store in use: other commands find it at head,
or stop and say what to run (a new, empty store is created at head: there is nothing to migrate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from driftwatch.cli.root import main
from driftwatch.db import migrate
from driftwatch.db.engine import build_engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = build_engine(sqlite_url)
    yield engine
    engine.dispose()


def _run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"DRIFTWATCH_DATABASE_URL": url}, catch_exceptions=False)


def test_a_command_on_a_store_behind_head_says_to_migrate_and_leaves_it_alone(
    sqlite_url: str, engine: Engine
) -> None:
    migrate.upgrade(engine, "0009")

    result = _run(sqlite_url, "keys", "list")

    assert result.exit_code == 1
    head = migrate.head_revision()
    assert f"is at revision 0009, head is {head}: run `driftwatch migrate`" in result.stderr
    assert sqlite_url in result.stderr
    assert migrate.current_revisions(engine) == ["0009"]


def test_after_migrate_the_same_command_runs(sqlite_url: str, engine: Engine) -> None:
    migrate.upgrade(engine, "0009")

    assert _run(sqlite_url, "migrate").exit_code == 0
    result = _run(sqlite_url, "keys", "list")

    assert result.exit_code == 0, result.output
    assert migrate.at_head(engine)


def test_a_command_on_a_new_store_creates_it_at_head(sqlite_url: str, engine: Engine) -> None:
    result = _run(sqlite_url, "jobs", "list")

    assert result.exit_code == 0, result.output
    assert migrate.at_head(engine)
