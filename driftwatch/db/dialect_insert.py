"""INSERT statements in the dialect's own flavour, for ``ON CONFLICT`` clauses (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from driftwatch.db.base import Base


def dialect_insert(bind: Session | Connection, model: type[Base]) -> Any:
    """``sqlite.insert`` or ``postgresql.insert``: both offer ``on_conflict_do_nothing/update``."""
    dialect_name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return (sqlite if dialect_name == "sqlite" else postgresql).insert(model)


def insert_ignoring_conflicts(bind: Session | Connection, model: type[Base]) -> Any:
    """An INSERT that skips rows colliding with any unique key: re-sent or re-run work is a no-op."""
    return dialect_insert(bind, model).on_conflict_do_nothing()
