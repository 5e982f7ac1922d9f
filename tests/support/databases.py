"""Test stores: a fresh SQLite file and a fresh PostgreSQL database per test session, both migrated.

PostgreSQL is required, not optional: set DRIFTWATCH_TEST_POSTGRES_URL to a server where the user may
create databases (default: the local trust-auth server on 127.0.0.1:5432).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from driftwatch.db import migrate
from driftwatch.db.base import Base
from driftwatch.db.engine import build_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "DRIFTWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database of ``backend``; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'driftwatch-test.db'}"
        return
    name = f"driftwatch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def store_at_revision(backend: str, folder: Path, revision: str) -> Iterator[Engine]:
    """An engine on a fresh ``backend`` store migrated up to ``revision``: a migration's test fills
    it as that revision left it, then upgrades it."""
    with fresh_database(backend, folder) as url:
        engine = engine_for(url)
        try:
            migrate.upgrade(engine, revision)
            yield engine
        finally:
            engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def engine_for(url: str) -> Engine:
    return build_engine(url)


@contextmanager
def blocked_store(engine: Engine, database_url: str) -> Iterator[Callable[[], None]]:
    """Block every write to ``call`` until the yielded ``release()`` is called (or the block ends)."""
    if engine.dialect.name == "sqlite":
        path = make_url(database_url).database
        assert path is not None
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")

        def release() -> None:
            if blocker.in_transaction:
                blocker.execute("ROLLBACK")

        try:
            yield release
        finally:
            release()
            blocker.close()
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("LOCK TABLE call IN EXCLUSIVE MODE")

        def release_lock() -> None:
            if connection.in_transaction():
                connection.rollback()

        try:
            yield release_lock
        finally:
            release_lock()
