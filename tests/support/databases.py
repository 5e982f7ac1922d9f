"""Test stores: a fresh SQLite file and a fresh PostgreSQL database per test session, both migrated.

PostgreSQL is required, not optional: set DRIFTWATCH_TEST_POSTGRES_URL to a server where the user may
create databases (default: the local trust-auth server on 127.0.0.1:5432).

A store migrated to some revision is migrated once per test process (per pytest-xdist worker) into a
template, and each test gets a copy: ``CREATE DATABASE … TEMPLATE`` on PostgreSQL, SQLite's backup API
on SQLite. Migrating takes seconds on a busy machine; a copy takes a fraction of one. The templates are
dropped when the session ends (:func:`drop_templates`).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
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


_templates: dict[tuple[str, str], str] = {}
"""(backend, revision) -> the template: a SQLite file path or a PostgreSQL database name."""
_template_folder: list[Path] = []


def _postgres_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _template(backend: str, revision: str) -> str:
    """The template of a ``backend`` store migrated to ``revision``, made on first use."""
    key = (backend, revision)
    if key in _templates:
        return _templates[key]
    if backend == "sqlite":
        if not _template_folder:
            _template_folder.append(Path(tempfile.mkdtemp(prefix="driftwatch-templates-")))
        template = str(_template_folder[0] / f"at-{revision}.db")
        url = f"sqlite:///{template}"
    else:
        template = f"driftwatch_template_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{template}"')
        url = _postgres_url(template)
    engine = engine_for(url)
    try:
        migrate.upgrade(engine, revision)
    finally:
        engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
    _templates[key] = template
    return template


def _admin(statement: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def drop_templates() -> None:
    """Drop every template this process made (called when the test session ends)."""
    for (backend, _), template in list(_templates.items()):
        if backend == "postgresql":
            _admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    _templates.clear()
    for folder in _template_folder:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    _template_folder.clear()


@contextmanager
def migrated_database(backend: str, folder: Path, revision: str = "head") -> Iterator[str]:
    """Yield the URL of a new ``backend`` database migrated to ``revision`` (a copy of a template
    migrated once per process); drop it afterwards."""
    template = _template(backend, revision)
    if backend == "sqlite":
        path = folder / "driftwatch-test.db"
        source, target = sqlite3.connect(template), sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        yield f"sqlite:///{path}"
        return
    name = f"driftwatch_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _postgres_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def store_at_revision(backend: str, folder: Path, revision: str) -> Iterator[Engine]:
    """An engine on a fresh ``backend`` store migrated up to ``revision``: a migration's test fills
    it as that revision left it, then upgrades it."""
    with migrated_database(backend, folder, revision) as url:
        engine = engine_for(url)
        try:
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
