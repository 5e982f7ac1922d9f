"""INSERT statements in the dialect's own flavour, for ``ON CONFLICT`` clauses (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from driftwatch.db.base import Base


def dialect_insert(bind: Session | Connection, model: type[Base]) -> Any:
    """``sqlite.insert`` or ``postgresql.insert``: both offer ``on_conflict_do_nothing/update``."""
    return _dialect(bind).insert(model)


def insert_ignoring_conflicts(bind: Session | Connection, model: type[Base]) -> Any:
    """An INSERT that skips rows colliding with any unique key: re-sent or re-run work is a no-op.

    Built once per dialect and model (statements are immutable; ``.values()`` returns a copy), since
    hot paths such as the evaluation runner insert for every unit of work."""
    return _ignoring_conflicts(_dialect(bind), model)


@functools.cache
def _ignoring_conflicts(dialect: Any, model: type[Base]) -> Any:
    return dialect.insert(model).on_conflict_do_nothing()


def _dialect(bind: Session | Connection) -> Any:
    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return sqlite if name == "sqlite" else postgresql
