"""Regression: replicas started together on an empty PostgreSQL database each ran the migrations, and
all but one crashed creating the same tables. The advisory lock makes the others wait, then find the
schema at head."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.migration import MigrationContext

from driftwatch.db import migrate
from tests.support.databases import engine_for, fresh_database

REPLICAS = 4


def test_replicas_migrating_an_empty_postgresql_at_once_all_succeed(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        engines = [engine_for(url) for _ in range(REPLICAS)]
        try:
            with ThreadPoolExecutor(REPLICAS) as pool:
                for result in [pool.submit(migrate.upgrade, engine) for engine in engines]:
                    result.result(timeout=120)
            with engines[0].connect() as connection:
                heads = MigrationContext.configure(connection).get_current_heads()
        finally:
            for engine in engines:
                engine.dispose()
    assert len(heads) == 1
