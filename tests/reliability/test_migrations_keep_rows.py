"""Upgrading a populated store keeps every row: migrate to the first revision, fill every table, then
upgrade one revision at a time to head, filling the tables each revision adds, and after every step find
every row written so far with all its values. Then the way back: each downgrade step keeps the rows of
the tables that remain.

Rows are written with SQLAlchemy Core on the tables as reflected from the database at that revision
(never the current models), so the test sees each revision's real schema on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from driftwatch.db import migrate
from tests.conftest import BACKENDS
from tests.support.databases import engine_for, fresh_database

pytestmark = pytest.mark.timeout(180)

ROWS_PER_TABLE = 3
"""Rows 1 and 2 fill every column; row 3 leaves every nullable column null."""
BASE_TIME = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
Snapshot = dict[str, list[tuple[Any, ...]]]


def revisions(engine: Engine) -> list[str]:
    """Every revision, first to head."""
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(request.param, tmp_path) as url:
        engine = engine_for(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _value(column: sa.Column[Any], row: int) -> Any:
    """A value of the column's type, distinct per row (so unique constraints hold), and equal to the
    row number in integer columns (so every foreign key finds row ``row`` of the table it points to)."""
    if row == ROWS_PER_TABLE and column.nullable and not column.primary_key:
        return None
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return row % 2 == 0
    if isinstance(kind, sa.Integer):
        return row
    if isinstance(kind, sa.Float | sa.Numeric):
        return row + 0.25
    if isinstance(kind, sa.DateTime):
        return BASE_TIME + timedelta(days=row, microseconds=row)
    if isinstance(kind, sa.String):  # Text and VARCHAR
        text = f'{row}:{column.name} "quoted" ✓'
        length = getattr(kind, "length", None)
        return text[:length] if length else text
    raise AssertionError(f"no test value for {column.table.name}.{column.name} of type {kind!r}")


def _tables(engine: Engine) -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return {name: table for name, table in metadata.tables.items() if name != "alembic_version"}


def _fill_new_tables(engine: Engine, written: Snapshot, columns: dict[str, list[str]]) -> None:
    """Rows in every table not filled yet, in foreign-key order; what was written is recorded."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version" or table.name in written:
                continue
            rows = [{c.name: _value(c, row) for c in table.columns} for row in range(1, ROWS_PER_TABLE + 1)]
            connection.execute(table.insert(), rows)
            columns[table.name] = [column.name for column in table.columns]
            ours = [tuple(_comparable(row[name]) for name in columns[table.name]) for row in rows]
            # A table its revision fills from the others (evaluation_hour from evaluation) holds those
            # rows too: from here on they must be kept like ours.
            query = sa.select(*table.columns).order_by(*table.primary_key.columns)
            stored = [tuple(_comparable(value) for value in row) for row in connection.execute(query)]
            assert set(ours) <= set(stored), f"{table.name}: the rows written are not read back"
            written[table.name] = stored


def _comparable(value: Any) -> Any:
    """SQLite hands back naive datetimes, PostgreSQL aware ones: both compare as naive UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def _read(engine: Engine, columns: dict[str, list[str]]) -> Snapshot:
    """The rows now in each table, in the columns that were written, ordered by the first of them."""
    tables = _tables(engine)
    found: Snapshot = {}
    with engine.connect() as connection:
        for name, names in columns.items():
            if name not in tables:
                continue
            table = tables[name]
            query = sa.select(*(table.c[column] for column in names)).order_by(*table.primary_key.columns)
            found[name] = [tuple(_comparable(value) for value in row) for row in connection.execute(query)]
    return found


def _populated_at_head(engine: Engine) -> tuple[Snapshot, dict[str, list[str]], list[str]]:
    """Upgrade from the first revision to head one step at a time, checking every row after each."""
    steps = revisions(engine)
    written: Snapshot = {}
    columns: dict[str, list[str]] = {}
    for step in steps:
        migrate.upgrade(engine, step)
        before = {name: list(rows) for name, rows in written.items()}
        assert _read(engine, columns) == before, f"rows changed by upgrading to {step}"
        _fill_new_tables(engine, written, columns)
    return written, columns, steps


def test_upgrading_a_populated_store_step_by_step_keeps_every_row(empty_engine: Engine) -> None:
    written, columns, steps = _populated_at_head(empty_engine)

    assert len(steps) >= 5 and steps[0] == "0001"
    assert _read(empty_engine, columns) == written
    assert set(written) == set(_tables(empty_engine))  # every table of head took part
    assert all(len(rows) >= ROWS_PER_TABLE for rows in written.values())


def test_downgrading_step_by_step_keeps_the_rows_of_the_tables_that_remain(empty_engine: Engine) -> None:
    written, columns, steps = _populated_at_head(empty_engine)

    for target in reversed(steps[:-1]):
        migrate.downgrade(empty_engine, target)
        remaining = set(_tables(empty_engine))
        expected = {name: rows for name, rows in written.items() if name in remaining}
        assert _read(empty_engine, columns) == expected, f"rows changed by downgrading to {target}"
    migrate.downgrade(empty_engine, "base")
    assert set(_tables(empty_engine)) == set()  # base: every table dropped with its rows, as documented
    migrate.upgrade(empty_engine)
    assert set(_tables(empty_engine)) == set(written)
    if empty_engine.dialect.name == "sqlite":  # migrations turn foreign keys off; pooled connections
        with empty_engine.connect() as connection:  # must get them back
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
