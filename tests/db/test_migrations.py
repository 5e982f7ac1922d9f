"""The migrations are the schema: they must build exactly the models' tables, and round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from driftwatch.db import migrate
from driftwatch.db.base import Base
from tests.conftest import BACKENDS
from tests.support.databases import engine_for, fresh_database


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    with fresh_database(request.param, tmp_path) as url:
        yield url


def _schema_differences(url: str) -> list[object]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_models_schema(empty_url: str) -> None:
    engine = engine_for(empty_url)
    migrate.upgrade(engine)
    engine.dispose()

    assert _schema_differences(empty_url) == []


def test_downgrade_to_base_and_upgrade_again_round_trips(empty_url: str) -> None:
    engine = engine_for(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    engine.dispose()

    assert _schema_differences(empty_url) == []


def test_the_head_read_from_the_migration_files_is_alembics(empty_url: str) -> None:
    engine = engine_for(empty_url)
    try:
        alembic_head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()

    assert migrate.head_revision() == alembic_head


def test_a_store_is_at_head_only_once_every_migration_ran(empty_url: str) -> None:
    engine = engine_for(empty_url)
    try:
        assert not migrate.at_head(engine)  # a new store: no alembic_version table
        migrate.upgrade(engine)
        assert migrate.at_head(engine)
        migrate.downgrade(engine, "-1")
        assert not migrate.at_head(engine)
        migrate.upgrade(engine)  # not at head: alembic runs the missing migration
        assert migrate.at_head(engine)
    finally:
        engine.dispose()

    assert _schema_differences(empty_url) == []
