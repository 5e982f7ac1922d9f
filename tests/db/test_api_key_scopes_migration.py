"""Migration 0008 gives every key made before scopes existed every scope, so upgrading locks no one out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from driftwatch.auth.keys import KeyVerifier, create_key, digest
from driftwatch.auth.scopes import ALL_SCOPES, Scope
from driftwatch.db import migrate
from driftwatch.db.engine import session_factory
from tests.conftest import BACKENDS
from tests.support.databases import store_at_revision


@pytest.fixture(params=BACKENDS)
def store_at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with store_at_revision(request.param, tmp_path, "0007") as engine:
        yield engine


def _old_key(engine: Engine, name: str, key: str) -> None:
    table = sa.Table("api_key", sa.MetaData(), autoload_with=engine)  # the table as 0007 left it
    row = {"name": name, "prefix": key[:12], "digest": digest(key), "created_at": datetime.now(UTC)}
    with engine.begin() as connection:
        connection.execute(table.insert(), [row])


def test_keys_made_before_scopes_keep_every_scope(store_at_0007: Engine) -> None:
    _old_key(store_at_0007, "legacy-router", "dw_legacy-key")

    migrate.upgrade(store_at_0007)

    holder = KeyVerifier(store_at_0007, ttl_seconds=0).holder("dw_legacy-key")
    assert holder is not None
    assert (holder.name, holder.scopes) == ("legacy-router", ALL_SCOPES)


def test_keys_made_after_the_upgrade_hold_only_their_scopes(store_at_0007: Engine) -> None:
    migrate.upgrade(store_at_0007)
    with session_factory(store_at_0007).begin() as session:
        created = create_key(session, "app", scopes={Scope.INGEST})

    holder = KeyVerifier(store_at_0007, ttl_seconds=0).holder(created.key)

    assert holder is not None and holder.scopes == {Scope.INGEST}


def test_a_key_row_without_scopes_is_refused_by_the_store(store_at_0007: Engine) -> None:
    # The default that filled the old rows is gone: nothing can add a key that silently holds every scope.
    migrate.upgrade(store_at_0007)

    with pytest.raises(sa.exc.IntegrityError):
        _old_key(store_at_0007, "no-scopes", "dw_no-scopes")


def test_downgrading_keeps_the_keys(store_at_0007: Engine) -> None:
    _old_key(store_at_0007, "legacy-router", "dw_legacy-key")
    migrate.upgrade(store_at_0007)

    migrate.downgrade(store_at_0007, "0007")

    with store_at_0007.connect() as connection:
        assert connection.execute(sa.text("SELECT name FROM api_key")).scalars().all() == ["legacy-router"]
