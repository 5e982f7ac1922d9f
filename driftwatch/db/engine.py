"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalise_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the psycopg 3 driver we ship, not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """The store's URL for people: its password masked, a relative SQLite file made absolute."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=os.path.abspath(parsed.database))
    return parsed.render_as_string(hide_password=True)


def build_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_database_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the dashboard and API read while the writer commits; synchronous=FULL because a 200 to
    # an exporter promises the spans are durable, and NORMAL may lose the last commits on power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
