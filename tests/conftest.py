"""Shared fixtures: every store test runs on SQLite and on PostgreSQL, migrated with alembic."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from driftwatch.api.app import create_app
from driftwatch.config import Policy, Settings
from driftwatch.db import migrate
from driftwatch.notify.network import Resolver
from tests.support.databases import empty_all_tables, engine_for, fresh_database
from tests.support.server import ServerThread

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database per backend, shared by the session; tables are emptied after each test."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        engine = engine_for(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = engine_for(database_url)
    try:
        yield engine
    finally:
        empty_all_tables(engine)
        engine.dispose()


StartServer = Callable[..., ServerThread]


@pytest.fixture
def start_server(engine: Engine, database_url: str) -> Iterator[StartServer]:
    """Start a real HTTP server on the test store: ``start_server(policy=..., resolver=..., **settings)``
    (``resolver`` resolves webhook hosts; default: the system's)."""
    servers: list[ServerThread] = []

    def start(
        policy: Policy | None = None, resolver: Resolver | None = None, **settings: object
    ) -> ServerThread:
        app_settings = Settings(database_url=database_url, **settings)  # type: ignore[arg-type]
        app = create_app(app_settings, policy or Policy(), engine=engine, resolver=resolver)
        server = ServerThread(app)
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    return start_server()
