"""Apply alembic migrations programmatically (``driftwatch migrate``, and on ``driftwatch serve``).

A store already at the newest revision is recognised without alembic: loading alembic and every
migration script costs a command about half a second of CPU, and almost every start finds nothing
to do. The newest revision is read from the migration files themselves; anything unexpected there
(a file without a readable revision, no single head) falls back to alembic, which decides."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from driftwatch.errors import DriftwatchError

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"""^revision\b[^=\n]*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\b[^=\n]*=\s*(?:["']([^"']+)["']|None)""", re.MULTILINE)


def head_revision() -> str | None:
    """The one revision no migration builds on, read from the files; None when unsure."""
    revisions, bases = set(), set()
    for script in files("driftwatch.migrations").joinpath("versions").iterdir():
        if not script.name.endswith(".py") or script.name == "__init__.py":
            continue
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        bases.add(down[0])
    heads = revisions - bases
    return heads.pop() if len(heads) == 1 else None


def at_head(engine: Engine) -> bool:
    """Whether the store's schema is at the newest revision (False when it cannot tell)."""
    head = head_revision()
    return head is not None and current_revisions(engine) == [head]


def current_revisions(engine: Engine) -> list[str] | None:
    """The revisions the store's schema is at; None for a new store (no ``alembic_version`` yet)."""
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:  # no alembic_version table yet: a new store
        return None


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("driftwatch.migrations")))
    config.attributes["engine"] = engine
    return config


@dataclass(frozen=True, slots=True)
class Migration:
    """The schema revision before and after a migration run (``None``: an empty store)."""

    before: str | None
    after: str | None

    def change(self) -> str:
        """``applied 0007 → 0008``, ``created the schema at head 0008`` or ``already at head 0008``."""
        if self.before == self.after:
            return f"already at head {self.after}"
        if self.before is None:
            return f"created the schema at head {self.after}"
        return f"applied {self.before} → {self.after or 'base'}"

    def describe(self, database: str) -> str:
        """One line for a person: ``applied 0007 → 0008 to sqlite:///…``."""
        if self.before == self.after:
            return f"{database}: {self.change()}"
        return f"{self.change()} {'in' if self.before is None else 'to'} {database}"


def upgrade(engine: Engine, revision: str = "head") -> Migration:
    if revision == "head" and at_head(engine):
        head = head_revision()
        return Migration(head, head)
    from alembic import command

    return _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> Migration:
    from alembic import command

    return _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, run: Callable[[Config], None]) -> Migration:
    from alembic.migration import MigrationContext

    config = alembic_config(engine)
    with engine.connect() as connection, _sqlite_foreign_keys_deferred(connection), connection.begin():
        config.attributes["connection"] = connection
        _one_migration_at_a_time(connection)
        before = MigrationContext.configure(connection).get_current_heads()
        run(config)
        after = MigrationContext.configure(connection).get_current_heads()
        if after != before:
            _check_foreign_keys(connection)  # only when something ran: it reads every row
    return Migration(",".join(before) or None, ",".join(after) or None)


MIGRATION_LOCK_KEY = 0x6477_6D69_6772  # "dwmigr": the advisory lock every replica's migration takes


def _one_migration_at_a_time(connection: Connection) -> None:
    """Replicas started together would each create the same tables, and all but one would crash. On
    PostgreSQL the first takes a transaction-scoped advisory lock and the others wait for its commit,
    then find the schema at head and run nothing. (SQLite is one process's store.)"""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


@contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite alters a table by copying it and dropping the original, and with foreign keys on, that
    drop runs the ON DELETE actions of every row pointing at it (``evaluation.sample_id`` set null,
    ``shadow_sample`` rows of ``call`` deleted). Foreign keys are therefore off while migrations run
    (the pragma only takes effect outside a transaction) and checked before the commit instead."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")  # pooled connections keep it on
        connection.commit()


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise DriftwatchError(f"migration left rows pointing at missing rows: {broken[:5]}")
