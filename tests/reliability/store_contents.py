"""Everything in a store, read table by table: to prove a refused request changed nothing, and that a
text (a secret, a redacted value) appears in no row of any table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from driftwatch.db.base import Base

StoreSnapshot = dict[str, list[tuple[Any, ...]]]


def store_snapshot(engine: Engine) -> StoreSnapshot:
    """Every row of every table of the models, in primary-key order."""
    snapshot: StoreSnapshot = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            snapshot[table.name] = [tuple(row) for row in connection.execute(query)]
    return snapshot


def stored_text(engine: Engine) -> str:
    """Every value of every row, as one text to search."""
    return "\n".join(repr(value) for rows in store_snapshot(engine).values() for row in rows for value in row)
